import { z } from 'zod';
import { settingsDefaults } from './defaults';

const defaults = settingsDefaults.dataset;

/** ShareGPT `from` values mapped to chat roles; an unknown `from` fails data prep. */
export const RoleMapSchema = z.strictObject({
  system: z.string().min(1).default(defaults.roles.system),
  human: z.string().min(1).default(defaults.roles.human),
  gpt: z.string().min(1).default(defaults.roles.gpt),
});

export const DatasetSchema = z.strictObject({
  /** Hub dataset id or a JSON/JSONL path on the host (`dataset_source`). */
  source: z.string().min(1).default(defaults.source),
  format: z.enum(['sharegpt']).default(defaults.format),
  /** Field holding each sample's turns (`conversations_field`). */
  conversationsField: z.string().min(1).default(defaults.conversationsField),
  roles: RoleMapSchema.prefault({}),
  /** Held-out split: a fraction in (0, 1) or a sample count ≥ 1 (`test_size`). @default 0.3 */
  testSize: z
    .number()
    .positive()
    .refine((n) => n < 1 || Number.isInteger(n), 'must be a fraction between 0 and 1 or a whole sample count')
    .default(defaults.testSize),
  /** @default 100 */
  splitSeed: z.number().int().min(0).default(defaults.splitSeed),
  /** Keep only this many samples of the train split (`max_train_samples`). */
  maxTrainSamples: z.number().int().positive().optional(),
  /** Samples in the source, when known: lets the settings check split sizes before any download. */
  numSamples: z.number().int().positive().optional(),
  /** Hub dataset repo where the tokenized, split dataset is cached (`prepared_dataset_repo`). */
  preparedRepo: z.string().regex(/^[\w.-]+\/[\w.-]+$/).optional(),
});

export type DatasetSettings = z.infer<typeof DatasetSchema>;
