import { z } from "zod";
import { settingsDefaults } from "./defaults";
import { WandbProjectSchema } from "./grammar";

export const TrackingSchema = z.strictObject({
    /** `report_to`. @default none */
    kind: z.enum(["wandb", "none"]).default(settingsDefaults.tracking.kind),
    /** W&B project; unset = W&B's default for the key. */
    project: WandbProjectSchema.optional(),
});

export type TrackingSettings = z.infer<typeof TrackingSchema>;
