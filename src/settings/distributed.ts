import { z } from 'zod';
import { settingsDefaults } from './defaults';

export const DistributedStrategySchema = z.enum(['deepspeed-zero3', 'deepspeed-zero2', 'ddp']);

export const DistributedSchema = z.strictObject({
  /** @default deepspeed-zero3 (the reference run) */
  strategy: DistributedStrategySchema.default(settingsDefaults.distributed.strategy),
  /** Training processes on the host; unset = one per GPU of the target (1 on a CPU). */
  numProcesses: z.number().int().positive().optional(),
});

export type DistributedSettings = z.infer<typeof DistributedSchema>;
