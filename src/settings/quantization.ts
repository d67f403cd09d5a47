import { z } from 'zod';
import { settingsDefaults } from './defaults';

const defaults = settingsDefaults.quantization;

export const TorchDtypeSchema = z.enum(['bfloat16', 'float16', 'float32']);

/** bitsandbytes 4-bit loading (`load_in_4bit`, `bnb_4bit_*`). */
export const QuantizationSchema = z.strictObject({
  /** Load the base model in 4 bit (QLoRA). @default true */
  load4bit: z.boolean().default(defaults.load4bit),
  /** @default nf4 */
  quantType: z.enum(['nf4', 'fp4']).default(defaults.quantType),
  /** Nested quantization of the quantization constants. @default true */
  doubleQuant: z.boolean().default(defaults.doubleQuant),
  /** @default bfloat16 */
  computeDtype: TorchDtypeSchema.default(defaults.computeDtype),
  /** Dtype the 4-bit weights are packed in; ZeRO-3 needs it equal to computeDtype. @default bfloat16 */
  storageDtype: z.enum(['bfloat16', 'float16', 'float32', 'uint8']).default(defaults.storageDtype),
});

export type QuantizationSettings = z.infer<typeof QuantizationSchema>;
