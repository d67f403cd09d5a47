/**
 * The target registry: one line per target (src/targets/<kind>/) in each list. Everything outside a
 * target's folder asks {@link targetOf} instead of branching on `target.kind`.
 */
import type { z } from "zod";
import { AwsTargetSchema } from "./aws/settings";
import { awsTargetDefinition } from "./aws/target";
import { LocalTargetSchema } from "./local/settings";
import { localTargetDefinition } from "./local/target";
import { SshTargetSchema } from "./ssh/settings";
import { sshTargetDefinition } from "./ssh/target";
import type { TargetDefinition } from "./types";

/** Every target's settings schema: `stacktune:target` is their discriminated union (src/settings/target.ts). */
export const targetSchemas = [LocalTargetSchema, SshTargetSchema, AwsTargetSchema] as const;

/** A stack's target settings, of any kind. */
export type Target = z.infer<(typeof targetSchemas)[number]>;

export type TargetKind = Target["kind"];

/** Every target by kind; the mapped type makes a target without its line a compile error. */
export const targets: { [K in TargetKind]: TargetDefinition<Extract<Target, { kind: K }>> } = {
    local: localTargetDefinition,
    ssh: sshTargetDefinition,
    aws: awsTargetDefinition,
};

/** The definition of `target`'s kind, typed for it. */
export function targetOf<T extends Target>(target: T): TargetDefinition<T> {
    return targets[target.kind] as unknown as TargetDefinition<T>;
}

export type { ClusterMachine, TargetCost, TargetDefinition, TargetRule } from "./types";
