/** The `ssh` target: existing machines reached over SSH (an on-prem 4 x RTX 4090 box, or several). */
import { REFERENCE_BOX } from "../../cost/measured";
import type { TargetDefinition } from "../types";
import { ownedMachineFacts } from "../ownedMachine";
import { sshMachines } from "./machines";
import { sshRules } from "./rules";
import type { SshTarget } from "./settings";

export const sshTargetDefinition: TargetDefinition<SshTarget> = {
    kind: "ssh",
    gpusPerMachine: (target) => target.gpus,
    machines: sshMachines,
    rules: sshRules,
    // The benchmark measured 4 x 24 GB GPUs: an ssh host is taken as the reference box.
    cost: () => ({
        benchHost: REFERENCE_BOX,
        benchHostWords: `an ssh host taken as the ${REFERENCE_BOX} reference box`,
        setupHours: 0,
    }),
    releasesAfterRun: () => false,
    runsOnThisMachine: false,
    privateKeyPath: (target) => target.privateKeyPath,
    sharedSweepMachine: { where: "the one ssh host", name: "ssh machine" },
    ...ownedMachineFacts,
};
