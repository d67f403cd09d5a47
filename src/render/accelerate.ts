import { type Settings, processCount, runsOnCpu } from '../settings';
import { generatedHeader } from './header';
import { toYaml } from './yaml';

/** DeepSpeed ZeRO stage of each DeepSpeed strategy. */
const zeroStages = { 'deepspeed-zero3': 3, 'deepspeed-zero2': 2 } as const;

/**
 * The accelerate config object (accelerate's `ClusterConfig` keys, sorted as `accelerate config`
 * writes them). The ZeRO-3 form is the reference run's `deepspeed_config.yaml`; ZeRO-2 drops the
 * ZeRO-3-only keys; `ddp` is plain multi-GPU. A CPU target runs one fp32 process (the settings
 * allow only `ddp` there: DeepSpeed needs GPUs).
 */
export function accelerateConfig(settings: Settings): Record<string, unknown> {
  const processes = processCount(settings);
  const cpu = runsOnCpu(settings);
  const strategy = settings.distributed.strategy;
  const mixedPrecision = !cpu && settings.training.bf16 ? 'bf16' : 'no';

  let distributedType: string;
  let deepspeedConfig: Record<string, unknown> | undefined;
  if (cpu || strategy === 'ddp') {
    distributedType = !cpu && processes > 1 ? 'MULTI_GPU' : 'NO';
  } else {
    distributedType = 'DEEPSPEED';
    const stage = zeroStages[strategy];
    deepspeedConfig = {
      deepspeed_multinode_launcher: 'standard',
      offload_optimizer_device: 'none',
      offload_param_device: 'none',
      // ZeRO-3 shards the 4-bit base weights too: initialise them sharded (zero3_init_flag) and
      // gather a 16-bit copy when saving, so the adapter checkpoint is usable without DeepSpeed.
      ...(stage === 3 ? { zero3_init_flag: true, zero3_save_16bit_model: true } : {}),
      zero_stage: stage,
    };
  }

  const config: Record<string, unknown> = {
    compute_environment: 'LOCAL_MACHINE',
    debug: false,
    ...(deepspeedConfig ? { deepspeed_config: deepspeedConfig } : {}),
    distributed_type: distributedType,
    downcast_bf16: 'no',
    machine_rank: 0,
    main_training_function: 'main',
    mixed_precision: mixedPrecision,
    num_machines: 1,
    num_processes: processes,
    rdzv_backend: 'static',
    same_network: true,
    tpu_env: [],
    tpu_use_cluster: false,
    tpu_use_sudo: false,
    use_cpu: cpu,
  };
  return config;
}

/** `accelerate.yaml`: what `accelerate launch --config_file accelerate.yaml` reads on the host. */
export function renderAccelerateConfig(settings: Settings, stackName: string): string {
  return toYaml(accelerateConfig(settings), { header: generatedHeader(stackName) });
}
