import { z } from 'zod';
import { settingsDefaults } from './defaults';

export const AttentionSchema = z.strictObject({
  /** `attn_implementation`. @default flash_attention_2 */
  implementation: z
    .enum(['flash_attention_2', 'sdpa', 'eager'])
    .default(settingsDefaults.attention.implementation),
});

export type AttentionSettings = z.infer<typeof AttentionSchema>;
