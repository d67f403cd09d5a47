import { describe, expect, it } from "vitest";
import { type Settings, parseSettings, settingsDefaults } from "../src/settings";
import { allSecrets, awsTarget, sshTarget } from "./settings/fixtures";

const parsed = parseSettings({ target: sshTarget }, allSecrets);

describe("settings defaults (the reference run where it applies)", () => {
    it("model: Meta-Llama-3-8B-Instruct at main", () => {
        expect(parsed.model).toEqual({ id: "meta-llama/Meta-Llama-3-8B-Instruct", revision: "main" });
    });

    it("dataset: OpenHermes-2.5 ShareGPT, 70/30 split with seed 100, ShareGPT roles mapped to Llama-3 roles", () => {
        expect(parsed.dataset).toEqual({
            source: "teknium/OpenHermes-2.5",
            revision: "main",
            format: "sharegpt",
            conversationsField: "conversations",
            roles: { system: "system", human: "user", gpt: "assistant" },
            testSize: 0.3,
            splitSeed: 100,
        });
    });

    it("chat: llama3", () => {
        expect(parsed.chat).toEqual({ format: "llama3" });
    });

    it("lora: r 8, alpha 16, dropout 0.1 on all-linear", () => {
        expect(parsed.lora).toEqual({ r: 8, alpha: 16, dropout: 0.1, targetModules: "all-linear" });
    });

    it("quantization: 4-bit nf4 with double quant, bfloat16 compute and storage", () => {
        expect(parsed.quantization).toEqual({
            load4bit: true,
            quantType: "nf4",
            doubleQuant: true,
            computeDtype: "bfloat16",
            storageDtype: "bfloat16",
            upcastFrozenWeights: false,
        });
    });

    it("training: every reference hyperparameter", () => {
        expect(parsed.training).toEqual({
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
        });
    });

    it("distributed: DeepSpeed ZeRO-3, processes from the target", () => {
        expect(parsed.distributed).toEqual({ strategy: "deepspeed-zero3", rendezvousPort: 29500 });
    });

    it("attention: sdpa (PyTorch's own kernels: no flash-attn wheel exists for the pinned torch)", () => {
        expect(parsed.attention).toEqual({ implementation: "sdpa" });
    });

    it("evaluation: every epoch, capped at 2000 samples (not the reference’s 300k); the gate on, 32 rows, 5%", () => {
        expect(parsed.evaluation).toEqual({
            strategy: "epoch",
            maxSamples: 2000,
            gate: { enabled: true, samples: 32, tolerance: 0.05 },
            benchmarks: { tasks: [], limit: 100, minScores: {} },
        });
    });

    it("checkpointing: every 500 steps, keep 2, the S3 store kept on destroy", () => {
        expect(parsed.checkpointing).toEqual({
            strategy: "steps",
            steps: 500,
            totalLimit: 2,
            deleteStoreOnDestroy: false,
        });
    });

    it("hub: private, push every save, no repos until a stack names them", () => {
        expect(parsed.hub).toEqual({ private: true, strategy: "every_save" });
    });

    it("tracking: none until a stack opts in to W&B", () => {
        expect(parsed.tracking).toEqual({ kind: "none" });
    });

    it("budget: 24 h watchdog, release after push, run directory removed", () => {
        expect(parsed.budget).toEqual({ maxHours: 24, teardown: "release-after-push", keepRunDir: false });
    });

    it("runtime: venv with python3", () => {
        expect(parsed.runtime).toEqual({ kind: "venv", python: "python3" });
    });

    it("target ssh: port 22, 4 GPUs of 24 GB, 100 GB free disk", () => {
        expect(parsed.target).toEqual({ ...sshTarget, port: 22, gpus: 4, gpuMemoryGb: 24, minFreeDiskGb: 100 });
    });

    it("target local: gpus 0 (CPU)", () => {
        const local = parseSettings(
            {
                target: { kind: "local" },
                distributed: { strategy: "ddp" },
                training: { bf16: false },
                attention: { implementation: "sdpa" },
                quantization: { load4bit: false },
            },
            {},
        );
        expect(local.target).toEqual({ kind: "local", gpus: 0 });
    });

    it("target aws: us-east-1 g5.12xlarge spot, 200 GB root, SSH closed to the world, checkpoints in S3 (spot)", () => {
        const aws = parseSettings({ target: awsTarget, hub: { mergedRepo: "me/model" } }, allSecrets);
        expect(aws.target).toEqual({
            ...awsTarget,
            region: "us-east-1",
            instanceType: "g5.12xlarge",
            spot: { enabled: true },
            rootVolumeGb: 200,
            allowOpenSsh: false,
            checkpointBucket: true,
            hosts: 1,
        });
    });

    it("runtime venv: python3 when only the kind is given; docker has no further fields", () => {
        expect(parseSettings({ target: sshTarget, runtime: { kind: "venv" } }, allSecrets).runtime).toEqual({
            kind: "venv",
            python: "python3",
        });
        expect(parseSettings({ target: sshTarget, runtime: { kind: "docker" } }, allSecrets).runtime).toEqual({
            kind: "docker",
        });
    });

    it("a partly written concern keeps the defaults of the keys it omits", () => {
        const settings = parseSettings(
            { target: sshTarget, lora: { r: 16 }, dataset: { roles: { gpt: "assistant" } } },
            allSecrets,
        );
        expect(settings.lora).toEqual({ r: 16, alpha: 16, dropout: 0.1, targetModules: "all-linear" });
        expect(settings.dataset.roles).toEqual({ system: "system", human: "user", gpt: "assistant" });
    });

    it("settingsDefaults is the single source: every concern parsed from nothing equals it", () => {
        const concerns = (Object.keys(settingsDefaults) as (keyof Settings)[]).filter(
            (k) => k !== "target" && k !== "runtime",
        );
        for (const key of concerns) expect(parsed[key], key).toEqual(settingsDefaults[key]);
        expect(parsed.runtime).toEqual(settingsDefaults.runtime);
        expect(concerns.length).toBe(13);
    });
});
