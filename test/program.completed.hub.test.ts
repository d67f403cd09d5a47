// A finished experiment plans no host: the Hub already holds a model tagged with this hash, so the
// program registers the Experiment and nothing else, and its outputs point at the existing model.
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pinInputs, planExperiment } from "../src/experiment";
import { loadSettingsFromPulumiConfig } from "../src/settings";
import { FakeHub } from "./helpers/fakeHub";
import { installProgramMocks, ProgramMocks, runProgram, valueOf } from "./helpers/pulumiMocks";
import { TEST_PUBLIC_KEY } from "./helpers/keys";

const MERGED_REPO = "me/llama3-openhermes-qlora";
const hub = new FakeHub();
let mocks: ProgramMocks;
let outputs: Record<string, unknown>;
let hash: string;

beforeAll(async () => {
    await hub.start();
    process.env.HF_ENDPOINT = hub.url;
    mocks = await installProgramMocks({
        stack: "aws-g5",
        config: {
            "stacktune:target": {
                kind: "aws",
                sshCidr: "203.0.113.7/32",
                publicKey: TEST_PUBLIC_KEY,
            },
            "stacktune:runtime": { kind: "docker" },
            "stacktune:hub": { mergedRepo: MERGED_REPO },
            "stacktune:hfToken": "hf_CANARY_done_1111",
            "stacktune:sshPrivateKey": "CANARY-key",
        },
        secretKeys: ["stacktune:hfToken", "stacktune:sshPrivateKey"],
    });
    // The hash of the run as planned: its inputs pinned to the commits the Hub names for main.
    const { settings } = await pinInputs(loadSettingsFromPulumiConfig().settings, { hubUrl: hub.url });
    hash = planExperiment(settings, "aws-g5", path.join(__dirname, "..")).experimentHash;
    hub.repos.set(
        MERGED_REPO,
        new Map([
            [
                "stacktune.json",
                JSON.stringify({
                    experiment_hash: hash,
                    stack: "aws-g5",
                    metrics: { train_loss: 0.967, eval_loss: 0.964 },
                }),
            ],
        ]),
    );
    outputs = await runProgram();
});
afterAll(async () => {
    delete process.env.HF_ENDPOINT;
    await hub.stop();
});

describe("completion lookup finds the model on the Hub", () => {
    it("registers no host, no image and no job", () => {
        expect(mocks.resources.map((r) => `${r.type} ${r.name}`)).toEqual(["stacktune:index:Experiment experiment"]);
        expect(mocks.calls).toEqual([]);
    });

    it("points the outputs at the existing model", async () => {
        expect(await valueOf(outputs.experimentHash as string)).toBe(hash);
        expect(await valueOf(outputs.status as string)).toBe("already-complete");
        expect(await valueOf(outputs.model as object)).toEqual({ mergedRepo: MERGED_REPO, completedBefore: true });
        expect(await valueOf(outputs.metrics as object)).toEqual({ train_loss: 0.967, eval_loss: 0.964 });
        expect(await valueOf(outputs.hostAddress as string)).toBe("none");
    });
});
