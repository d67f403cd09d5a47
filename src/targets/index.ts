/**
 * The target registry: one line per target (src/targets/<kind>/). Everything outside a target's
 * folder asks {@link targetOf} instead of branching on `target.kind`.
 */
import type { Target } from '../settings/target';
import { awsTargetDefinition } from './aws/target';
import { localTargetDefinition } from './local/target';
import { sshTargetDefinition } from './ssh/target';
import type { TargetDefinition } from './types';

export type TargetKind = Target['kind'];

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

export type { ClusterMachine, TargetCost, TargetDefinition, TargetRule } from './types';
