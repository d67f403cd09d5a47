// Publishing to the Hub and finding it again, both through the real clients against one local Hub
// (test/helpers/fakeHub.ts, selected with HF_ENDPOINT): the Python publish step (huggingface_hub)
// creates the private repos and pushes adapter, merged weights, tokenizer, model card and the
// completion marker (last, in the merged repo's one commit); a re-`up` of the same stack reads the
// marker through @huggingface/hub and plans no host.
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { promisify } from "util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pinInputs, planExperiment } from "../src/experiment";
import { loadSettingsFromPulumiConfig } from "../src/settings";
import { FakeHub } from "./helpers/fakeHub";
import { installProgramMocks, ProgramMocks, runProgram, valueOf } from "./helpers/pulumiMocks";
import { tempDir } from "./helpers/tempDir";
import { TEST_PUBLIC_KEY } from "./helpers/keys";

const repoRoot = path.resolve(__dirname, "..");
const python = path.join(repoRoot, ".venv", "bin", "python");
const STACK = "aws-g5";
const ADAPTER_REPO = "me/llama3-openhermes-adapter";
const MERGED_REPO = "me/llama3-openhermes-qlora";
const TOKEN = "hf_CANARY_publish_4242";
const METRICS = {
    train_loss: 0.9712,
    train_loss_last_window: 0.9674,
    eval_loss: 0.9638,
    train_tokens: 1000,
    tokens_per_s: 50,
    train_runtime_s: 20,
};

const hub = new FakeHub();
let mocks: ProgramMocks;
let hash: string;
let publishOutput: string;
let outputs: Record<string, unknown>;

/**
 * Runs Python from the run directory with this checkout's stacktune_train, as launch.sh does;
 * asynchronously, since the Hub it talks to answers from this process. Returns stdout + stderr.
 */
async function runPython(runDir: string, args: string[], env: Record<string, string> = {}): Promise<string> {
    const { stdout, stderr } = await promisify(execFile)(python, args, {
        cwd: runDir,
        encoding: "utf8",
        env: { ...process.env, PYTHONPATH: path.join(repoRoot, "python"), HF_HUB_DISABLE_TELEMETRY: "1", ...env },
    });
    return stdout + stderr;
}

beforeAll(async () => {
    await hub.start();
    hub.requiredToken = TOKEN;
    process.env.HF_ENDPOINT = hub.url;
    mocks = await installProgramMocks({
        stack: STACK,
        config: {
            "stacktune:target": {
                kind: "aws",
                sshCidr: "203.0.113.7/32",
                publicKey: TEST_PUBLIC_KEY,
            },
            "stacktune:runtime": { kind: "docker" },
            "stacktune:hub": { adapterRepo: ADAPTER_REPO, mergedRepo: MERGED_REPO, private: true },
            "stacktune:hfToken": TOKEN,
            "stacktune:sshPrivateKey": "CANARY-key",
        },
        secretKeys: ["stacktune:hfToken", "stacktune:sshPrivateKey"],
    });
    // The run as planned: its inputs pinned to the commits the Hub names for main.
    const { settings } = await pinInputs(loadSettingsFromPulumiConfig().settings, {
        hubUrl: hub.url,
        accessToken: TOKEN,
    });
    const plan = planExperiment(settings, STACK, repoRoot);
    hash = plan.experimentHash;

    // The run directory as the merge step leaves it (bf16 off: this machine has no GPU, and
    // TrainingArguments refuses bf16 without one): the rendered files, the trained adapter and
    // tokenizer in output_dir, the merged model (a tiny Llama, saved by transformers) with its card.
    const runDir = tempDir("publish");
    for (const [name, content] of plan.runFiles) fs.writeFileSync(path.join(runDir, name), content);
    const identity = { STACKTUNE_EXPERIMENT_HASH: hash, STACKTUNE_STACK: STACK };
    await runPython(runDir, ["-m", "stacktune_train.tiny_model", "merged"]);
    await runPython(
        runDir,
        [
            "-c",
            [
                "import json, shutil",
                "from pathlib import Path",
                "from peft import LoraConfig, get_peft_model",
                "from transformers import AutoModelForCausalLM, AutoTokenizer",
                "from stacktune_train.config import parse_config",
                "from stacktune_train import gate",
                "from stacktune_train.merge import MERGE_RECEIPT, experiment_identity, model_card",
                "from stacktune_train.store import write_json",
                "cfg = parse_config('training.yaml', ['--bf16', 'false'])",
                "base = AutoModelForCausalLM.from_pretrained('merged')",
                "adapter = get_peft_model(base, LoraConfig(r=2, target_modules=['q_proj']))",
                "adapter.save_pretrained('checkpoints')",
                "tokenizer = AutoTokenizer.from_pretrained('merged')",
                "tokenizer.save_pretrained('checkpoints')",
                `Path('checkpoints/metrics.json').write_text(json.dumps(${JSON.stringify(METRICS)}))`,
                "shutil.copy2('checkpoints/metrics.json', 'merged/metrics.json')",
                // The merge step's evaluation gate, measured for real on two fixed texts: publish refuses
                // a merged model without a passed record.
                "texts = ['Thai food balances sweet, sour, salty and spicy flavours.', 'Paris is the capital of France.']",
                "sample = gate.HeldOutSample(texts=texts, split_seed=cfg.data.split_seed, indices=[0, 1])",
                "merged = AutoModelForCausalLM.from_pretrained('merged')",
                "result = gate.result_of(cfg, sample, gate.mean_token_loss(adapter, tokenizer, texts, 64), gate.mean_token_loss(merged, tokenizer, texts, 64))",
                "assert result.passed, result.verdict()",
                "write_json(Path('merged') / gate.GATE_RECORD, result.record())",
                "Path('merged/README.md').write_text(model_card(cfg, experiment_identity(), result))",
                "write_json(Path('merged') / MERGE_RECEIPT, experiment_identity())",
            ].join("\n"),
        ],
        identity,
    );
    // This machine has no GPU, and TrainingArguments refuses bf16 without one (the publish step reads it all).
    publishOutput = await runPython(runDir, ["-m", "stacktune_train.publish", "training.yaml", "--bf16", "false"], {
        ...identity,
        HF_TOKEN: TOKEN,
    });
    hub.requests.length = 0;
    outputs = await runProgram();
}, 240_000);
afterAll(async () => {
    delete process.env.HF_ENDPOINT;
    await hub.stop();
});

describe("the publish step, through huggingface_hub", () => {
    it("creates both repos private", () => {
        expect(hub.createRequests).toEqual([
            { name: "llama3-openhermes-adapter", organization: "me", visibility: "private" },
            { name: "llama3-openhermes-qlora", organization: "me", visibility: "private" },
        ]);
        expect([...hub.privateRepos].sort()).toEqual([`model:${ADAPTER_REPO}`, `model:${MERGED_REPO}`]);
    });

    it("pushes the adapter with its tokenizer and the model card in one commit", () => {
        const adapter = hub.commits.filter((c) => c.repo === `model:${ADAPTER_REPO}`);
        expect(adapter).toHaveLength(1);
        expect(adapter[0]?.summary).toBe(`stacktune ${STACK} ${hash}`);
        expect(adapter[0]?.operations.map((o) => o.path).sort()).toEqual(
            [
                "README.md",
                "adapter_config.json",
                "adapter_model.safetensors",
                "chat_template.jinja",
                "tokenizer.json",
                "tokenizer_config.json",
            ].sort(),
        );
        expect(hub.repos.get(ADAPTER_REPO)?.get("README.md")?.toString()).toContain(`experiment hash: \`${hash}\``);
    });

    it("pushes weights, tokenizer, card and metrics to the merged repo in one commit, the marker last, after the adapter", () => {
        const merged = hub.commits.filter((c) => c.repo === `model:${MERGED_REPO}`);
        expect(merged).toHaveLength(1);
        expect(hub.commits.at(-1)).toBe(merged[0]);
        const paths = merged[0]?.operations.map((o) => o.path) ?? [];
        expect(merged[0]?.operations.every((o) => o.key === "file")).toBe(true);
        expect(paths.at(-1)).toBe("stacktune.json");
        for (const file of [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
            "README.md",
            "metrics.json",
            "stacktune-gate.json",
        ]) {
            expect(paths).toContain(file);
        }
        expect(paths).not.toContain("stacktune-merge.json");
        const files = hub.repos.get(MERGED_REPO)!;
        expect(JSON.parse(files.get("stacktune.json")!.toString())).toEqual({ experiment_hash: hash, stack: STACK });
        const card = files.get("README.md")!.toString();
        expect(card).toContain("Built with Meta Llama 3");
        expect(card).toContain(`experiment hash: \`${hash}\``);
        expect(card).toContain("- evaluation gate: passed: merged model loss");
    });

    it("sends the token only as the Authorization header, and never prints it", () => {
        expect(publishOutput).toContain(`pushed to ${MERGED_REPO} in one commit`);
        expect(publishOutput).not.toContain(TOKEN);
    });
});

describe("a re-up of the published experiment, through @huggingface/hub", () => {
    it("reads the marker and the metrics from the merged repo with the token", () => {
        // The inputs' revisions first (pinned at plan time); then for each file @huggingface/hub's
        // one-byte range probe and the read.
        expect([...new Set(hub.requests.map((r) => `${r.method} ${r.path}`))]).toEqual([
            "GET /api/models/meta-llama/Meta-Llama-3-8B-Instruct/revision/main",
            "GET /api/datasets/teknium/OpenHermes-2.5/revision/main",
            `GET /${MERGED_REPO}/resolve/main/stacktune.json`,
            `GET /${MERGED_REPO}/resolve/main/metrics.json`,
        ]);
        expect(hub.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    });

    it("plans no host, no image and no job, and reports the published model", async () => {
        expect(mocks.resources.map((r) => `${r.type} ${r.name}`)).toEqual(["stacktune:index:Experiment experiment"]);
        expect(await valueOf(outputs.status as string)).toBe("already-complete");
        expect(await valueOf(outputs.metrics as object)).toEqual(METRICS);
        expect(await valueOf(outputs.model as object)).toEqual({
            adapterRepo: ADAPTER_REPO,
            mergedRepo: MERGED_REPO,
            completedBefore: true,
        });
    });
});
