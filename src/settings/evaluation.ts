import { z } from 'zod';
import { settingsDefaults } from './defaults';

export const EvaluationSchema = z.strictObject({
  /** `eval_strategy`. @default epoch */
  strategy: z.enum(['no', 'steps', 'epoch']).default(settingsDefaults.evaluation.strategy),
  /** `eval_steps`; required when strategy is `steps`. */
  steps: z.number().int().positive().optional(),
  /** Evaluate at most this many held-out samples (`max_eval_samples`); null = the whole split. @default 2000 */
  maxSamples: z.number().int().positive().nullable().default(settingsDefaults.evaluation.maxSamples),
});

export type EvaluationSettings = z.infer<typeof EvaluationSchema>;
