/**
 * What every target on a machine stacktune did not create (local, ssh) has in common: nothing bills
 * by the hour, nothing is booted with user-data, no spot notice or budget watchdog applies, and a run
 * directory left behind on an unreachable host is the owner's to remove.
 */
import { z } from "zod";
import { MAX_GPUS_PER_MACHINE } from "../settings/numbers";
import type { TargetDefinition } from "./types";

/** The GPUs the owner says a machine has (`target.gpus`); 0 runs on the CPU. */
export const OwnedMachineGpusSchema = z.number().int().min(0).max(MAX_GPUS_PER_MACHINE);

export const ownedMachineFacts = {
    hasCheckpointStore: () => false,
    billsByTheHour: false,
    rendersUserData: false,
    spotWatch: false,
    budgetWatchdog: false,
    leftBehindWhenUnreachable: (runDir: string) =>
        `If that machine is still in use, stop the run and remove ${runDir} there by hand once it answers again.`,
} satisfies Partial<TargetDefinition<never>>;
