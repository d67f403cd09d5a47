import { z } from "zod";
import { settingsDefaults } from "./defaults";
import { SeedSchema } from "./numbers";

const defaults = settingsDefaults.training;

/** HF `SchedulerType` values. */
export const LrSchedulerSchema = z.enum([
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "cosine_with_min_lr",
    "warmup_stable_decay",
]);

/** HF TrainingArguments / TRL SFTConfig hyperparameters, camel-cased. */
export const TrainingSchema = z.strictObject({
    /** `num_train_epochs`. @default 1 */
    epochs: z.number().positive().max(1000).default(defaults.epochs),
    /** Stop after this many optimizer steps; -1 = run `epochs`. @default -1 */
    maxSteps: z
        .number()
        .int()
        .refine((n) => n === -1 || n > 0, "must be -1 (train for `epochs`) or a positive step count")
        .default(defaults.maxSteps),
    /** @default 1e-4 */
    learningRate: z.number().positive().max(1).default(defaults.learningRate),
    /** `lr_scheduler_type`. @default cosine */
    lrScheduler: LrSchedulerSchema.default(defaults.lrScheduler),
    /** @default 1e-4 */
    weightDecay: z.number().min(0).max(1).default(defaults.weightDecay),
    /** @default 0 */
    warmupRatio: z.number().min(0).lt(1).default(defaults.warmupRatio),
    /** @default 1.0 */
    maxGradNorm: z.number().min(0).max(1000).default(defaults.maxGradNorm),
    /** Tokens per packed or truncated sequence. @default 2048 */
    maxLength: z.number().int().positive().max(131072).default(defaults.maxLength),
    /** @default true */
    packing: z.boolean().default(defaults.packing),
    /**
     * `wrapped` concatenates and cuts sequences (the reference run's packing); `bfd` packs whole
     * samples best-fit-decreasing and needs flash attention to keep them apart. @default wrapped
     */
    packingStrategy: z.enum(["wrapped", "bfd"]).default(defaults.packingStrategy),
    /** @default false */
    paddingFree: z.boolean().default(defaults.paddingFree),
    /** @default 4 */
    perDeviceTrainBatchSize: z.number().int().positive().max(1024).default(defaults.perDeviceTrainBatchSize),
    /** @default 4 */
    perDeviceEvalBatchSize: z.number().int().positive().max(1024).default(defaults.perDeviceEvalBatchSize),
    /** @default 2 */
    gradientAccumulationSteps: z.number().int().positive().max(4096).default(defaults.gradientAccumulationSteps),
    /** @default true */
    gradientCheckpointing: z.boolean().default(defaults.gradientCheckpointing),
    /** `gradient_checkpointing_kwargs.use_reentrant`. @default true */
    useReentrant: z.boolean().default(defaults.useReentrant),
    /**
     * With gradient checkpointing, the last N decoder layers keep their activations instead of
     * recomputing them in the backward: same result, less compute, more memory (Llama-3-8B 4-bit,
     * micro-batch 4 x 2048: ~1.2-1.8 GiB per layer; a setting the card cannot hold fails with an
     * out-of-memory error). @default 0
     */
    checkpointSkipLayers: z.number().int().min(0).max(1024).default(defaults.checkpointSkipLayers),
    /** @default true */
    bf16: z.boolean().default(defaults.bf16),
    /** @default 100 */
    seed: SeedSchema.default(defaults.seed),
    /** @default 5 */
    loggingSteps: z.number().int().positive().default(defaults.loggingSteps),
    /** @default false */
    useLigerKernel: z.boolean().default(defaults.useLigerKernel),
});

export type TrainingSettings = z.infer<typeof TrainingSchema>;
