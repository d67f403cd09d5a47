import { z } from "zod";
import { settingsDefaults } from "./defaults";

const defaults = settingsDefaults.quantization;

export const TorchDtypeSchema = z.enum(["bfloat16", "float16", "float32"]);

/** bitsandbytes 4-bit loading (`load_in_4bit`, `bnb_4bit_*`). */
export const QuantizationSchema = z.strictObject({
    /** Load the base model in 4 bit (QLoRA). @default true */
    load4bit: z.boolean().default(defaults.load4bit),
    /** @default nf4 */
    quantType: z.enum(["nf4", "fp4"]).default(defaults.quantType),
    /** Nested quantization of the quantization constants. @default true */
    doubleQuant: z.boolean().default(defaults.doubleQuant),
    /** @default bfloat16 */
    computeDtype: TorchDtypeSchema.default(defaults.computeDtype),
    /** Dtype the 4-bit weights are packed in; ZeRO-3 needs it equal to computeDtype. @default bfloat16 */
    storageDtype: z.enum(["bfloat16", "float16", "float32", "uint8"]).default(defaults.storageDtype),
    /**
     * Keep PEFT's float32 upcast of the frozen weights that are not quantized (embeddings, norms, LM
     * head) on the 4-bit path without ZeRO-3. false casts them back to the compute dtype, as ZeRO-3
     * (the reference) keeps them: a bf16 residual stream, 1.36x the tokens/s on one H200 capped at
     * 24 GiB (bench/results/2026-12-01-h200-speed.md). The LoRA weights stay float32 either way.
     * @default false
     */
    upcastFrozenWeights: z.boolean().default(defaults.upcastFrozenWeights),
});

export type QuantizationSettings = z.infer<typeof QuantizationSchema>;
