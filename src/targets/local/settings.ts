/** The local target's settings (`stacktune:target` with `kind: local`). */
import { z } from "zod";
import { settingsDefaults } from "../../settings/defaults";
import { OwnedMachineGpusSchema } from "../ownedMachine";

const defaults = settingsDefaults.target.local;

/** This machine, no SSH. `gpus: 0` runs on the CPU. */
export const LocalTargetSchema = z.strictObject({
    kind: z.literal("local"),
    /** GPUs to use on this machine; 0 runs on the CPU. @default 0 */
    gpus: OwnedMachineGpusSchema.default(defaults.gpus),
});

export type LocalTarget = z.infer<typeof LocalTargetSchema>;
