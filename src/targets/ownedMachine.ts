/**
 * What every target on a machine stacktune did not create (local, ssh) has in common: nothing bills
 * by the hour, nothing is booted with user-data, no spot notice or budget watchdog applies, and a run
 * directory left behind on an unreachable host is the owner's to remove.
 */
import type { TargetDefinition } from './types';

export const ownedMachineFacts = {
  hasCheckpointStore: () => false,
  billsByTheHour: false,
  rendersUserData: false,
  spotWatch: false,
  budgetWatchdog: false,
  leftBehindWhenUnreachable: (runDir: string) => `If that machine is still in use, stop the run and remove ${runDir} there by hand once it answers again.`,
} satisfies Partial<TargetDefinition<never>>;
