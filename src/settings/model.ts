import { z } from 'zod';
import { settingsDefaults } from './defaults';

export const ModelSchema = z.strictObject({
  /** Hub model id or a local directory on the host (`model_name_or_path`). */
  id: z.string().min(1).default(settingsDefaults.model.id),
  /** Hub revision: branch, tag or commit (`model_revision`). @default main */
  revision: z.string().min(1).default(settingsDefaults.model.revision),
});

export type ModelSettings = z.infer<typeof ModelSchema>;
