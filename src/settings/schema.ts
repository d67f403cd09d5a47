import { z } from "zod";
import { AttentionSchema } from "./attention";
import { BudgetSchema } from "./budget";
import { ChatSchema } from "./chat";
import { CheckpointingSchema } from "./checkpointing";
import { DatasetSchema } from "./dataset";
import { DistributedSchema } from "./distributed";
import { EvaluationSchema } from "./evaluation";
import { HubSchema } from "./hub";
import { LoraSchema } from "./lora";
import { ModelSchema } from "./model";
import { QuantizationSchema } from "./quantization";
import { RuntimeSchema } from "./runtime";
import { TargetSchema } from "./target";
import { TrackingSchema } from "./tracking";
import { TrainingSchema } from "./training";

/**
 * Every key of the Pulumi config namespace `stacktune` except the secrets. Structure only:
 * the cross-field rules (rules.ts) run on the parsed result.
 */
export const SettingsSchema = z.strictObject({
    target: TargetSchema,
    runtime: RuntimeSchema,
    model: ModelSchema.prefault({}),
    dataset: DatasetSchema.prefault({}),
    chat: ChatSchema.prefault({}),
    lora: LoraSchema.prefault({}),
    quantization: QuantizationSchema.prefault({}),
    training: TrainingSchema.prefault({}),
    distributed: DistributedSchema.prefault({}),
    attention: AttentionSchema.prefault({}),
    evaluation: EvaluationSchema.prefault({}),
    checkpointing: CheckpointingSchema.prefault({}),
    hub: HubSchema.prefault({}),
    tracking: TrackingSchema.prefault({}),
    budget: BudgetSchema.prefault({}),
});

/** Settings after defaults: what renderers and resources read. */
export type Settings = z.infer<typeof SettingsSchema>;
/** Settings as a stack file may write them: every key with a default is optional. */
export type SettingsInput = z.input<typeof SettingsSchema>;

/** The config keys (namespace `stacktune`) that hold structured settings. */
export const settingsKeys = Object.keys(SettingsSchema.shape) as (keyof Settings)[];

/** Secret config keys: set with `pulumi config set --secret stacktune:<key>`, never in plain text. */
export const secretKeys = ["hfToken", "wandbApiKey", "sshPrivateKey"] as const;
export type SecretKey = (typeof secretKeys)[number];

/** Which secrets a stack has set; their values never reach the settings layer. */
export type SecretsPresent = Partial<Record<SecretKey, boolean>>;
