/**
 * `stacktune:target`: the discriminated union of every target's settings schema, composed from the
 * target registry (each schema and its rules live in src/targets/<kind>/), and what the rest of
 * the settings layer asks of any target.
 */
import { z } from "zod";
import { targetOf, targetSchemas, type ClusterMachine, type Target } from "../targets";

export const TargetSchema = z.discriminatedUnion("kind", targetSchemas);

export type { Target };
export type { LocalTarget } from "../targets/local/settings";
export type { SshMachine, SshTarget } from "../targets/ssh/settings";
export type { AwsTarget } from "../targets/aws/settings";

/** GPUs the run can use on each machine of this target (0 = CPU). */
export function targetGpuCount(target: Target): number {
    return targetOf(target).gpusPerMachine(target);
}

export type { ClusterMachine };

/** The machines of the run in machine-rank order; one for a single-host target. */
export function clusterMachines(target: Target): ClusterMachine[] {
    return targetOf(target).machines(target);
}

/** Machines that train one job together (1 = a single host). */
export function machineCount(target: Target): number {
    return clusterMachines(target).length;
}
