/**
 * W&B tracking on the real engine (issue 14 item 3): `pulumi up` of a copy of the project, local
 * target, CPU, the tiny Llama, with `tracking.kind: wandb` and W&B in offline mode (WANDB_MODE=offline,
 * as on a host without network; `wandb sync` uploads such a run later). The run's offline log must hold
 * the train and eval metrics the run reports, under the stack's tracking.project.
 *
 * The run directory is pruned to its receipt after a successful run (budget.keepRunDir false): the
 * offline log must survive that, or there is nothing left to sync.
 *
 * The W&B key is a Pulumi secret (a canary value): it reaches the job only through secrets.env, which
 * the job removes when it ends; the key is nowhere in the state, the CLI's output and logs, the run
 * directory (wandb's own files included), the output store, or any process's command line.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSettingsFromStackFile } from "../../src/settings";
import { copyProject, filesUnder, writeStackConfig, type PulumiProject } from "./helpers/project";
import { sampleCommandLines, type ProcSampler } from "./helpers/proc-sampler";
import { killRunners } from "./helpers/runners";

const REPO = resolve(__dirname, "..", "..");
const STACK = "tracked";
const CANARY = `wandbcanary${randomBytes(16).toString("hex")}`;
const home = mkdtempSync(join(tmpdir(), "stacktune-wandb-home-"));
const runRoot = join(home, ".stacktune", "runs");
const store = join(home, ".stacktune", "models", STACK);
let project: PulumiProject;
let sampler: ProcSampler;

const python = join(REPO, ".venv", "bin", "python");
const pythonEnv = { ...process.env, PYTHONPATH: join(REPO, "python"), HF_HUB_OFFLINE: "1" };

/** The local-demo stack with W&B tracking and its own output store. */
function stackYaml(): string {
    let text = readFileSync(join(REPO, "stacks", "Pulumi.local-demo.yaml"), "utf8").replace(
        /^encryptionsalt: .*\n?/m,
        "",
    );
    const changes: [from: string, to: string][] = [
        [
            "  stacktune:tracking:\n    kind: none\n",
            "  stacktune:tracking:\n    kind: wandb\n    project: stacktune-e2e\n",
        ],
        ["localDir: ~/.stacktune/models/local-demo", `localDir: ~/.stacktune/models/${STACK}`],
    ];
    for (const [from, to] of changes) {
        if (!text.includes(from)) throw new Error(`local-demo stack has no ${from}`);
        text = text.replace(from, to);
    }
    return text;
}

/** The history rows, summary and run record of an offline run's `run-*.wandb` log (python/tests' reader). */
interface OfflineRun {
    project: string;
    history: Record<string, number>[];
    summary: Record<string, number>;
    exitCode: number;
}

function readOfflineRun(log: string): OfflineRun {
    const script = [
        "import json, sys",
        "from test_tracking_wandb import items, wandb_records",
        "records = list(wandb_records(__import__('pathlib').Path(sys.argv[1])))",
        "kind = lambda r: r.WhichOneof('record_type')",
        "summary = {}",
        "for r in records:",
        "    if kind(r) == 'summary': summary.update(items(r.summary.update))",
        "print(json.dumps({",
        "    'project': next(r.run.project for r in records if kind(r) == 'run'),",
        "    'history': [items(r.history.item) for r in records if kind(r) == 'history'],",
        "    'summary': summary,",
        "    'exitCode': next(r.exit.exit_code for r in records if kind(r) == 'exit'),",
        "}))",
    ].join("\n");
    const out = execFileSync(python, ["-c", script, log], {
        env: { ...pythonEnv, PYTHONPATH: `${join(REPO, "python", "tests")}:${join(REPO, "python")}` },
        encoding: "utf8",
    });
    return JSON.parse(out) as OfflineRun;
}

beforeAll(async () => {
    project = copyProject(REPO, "wandb");
    symlinkSync(join(REPO, ".venv"), join(project.dir, ".venv"));
    execFileSync(python, ["-m", "stacktune_train.tiny_model", join(project.dir, ".stacktune", "tiny-llama")], {
        env: pythonEnv,
        stdio: "ignore",
    });
    writeStackConfig(project.stackFile(STACK), stackYaml());
    const init = await project.pulumi(["stack", "init", STACK]);
    expect(init.code, init.output).toBe(0);
    const set = await project.pulumi(["config", "set", "--secret", "--stack", STACK, "stacktune:wandbApiKey"], {
        input: CANARY,
    });
    expect(set.code, set.output).toBe(0);
    sampler = sampleCommandLines();
});

afterAll(() => {
    sampler?.stop();
    // Jobs are detached from the test: stop any still running (by their own pid) before their files go.
    killRunners(runRoot);
    rmSync(home, { recursive: true, force: true });
    if (project !== undefined) rmSync(join(project.dir, ".."), { recursive: true, force: true });
});

describe("tracking.kind wandb, offline (real engine, local target, CPU)", () => {
    let runDir = "";

    it("up trains and the run's offline W&B log holds its train and eval metrics, under tracking.project", async () => {
        const up = await project.pulumi(["up", "--yes", "--stack", STACK], {
            env: { HOME: home, WANDB_MODE: "offline" },
        });
        expect(up.code, up.output.slice(-4000)).toBe(0);
        const dirs = readdirSync(runRoot);
        expect(dirs).toHaveLength(1);
        runDir = join(runRoot, dirs[0] ?? "");
        expect(existsSync(join(runDir, "secrets.env"))).toBe(false);

        // The offline log is the run's only copy until `wandb sync`: the receipt the release prunes
        // the run directory to keeps it.
        expect(readdirSync(runDir)).toContain("wandb");
        const runs = readdirSync(join(runDir, "wandb")).filter((d) => d.startsWith("offline-run-"));
        expect(runs).toHaveLength(1);
        const logs = readdirSync(join(runDir, "wandb", runs[0] ?? "")).filter((f) => /^run-.*\.wandb$/.test(f));
        expect(logs).toHaveLength(1);
        const run = readOfflineRun(join(runDir, "wandb", runs[0] ?? "", logs[0] ?? ""));

        const metrics = JSON.parse(readFileSync(join(store, "metrics.json"), "utf8")) as Record<string, number>;
        expect(run.project).toBe("stacktune-e2e");
        // A train row every loggingSteps and an eval row every evaluation.steps, up to maxSteps, as the
        // local-demo stack says (its numbers belong to the demo, not to this test).
        const { training, evaluation } = loadSettingsFromStackFile(
            join(REPO, "stacks", "Pulumi.local-demo.yaml"),
        ).settings;
        const every = (n: number) => Array.from({ length: Math.floor(training.maxSteps / n) }, (_, i) => (i + 1) * n);
        const train = run.history.filter((row) => "train/loss" in row);
        expect(train.map((row) => row["train/global_step"])).toEqual(every(training.loggingSteps));
        const evals = run.history.filter((row) => "eval/loss" in row);
        expect(evals.map((row) => row["train/global_step"])).toEqual(every(evaluation.steps ?? NaN));
        expect(evals.at(-1)?.["eval/loss"]).toBeCloseTo(metrics.eval_loss ?? NaN, 6);
        expect(run.summary.train_loss).toBeCloseTo(metrics.train_loss ?? NaN, 6);
        expect(run.exitCode).toBe(0);
        expect(existsSync(join(store, "stacktune.json"))).toBe(true);
    });

    it("the W&B key appears nowhere: state, stack file, CLI output and logs, run directory, store, command lines", async () => {
        sampler.stop();
        const exported = await project.pulumi(["stack", "export", "--stack", STACK]);
        expect(exported.code).toBe(0);
        const places = new Map<string, string>();
        places.set("pulumi stack export", exported.output);
        places.set("stack file", readFileSync(project.stackFile(STACK), "utf8"));
        project.outputs.forEach((o, i) => places.set(`CLI output #${i + 1}`, o));
        for (const dir of [project.stateDir, project.pulumiHome, project.cliTmp, home]) {
            for (const file of filesUnder(dir)) places.set(file, readFileSync(file, "latin1"));
        }
        places.set("process command lines", [...sampler.commandLines].join("\n"));
        // The scan saw what it should: the job's log, wandb's own files, the training command.
        expect([...places.keys()].some((f) => f === join(runDir, "job.log"))).toBe(true);
        expect([...places.keys()].some((f) => f.startsWith(join(runDir, "wandb")) && f.endsWith(".wandb"))).toBe(true);
        expect([...sampler.commandLines].some((c) => c.includes("stacktune_train.train"))).toBe(true);
        const leaks = [...places].filter(([, text]) => text.includes(CANARY)).map(([place]) => place);
        expect(leaks).toEqual([]);
    });
});
