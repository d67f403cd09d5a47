// Least privilege, through index.ts under Pulumi mocks: the instance role may do exactly what
// checkpoint-sync.sh's `aws s3 sync` calls need, on this experiment's prefix only; the checkpoint
// bucket survives `pulumi destroy` unless checkpointing.deleteStoreOnDestroy says otherwise; the
// HF token and the W&B key reach the host only when a setting needs them.
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { parseSettings } from "../src/settings";
import { FakeHub } from "./helpers/fakeHub";
import { installProgramMocks, type ProgramMocks, runProgram, textInput } from "./helpers/pulumiMocks";
import { settingsErrorOf } from "./settings/fixtures";
import { TEST_PUBLIC_KEY } from "./helpers/keys";

const PUBLIC_KEY = TEST_PUBLIC_KEY;
const TOKEN = "hf_CANARY_least_privilege_3b9e";
const WANDB = "CANARY-wandb-least-privilege-3b9e";
const awsTarget = {
    kind: "aws",
    region: "us-east-1",
    sshCidr: "203.0.113.7/32",
    publicKey: PUBLIC_KEY,
    checkpointBucket: true,
};

interface Run {
    mocks: ProgramMocks;
    outputs: Record<string, unknown>;
    /** `retainOnDelete` of each registered resource, by `type name` (the bucket's children share its name). */
    retained: Map<string, boolean>;
}

/** Runs the program; the mock monitor drops resource options, so `retainOnDelete` is read off the request. */
async function run(stack: string, config: Record<string, unknown>, secretKeys: string[]): Promise<Run> {
    const mocks = await installProgramMocks({ stack, config, secretKeys });
    const monitor = pulumi.runtime.getMonitor() as unknown as {
        registerResource: (req: RegisterRequest, cb: unknown) => unknown;
    };
    const register = monitor.registerResource.bind(monitor);
    const retained = new Map<string, boolean>();
    monitor.registerResource = (req, cb) => {
        retained.set(`${req.getType()} ${req.getName()}`, req.getRetainondelete());
        return register(req, cb);
    };
    return { mocks, outputs: await runProgram(), retained };
}
interface RegisterRequest {
    getType(): string;
    getName(): string;
    getRetainondelete(): boolean;
}

const awsConfig = (checkpointing: Record<string, unknown> = {}): Record<string, unknown> => ({
    "stacktune:target": awsTarget,
    "stacktune:runtime": { kind: "docker" },
    "stacktune:hub": { mergedRepo: "me/model" },
    "stacktune:checkpointing": checkpointing,
    "stacktune:hfToken": TOKEN,
    "stacktune:wandbApiKey": WANDB,
    "stacktune:sshPrivateKey": "key",
});
const awsSecrets = ["stacktune:hfToken", "stacktune:wandbApiKey", "stacktune:sshPrivateKey"];

async function withHub<T>(body: () => Promise<T>): Promise<T> {
    const hub = new FakeHub();
    await hub.start();
    process.env.HF_ENDPOINT = hub.url;
    try {
        return await body();
    } finally {
        delete process.env.HF_ENDPOINT;
        await hub.stop();
    }
}

describe("aws checkpoint store (default: kept on destroy)", () => {
    it("the role lists and reads/writes only this experiment's prefix, with exactly the calls `aws s3 sync` makes", async () => {
        const r = await withHub(() => run("lp-aws", awsConfig(), awsSecrets));
        const prefix = `lp-aws/${(r.outputs.experimentHash as string).slice(0, 16)}`;
        expect(JSON.parse(r.mocks.one("aws:iam/rolePolicy:RolePolicy").inputs.policy as string)).toEqual({
            Version: "2012-10-17",
            Statement: [
                {
                    Sid: "ListCheckpointPrefix",
                    Effect: "Allow",
                    Action: ["s3:ListBucket"],
                    Resource: ["arn:aws:s3:::stacktune-ckpt-test"],
                    Condition: { StringLike: { "s3:prefix": [`${prefix}/*`] } },
                },
                {
                    Sid: "ReadWriteCheckpoints",
                    Effect: "Allow",
                    Action: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                    Resource: [`arn:aws:s3:::stacktune-ckpt-test/${prefix}/*`],
                },
            ],
        });
        // The job syncs to exactly that prefix.
        expect(String(r.mocks.resources.find((x) => x.name === "experiment-job-run")?.inputs.create)).toMatch(
            new RegExp(`^export STACKTUNE_CHECKPOINT_STORE=s3://stacktune-ckpt-test/${prefix}; `),
        );

        // The bucket and its protections stay in the account after `pulumi destroy`; the role goes.
        expect(r.mocks.one("aws:s3/bucket:Bucket").inputs).toEqual({
            bucketPrefix: "stacktune-ckpt-",
            forceDestroy: false,
            tags: { "stacktune:stack": "lp-aws", "stacktune:experiment": prefix.split("/")[1] },
        });
        const retainedTypes = r.mocks.resources
            .filter((x) => r.retained.get(`${x.type} ${x.name}`) === true)
            .map((x) => x.type)
            .sort();
        expect(retainedTypes).toEqual([
            "aws:s3/bucket:Bucket",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        ]);
    });

    it("the host gets the HF token (a Hub repo is set) but not the W&B key (tracking.kind none)", async () => {
        const r = await withHub(() => run("lp-aws", awsConfig(), awsSecrets));
        const stdin = textInput(
            r.mocks.resources.find((x) => x.name === "experiment-job-run")!,
            "stdin",
        );
        expect(stdin).toContain(`HF_TOKEN=${TOKEN}\n`);
        expect(stdin).not.toContain("WANDB");
        expect(stdin).not.toContain(WANDB);
    });
});

describe("checkpointing.deleteStoreOnDestroy: true", () => {
    it("destroy empties and deletes the bucket (forceDestroy, nothing retained)", async () => {
        const r = await withHub(() => run("lp-delete", awsConfig({ deleteStoreOnDestroy: true }), awsSecrets));
        expect(r.mocks.one("aws:s3/bucket:Bucket").inputs).toMatchObject({ forceDestroy: true });
        expect(r.mocks.resources.filter((x) => r.retained.get(`${x.type} ${x.name}`) === true)).toEqual([]);
    });

    it("defaults to false, and is refused without a checkpoint bucket to delete", () => {
        const local = {
            target: { kind: "local", gpus: 0 },
            distributed: { strategy: "ddp" },
            training: { bf16: false },
            attention: { implementation: "sdpa" },
            quantization: { load4bit: false },
        };
        expect(parseSettings(local, {}).checkpointing.deleteStoreOnDestroy).toBe(false);
        const error = settingsErrorOf(() =>
            parseSettings({ ...local, checkpointing: { deleteStoreOnDestroy: true } }, {}),
        );
        expect(error.issues).toEqual([
            {
                path: "checkpointing.deleteStoreOnDestroy",
                message:
                    "there is no checkpoint store to delete (only an aws target with target.checkpointBucket: true has one); remove stacktune:checkpointing.deleteStoreOnDestroy",
            },
        ]);
    });
});

describe("secrets reach the host only when a setting needs them", () => {
    it("a local model and local data, no Hub repo, tracking none: neither the token nor the W&B key is sent", async () => {
        const r = await run(
            "lp-local",
            {
                "stacktune:target": { kind: "local", gpus: 0 },
                "stacktune:runtime": { kind: "venv", python: "python3" },
                "stacktune:model": { id: ".stacktune/tiny-llama" },
                "stacktune:dataset": { source: "python/stacktune_train/data/demo.jsonl" },
                "stacktune:quantization": { load4bit: false },
                "stacktune:training": { bf16: false, gradientCheckpointing: false },
                "stacktune:distributed": { strategy: "ddp" },
                "stacktune:attention": { implementation: "sdpa" },
                "stacktune:hfToken": TOKEN,
                "stacktune:wandbApiKey": WANDB,
            },
            ["stacktune:hfToken", "stacktune:wandbApiKey"],
        );
        const stdin = textInput(
            r.mocks.resources.find((x) => x.name === "experiment-job-run")!,
            "stdin",
        );
        expect(stdin).toBe("# stacktune secrets (mode 0600, removed when the run ends)\n");
    });
});
