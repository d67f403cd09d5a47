// Pinned inputs (issue 14 item 7): on an aws/ssh stack, a model or dataset revision that is not a
// commit id (`main`, a tag) is resolved through @huggingface/hub at plan time; the commit is printed,
// recorded in the stack's outputs, trained on (the staged training.yaml) and part of the experiment
// hash, so a moved `main` is a new experiment. A commit id is used as written, with no request.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { settingsDefaults } from "../src/settings";
import { extractBundle } from "./helpers/bundle";
import { FakeHub } from "./helpers/fakeHub";
import { installProgramMocks, ProgramMocks, runProgram, textInput, valueOf } from "./helpers/pulumiMocks";
import { TEST_PUBLIC_KEY } from "./helpers/keys";

const MODEL = settingsDefaults.model.id;
const DATASET = settingsDefaults.dataset.source;
const hub = new FakeHub();
const logged: string[] = [];

function awsStack(extra: Record<string, unknown>): Record<string, unknown> {
    return {
        "stacktune:target": {
            kind: "aws",
            sshCidr: "203.0.113.7/32",
            publicKey: TEST_PUBLIC_KEY,
        },
        "stacktune:runtime": { kind: "docker" },
        "stacktune:hub": { mergedRepo: "me/pinned-model" },
        "stacktune:hfToken": "hf_CANARY_pinned_77",
        "stacktune:sshPrivateKey": "CANARY-key",
        ...extra,
    };
}

async function up(
    extra: Record<string, unknown> = {},
): Promise<{ mocks: ProgramMocks; outputs: Record<string, unknown> }> {
    const mocks = await installProgramMocks({
        stack: "aws-g5",
        config: awsStack(extra),
        secretKeys: ["stacktune:hfToken", "stacktune:sshPrivateKey"],
    });
    return { mocks, outputs: await runProgram() };
}

function stagedTrainingYaml(mocks: ProgramMocks): string {
    const stage = mocks.resources.find((r) => r.name === "experiment-job-stage")!;
    return fs.readFileSync(path.join(extractBundle(textInput(stage, "stdin")), "training.yaml"), "utf8");
}

beforeAll(async () => {
    await hub.start();
    process.env.HF_ENDPOINT = hub.url;
    hub.repos.set(MODEL, new Map([["config.json", '{"model_type": "llama"}']]));
    hub.datasets.set(DATASET, new Map([["openhermes2_5.json", "[]"]]));
    vi.spyOn(pulumi.log, "info").mockImplementation((message: string) => {
        logged.push(message);
        return Promise.resolve();
    });
});
afterAll(async () => {
    vi.restoreAllMocks();
    delete process.env.HF_ENDPOINT;
    await hub.stop();
});

describe("a stack on main", () => {
    let run: Awaited<ReturnType<typeof up>>;
    const modelCommit = () => hub.headOf("model", MODEL)!;
    const datasetCommit = () => hub.headOf("dataset", DATASET)!;

    beforeAll(async () => {
        logged.length = 0;
        hub.requests.length = 0;
        run = await up();
    });

    it("asks the Hub which commits main is, for the model and the dataset", () => {
        expect(hub.requests.map((r) => `${r.method} ${r.path}`).filter((p) => p.includes("/revision/"))).toEqual([
            `GET /api/models/${MODEL}/revision/main`,
            `GET /api/datasets/${DATASET}/revision/main`,
        ]);
    });

    it("prints them before anything is created", () => {
        expect(logged).toContain(
            `model ${MODEL}: revision main is commit ${modelCommit()}; set stacktune:model.revision to it to keep this run's inputs`,
        );
        expect(logged).toContain(
            `dataset ${DATASET}: revision main is commit ${datasetCommit()}; set stacktune:dataset.revision to it to keep this run's inputs`,
        );
    });

    it("trains on the commits and records them in the stack's outputs", async () => {
        const yaml = stagedTrainingYaml(run.mocks);
        expect(yaml).toContain(`model_revision: ${modelCommit()}\n`);
        expect(yaml).toContain(`dataset_revision: ${datasetCommit()}\n`);
        expect(await valueOf(run.outputs.inputs as object)).toEqual({
            model: { id: MODEL, revision: "main", commit: modelCommit() },
            dataset: { source: DATASET, revision: "main", commit: datasetCommit() },
        });
    });

    it("is a new experiment when main moves", async () => {
        const before = await valueOf(run.outputs.experimentHash as string);
        hub.repos.set(MODEL, new Map([["config.json", '{"model_type": "llama", "eos_token_id": 128009}']]));
        const moved = await up();
        expect(await valueOf(moved.outputs.experimentHash as string)).not.toBe(before);
    });
});

describe("a stack pinned to commits", () => {
    it("uses them as written and asks the Hub nothing about them", async () => {
        const model = "0123456789abcdef0123456789abcdef01234567";
        const dataset = "fedcba9876543210fedcba9876543210fedcba98";
        hub.requests.length = 0;
        const run = await up({ "stacktune:model": { revision: model }, "stacktune:dataset": { revision: dataset } });
        expect(hub.requests.filter((r) => r.path.includes("/revision/"))).toEqual([]);
        const yaml = stagedTrainingYaml(run.mocks);
        expect(yaml).toContain(`model_revision: ${model}\n`);
        expect(yaml).toContain(`dataset_revision: ${dataset}\n`);
    });
});

describe("a revision the Hub does not have", () => {
    it("fails the plan naming the key and what to write", async () => {
        const error = await up({ "stacktune:model": { revision: "v9-does-not-exist" } }).then(
            () => undefined,
            (e: unknown) => e,
        );
        expect(String(error)).toContain(
            `stacktune:model.revision: the Hub has no revision v9-does-not-exist of ${MODEL} (HTTP 404): ` +
                "set it to a branch, tag or 40-character commit id of that repo",
        );
    });
});
