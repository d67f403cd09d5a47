import { describe, expect, it } from "vitest";
import { SettingsError, parseSettings } from "../src/settings";
import { allSecrets, awsTarget, canary, issuesOf, merge, settingsErrorOf, sshTarget } from "./settings/fixtures";

type Raw = Record<string, unknown>;

const gpu: Raw = { target: sshTarget };
const aws: Raw = { target: awsTarget, hub: { mergedRepo: "me/model" } };

/** [what is wrong, settings, the path the message must name, text that says what to do]. */
const badInputs: [string, Raw, string, string][] = [
    ["PEFT name `rank` for lora.r", merge(gpu, { lora: { rank: 8 } }), "lora.rank", "did you mean `lora.r`?"],
    [
        "HF name learning_rate",
        merge(gpu, { training: { learning_rate: 2e-4 } }),
        "training.learning_rate",
        "did you mean `training.learningRate`?",
    ],
    [
        "TRL name max_seq_length",
        merge(gpu, { training: { max_seq_length: 1024 } }),
        "training.max_seq_length",
        "did you mean `training.maxLength`?",
    ],
    [
        "a training key at the top of the namespace",
        merge(gpu, { learning_rate: 2e-4 }),
        "learning_rate",
        "did you mean `training.learningRate`?",
    ],
    [
        "an aws key at the top of the namespace",
        merge(aws, { sshCidr: "203.0.113.7/32" }),
        "sshCidr",
        "did you mean `target.sshCidr`?",
    ],
    ["misspelled concern", merge(gpu, { trainig: { epochs: 2 } }), "trainig", "did you mean `training`?"],
    [
        "unknown key with no near match",
        merge(gpu, { lora: { fancy: true } }),
        "lora.fancy",
        "remove it (keys allowed in stacktune:lora: r, alpha, dropout, targetModules)",
    ],
    ["unknown nested key", merge(aws, { target: { spot: { colour: "blue" } } }), "target.spot.colour", "remove it"],
    [
        "ssh field on a local target",
        { target: { kind: "local", host: "x" } },
        "target.host",
        "keys allowed in stacktune:target: kind, gpus",
    ],
    [
        "path on a docker runtime",
        merge(gpu, { runtime: { kind: "docker", path: "/opt/env" } }),
        "runtime.path",
        "remove it",
    ],
    ["unknown target kind", { target: { kind: "gcp" } }, "target.kind", "must be one of local, ssh, aws"],
    ["no target", {}, "target", "set stacktune:target with kind local, ssh or aws"],
    [
        "aws without sshCidr",
        { target: { kind: "aws", publicKey: awsTarget.publicKey } },
        "target.sshCidr",
        "set stacktune:target.sshCidr to your IP/32",
    ],
    [
        "aws sshCidr not a CIDR",
        merge(aws, { target: { sshCidr: "my laptop" } }),
        "target.sshCidr",
        "an IPv4 CIDR such as 203.0.113.7/32",
    ],
    [
        "aws instance type without 4 x 24 GB",
        merge(aws, { target: { instanceType: "p4d.24xlarge" } }),
        "target.instanceType",
        "one of g5.12xlarge, g6.12xlarge",
    ],
    [
        "aws public key in the wrong form",
        merge(aws, { target: { publicKey: "my key" } }),
        "target.publicKey",
        "must be one OpenSSH RSA or ED25519 public key line",
    ],
    [
        "aws region misspelled",
        merge(aws, { target: { region: "us-east" } }),
        "target.region",
        "must be an AWS region such as us-east-1",
    ],
    [
        "prepared dataset repo without owner",
        merge(gpu, { dataset: { preparedRepo: "prepared" } }),
        "dataset.preparedRepo",
        "must be a Hub repo id",
    ],
    ["ssh without host and user", { target: { kind: "ssh" } }, "target.host", "set stacktune:target.host"],
    [
        "ssh with both host and hosts",
        merge(gpu, { target: { hosts: [{ host: "b.example" }] } }),
        "target.hosts",
        "move it into target.hosts as the first entry",
    ],
    [
        "ssh hosts entry without host",
        merge(gpu, { target: { host: undefined, hosts: [{ port: 22 }] } }),
        "target.hosts[0].host",
        "set stacktune:target.hosts[0].host",
    ],
    [
        "ssh hosts entry with a typo",
        merge(gpu, { target: { host: undefined, hosts: [{ host: "a", clusterAdress: "10.0.0.1" }] } }),
        "target.hosts[0].clusterAdress",
        "did you mean `target.hosts[0].clusterAddress`",
    ],
    ["aws hosts zero", merge(aws, { target: { hosts: 0 } }), "target.hosts", "at least 1"],
    [
        "aws availability zone malformed",
        merge(aws, { target: { availabilityZone: "us-east-1" } }),
        "target.availabilityZone",
        "must be an availability zone such as us-east-1a",
    ],
    [
        "rendezvous port privileged",
        merge(gpu, { distributed: { rendezvousPort: 80 } }),
        "distributed.rendezvousPort",
        "at least 1024",
    ],
    ["ssh port out of range", merge(gpu, { target: { port: 70000 } }), "target.port", "at most 65535"],
    ["lora.r zero", merge(gpu, { lora: { r: 0 } }), "lora.r", "greater than 0"],
    ["lora.dropout of 1", merge(gpu, { lora: { dropout: 1 } }), "lora.dropout", "less than 1"],
    [
        "target modules as one string",
        merge(gpu, { lora: { targetModules: "q_proj" } }),
        "lora.targetModules",
        "must be all-linear or a list of module names",
    ],
    ["empty target module list", merge(gpu, { lora: { targetModules: [] } }), "lora.targetModules", "at least 1 item"],
    [
        "unknown scheduler",
        merge(gpu, { training: { lrScheduler: "cosine_annealing" } }),
        "training.lrScheduler",
        "one of linear, cosine",
    ],
    [
        "maxSteps 0",
        merge(gpu, { training: { maxSteps: 0 } }),
        "training.maxSteps",
        "must be -1 (train for `epochs`) or a positive step count",
    ],
    [
        "fractional batch size",
        merge(gpu, { training: { perDeviceTrainBatchSize: 2.5 } }),
        "training.perDeviceTrainBatchSize",
        "a whole number",
    ],
    [
        "bf16 as a string",
        merge(gpu, { training: { bf16: "yes" } }),
        "training.bf16",
        "expected true or false, found a string",
    ],
    [
        "a concern that is not a mapping",
        merge(gpu, { training: "fast" }),
        "training",
        "expected a mapping, found a string",
    ],
    ["test split as a count", merge(gpu, { dataset: { testSize: 3000 } }), "dataset.testSize", "less than 1"],
    [
        "role not in Llama-3",
        merge(gpu, { dataset: { roles: { gpt: "bot" } } }),
        "dataset.roles.gpt",
        "one of system, user, assistant, ipython",
    ],
    [
        "unknown ShareGPT role key",
        merge(gpu, { dataset: { roles: { assistant: "assistant" } } }),
        "dataset.roles.assistant",
        "keys allowed in stacktune:dataset.roles: system, human, gpt",
    ],
    [
        "8-bit quant type",
        merge(gpu, { quantization: { quantType: "int8" } }),
        "quantization.quantType",
        "one of nf4, fp4",
    ],
    [
        "FSDP strategy",
        merge(gpu, { distributed: { strategy: "fsdp" } }),
        "distributed.strategy",
        "one of deepspeed-zero3, deepspeed-zero2, ddp",
    ],
    [
        "eval strategy",
        merge(gpu, { evaluation: { strategy: "always" } }),
        "evaluation.strategy",
        "one of no, steps, epoch",
    ],
    [
        "gate tolerance over 1",
        merge(gpu, { evaluation: { gate: { tolerance: 5 } } }),
        "evaluation.gate.tolerance",
        "at most 1",
    ],
    [
        "gate tolerance negative",
        merge(gpu, { evaluation: { gate: { tolerance: -0.1 } } }),
        "evaluation.gate.tolerance",
        "at least 0",
    ],
    [
        "gate samples zero",
        merge(gpu, { evaluation: { gate: { samples: 0 } } }),
        "evaluation.gate.samples",
        "greater than 0",
    ],
    [
        "gate enabled not a boolean",
        merge(gpu, { evaluation: { gate: { enabled: "yes" } } }),
        "evaluation.gate.enabled",
        "set stacktune:evaluation.gate.enabled to true or false",
    ],
    [
        "gate key misspelled",
        merge(gpu, { evaluation: { gate: { tolerence: 0.1 } } }),
        "evaluation.gate.tolerence",
        "did you mean `evaluation.gate.tolerance`?",
    ],
    [
        "hub repo without owner",
        merge(gpu, { hub: { adapterRepo: "my-model" } }),
        "hub.adapterRepo",
        "must be a Hub repo id like your-name/model-name",
    ],
    [
        "teardown policy",
        merge(gpu, { budget: { teardown: "never" } }),
        "budget.teardown",
        "one of release-after-push, keep",
    ],
    ["negative budget", merge(gpu, { budget: { maxHours: -1 } }), "budget.maxHours", "greater than 0"],
    ["tracking kind", merge(gpu, { tracking: { kind: "mlflow" } }), "tracking.kind", "one of wandb, none"],
    [
        "attention implementation",
        merge(gpu, { attention: { implementation: "flash_attention_3" } }),
        "attention.implementation",
        "one of flash_attention_2, sdpa, eager",
    ],
    [
        "secret written as a setting",
        merge(gpu, { hfToken: canary }),
        "hfToken",
        "pulumi config set --secret stacktune:hfToken",
    ],
];

describe("settings errors name the key and say what to do", () => {
    it("has at least 15 distinct bad inputs", () => {
        expect(new Set(badInputs.map(([, , path]) => path)).size).toBeGreaterThanOrEqual(15);
    });

    for (const [what, raw, path, advice] of badInputs) {
        it(`${what} → ${path}`, () => {
            const error = settingsErrorOf(() => parseSettings(raw, allSecrets));
            const issue = error.issues.find((i) => i.path === path);
            expect(issue, `issues: ${JSON.stringify(error.issues)}`).toBeDefined();
            expect(issue?.message).toContain(advice);
            expect(error.message).toContain(`stacktune:${path}: `);
        });
    }

    it("a stack with lora: {rank: 8} fails naming lora.rank and suggesting lora.r", () => {
        const error = settingsErrorOf(() => parseSettings(merge(gpu, { lora: { rank: 8 } }), allSecrets));
        expect(error.message).toBe(
            "Invalid stacktune settings (1 problem):\n" +
                "  - stacktune:lora.rank: unknown key; did you mean `lora.r`? Rename it to stacktune:lora.r",
        );
    });

    it("lists every failing path at once, across concerns", () => {
        const issues = issuesOf(
            merge(gpu, {
                lora: { rank: 8, dropout: 2 },
                training: { lr: 1e-4, bf16: "no" },
                target: { port: 0 },
                extra: {},
            }),
        );
        expect(issues.map((i) => i.path).sort()).toEqual(
            ["extra", "lora.dropout", "lora.rank", "target.port", "training.bf16", "training.lr"].sort(),
        );
        expect(issues.find((i) => i.path === "training.lr")?.message).toContain(
            "did you mean `training.learningRate`?",
        );
    });

    it("is a SettingsError whose header names the source and the count", () => {
        const error = settingsErrorOf(() =>
            parseSettings({ target: { kind: "ssh" } }, {}, { source: "stacks/Pulumi.x.yaml" }),
        );
        expect(error).toBeInstanceOf(SettingsError);
        expect(error.name).toBe("SettingsError");
        expect(error.message.split("\n")[0]).toBe("Invalid stacktune settings in stacks/Pulumi.x.yaml (2 problems):");
    });
});

describe("secret values are never echoed", () => {
    const placements: [string, Raw][] = [
        [
            "a secret key written in plain settings",
            merge(gpu, { hfToken: canary, wandbApiKey: canary, sshPrivateKey: canary }),
        ],
        ["a token pasted into a string field with a format", merge(aws, { target: { sshCidr: canary } })],
        ["a token pasted into a repo id", merge(gpu, { hub: { adapterRepo: `${canary}!` } })],
        ["a token pasted into an enum", merge(gpu, { training: { lrScheduler: canary } })],
        ["a token where a number belongs", merge(gpu, { lora: { r: canary } })],
        ["a token where a mapping belongs", merge(gpu, { training: canary })],
        ["a token as the target kind", { target: { kind: canary } }],
        ["a token under an unknown key", merge(gpu, { tracking: { token: canary } })],
        ["a token as a public key", merge(aws, { target: { publicKey: canary } })],
    ];
    for (const [what, raw] of placements) {
        it(what, () => {
            const error = settingsErrorOf(() => parseSettings(raw, {}));
            expect(error.issues.length).toBeGreaterThan(0);
            expect(error.message).not.toContain(canary);
            expect(error.message).not.toContain("CANARY");
            expect(JSON.stringify(error.issues)).not.toContain("CANARY");
        });
    }
});
