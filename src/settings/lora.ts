import { z } from "zod";
import { settingsDefaults } from "./defaults";
import { ModuleNameSchema } from "./grammar";

const defaults = settingsDefaults.lora;

/** PEFT LoraConfig, named as PEFT names it (`lora_r`, `lora_alpha`, …). */
export const LoraSchema = z.strictObject({
    /** Rank of the update matrices. @default 8 */
    r: z.number().int().positive().max(1024).default(defaults.r),
    /** Scaling numerator (scale = alpha / r). @default 16 */
    alpha: z.number().positive().max(16384).default(defaults.alpha),
    /** @default 0.1 */
    dropout: z.number().min(0).lt(1).default(defaults.dropout),
    /** `all-linear` or explicit module names such as [q_proj, v_proj]. @default all-linear */
    targetModules: z
        .union([z.literal("all-linear"), z.array(ModuleNameSchema).nonempty()], {
            error: "must be all-linear or a list of module names such as [q_proj, v_proj]",
        })
        .default(defaults.targetModules),
});

export type LoraSettings = z.infer<typeof LoraSchema>;
