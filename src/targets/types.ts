/**
 * The one interface every target (src/targets/<kind>/) implements: what the settings, renderers,
 * cost estimate, program, job and CLI need to know of a target, so that none of them branches on
 * the target's kind. Pure: the host components (Pulumi resources) are each target's host.ts.
 */
import type { SettingsIssue } from "../settings/errors";
import type { SecretsPresent, Settings } from "../settings/schema";

/** What every target's settings have (the registry's `Target` is the union of them all). */
export interface TargetSettings {
    kind: string;
}

/** A machine of the run: where stacktune connects, and where the other machines reach it. */
export interface ClusterMachine {
    /** Machine rank (0 = the main machine: rendezvous, merge, publish, smoke test). */
    rank: number;
    /** SSH address (aws: known once the instance exists). */
    host?: string;
    port?: number;
    user?: string;
    /** Address the other machines use for it (rendezvous, NCCL). */
    clusterAddress: string;
    /** ssh: the machine's host key (`ssh-ed25519 AAAA…`), which every connection verifies. */
    hostKey?: string;
}

/** What the cost estimate needs of a target. */
export interface TargetCost {
    /** The catalog's instance type, when the target bills by the hour (aws). */
    instanceType?: string;
    /** Spot capacity, capped at `spotMaxPricePerHour` when set. */
    spot?: boolean;
    spotMaxPricePerHour?: number;
    /** The host the benchmark's time scale is read for (`4x RTX 4090`, an instance type); none = not benchmarked. */
    benchHost?: string;
    /** How the estimate names that host. */
    benchHostWords?: string;
    /** Why the throughput is assumed when no benchmark applies. */
    assumedThroughputBasis?: string;
    /** Hours before training and after it that bill (boot, set-up, merge and push), assumed. */
    setupHours: number;
}

/** A cross-field rule of one target: checked only on settings whose target is of its kind. */
export interface TargetRule<T extends TargetSettings> {
    id: string;
    description: string;
    needsSecrets?: boolean;
    deployOnly?: boolean;
    check(settings: Settings & { target: T }, secrets: SecretsPresent): readonly SettingsIssue[];
}

export interface TargetDefinition<T extends TargetSettings> {
    kind: T["kind"];
    /** GPUs of each machine the run uses (0 = the CPU). */
    gpusPerMachine(target: T): number;
    /** The machines of the run in machine-rank order; one for a single-host target. */
    machines(target: T): ClusterMachine[];
    /** This target's cross-field rules (the settings layer runs them with its own). */
    rules: readonly TargetRule<T>[];
    cost(target: T): TargetCost;
    /** Whether the host powers itself off after a successful push (and a second `up` removes it). */
    releasesAfterRun(settings: Settings & { target: T }): boolean;
    /**
     * The run is on this machine: paths in the settings are the project's, Hub inputs are not pinned
     * (the demo must work offline) and the CLI reads the run with a local shell.
     */
    runsOnThisMachine: boolean;
    /** The private key file the settings name for the SSH connection, if any. */
    privateKeyPath(target: T): string | undefined;
    /** Whether the host has an S3 checkpoint store (spot preemption, periodic sync, deleteStoreOnDestroy). */
    hasCheckpointStore(target: T): boolean;
    /** Whether the target bills by the hour (budget.maxUsd then applies). */
    billsByTheHour: boolean;
    /** Whether the stack renders instance user-data (cloud-init) for the host. */
    rendersUserData: boolean;
    /** `stacktune sweep`: the one machine every run of a sweep shares, in words; undefined = each run gets its own. */
    sharedSweepMachine?: { where: string; name: string };
    /** The job watches the metadata service for a spot interruption notice (spot-watch.sh). */
    spotWatch: boolean;
    /** The host's own watchdog powers it off at the budget's deadline (the job stops before it). */
    budgetWatchdog: boolean;
    /** What `pulumi destroy` leaves on the host when it cannot reach it, in words for the clean-up's message. */
    leftBehindWhenUnreachable(runDir: string): string;
}
