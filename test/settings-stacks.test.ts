import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
    type Settings,
    SettingsError,
    loadSettingsFromStackFile,
    processCount,
    runsOnCpu,
    settingsDefaults,
    knownTestSplitSize,
} from "../src/settings";
import { diffSettings } from "../src/render/settingsDiff";

const stacksDir = join(__dirname, "..", "stacks");
const repoRoot = join(__dirname, "..");
const stackFiles = readdirSync(stacksDir).filter((f) => /^Pulumi\..+\.yaml$/.test(f));
const load = (stack: string) => loadSettingsFromStackFile(join(stacksDir, `Pulumi.${stack}.yaml`)).settings;

/** What `pulumi up` would ask for: the stack file's issues once secrets (and deploy-only rules) are checked. */
function deployIssues(path: string): string[] {
    try {
        loadSettingsFromStackFile(path, { checkSecrets: true });
        return [];
    } catch (error) {
        if (!(error instanceof SettingsError)) throw error;
        return error.issues.map((i) => i.path).sort();
    }
}

/** The settings that differ between two stacks, as `path: [a, b]` (the diff the PR workflow shows). */
function differences(a: Settings, b: Settings): Record<string, [unknown, unknown]> {
    return Object.fromEntries(diffSettings(a, b).map(({ key, from, to }) => [key, [from, to]]));
}

describe("stack files", () => {
    it("are the four experiments of issue 2", () => {
        expect(stackFiles.sort()).toEqual([
            "Pulumi.aws-g5.yaml",
            "Pulumi.aws-g6-r16.yaml",
            "Pulumi.local-demo.yaml",
            "Pulumi.seed-reference.yaml",
        ]);
    });

    for (const file of stackFiles) {
        const stack = file.replace(/^Pulumi\.|\.yaml$/g, "");
        const text = readFileSync(join(stacksDir, file), "utf8");

        describe(stack, () => {
            it("opens with the exact command that runs it", () => {
                expect(text.split("\n")[0]).toBe(`# Run it:  pulumi up --stack ${stack}`);
            });

            it("loads and validates (without secrets, as render does)", () => {
                const loaded = loadSettingsFromStackFile(join(stacksDir, file));
                expect(loaded.stack).toBe(stack);
                expect(loaded.secrets).toEqual({});
            });

            it("holds no secret value, only instructions to set secrets", () => {
                expect(text).not.toMatch(/secure:/);
                expect(text).not.toMatch(/\bhf_[A-Za-z0-9]{8,}/);
                expect(text).not.toMatch(/PRIVATE KEY/);
                expect(text).not.toMatch(/^\s*stacktune:(hfToken|wandbApiKey|sshPrivateKey)/m);
            });

            it("tells how to set exactly the secrets pulumi up will require, and to replace the placeholder key it refuses", () => {
                const told = [...text.matchAll(/pulumi config set --secret stacktune:(\w+)/g)].map((m) => m[1]).sort();
                const issues = deployIssues(join(stacksDir, file));
                expect(told).toEqual(issues.filter((path) => !path.startsWith("target.")));
                const placeholder = issues.includes("target.publicKey");
                expect(placeholder).toBe(/publicKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholder/.test(text));
                if (placeholder)
                    expect(text).toContain("replace sshCidr (your IP/32), publicKey (~/.ssh/id_ed25519.pub)");
                expect(issues.filter((path) => path.startsWith("target.") && path !== "target.publicKey")).toEqual([]);
            });
        });
    }
});

describe("seed-reference reproduces the reference run", () => {
    const s = load("seed-reference");

    it("runs on an on-prem 4 x 24 GB machine over SSH, in docker, with ZeRO-3 on all 4 GPUs", () => {
        expect(s.target).toEqual({
            kind: "ssh",
            host: "gpu-box.example.internal",
            port: 22,
            user: "stacktune",
            hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEXAMPLEhostKEYreplaceWITHsshKEYSCANoutput00",
            privateKeyPath: "~/.ssh/id_ed25519",
            gpus: 4,
            gpuMemoryGb: 24,
            minFreeDiskGb: 100,
        });
        expect(s.runtime).toEqual({ kind: "docker" });
        expect(s.distributed).toEqual({ strategy: "deepspeed-zero3", rendezvousPort: 29500 });
        expect(processCount(s)).toBe(4);
    });

    it("has every recipe value of DESIGN.md", () => {
        expect(s.model).toEqual({ id: "meta-llama/Meta-Llama-3-8B-Instruct", revision: "main" });
        expect(s.dataset).toEqual({
            source: "teknium/OpenHermes-2.5",
            revision: "main", // pinned to its commit at plan time, and printed (test/program.pinned-inputs.test.ts)
            format: "sharegpt",
            conversationsField: "conversations",
            roles: { system: "system", human: "user", gpt: "assistant" },
            testSize: 0.3,
            splitSeed: 100,
        });
        expect(s.chat).toEqual({ format: "llama3" });
        expect(s.lora).toEqual({ r: 8, alpha: 16, dropout: 0.1, targetModules: "all-linear" });
        expect(s.quantization).toEqual({
            load4bit: true,
            quantType: "nf4",
            doubleQuant: true,
            computeDtype: "bfloat16",
            storageDtype: "bfloat16",
            upcastFrozenWeights: false,
        });
        expect(s.training).toEqual({
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
            gradientAccumulationSteps: 1,
            gradientCheckpointing: true,
            useReentrant: true,
            checkpointSkipLayers: 0,
            bf16: true,
            seed: 100,
            loggingSteps: 5,
            useLigerKernel: false,
        });
        expect(s.attention).toEqual({ implementation: "sdpa" });
        expect(s.evaluation.strategy).toBe("epoch");
        expect(s.checkpointing).toEqual({ strategy: "steps", steps: 500, totalLimit: 2, deleteStoreOnDestroy: false });
        expect(s.hub).toMatchObject({ private: true, strategy: "every_save" });
        expect(s.hub.adapterRepo).toMatch(/\//);
        expect(s.hub.mergedRepo).toMatch(/\//);
        expect(s.tracking.kind).toBe("wandb");
    });

    it("takes the reference's 16 packed rows per optimizer step (2 processes x 4 x 2 there; docs/reference.md), so an epoch has its ~7,875 steps", () => {
        const t = s.training;
        expect(t.perDeviceTrainBatchSize * t.gradientAccumulationSteps * processCount(s)).toBe(16);
        // The same micro-batch per GPU as the reference: the same memory per card.
        expect(t.perDeviceTrainBatchSize).toBe(4);
    });
});

describe("aws stacks", () => {
    const g5 = load("aws-g5");
    const g6 = load("aws-g6-r16");
    const recipe = [
        "model",
        "dataset",
        "chat",
        "lora",
        "quantization",
        "training",
        "distributed",
        "attention",
        "evaluation",
        "checkpointing",
        "tracking",
    ] as const;

    it("aws-g5 runs the recommended recipe (defaults + the benchmark's measured default) on a g5.12xlarge reachable only from a documentation /32", () => {
        const measured = {
            distributed: { strategy: "ddp" },
            training: { useReentrant: false, useLigerKernel: true, checkpointSkipLayers: 4 },
        } as const;
        for (const concern of recipe) {
            const overlay = (measured as Record<string, object>)[concern] ?? {};
            expect(g5[concern], concern).toEqual({ ...settingsDefaults[concern], ...overlay });
        }
        expect(g5.target).toMatchObject({
            kind: "aws",
            instanceType: "g5.12xlarge",
            sshCidr: "203.0.113.7/32",
            allowOpenSsh: false,
        });
        expect(g5.hub.mergedRepo).toBeDefined();
    });

    it("aws-g6-r16 differs from aws-g5 only in instance type, LoRA r16/alpha32, lr 2e-4 and its repos", () => {
        expect(differences(g5, g6)).toEqual({
            "target.instanceType": ["g5.12xlarge", "g6.12xlarge"],
            "lora.r": [8, 16],
            "lora.alpha": [16, 32],
            "training.learningRate": [1e-4, 2e-4],
            "hub.adapterRepo": [g5.hub.adapterRepo, g6.hub.adapterRepo],
            "hub.mergedRepo": [g5.hub.mergedRepo, g6.hub.mergedRepo],
        });
        expect(processCount(g6)).toBe(4);
    });
});

describe("local-demo runs on this machine’s CPU with repo-local data and no account", () => {
    const s = load("local-demo");

    it("is a CPU run: ddp with one process, no 4-bit, no bf16, sdpa", () => {
        expect(s.target).toEqual({ kind: "local", gpus: 0 });
        expect(runsOnCpu(s)).toBe(true);
        expect(s.distributed.strategy).toBe("ddp");
        expect(processCount(s)).toBe(1);
        expect(s.quantization.load4bit).toBe(false);
        expect(s.training.bf16).toBe(false);
        expect(s.attention.implementation).toBe("sdpa");
        expect(s.runtime.kind).toBe("venv");
    });

    it("trains a tiny model on the demo set in a few dozen short steps, fast enough to learn it visibly", () => {
        expect(s.model.id).toBe(".stacktune/tiny-llama");
        expect(s.training.maxSteps).toBe(60);
        expect(s.training.maxLength).toBe(128);
        expect(s.training.perDeviceTrainBatchSize).toBe(4);
        expect(s.training.learningRate).toBe(0.005);
        expect([s.lora.r, s.lora.alpha, s.lora.dropout]).toEqual([16, 64, 0]);
    });

    it("points at its own demo data shipped in the repo, with its true size, and caps eval within the split", () => {
        // Not data/demo.jsonl: the e2e test stacks train on that one and count its tokens.
        expect(s.dataset.source).toBe("python/stacktune_train/data/local-demo.jsonl");
        const data = join(repoRoot, s.dataset.source);
        expect(existsSync(data)).toBe(true);
        const lines = readFileSync(data, "utf8")
            .split("\n")
            .filter((l) => l.trim() !== "");
        expect(s.dataset.numSamples).toBe(lines.length);
        expect(s.evaluation.maxSamples).not.toBeNull();
        expect(s.evaluation.maxSamples).toBeLessThanOrEqual(knownTestSplitSize(s.dataset) ?? 0);
    });

    it("writes to a local directory, not the Hub, and needs no secret", () => {
        expect(s.hub.adapterRepo).toBeUndefined();
        expect(s.hub.mergedRepo).toBeUndefined();
        expect(s.hub.localDir).toBe("~/.stacktune/models/local-demo");
        expect(s.tracking.kind).toBe("none");
        expect(() =>
            loadSettingsFromStackFile(join(stacksDir, "Pulumi.local-demo.yaml"), { checkSecrets: true }),
        ).not.toThrow();
    });
});
