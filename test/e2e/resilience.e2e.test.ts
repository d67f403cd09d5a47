/**
 * Issue 7 on the real engine, local target, CPU, tiny model, driven by the `stacktune` command:
 * - `stacktune run local-demo` prints the summary with the estimated cost; status, logs;
 * - an operator killed (SIGKILL of the whole `stacktune run`, its `pulumi up` included) mid-job:
 *   the next `stacktune run` clears the dead lock and pending operations and re-attaches: 1 start;
 * - spot preemption: a token-protected IMDSv2 stand-in serves a notice mid-training; the checkpoint
 *   lands in the checkpoint store within the 2-minute deadline, the run stops as `preempted`, and the
 *   next run resumes at that step and ends at the same total step count;
 * - budget watchdog: a budget of 36 s stops the job on the host with its checkpoints kept, nothing
 *   published, status budget_exceeded.
 * The project is a copy in a temp dir (stack files and state are the test's own); HOME is a temp dir.
 */
import { execFileSync } from "node:child_process";
import {
    copyFileSync,
    existsSync,
    mkdirSync,
    mkdtempSync,
    readdirSync,
    readFileSync,
    rmSync,
    statSync,
    symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startImds, type ImdsStandIn } from "./fixtures/imds";
import { copyProject, type PulumiProject } from "./helpers/project";
import { stacktuneRunner } from "./helpers/stacktune";

const REPO = resolve(__dirname, "..", "..");
const home = mkdtempSync(join(tmpdir(), "stacktune-resilience-home-"));
const runRoot = join(home, ".stacktune", "runs");

/** Every process's parent and command name, from /proc. */
function processTable(): { pid: number; ppid: number; comm: string }[] {
    const table: { pid: number; ppid: number; comm: string }[] = [];
    for (const name of readdirSync("/proc")) {
        if (!/^\d+$/.test(name)) continue;
        try {
            const stat = readFileSync(`/proc/${name}/stat`, "utf8");
            const close = stat.lastIndexOf(")");
            table.push({
                pid: Number(name),
                comm: stat.slice(stat.indexOf("(") + 1, close),
                ppid: Number(stat.slice(close + 2).split(" ")[1]),
            });
        } catch {
            // the process ended between readdir and read
        }
    }
    return table;
}

/**
 * The plugins of the engine started under `root`: the children of each `pulumi` process in root's
 * process tree (language host and providers, whichever binaries they are: stand-ins or upstream's).
 */
function pluginPids(root: number): number[] {
    const table = processTable();
    const tree = new Set([root]);
    for (let grew = true; grew;) {
        grew = false;
        for (const p of table) {
            if (tree.has(p.ppid) && !tree.has(p.pid)) {
                tree.add(p.pid);
                grew = true;
            }
        }
    }
    const engines = new Set(table.filter((p) => tree.has(p.pid) && p.comm === "pulumi").map((p) => p.pid));
    return table.filter((p) => engines.has(p.ppid)).map((p) => p.pid);
}

/** How often upstream's plugins check that their engine is still there (rpcutil.Healthcheck's interval). */
const ENGINE_HEALTHCHECK_MS = 5 * 60_000;

/** Running (a zombie waiting for its reaper has exited). */
function alive(pid: number): boolean {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    } catch {
        return false;
    }
}
let project: PulumiProject;
let imds: ImdsStandIn;

// The committed local-demo salt belongs to the public demo passphrase.
const stacktune = stacktuneRunner(() => project, "stacktune-demo-passphrase", { HOME: home });

function runDirs(): string[] {
    return existsSync(runRoot) ? readdirSync(runRoot).map((d) => join(runRoot, d)) : [];
}

/** The run directory of the stack's experiment (the newest one created). */
function newestRunDir(): string {
    const dirs = runDirs().sort((a, b) => statSync(a).birthtimeMs - statSync(b).birthtimeMs);
    const dir = dirs[dirs.length - 1];
    if (dir === undefined) throw new Error("no run directory");
    return dir;
}

/** The `aws` CLI stand-in shared with the python tests (s3:// paths are directories under FAKE_S3_ROOT). */
const FAKE_AWS = join(REPO, "test", "e2e", "fixtures", "fake-aws");

const read = (file: string) => readFileSync(file, "utf8").trim();
const globalStep = (checkpoint: string) =>
    (JSON.parse(readFileSync(join(checkpoint, "trainer_state.json"), "utf8")) as { global_step: number }).global_step;

beforeAll(async () => {
    project = copyProject(REPO, "resilience");
    symlinkSync(join(REPO, ".venv"), join(project.dir, ".venv"));
    copyFileSync(join(REPO, "stacks", "Pulumi.local-demo.yaml"), project.stackFile("local-demo"));
    execFileSync(
        join(REPO, ".venv", "bin", "python"),
        ["-m", "stacktune_train.tiny_model", join(project.dir, ".stacktune", "tiny-llama")],
        {
            env: { ...process.env, PYTHONPATH: join(REPO, "python") },
            stdio: "ignore",
        },
    );
    imds = await startImds();
});

afterAll(async () => {
    for (const child of stacktune.children) {
        if (child.exitCode === null && child.pid !== undefined) {
            try {
                process.kill(-child.pid, "SIGKILL");
            } catch {
                // already gone
            }
        }
    }
    await imds?.stop();
    // Jobs are detached from the test: stop any still running before their files go.
    for (const dir of runDirs()) {
        const pid = existsSync(join(dir, "runner.pid")) ? Number(read(join(dir, "runner.pid")).split(" ")[0]) : 0;
        if (pid > 0) {
            try {
                process.kill(-pid, "SIGKILL");
            } catch {
                // finished
            }
        }
    }
    rmSync(home, { recursive: true, force: true });
    rmSync(join(project.dir, ".."), { recursive: true, force: true });
});

describe("stacktune on the local target (real engine, CPU)", () => {
    it("run local-demo: trains, follows progress, prints the summary with an estimated cost; status and logs", async () => {
        const r = await stacktune(["run", "local-demo"]);
        expect(r.code, r.output.slice(-3000)).toBe(0);
        expect(r.output).toMatch(/\[train\] step (\d+)\/\1 \(100%\) {2}loss \d+\.\d{4} {2}\d+ tokens\/s/);
        const summary = r.output.slice(r.output.lastIndexOf("stacktune local-demo"));
        expect(summary).toMatch(/ {2}status {12}succeeded\n/);
        expect(summary).toContain(`  model directory   ${join(home, ".stacktune", "models", "local-demo")}\n`);
        expect(summary).toMatch(
            / {2}train loss {8}\d+\.\d+ \(run mean\); last logging window \d+\.\d+\n {2}eval loss {9}\d+\.\d+\n {2}tokens\/s {10}\d+/,
        );
        // Each phase as formatDuration writes it: `42s`, or `1m17s` once a phase takes a minute (a loaded machine).
        const took = String.raw`\d+(?:m\d{2})?s`;
        expect(summary).toMatch(
            new RegExp(
                ` {2}wall time/phase {3}prepare ${took}, train ${took}, merge ${took}, smoke ${took}, publish ${took}\n`,
            ),
        );
        expect(summary).toMatch(/ {2}cost {14}estimated 0 USD, [\d.]+ h: .*local host, no charge/);
        // The estimate is in the engine's own output too (pulumi.log.info) and a stack output.
        expect(r.output).toMatch(/estimated cost: 0 USD/);

        const status = await stacktune(["status", "local-demo"]);
        expect(status.code, status.output).toBe(0);
        expect(status.output).toMatch(/ {2}job {15}succeeded \(starts: 1\)/);
        const logs = await stacktune(["logs", "local-demo"]);
        expect(logs.code, logs.output).toBe(0);
        expect(logs.output).toMatch(/\[train\] step (\d+)\/\1 \(100%\)/);
        expect(logs.output).toContain("[end] status succeeded");
    });

    it("an operator killed mid-job (SIGKILL): the next run recovers the stack and re-attaches, one start", async () => {
        const made = await stacktune([
            "new",
            "slow",
            "--from",
            "local-demo",
            "--set",
            "training.maxSteps=600",
            "--set",
            "evaluation.strategy=no",
            "--set",
            "evaluation.steps=",
            "--set",
            "checkpointing.steps=100",
            "--set",
            "hub.localDir=~/.stacktune/models/slow",
        ]);
        expect(made.code, made.output).toBe(0);
        expect(made.output).toContain(
            "wrote stacks/Pulumi.slow.yaml and rendered/slow/accelerate.yaml, rendered/slow/training.yaml, rendered/slow/launch.sh",
        );
        expect(readFileSync(project.stackFile("slow"), "utf8")).toMatch(
            /^# Made by: stacktune new slow --from local-demo --set training.maxSteps=600/,
        );

        let killedAt = 0;
        let plugins: number[] = [];
        const killed = await stacktune(["run", "slow"], {
            onOutput: (soFar, child) => {
                if (killedAt === 0 && /\[train\] step \d+\/600/.test(soFar) && child.pid !== undefined) {
                    killedAt = Date.now();
                    // The engine's plugins (language host, command provider) at this moment.
                    plugins = pluginPids(child.pid);
                    process.kill(-child.pid, "SIGKILL"); // the operator's laptop is gone: CLI, engine, provider
                }
            },
        });
        expect(killedAt, killed.output.slice(-2000)).toBeGreaterThan(0);
        expect(plugins.length).toBeGreaterThan(0);
        const runDir = newestRunDir();
        expect(read(join(runDir, "job.status"))).toBe("running");

        const status = await stacktune(["status", "slow"]);
        expect(status.output).toContain("interrupted (its process is gone): `stacktune run` recovers it");

        const again = await stacktune(["run", "slow"]);
        expect(again.code, again.output.slice(-3000)).toBe(0);
        expect(again.output).toContain("[recover] removed the lock of a killed update");
        expect(again.output).toMatch(
            /\[recover\] dropped \d+ pending operation\(s\) of the interrupted update: .*experiment-job-run/,
        );
        expect(again.output).toMatch(/\[attach\] re-attaching to the running job \(pid \d+\), start #1/);
        expect(again.output).toMatch(/ {2}status {12}succeeded\n/);
        expect(read(join(runDir, "starts"))).toBe("1");
        // The killed engine's plugins do not outlive it for long. The SIGKILL of the operator's process
        // group does not reach them: the engine starts every plugin in a process group of its own
        // (pulumi sdk/go/common/resource/plugin/plugin.go, RegisterProcessGroup). They notice the
        // engine is gone themselves: upstream's health-check it every 5 minutes (rpcutil.Healthcheck)
        // and exit when it fails; the stand-ins exit when they are re-parented, within seconds.
        const deadline = killedAt + ENGINE_HEALTHCHECK_MS + 60_000;
        while (plugins.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
        expect(plugins.filter(alive)).toEqual([]);
    });

    it("spot notice mid-training: checkpoint in the S3 store within the deadline, status preempted; next run resumes there", async () => {
        // S3 through a stand-in `aws` CLI on PATH (s3://bucket/key → a directory): the host-side mirror
        // (checkpoint-sync.sh) is what runs on an instance, with the instance role.
        const s3Root = join(home, "s3");
        const bin = join(home, "fake-aws-bin");
        mkdirSync(bin, { recursive: true });
        symlinkSync(FAKE_AWS, join(bin, "aws"));
        const store = join(s3Root, "ckpt-bucket", "spot");
        const made = await stacktune([
            "new",
            "spot",
            "--from",
            "local-demo",
            "--set",
            "training.maxSteps=300",
            "--set",
            "evaluation.strategy=no",
            "--set",
            "evaluation.steps=",
            "--set",
            "checkpointing.steps=1000",
            "--set",
            "budget.keepRunDir=true",
            "--set",
            "hub.localDir=~/.stacktune/models/spot",
        ]);
        expect(made.code, made.output).toBe(0);
        const env = {
            STACKTUNE_IMDS_ENDPOINT: imds.url,
            STACKTUNE_SPOT_POLL_SECONDS: "0.5",
            STACKTUNE_CHECKPOINT_STORE: "s3://ckpt-bucket/spot",
            STACKTUNE_CHECKPOINT_SYNC_SECONDS: "2",
            FAKE_S3_ROOT: s3Root,
            PATH: `${bin}:${process.env.PATH ?? ""}`,
        };

        let noticeAt = 0;
        const first = await stacktune(["run", "spot"], {
            env,
            onOutput: (soFar) => {
                if (noticeAt === 0 && /\[train\] step \d+\/300/.test(soFar)) noticeAt = imds.serveNotice();
            },
        });
        expect(first.code).toBe(1);
        expect(first.output).toContain("[spot-watch] spot interruption notice");
        expect(first.output).toMatch(/ended with status 'preempted' \(exit 85\)/);
        expect(first.output).toMatch(/ {2}job {15}preempted \(starts: 1\)/);
        const runDir = newestRunDir();
        expect(read(join(runDir, "job.status"))).toBe("preempted");
        const preempted = JSON.parse(read(join(runDir, "preempted.json"))) as { status: string; step: number };
        expect(preempted.status).toBe("preempted");
        const stored = join(store, `checkpoint-${preempted.step}`);
        expect(existsSync(join(stored, ".stacktune-complete"))).toBe(true);
        expect(statSync(join(stored, ".stacktune-complete")).mtimeMs - noticeAt).toBeLessThan(120_000);
        expect(globalStep(stored)).toBe(preempted.step);
        expect(preempted.step).toBeLessThan(300);
        expect(imds.unauthorized()).toBe(0);

        // A new instance starts with an empty disk: take the local checkpoints away, S3 restores them.
        rmSync(join(runDir, "checkpoints"), { recursive: true, force: true });
        rmSync(join(runDir, "checkpoint-store"), { recursive: true, force: true });
        imds.clearNotice();
        const second = await stacktune(["run", "spot"], { env });
        expect(second.code, second.output.slice(-3000)).toBe(0);
        expect(second.output).toMatch(/ {2}status {12}succeeded\n/);
        const log = read(join(runDir, "job.log"));
        expect(log).toContain(`restored checkpoint-${preempted.step} from the checkpoint store`);
        expect(log).toContain(`resuming from checkpoints/checkpoint-${preempted.step}`);
        const steps = [...log.matchAll(/^STACKTUNE_PROGRESS \{"phase":"train","step":(\d+)/gm)].map((m) =>
            Number(m[1]),
        );
        expect(steps[0]).toBe(preempted.step + 1);
        expect(steps[steps.length - 1]).toBe(300);
        expect(globalStep(join(runDir, "checkpoints", "checkpoint-300"))).toBe(300);
        expect(read(join(runDir, "starts"))).toBe("2");
    });

    it("budget.maxHours on the host: the job stops at the limit, checkpoints kept, nothing published", async () => {
        const made = await stacktune([
            "new",
            "budget",
            "--from",
            "local-demo",
            "--set",
            "training.maxSteps=6000",
            "--set",
            "evaluation.strategy=no",
            "--set",
            "evaluation.steps=",
            "--set",
            "checkpointing.steps=5",
            "--set",
            "budget.maxHours=0.01",
            "--set",
            "hub.localDir=~/.stacktune/models/budget",
        ]);
        expect(made.code, made.output).toBe(0);
        const r = await stacktune(["run", "budget"]);
        expect(r.code).toBe(1);
        expect(r.output).toMatch(/ended with status 'budget_exceeded' \(exit 124\)/);
        expect(r.output).toMatch(/ {2}job {15}budget_exceeded \(starts: 1\)/);
        const runDir = newestRunDir();
        expect(read(join(runDir, "job.status"))).toBe("budget_exceeded");
        const summary = JSON.parse(read(join(runDir, "summary.json"))) as { attempt_seconds: number };
        expect(summary.attempt_seconds).toBeGreaterThanOrEqual(36);
        expect(summary.attempt_seconds).toBeLessThan(36 + 60);
        expect(readdirSync(join(runDir, "checkpoints")).some((d) => /^checkpoint-\d+$/.test(d))).toBe(true);
        expect(existsSync(join(home, ".stacktune", "models", "budget", "stacktune.json"))).toBe(false);
        // Nothing of the run is left running.
        const pid = Number(read(join(runDir, "runner.pid")).split(" ")[0]);
        expect(() => process.kill(pid, 0)).toThrow();
    });
});
