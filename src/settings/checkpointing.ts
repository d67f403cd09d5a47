import { z } from "zod";
import { settingsDefaults } from "./defaults";

const defaults = settingsDefaults.checkpointing;

export const CheckpointingSchema = z.strictObject({
    /** `save_strategy`. @default steps */
    strategy: z.enum(["no", "steps", "epoch"]).default(defaults.strategy),
    /** `save_steps`. @default 500 */
    steps: z.number().int().positive().default(defaults.steps),
    /** `save_total_limit`: checkpoints kept on the host; null keeps all. @default 2 */
    totalLimit: z.number().int().positive().max(1000).nullable().default(defaults.totalLimit),
    /**
     * What `pulumi destroy` does with the S3 checkpoint store (aws, target.checkpointBucket): false
     * leaves the bucket and its checkpoints in the account (delete it yourself, or set this to true and
     * `pulumi up` before destroying); true empties and deletes it. @default false
     */
    deleteStoreOnDestroy: z.boolean().default(defaults.deleteStoreOnDestroy),
});

export type CheckpointingSettings = z.infer<typeof CheckpointingSchema>;
