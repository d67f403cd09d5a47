import { type Settings, machineCount, runsOnCpu } from '../settings';
import { modelDestinations } from './destinations';
import { generatedHeader } from './header';
import { toYaml, yamlFloat } from './yaml';

/**
 * Paths inside the run directory (docs/contracts.md §2): `launch.sh` runs there, so every path in
 * `training.yaml` is relative to it and the same file works on any host.
 */
export const runDirPaths = {
  outputDir: 'checkpoints',
  preparedDatasetDir: 'data',
  mergedOutputDir: 'merged',
} as const;

/**
 * The smoke test's prompt and length. Not a setting: it only checks that the merged model loads
 * and answers; the prompt is the reference write-up's inference example, shortened.
 */
export const smokeTest = {
  prompt: 'Describe the food of Thailand in one sentence.',
  maxNewTokens: 32,
} as const;

/** Drops keys whose value is `undefined` or `null` (optional keys are omitted, contracts §4). */
function withoutUnset(entries: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined && v !== null));
}

/**
 * The `training.yaml` object: exactly the keys of docs/contracts.md §4, in its order, each a
 * plain mapping of one setting. `stacktune_train.config.parse_config` rejects any other key.
 */
export function trainingConfig(settings: Settings, stackName: string): Record<string, unknown> {
  const { model, quantization, lora, dataset, chat, hub, training, evaluation, checkpointing, tracking } =
    settings;
  const cpu = runsOnCpu(settings);
  const pushAdapter = hub.adapterRepo !== undefined;
  // The merged model goes to its repo, or else to the output store on the host.
  const outputStoreDir = modelDestinations(hub, stackName).localDir;

  return withoutUnset({
    // Model, 4-bit quantization, LoRA
    model_name_or_path: model.id,
    model_revision: model.revision,
    attn_implementation: settings.attention.implementation,
    load_in_4bit: quantization.load4bit,
    bnb_4bit_quant_type: quantization.quantType,
    bnb_4bit_use_double_quant: quantization.doubleQuant,
    bnb_4bit_compute_dtype: quantization.computeDtype,
    bnb_4bit_quant_storage: quantization.storageDtype,
    lora_r: lora.r,
    lora_alpha: lora.alpha,
    lora_dropout: yamlFloat(lora.dropout),
    lora_target_modules: typeof lora.targetModules === 'string' ? lora.targetModules : lora.targetModules.join(','),
    upcast_frozen_weights: quantization.upcastFrozenWeights,
    checkpoint_skip_layers: training.checkpointSkipLayers,

    // Data
    dataset_source: dataset.source,
    dataset_revision: dataset.revision,
    conversations_field: dataset.conversationsField,
    role_map: { system: dataset.roles.system, human: dataset.roles.human, gpt: dataset.roles.gpt },
    chat_format: chat.format,
    test_size: yamlFloat(dataset.testSize),
    split_seed: dataset.splitSeed,
    max_train_samples: dataset.maxTrainSamples,
    max_eval_samples: evaluation.maxSamples,
    prepared_dataset_dir: runDirPaths.preparedDatasetDir,
    prepared_dataset_repo: dataset.preparedRepo,

    // Publish, smoke test and the evaluation gate
    merged_output_dir: runDirPaths.mergedOutputDir,
    adapter_repo_id: hub.adapterRepo,
    merged_repo_id: hub.mergedRepo,
    hub_private: hub.private,
    output_store_dir: outputStoreDir,
    smoke_prompt: smokeTest.prompt,
    smoke_max_new_tokens: smokeTest.maxNewTokens,
    gate_enabled: evaluation.gate.enabled,
    gate_samples: evaluation.gate.samples,
    gate_tolerance: yamlFloat(evaluation.gate.tolerance),

    // TRL SFTConfig / HF TrainingArguments
    output_dir: runDirPaths.outputDir,
    seed: training.seed,
    num_train_epochs: yamlFloat(training.epochs),
    max_steps: training.maxSteps,
    per_device_train_batch_size: training.perDeviceTrainBatchSize,
    per_device_eval_batch_size: training.perDeviceEvalBatchSize,
    gradient_accumulation_steps: training.gradientAccumulationSteps,
    learning_rate: yamlFloat(training.learningRate),
    lr_scheduler_type: training.lrScheduler,
    weight_decay: yamlFloat(training.weightDecay),
    warmup_ratio: yamlFloat(training.warmupRatio),
    max_grad_norm: yamlFloat(training.maxGradNorm),
    // bf16 needs a GPU; on the CPU the run is fp32 (accelerate.yaml says mixed_precision: no).
    bf16: training.bf16 && !cpu,
    use_cpu: cpu,
    logging_steps: training.loggingSteps,
    logging_strategy: 'steps',
    log_level: 'info',
    eval_strategy: evaluation.strategy,
    eval_steps: evaluation.strategy === 'steps' ? evaluation.steps : undefined,
    save_strategy: checkpointing.strategy,
    save_steps: checkpointing.strategy === 'steps' ? checkpointing.steps : undefined,
    save_total_limit: checkpointing.totalLimit,
    // Machines share no filesystem: each keeps its own checkpoints (its ranks' RNG and optimizer
    // state included), so every machine can resume; set only on several machines.
    save_on_each_node: machineCount(settings.target) > 1 ? true : undefined,
    gradient_checkpointing: training.gradientCheckpointing,
    gradient_checkpointing_kwargs: { use_reentrant: training.useReentrant },
    packing: training.packing,
    packing_strategy: training.packingStrategy,
    padding_free: training.paddingFree,
    max_length: training.maxLength,
    // The prepared dataset keeps the Llama-3-encoded conversation in `text` (TRL's default name).
    dataset_text_field: 'text',
    report_to: tracking.kind,
    run_name: stackName,
    push_to_hub: pushAdapter,
    hub_model_id: hub.adapterRepo,
    hub_strategy: pushAdapter ? hub.strategy : undefined,
    hub_private_repo: pushAdapter ? hub.private : undefined,
    use_liger_kernel: training.useLigerKernel,
  });
}

/** `training.yaml`: the one file every `stacktune_train` entry point reads (contracts §3–§4). */
export function renderTrainingConfig(settings: Settings, stackName: string): string {
  return toYaml(trainingConfig(settings, stackName), { header: generatedHeader(stackName) });
}
