import { PREFLIGHT_MIN_FREE_DISK_GB } from "./numbers";

/**
 * The one place where stacktune's default settings live.
 *
 * Recipe defaults are the reference run's values (DESIGN.md: Llama-3-8B-Instruct QLoRA on
 * OpenHermes-2.5 with DeepSpeed ZeRO-3), so a stack only states where it differs from it.
 * Defaults that would need an account or a secret (Hub repos, W&B) are off: a stack opts in.
 * The target has no default: where a run goes (and what it costs) must be stated.
 */
export const settingsDefaults = {
    target: {
        local: { gpus: 0 },
        ssh: { port: 22, gpus: 4, gpuMemoryGb: 24, minFreeDiskGb: PREFLIGHT_MIN_FREE_DISK_GB },
        aws: {
            region: "us-east-1",
            instanceType: "g5.12xlarge",
            spot: { enabled: true },
            rootVolumeGb: 200,
            allowOpenSsh: false,
            hosts: 1,
        },
    },
    runtime: { kind: "venv", python: "python3" },
    model: { id: "meta-llama/Meta-Llama-3-8B-Instruct", revision: "main" },
    dataset: {
        source: "teknium/OpenHermes-2.5",
        revision: "main",
        format: "sharegpt",
        conversationsField: "conversations",
        roles: { system: "system", human: "user", gpt: "assistant" },
        testSize: 0.3,
        splitSeed: 100,
    },
    chat: { format: "llama3" },
    lora: { r: 8, alpha: 16, dropout: 0.1, targetModules: "all-linear" },
    quantization: {
        load4bit: true,
        quantType: "nf4",
        doubleQuant: true,
        computeDtype: "bfloat16",
        storageDtype: "bfloat16",
        // The reference's numerics: ZeRO-3 never upcasts the frozen weights (precision.py says why).
        upcastFrozenWeights: false,
    },
    training: {
        epochs: 1,
        maxSteps: -1,
        learningRate: 1e-4,
        lrScheduler: "cosine",
        weightDecay: 1e-4,
        warmupRatio: 0,
        maxGradNorm: 1.0,
        maxLength: 2048,
        packing: true,
        packingStrategy: "wrapped",
        paddingFree: false,
        perDeviceTrainBatchSize: 4,
        perDeviceEvalBatchSize: 4,
        gradientAccumulationSteps: 2,
        gradientCheckpointing: true,
        useReentrant: true,
        checkpointSkipLayers: 0,
        bf16: true,
        seed: 100,
        loggingSteps: 5,
        useLigerKernel: false,
    },
    distributed: { strategy: "deepspeed-zero3", rendezvousPort: 29500 },
    // PyTorch's sdpa: no flash-attn release ships a wheel for the pinned torch (attention.ts).
    attention: { implementation: "sdpa" },
    // The reference run evaluated all 300k held-out samples: 7,533 s of a 51,487 s run. A capped
    // sample gives the same eval-loss estimate for a fraction of the GPU time.
    // The gate after the merge (python/stacktune_train/gate.py): the merged model's loss on the first
    // 32 held-out rows may exceed the adapter's by 5% at most; a merge error is a far larger jump.
    // Benchmarks (python/stacktune_train/benchmark.py) run only for the tasks a stack names; 100
    // examples per task keep them to minutes on the GPU.
    evaluation: {
        strategy: "epoch",
        maxSamples: 2000,
        gate: { enabled: true, samples: 32, tolerance: 0.05 },
        benchmarks: { tasks: [] as string[], limit: 100, minScores: {} as Record<string, number> },
    },
    checkpointing: { strategy: "steps", steps: 500, totalLimit: 2, deleteStoreOnDestroy: false },
    hub: { private: true, strategy: "every_save" },
    tracking: { kind: "none" },
    budget: { maxHours: 24, teardown: "release-after-push", keepRunDir: false },
} as const satisfies SettingsDefaultsShape;

/**
 * Structural bound only: each value is type-checked where its schema passes it to `.default()`
 * (a bound derived from the schemas would make the two modules' types circular).
 */
type SettingsDefaultsShape = Record<string, Record<string, unknown>>;
