/** The `aws` target: GPU instances stacktune creates for the run and terminates after it. */
import type { TargetDefinition, TargetSettings } from "../types";
import { awsInstanceTypes } from "./catalog";
import { awsRules } from "./rules";
import type { AwsTarget } from "./settings";

/**
 * Setup time of an AWS instance before training starts (boot, driver wait, image or venv build, a
 * 16 GB model download) plus merge and push: an assumption, not a measurement (merge + smoke of
 * the 8B model took 88 s in the benchmark).
 */
export const AWS_SETUP_HOURS_ASSUMED = 0.5;

/**
 * A multi-host AWS cluster gets its own VPC and one subnet, so every instance has a fixed private
 * address: the rendered accelerate configs then name the main machine's address exactly, for review.
 */
export const awsCluster = {
    vpcCidr: "10.42.0.0/16",
    subnetCidr: "10.42.1.0/24",
    /** Private address of machine `rank`. */
    address: (rank: number) => `10.42.1.${10 + rank}`,
} as const;

/** Whether `target` is an aws one (for the code that only applies to it, such as its user-data). */
export function isAwsTarget(target: TargetSettings): target is AwsTarget {
    return target.kind === "aws";
}

export const awsTargetDefinition: TargetDefinition<AwsTarget> = {
    kind: "aws",
    gpusPerMachine: (target) => awsInstanceTypes[target.instanceType].gpus,
    machines: (target) =>
        target.hosts === 1
            ? [{ rank: 0, clusterAddress: "127.0.0.1" }]
            : Array.from({ length: target.hosts }, (_, rank) => ({ rank, clusterAddress: awsCluster.address(rank) })),
    rules: awsRules,
    cost: (target) => ({
        instanceType: target.instanceType,
        spot: target.spot.enabled,
        ...(target.spot.enabled && target.spot.maxPrice !== undefined
            ? { spotMaxPricePerHour: target.spot.maxPrice }
            : {}),
        benchHost: target.instanceType,
        benchHostWords: target.instanceType,
        setupHours: AWS_SETUP_HOURS_ASSUMED,
    }),
    releasesAfterRun: (settings) => settings.budget.teardown === "release-after-push",
    runsOnThisMachine: false,
    // The instance's key is the sshPrivateKey secret, the pair of target.publicKey.
    privateKeyPath: () => undefined,
    hasCheckpointStore: (target) => target.checkpointBucket,
    billsByTheHour: true,
    rendersUserData: true,
    // An on-demand instance answers 404 to every poll: harmless, so every aws host watches.
    spotWatch: true,
    // The user-data's watchdog powers an aws instance off at first boot + maxHours.
    budgetWatchdog: true,
    leftBehindWhenUnreachable: () => "The instance terminates with its disk, so nothing of the run outlives it.",
};
