import { z } from 'zod';

/** Most GPUs (and so training processes) of one machine: a 16-GPU node is the largest sold. */
export const MAX_GPUS_PER_MACHINE = 16;

/**
 * A random seed: numpy (datasets' split, the trainer's `set_seed`) takes seeds within
 * 0…2^32−1 and fails at train start on anything larger.
 */
export const SeedSchema = z.number().int().min(0).max(2 ** 32 - 1);
