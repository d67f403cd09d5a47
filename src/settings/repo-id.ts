import { z } from 'zod';

/** A Hugging Face Hub repo id, `owner/name`. */
export const RepoIdSchema = z
  .string()
  .regex(/^[\w.-]+\/[\w.-]+$/, 'must be a Hub repo id like your-name/model-name');
