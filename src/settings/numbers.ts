import { z } from "zod";

/** Most GPUs (and so training processes) of one machine: a 16-GPU node is the largest sold. */
export const MAX_GPUS_PER_MACHINE = 16;

/**
 * Free disk the preflight requires on a host, in GB: model, image, data and checkpoints. The ssh
 * target's default and the aws host's requirement; the aws root volume is sized from it
 * (MIN_AWS_ROOT_VOLUME_GB).
 */
export const PREFLIGHT_MIN_FREE_DISK_GB = 100;

/**
 * A random seed: numpy (datasets' split, the trainer's `set_seed`) takes seeds within
 * 0…2^32−1 and fails at train start on anything larger.
 */
export const SeedSchema = z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1);
