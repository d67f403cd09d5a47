// The local target through the real program (index.ts) under Pulumi mocks: the exact commands it
// registers, what it uploads, and where the secrets go.
import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { stageCommand, startOrAttachCommand, stopRunCommand } from "../src/job";
import { extractBundle, listFiles } from "./helpers/bundle";
import {
    installProgramMocks,
    isSecretInput,
    nonSecretOccurrences,
    ProgramMocks,
    runProgram,
    textInput,
    valueOf,
} from "./helpers/pulumiMocks";
import { tempDir } from "./helpers/tempDir";

const CANARY = "CANARY-wandb-7f3a9c";
const storeDir = tempDir("store");
let mocks: ProgramMocks;
let outputs: Record<string, unknown>;

beforeAll(async () => {
    mocks = await installProgramMocks({
        stack: "local-demo",
        config: {
            "stacktune:target": { kind: "local", gpus: 0 },
            "stacktune:runtime": { kind: "venv", python: "python3" },
            // Relative to the project and missing there: passed through as is (no link; see local-paths test).
            "stacktune:model": { id: ".stacktune/not-in-this-project" },
            "stacktune:hub": { localDir: storeDir },
            "stacktune:quantization": { load4bit: false },
            "stacktune:training": { maxSteps: 10, bf16: false, gradientCheckpointing: false },
            "stacktune:distributed": { strategy: "ddp" },
            "stacktune:attention": { implementation: "sdpa" },
            "stacktune:tracking": { kind: "wandb", project: "stacktune-tests" },
            "stacktune:budget": { maxHours: 2, keepRunDir: false },
            "stacktune:wandbApiKey": CANARY,
        },
        secretKeys: ["stacktune:wandbApiKey"],
    });
    outputs = await runProgram();
});

describe("local target (venv runtime)", () => {
    it("registers exactly a local host with its preflight and the job's stage + run commands", () => {
        expect(mocks.resources.map((r) => `${r.type} ${r.name}`)).toEqual([
            "stacktune:index:Experiment experiment",
            "stacktune:local:Host experiment-host",
            "stacktune:job:TrainingJob experiment-job",
            "stacktune:hosts:HostAccess experiment-access",
            "command:local:Command experiment-host-preflight",
            "command:local:Command experiment-job-cleanup",
            "command:local:Command experiment-job-stage",
            "command:local:Command experiment-job-run",
        ]);
    });

    it("preflights this machine for a CPU venv run under ~/.stacktune/runs", () => {
        const preflight = mocks.resources.find((r) => r.name === "experiment-host-preflight");
        const create = textInput(preflight!, "create");
        expect(create.split("\n")[0]).toBe(
            `bash -s -- 0 24 1 venv "$HOME"/.stacktune/runs 580.65.06 13 python3 3.10 3.12 <<'STACKTUNE_SCRIPT'`,
        );
        expect(create).toContain("stacktune preflight");
        expect(preflight!.inputs.interpreter).toEqual(["/bin/bash", "-c"]);
    });

    it("stages the run directory keyed by the experiment hash, triggered by it", async () => {
        const hash = await valueOf(outputs.experimentHash as string);
        expect(hash).toMatch(/^[0-9a-f]{64}$/);
        const runDir = `~/.stacktune/runs/${hash}`;
        const stage = mocks.resources.find((r) => r.name === "experiment-job-stage")!;
        expect(stage.inputs.create).toBe(stageCommand(runDir));
        expect(stage.inputs.triggers).toEqual([hash]);
        // The clean-up is its own resource, deleted after the stage and the run; on this machine it needs no probe.
        expect(stage.inputs.delete).toBeUndefined();
        const cleanup = mocks.resources.find((r) => r.name === "experiment-job-cleanup")!;
        expect(cleanup.inputs.delete).toBe(stopRunCommand(runDir, false));
        expect(cleanup.inputs.create).toBeUndefined();
        expect(cleanup.inputs.triggers).toEqual([hash]);
        expect(isSecretInput(stage.inputs.stdin)).toBe(false);

        const dir = extractBundle(textInput(stage, "stdin"));
        const files = listFiles(dir);
        expect(files).toEqual(
            expect.arrayContaining([
                "accelerate.yaml",
                "training.yaml",
                "launch.sh",
                "run.env",
                "start-or-attach.sh",
                "run-job.sh",
                "python/pyproject.toml",
                "python/stacktune_train/__init__.py",
                "python/requirements.txt",
                "images/install-python-deps.sh",
                "images/requirements-gpu.txt",
            ]),
        );
        expect(files.some((f) => f.startsWith("python/tests/"))).toBe(false);
        expect(files).not.toContain("secrets.env");
        expect(files).not.toContain("cloud-init.yaml");
        expect(fs.statSync(path.join(dir, "start-or-attach.sh")).mode & 0o777).toBe(0o755);
        expect(fs.statSync(path.join(dir, "launch.sh")).mode & 0o777).toBe(0o755);
        const runEnv = fs.readFileSync(path.join(dir, "run.env"), "utf8");
        expect(runEnv).toContain(`STACKTUNE_EXPERIMENT_HASH=${hash}`);
        expect(runEnv).toContain("STACKTUNE_STACK=local-demo");
        expect(runEnv).toContain("STACKTUNE_RUNTIME=venv");
        expect(runEnv).toContain(`STACKTUNE_OUTPUT_STORE_DIR=${storeDir}`);
        // Without a merged repo the job looks for the finished model in the store (as on ssh), so a
        // second `up` of a finished experiment keeps these records and changes nothing.
        expect(runEnv).toContain("STACKTUNE_CHECK_OUTPUT_STORE=true");
        expect(runEnv).toContain("STACKTUNE_MAX_SECONDS=7200");
        expect(runEnv).toContain("STACKTUNE_KEEP_RUN_DIR=false");
        expect(runEnv).toContain("STACKTUNE_RELEASE=none");
        expect(runEnv).toContain("STACKTUNE_METRICS_FILE=checkpoints/metrics.json");
        const training = fs.readFileSync(path.join(dir, "training.yaml"), "utf8");
        expect(training).toContain("run_name: local-demo");
    });

    it("runs start-or-attach with the secrets on stdin only, as a secret", async () => {
        const hash = await valueOf(outputs.experimentHash as string);
        const runDir = `~/.stacktune/runs/${hash}`;
        const run = mocks.resources.find((r) => r.name === "experiment-job-run")!;
        expect(run.inputs.create).toBe(startOrAttachCommand(runDir));
        expect(run.inputs.update).toBe(startOrAttachCommand(runDir));
        expect(run.inputs.delete).toBeUndefined();
        expect(run.inputs.triggers).toEqual([hash]);
        expect(run.inputs.environment).toBeUndefined();
        expect(run.inputs.addPreviousOutputInEnv).toBe(false);
        expect(isSecretInput(run.inputs.stdin)).toBe(true);
        expect(textInput(run, "stdin")).toBe(
            `# stacktune secrets (mode 0600, removed when the run ends)\nWANDB_API_KEY=${CANARY}\n`,
        );
    });

    it("never puts the W&B key anywhere but that secret stdin", () => {
        expect(nonSecretOccurrences(mocks.resources, CANARY)).toEqual([]);
    });

    it("exports the hash, digest, model location, a zero-dollar estimate and a pending status", async () => {
        expect(await valueOf(outputs.renderedDigest as string)).toMatch(/^[0-9a-f]{64}$/);
        expect(await valueOf(outputs.model as object)).toEqual({ localDir: storeDir, completedBefore: false });
        expect(await valueOf(outputs.hostAddress as string)).toBe("localhost");
        expect(await valueOf(outputs.status as string)).toBe("pending");
        const cost = await valueOf(outputs.estimatedCost as { usd: number; hours: number; basis: string });
        expect(cost.usd).toBe(0);
        // 10 steps × 4 per device × 2 accumulation × 1 process × 2048 tokens at 5000 tokens/s
        expect(cost.hours).toBeCloseTo((10 * 4 * 2 * 2048) / 5000 / 3600, 3);
        expect(cost.basis).toContain("local host: no instance charge");
    });
});
