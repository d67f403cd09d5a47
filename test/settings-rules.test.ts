import { describe, expect, it } from "vitest";
import { type SecretsPresent, parseSettings, processCount, settingsRules } from "../src/settings";
import { allSecrets, awsTarget, cpuRun, issuesOf, merge, sshTarget } from "./settings/fixtures";

type Raw = Record<string, unknown>;

interface Failing {
    raw: Raw;
    secrets?: SecretsPresent;
    /** Exactly the paths reported. */
    paths: string[];
    /** Text the first issue's message must contain (the fix). */
    says: string;
}

interface RuleCases {
    fail: Failing[];
    pass: { raw: Raw; secrets?: SecretsPresent }[];
}

const gpu: Raw = { target: sshTarget };
const aws: Raw = { target: awsTarget, hub: { mergedRepo: "me/model" } };

/** One entry per rule in settingsRules: settings it refuses and the closest settings it accepts. */
const cases: Record<string, RuleCases> = {
    "zero3-4bit-storage-dtype": {
        fail: [
            {
                raw: merge(gpu, { quantization: { storageDtype: "float32" } }),
                paths: ["quantization.storageDtype"],
                says: "set stacktune:quantization.storageDtype to bfloat16",
            },
        ],
        pass: [
            {
                raw: merge(gpu, {
                    quantization: { storageDtype: "float32" },
                    distributed: { strategy: "deepspeed-zero2" },
                }),
            },
            { raw: merge(gpu, { quantization: { storageDtype: "uint8", load4bit: false } }) },
        ],
    },
    "zero3-qlora-reentrant-checkpointing": {
        fail: [
            {
                raw: merge(gpu, { training: { useReentrant: false } }),
                paths: ["training.useReentrant"],
                says: "set stacktune:training.useReentrant to true",
            },
            {
                raw: merge(gpu, { training: { gradientCheckpointing: false } }),
                paths: ["training.gradientCheckpointing"],
                says: "set stacktune:training.gradientCheckpointing to true",
            },
        ],
        pass: [
            { raw: merge(gpu, { training: { useReentrant: false }, distributed: { strategy: "ddp" } }) },
            { raw: merge(gpu, { training: { gradientCheckpointing: false }, quantization: { load4bit: false } }) },
        ],
    },
    "processes-within-gpus": {
        fail: [
            {
                raw: merge(gpu, { target: { gpus: 2 }, distributed: { numProcesses: 4 } }),
                paths: ["distributed.numProcesses"],
                says: "at most 2",
            },
            {
                raw: merge(aws, { distributed: { numProcesses: 8 } }),
                paths: ["distributed.numProcesses"],
                says: "the target has 4 GPU(s)",
            },
        ],
        pass: [
            { raw: merge(gpu, { distributed: { numProcesses: 4 } }) },
            { raw: merge(aws, { distributed: { numProcesses: 2 } }) },
        ],
    },
    "ssh-hosts-distinct-accounts": {
        fail: [
            {
                raw: merge(gpu, {
                    target: {
                        host: undefined,
                        hostKey: undefined,
                        hosts: [
                            { hostKey: sshTarget.hostKey, host: "a.example" },
                            { hostKey: sshTarget.hostKey, host: "b.example" },
                            { hostKey: sshTarget.hostKey, host: "a.example", port: 22, user: "stacktune" },
                        ],
                    },
                }),
                paths: ["target.hosts[2]"],
                says: "has the same host, port and user as target.hosts[0]",
            },
        ],
        pass: [
            {
                raw: merge(gpu, {
                    target: {
                        host: undefined,
                        hostKey: undefined,
                        hosts: [
                            { hostKey: sshTarget.hostKey, host: "127.0.0.1", port: 2201 },
                            { hostKey: sshTarget.hostKey, host: "127.0.0.1", port: 2202 },
                        ],
                    },
                }),
            },
            {
                raw: merge(gpu, {
                    target: {
                        host: undefined,
                        hostKey: undefined,
                        hosts: [
                            { hostKey: sshTarget.hostKey, host: "127.0.0.1", user: "a" },
                            { hostKey: sshTarget.hostKey, host: "127.0.0.1", user: "b" },
                        ],
                    },
                }),
            },
        ],
    },
    "main-machine-reachable": {
        fail: [
            {
                raw: merge(gpu, {
                    target: {
                        host: undefined,
                        hostKey: undefined,
                        hosts: [
                            { hostKey: sshTarget.hostKey, host: "a.example", clusterAddress: "127.0.0.1" },
                            { hostKey: sshTarget.hostKey, host: "b.example" },
                        ],
                    },
                }),
                paths: ["target.hosts[0].clusterAddress"],
                says: "target.hosts[1].host cannot reach",
            },
        ],
        pass: [
            {
                raw: merge(gpu, {
                    target: {
                        host: undefined,
                        hostKey: undefined,
                        hosts: [
                            { hostKey: sshTarget.hostKey, host: "a.example", clusterAddress: "10.0.0.5" },
                            { hostKey: sshTarget.hostKey, host: "b.example" },
                        ],
                    },
                }),
            },
            {
                raw: merge(gpu, {
                    target: {
                        host: undefined,
                        hostKey: undefined,
                        hosts: [
                            { hostKey: sshTarget.hostKey, host: "127.0.0.1", user: "a" },
                            { hostKey: sshTarget.hostKey, host: "localhost", user: "b" },
                        ],
                    },
                }),
            },
        ],
    },
    "multi-host-processes-equal-gpus": {
        fail: [
            {
                raw: merge(aws, { target: { hosts: 2 }, distributed: { numProcesses: 2 } }),
                paths: ["distributed.numProcesses"],
                says: "set it to 4",
            },
        ],
        pass: [
            { raw: merge(aws, { target: { hosts: 2 }, distributed: { numProcesses: 4 } }) },
            { raw: merge(aws, { target: { hosts: 2 } }) },
            { raw: merge(aws, { distributed: { numProcesses: 2 } }) },
        ],
    },
    "cpu-ddp-single-process": {
        fail: [
            {
                raw: merge(cpuRun, { distributed: { strategy: "deepspeed-zero2" } }),
                paths: ["distributed.strategy"],
                says: "set stacktune:distributed.strategy to ddp",
            },
            {
                raw: merge(cpuRun, { distributed: { numProcesses: 2 } }),
                paths: ["distributed.numProcesses"],
                says: "set stacktune:distributed.numProcesses to 1",
            },
        ],
        pass: [{ raw: cpuRun }, { raw: merge(cpuRun, { distributed: { numProcesses: 1 } }) }],
    },
    "cpu-no-bf16": {
        fail: [{ raw: merge(cpuRun, { training: { bf16: true } }), paths: ["training.bf16"], says: "use bf16: false" }],
        pass: [{ raw: { target: { kind: "local", gpus: 1 } } }],
    },
    "cpu-no-flash-attention": {
        fail: [
            {
                raw: merge(cpuRun, { attention: { implementation: "flash_attention_2" } }),
                paths: ["attention.implementation"],
                says: "set stacktune:attention.implementation to sdpa",
            },
        ],
        pass: [{ raw: merge(cpuRun, { attention: { implementation: "eager" } }) }],
    },
    "cpu-no-4bit": {
        fail: [
            {
                raw: merge(cpuRun, { quantization: { load4bit: true } }),
                paths: ["quantization.load4bit"],
                says: "set stacktune:quantization.load4bit to false",
            },
        ],
        pass: [{ raw: merge(gpu, { target: { gpus: 1 }, distributed: { strategy: "ddp" } }) }],
    },
    "cpu-no-liger": {
        fail: [
            {
                raw: merge(cpuRun, { training: { useLigerKernel: true } }),
                paths: ["training.useLigerKernel"],
                says: "set stacktune:training.useLigerKernel to false",
            },
        ],
        pass: [{ raw: merge(gpu, { training: { useLigerKernel: true } }) }],
    },
    "flash-attention-needs-provided-env": {
        fail: [
            {
                raw: merge(gpu, { attention: { implementation: "flash_attention_2" } }),
                paths: ["attention.implementation"],
                says: "set stacktune:attention.implementation to sdpa, or stacktune:runtime.path to a Python environment that has flash-attn",
            },
            {
                raw: merge(aws, { runtime: { kind: "docker" }, attention: { implementation: "flash_attention_2" } }),
                paths: ["attention.implementation"],
                says: "the training image",
            },
        ],
        pass: [
            {
                raw: merge(gpu, {
                    attention: { implementation: "flash_attention_2" },
                    runtime: { kind: "venv", path: "/opt/flash-env" },
                }),
            },
        ],
    },
    "flash-attention-needs-half-precision": {
        fail: [
            {
                raw: merge(gpu, {
                    training: { bf16: false },
                    quantization: { load4bit: false },
                    distributed: { strategy: "ddp" },
                    attention: { implementation: "flash_attention_2" },
                    runtime: { kind: "venv", path: "/opt/flash-env" },
                }),
                paths: ["attention.implementation"],
                says: "set stacktune:training.bf16 to true or attention.implementation to sdpa",
            },
        ],
        pass: [
            {
                raw: merge(gpu, {
                    training: { bf16: false },
                    quantization: { load4bit: false },
                    distributed: { strategy: "ddp" },
                    attention: { implementation: "sdpa" },
                }),
            },
            {
                raw: merge(gpu, {
                    training: { bf16: false },
                    quantization: { computeDtype: "float16", storageDtype: "float16" },
                }),
            },
        ],
    },
    "bf16-compute-dtype": {
        fail: [
            {
                raw: merge(gpu, { quantization: { computeDtype: "float16", storageDtype: "float16" } }),
                paths: ["quantization.computeDtype"],
                says: "set stacktune:quantization.computeDtype to bfloat16",
            },
        ],
        pass: [
            {
                raw: merge(gpu, {
                    quantization: { computeDtype: "float16", storageDtype: "float16" },
                    training: { bf16: false },
                }),
            },
        ],
    },
    "bfd-packing": {
        fail: [
            {
                raw: merge(gpu, { training: { packing: false, packingStrategy: "bfd" } }),
                paths: ["training.packingStrategy"],
                says: "set stacktune:training.packing to true",
            },
        ],
        pass: [
            { raw: merge(gpu, { training: { packingStrategy: "bfd" } }) },
            { raw: merge(gpu, { training: { packing: false } }) },
        ],
    },
    "open-ssh-refused": {
        fail: [
            {
                raw: merge(aws, { target: { sshCidr: "0.0.0.0/0" } }),
                paths: ["target.sshCidr"],
                says: "set stacktune:target.sshCidr to your IP/32",
            },
        ],
        pass: [{ raw: merge(aws, { target: { sshCidr: "0.0.0.0/0", allowOpenSsh: true } }) }, { raw: aws }],
    },
    "eval-cap-within-test-split": {
        fail: [
            {
                raw: merge(gpu, { dataset: { numSamples: 40, testSize: 0.25 }, evaluation: { maxSamples: 11 } }),
                paths: ["evaluation.maxSamples"],
                says: "the test split holds 10 samples; set stacktune:evaluation.maxSamples to at most 10",
            },
            {
                raw: merge(gpu, { dataset: { numSamples: 1000 } }),
                paths: ["evaluation.maxSamples"],
                says: "at most 300",
            },
        ],
        pass: [
            { raw: merge(gpu, { dataset: { numSamples: 40, testSize: 0.25 }, evaluation: { maxSamples: 10 } }) },
            { raw: merge(gpu, { dataset: { numSamples: 40 }, evaluation: { maxSamples: null } }) },
            { raw: merge(gpu, { evaluation: { maxSamples: 1_000_000 } }) },
        ],
    },
    "eval-steps-needs-steps": {
        fail: [
            {
                raw: merge(gpu, { evaluation: { strategy: "steps" } }),
                paths: ["evaluation.steps"],
                says: "set stacktune:evaluation.steps",
            },
            {
                raw: merge(gpu, { evaluation: { steps: 100 } }),
                paths: ["evaluation.steps"],
                says: "set evaluation.strategy to steps",
            },
        ],
        pass: [{ raw: merge(gpu, { evaluation: { strategy: "steps", steps: 100 } }) }],
    },
    "tracking-project-needs-wandb": {
        fail: [
            {
                raw: merge(gpu, { tracking: { project: "p" } }),
                paths: ["tracking.project"],
                says: "set stacktune:tracking.kind to wandb",
            },
        ],
        pass: [{ raw: merge(gpu, { tracking: { kind: "wandb", project: "p" } }) }],
    },
    "spot-price-needs-spot": {
        fail: [
            {
                raw: merge(aws, { target: { spot: { enabled: false, maxPrice: 2 } } }),
                paths: ["target.spot.maxPrice"],
                says: "set stacktune:target.spot.enabled to true",
            },
        ],
        pass: [{ raw: merge(aws, { target: { spot: { maxPrice: 2 } } }) }],
    },
    "spot-keeps-checkpoints": {
        fail: [
            {
                raw: merge(aws, { target: { checkpointBucket: false } }),
                paths: ["target.checkpointBucket"],
                says: "set stacktune:target.checkpointBucket to true",
            },
        ],
        pass: [{ raw: aws }, { raw: merge(aws, { target: { spot: { enabled: false }, checkpointBucket: false } }) }],
    },
    "delete-store-needs-bucket": {
        fail: [
            {
                raw: merge(gpu, { checkpointing: { deleteStoreOnDestroy: true } }),
                paths: ["checkpointing.deleteStoreOnDestroy"],
                says: "there is no checkpoint store to delete",
            },
            {
                raw: merge(aws, {
                    target: { spot: { enabled: false } },
                    checkpointing: { deleteStoreOnDestroy: true },
                }),
                paths: ["checkpointing.deleteStoreOnDestroy"],
                says: "target.checkpointBucket: true",
            },
        ],
        pass: [
            { raw: merge(aws, { target: { checkpointBucket: true }, checkpointing: { deleteStoreOnDestroy: true } }) },
        ],
    },
    "hub-push-needs-checkpoints": {
        fail: [
            {
                raw: merge(gpu, { hub: { adapterRepo: "me/adapter" }, checkpointing: { strategy: "no" } }),
                paths: ["hub.strategy"],
                says: "set stacktune:hub.strategy to end",
            },
        ],
        pass: [
            {
                raw: merge(gpu, {
                    hub: { adapterRepo: "me/adapter", strategy: "end" },
                    checkpointing: { strategy: "no" },
                }),
            },
        ],
    },
    "aws-output-survives-teardown": {
        fail: [
            { raw: { target: awsTarget }, paths: ["hub.mergedRepo"], says: "set stacktune:hub.mergedRepo" },
            // The adapter repo holds no completion marker: `pulumi up` used to refuse this one alone (issue 18).
            {
                raw: { target: awsTarget, hub: { adapterRepo: "me/adapter" } },
                paths: ["hub.mergedRepo"],
                says: "set stacktune:hub.mergedRepo, or budget.teardown to keep",
            },
        ],
        pass: [
            { raw: { target: awsTarget, budget: { teardown: "keep" } } },
            { raw: { target: awsTarget, hub: { mergedRepo: "me/model" } } },
        ],
    },
    "max-usd-needs-aws": {
        fail: [
            {
                raw: merge(gpu, { budget: { maxUsd: 100 } }),
                paths: ["budget.maxUsd"],
                says: "remove stacktune:budget.maxUsd",
            },
        ],
        pass: [{ raw: merge(aws, { budget: { maxUsd: 1000 } }) }],
    },
    "max-usd-covers-estimate": {
        fail: [
            {
                raw: merge(aws, { budget: { maxUsd: 100 } }),
                paths: ["budget.maxUsd"],
                says: "over budget.maxUsd 100: raise stacktune:budget.maxUsd",
            },
        ],
        pass: [
            { raw: merge(aws, { budget: { maxUsd: 1000 } }) },
            { raw: merge(aws, { budget: { maxUsd: 100, maxHours: 10 } }) },
        ],
    },
    "hub-repos-need-token": {
        fail: [
            {
                raw: merge(gpu, { hub: { adapterRepo: "me/adapter" } }),
                secrets: { sshPrivateKey: true },
                paths: ["hfToken"],
                says: "pulumi config set --secret stacktune:hfToken",
            },
            {
                raw: merge(gpu, { dataset: { preparedRepo: "me/prepared" } }),
                secrets: { sshPrivateKey: true },
                paths: ["hfToken"],
                says: "pulumi config set --secret stacktune:hfToken",
            },
        ],
        pass: [
            {
                raw: merge(gpu, { hub: { adapterRepo: "me/adapter", mergedRepo: "me/merged" } }),
                secrets: { sshPrivateKey: true, hfToken: true },
            },
            { raw: merge(gpu, { hub: { localDir: "~/.stacktune/models/x" } }), secrets: { sshPrivateKey: true } },
        ],
    },
    "wandb-needs-key": {
        fail: [
            {
                raw: merge(gpu, { tracking: { kind: "wandb" } }),
                secrets: { sshPrivateKey: true },
                paths: ["wandbApiKey"],
                says: "pulumi config set --secret stacktune:wandbApiKey",
            },
        ],
        pass: [
            { raw: merge(gpu, { tracking: { kind: "wandb" } }), secrets: { sshPrivateKey: true, wandbApiKey: true } },
        ],
    },
    "ssh-needs-one-key": {
        fail: [
            {
                raw: gpu,
                secrets: {},
                paths: ["sshPrivateKey"],
                says: "set stacktune:target.privateKeyPath or run `pulumi config set --secret stacktune:sshPrivateKey",
            },
            {
                raw: merge(gpu, { target: { privateKeyPath: "~/.ssh/id" } }),
                secrets: { sshPrivateKey: true },
                paths: ["target.privateKeyPath"],
                says: "remove one of them",
            },
        ],
        pass: [
            { raw: merge(gpu, { target: { privateKeyPath: "~/.ssh/id" } }), secrets: {} },
            { raw: gpu, secrets: { sshPrivateKey: true } },
        ],
    },
    "aws-key-not-placeholder": {
        fail: [
            {
                raw: merge(aws, {
                    target: {
                        publicKey:
                            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderReplaceWithYourOwnPublicKey0000 you@example.com",
                    },
                }),
                paths: ["target.publicKey"],
                says: "set stacktune:target.publicKey to your own key",
            },
        ],
        pass: [{ raw: aws }],
    },
    "aws-needs-private-key": {
        fail: [
            {
                raw: aws,
                secrets: { hfToken: true },
                paths: ["sshPrivateKey"],
                says: "pulumi config set --secret stacktune:sshPrivateKey",
            },
        ],
        pass: [{ raw: aws, secrets: { hfToken: true, sshPrivateKey: true } }],
    },
};

describe("cross-field rules", () => {
    it("every rule in settingsRules has cases here, and every case names a rule", () => {
        expect(Object.keys(cases).sort()).toEqual(settingsRules.map((r) => r.id).sort());
    });

    for (const rule of settingsRules) {
        describe(`${rule.id}: ${rule.description}`, () => {
            const ruleCases = cases[rule.id];
            ruleCases?.fail.forEach((c, i) => {
                it(`refuses case ${i + 1}, naming ${c.paths.join(", ")}`, () => {
                    const issues = issuesOf(c.raw, c.secrets ?? allSecrets);
                    expect(issues.map((x) => x.path)).toEqual(c.paths);
                    expect(issues[0]?.message).toContain(c.says);
                });
            });
            ruleCases?.pass.forEach((c, i) => {
                it(`accepts case ${i + 1}`, () => {
                    expect(() => parseSettings(c.raw, c.secrets ?? allSecrets)).not.toThrow();
                });
            });
        });
    }

    it("reports every broken rule at once", () => {
        const issues = issuesOf(
            merge(cpuRun, {
                training: { bf16: true, useLigerKernel: true },
                attention: { implementation: "flash_attention_2" },
                tracking: { kind: "wandb" },
            }),
            {},
        );
        expect(issues.map((i) => i.path)).toEqual([
            "training.bf16",
            "attention.implementation",
            "training.useLigerKernel",
            "wandbApiKey",
        ]);
    });

    it("checkSecrets: false (render) skips only the rules that need secrets", () => {
        const raw = merge(gpu, { hub: { adapterRepo: "me/adapter" }, tracking: { kind: "wandb" } });
        expect(() => parseSettings(raw, {}, { checkSecrets: false })).not.toThrow();
        const issues = issuesOf(merge(raw, { quantization: { storageDtype: "float32" } }), {});
        expect(issues.map((i) => i.path)).toEqual([
            "quantization.storageDtype",
            "hfToken",
            "wandbApiKey",
            "sshPrivateKey",
        ]);
    });

    it("processCount: one process per target GPU unless numProcesses says otherwise; 1 on a CPU", () => {
        expect(processCount(parseSettings(gpu, allSecrets))).toBe(4);
        expect(processCount(parseSettings(merge(aws, { target: { instanceType: "g6.12xlarge" } }), allSecrets))).toBe(
            4,
        );
        expect(processCount(parseSettings(merge(gpu, { distributed: { numProcesses: 2 } }), allSecrets))).toBe(2);
        expect(processCount(parseSettings(cpuRun, {}))).toBe(1);
    });
});
