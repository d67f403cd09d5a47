import { z } from "zod";
import { settingsDefaults } from "./defaults";

export const AttentionSchema = z.strictObject({
    /**
     * `attn_implementation`. `sdpa` runs PyTorch's own FlashAttention-2 / cuDNN kernels and needs
     * nothing beyond torch. `flash_attention_2` needs the flash-attn package, which neither the
     * training image nor stacktune's venv installs: no flash-attn release ships a wheel for the pinned
     * torch 2.11 (PyPI has only its source, an hour of nvcc), so it needs `runtime.path` (rules.ts).
     * @default sdpa
     */
    implementation: z.enum(["flash_attention_2", "sdpa", "eager"]).default(settingsDefaults.attention.implementation),
});

export type AttentionSettings = z.infer<typeof AttentionSchema>;
