/**
 * What each target's host factory (src/targets/<kind>/host.ts) takes and gives: the program's plan
 * in, the target's host component and every machine's job host out (Pulumi resources, which is why
 * this half of a target is apart from its pure definition).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { ExperimentPlan } from "../experiment";
import type { JobHost } from "../hosts/command";
import type { PulumiSettings, Settings } from "../settings";

export interface HostFactoryArgs<T extends Settings["target"]> {
    /** Name of machine 0's host component; the others get `-<rank>`. */
    name: string;
    plan: ExperimentPlan & { settings: Settings & { target: T } };
    secrets: PulumiSettings["secrets"];
    runRoot: string;
    parent: pulumi.Resource;
    runtime: Settings["runtime"]["kind"];
    /** The interpreter the host creates the venv with; none when the venv is given (runtime.path). */
    python: string | undefined;
}

export interface TargetHosts {
    /** The target's host component (machine 0's, or the cluster's). */
    primary: pulumi.ComponentResource & { jobHost: JobHost };
    /** Every machine's job host, in machine-rank order. */
    jobHosts: JobHost[];
    /** Each machine's checkpoint store (`s3://…`), in machine-rank order, when the target has one. */
    checkpointStores?: pulumi.Output<string>[];
}

export type HostFactory<T extends Settings["target"]> = (args: HostFactoryArgs<T>) => TargetHosts;
