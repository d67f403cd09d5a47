/** Public API of the settings layer: schemas, defaults, types, parsing and loading. */
export { settingsDefaults } from "./defaults";
export {
    SettingsSchema,
    secretKeys,
    settingsKeys,
    type SecretKey,
    type SecretsPresent,
    type Settings,
    type SettingsInput,
} from "./schema";
export { SettingsError, type SettingsIssue } from "./errors";
export { parseSettings, type ParseSettingsOptions } from "./parse";
export {
    loadSettingsFromPulumiConfig,
    loadSettingsFromStackFile,
    type PulumiSettings,
    type StackFileSettings,
} from "./load";
export { checkSettingsRules, settingsRules, type SettingsRule } from "./rules";
export { hostSecretsNeeded, knownTestSplitSize, processCount, readsFromHub, runsOnCpu, usesHubRepos } from "./derived";
export {
    TargetSchema,
    clusterMachines,
    machineCount,
    targetGpuCount,
    type ClusterMachine,
    type Target,
} from "./target";
export { LocalTargetSchema, type LocalTarget } from "../targets/local/settings";
export { SshMachineSchema, SshTargetSchema, type SshMachine, type SshTarget } from "../targets/ssh/settings";
export {
    AwsTargetSchema,
    MAX_AWS_HOSTS,
    MIN_AWS_ROOT_VOLUME_GB,
    isPlaceholderPublicKey,
    rootVolumeTooSmall,
    type AwsTarget,
} from "../targets/aws/settings";
export { cidrHostBitsProblem, sshCidrTooWide } from "../targets/aws/network";
export { awsInstanceTypes, type AwsInstanceType } from "../targets/aws/catalog";
export { awsCluster } from "../targets/aws/target";
export { PREFLIGHT_MIN_FREE_DISK_GB } from "./numbers";
export { RuntimeSchema, type Runtime } from "./runtime";
export { ModelSchema, type ModelSettings } from "./model";
export { DatasetSchema, type DatasetSettings } from "./dataset";
export { ChatSchema, type ChatSettings } from "./chat";
export { LoraSchema, type LoraSettings } from "./lora";
export { QuantizationSchema, type QuantizationSettings } from "./quantization";
export { TrainingSchema, type TrainingSettings } from "./training";
export { DistributedSchema, RendezvousPortSchema, type DistributedSettings } from "./distributed";
export { AttentionSchema, type AttentionSettings } from "./attention";
export { EvaluationSchema, type EvaluationSettings } from "./evaluation";
export { CheckpointingSchema, type CheckpointingSettings } from "./checkpointing";
export { HubSchema, type HubSettings } from "./hub";
export { LocalDirSchema, defaultOutputStoreDir, localDirProblem, systemDirectories } from "./local-dir";
export { TrackingSchema, type TrackingSettings } from "./tracking";
export { BudgetSchema, type BudgetSettings } from "./budget";
