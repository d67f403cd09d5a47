/** The `local` target: this machine, no SSH (the demo: a tiny model on the CPU). */
import type { TargetDefinition } from "../types";
import { ownedMachineFacts } from "../ownedMachine";
import type { LocalTarget } from "./settings";

export const localTargetDefinition: TargetDefinition<LocalTarget> = {
    kind: "local",
    gpusPerMachine: (target) => target.gpus,
    machines: () => [{ rank: 0, clusterAddress: "127.0.0.1" }],
    rules: [],
    // The benchmark measured 4 x 24 GB GPUs; a CPU (local) run has no measured throughput.
    cost: () => ({ assumedThroughputBasis: "assumed: throughput on a CPU is not benchmarked", setupHours: 0 }),
    releasesAfterRun: () => false,
    runsOnThisMachine: true,
    privateKeyPath: () => undefined,
    sharedSweepMachine: { where: "this machine", name: "local machine" },
    ...ownedMachineFacts,
};
