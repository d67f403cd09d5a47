import { type Settings, clusterMachines, processCount, runsOnCpu } from "../settings";
import { generatedHeader } from "./header";
import { toYaml } from "./yaml";

/** DeepSpeed ZeRO stage of each DeepSpeed strategy. */
const zeroStages = { "deepspeed-zero3": 3, "deepspeed-zero2": 2 } as const;

/**
 * The accelerate config object (accelerate's `ClusterConfig` keys, sorted as `accelerate config`
 * writes them) of machine `machineRank`. The ZeRO-3 form is the reference run's
 * `deepspeed_config.yaml`; ZeRO-2 drops the ZeRO-3-only keys; `ddp` is plain multi-GPU. A CPU
 * target runs one fp32 process per machine (the settings allow only `ddp` there: DeepSpeed needs
 * GPUs).
 *
 * Several machines (`target.hosts`) train one job through accelerate's multi-node launch: every
 * machine gets the same config but its `machine_rank`; machine 0 hosts the rendezvous at
 * `main_process_ip:main_process_port`, and `num_processes` counts the processes of all machines.
 */
export function accelerateConfig(settings: Settings, machineRank = 0): Record<string, unknown> {
    const machines = clusterMachines(settings.target);
    const main = machines[0];
    if (machines[machineRank] === undefined || main === undefined) {
        throw new Error(`machine rank ${machineRank} is outside the ${machines.length} machine(s) of the target`);
    }
    const multiHost = machines.length > 1;
    const processes = processCount(settings) * machines.length;
    const cpu = runsOnCpu(settings);
    const strategy = settings.distributed.strategy;
    const mixedPrecision = !cpu && settings.training.bf16 ? "bf16" : "no";

    let distributedType: string;
    let deepspeedConfig: Record<string, unknown> | undefined;
    if (cpu && multiHost) {
        // accelerate's MULTI_CPU launch needs MPI (an mpirun hostfile); MULTI_GPU selects its torchrun
        // multi-node launcher, and use_cpu makes every process fall back to gloo on the CPU.
        distributedType = "MULTI_GPU";
    } else if (cpu || strategy === "ddp") {
        distributedType = !cpu && processes > 1 ? "MULTI_GPU" : "NO";
    } else {
        distributedType = "DEEPSPEED";
        const stage = zeroStages[strategy];
        deepspeedConfig = {
            deepspeed_multinode_launcher: "standard",
            offload_optimizer_device: "none",
            offload_param_device: "none",
            // ZeRO-3 shards the 4-bit base weights too: initialise them sharded (zero3_init_flag) and
            // gather a 16-bit copy when saving, so the adapter checkpoint is usable without DeepSpeed.
            ...(stage === 3 ? { zero3_init_flag: true, zero3_save_16bit_model: true } : {}),
            zero_stage: stage,
        };
    }

    const config: Record<string, unknown> = {
        compute_environment: "LOCAL_MACHINE",
        debug: false,
        ...(deepspeedConfig ? { deepspeed_config: deepspeedConfig } : {}),
        distributed_type: distributedType,
        downcast_bf16: "no",
        machine_rank: machineRank,
        ...(multiHost
            ? { main_process_ip: main.clusterAddress, main_process_port: settings.distributed.rendezvousPort }
            : {}),
        main_training_function: "main",
        mixed_precision: mixedPrecision,
        num_machines: machines.length,
        num_processes: processes,
        rdzv_backend: "static",
        same_network: true,
        tpu_env: [],
        tpu_use_cluster: false,
        tpu_use_sudo: false,
        use_cpu: cpu,
    };
    return config;
}

/**
 * The accelerate config files, by name: `accelerate.yaml` for one machine; for several, one
 * `accelerate.machine-<rank>.yaml` each, all shipped to every machine (launch.sh picks its own by
 * STACKTUNE_MACHINE_RANK from run.env), so every machine's run directory is the same reviewed set.
 */
export function renderAccelerateConfigs(settings: Settings, stackName: string): Map<string, string> {
    const machines = clusterMachines(settings.target);
    const render = (rank: number) => toYaml(accelerateConfig(settings, rank), { header: generatedHeader(stackName) });
    if (machines.length === 1) return new Map([[accelerateFileName(1, 0), render(0)]]);
    return new Map(machines.map((m) => [accelerateFileName(machines.length, m.rank), render(m.rank)]));
}

/**
 * `accelerate.yaml` on one machine, `accelerate.machine-<rank>.yaml` on several; `rank` may be a
 * shell expression (launch.sh names its own machine's file by `${STACKTUNE_MACHINE_RANK}`).
 */
export function accelerateFileName(machines: number, rank: number | string): string {
    return machines === 1 ? "accelerate.yaml" : `accelerate.machine-${rank}.yaml`;
}

/** `accelerate.yaml` of a single-machine target: what `accelerate launch --config_file accelerate.yaml` reads. */
export function renderAccelerateConfig(settings: Settings, stackName: string): string {
    return toYaml(accelerateConfig(settings), { header: generatedHeader(stackName) });
}
