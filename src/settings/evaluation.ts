import { z } from 'zod';
import { settingsDefaults } from './defaults';

/**
 * The evaluation gate after the merge: the merged model's loss on a fixed held-out sample is
 * compared with the adapter's on the same rows; a failed gate publishes nothing.
 */
export const EvaluationGateSchema = z.strictObject({
  /** `gate_enabled`. @default true */
  enabled: z.boolean().default(settingsDefaults.evaluation.gate.enabled),
  /** `gate_samples`: the first N rows of the seeded test split (split_seed). @default 32 */
  samples: z.number().int().positive().max(100000).default(settingsDefaults.evaluation.gate.samples),
  /** `gate_tolerance`: largest relative increase of the merged loss over the adapter's. @default 0.05 */
  tolerance: z.number().min(0).max(1).default(settingsDefaults.evaluation.gate.tolerance),
});

export const EvaluationSchema = z.strictObject({
  /** `eval_strategy`. @default epoch */
  strategy: z.enum(['no', 'steps', 'epoch']).default(settingsDefaults.evaluation.strategy),
  /** `eval_steps`; required when strategy is `steps`. */
  steps: z.number().int().positive().optional(),
  /** Evaluate at most this many held-out samples (`max_eval_samples`); null = the whole split. @default 2000 */
  maxSamples: z.number().int().positive().nullable().default(settingsDefaults.evaluation.maxSamples),
  gate: EvaluationGateSchema.prefault({}),
});

export type EvaluationSettings = z.infer<typeof EvaluationSchema>;
