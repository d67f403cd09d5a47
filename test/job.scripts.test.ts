// The on-host protocol, executed for real with bash on this machine: stage → start-or-attach →
// detached runner → summary, re-attach after a dropped connection, no second training of a
// finished run, failure output, budget stop, and stop-run on destroy. A fake launch.sh stands in
// for the pipeline; everything else is the shipped scripts.
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import {
    renderRunEnv,
    renderSecretsEnv,
    runBundleEntries,
    RunEnv,
    stageCommand,
    startOrAttachCommand,
    stopRunCommand,
} from "../src/job";
import { deterministicTarGz } from "../src/job/tarball";
import { JobSummary, JobSummarySchema } from "../src/contract/job-protocol";
import { planExperiment } from "../src/experiment";
import { budgetWatchdogMarginSeconds, cloudInitConfig, hostPaths } from "../src/render";
import { awsSettings, cpuLocalSettings } from "./render/fixtures";

const home = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-home-"));
const CANARY = "CANARY-hf-91b2d4";
const started: number[] = [];

const FAKE_LAUNCH = `#!/usr/bin/env bash
set -euo pipefail
set -a; . ./run.env; if [ -f secrets.env ]; then . ./secrets.env; fi; set +a
echo "secrets.env mode: $(stat -c %a secrets.env)"
echo "token present: \${HF_TOKEN:+yes}"
if [ -f long ]; then
  # A chatty job: a progress line and a log line per step, a progress bar redrawn with carriage
  # returns on one line, then a failure.
  n=$(cat long)
  for i in $(seq 1 "$n"); do
    printf 'STACKTUNE_PROGRESS {"phase":"train","step":%d,"total":%d,"loss":1.5,"tokens_per_s":456.7,"elapsed_s":62,"eta_s":3725}\\n' "$i" "$n"
    echo "noise line $i of a chatty trainer"
  done
  for i in $(seq 1 3000); do printf 'progress bar %d\\r' "$i"; done
  echo
  echo "RuntimeError: CUDA out of memory"
  exit 3
fi
printf 'STACKTUNE_PHASE {"phase":"train","event":"start","elapsed_s":0}\\n'
for i in 1 2 3; do
  printf 'STACKTUNE_PROGRESS {"phase":"train","step":%d,"total":3,"loss":1.5,"tokens_per_s":456.7,"elapsed_s":62,"eta_s":3725}\\n' "$i"
  echo "noise line $i"
  sleep "$(cat sleep_seconds 2>/dev/null || echo 0)"
done
mkdir -p checkpoints
echo '{"train_loss": 1.25, "eval_loss": 1.5}' > checkpoints/metrics.json
if [ -f fail ]; then echo "boom: the trainer broke"; exit 3; fi
`;

function hashOf(label: string): string {
    return label
        .padEnd(64, "0")
        .replace(/[^0-9a-f]/g, "a")
        .slice(0, 64);
}

/** The python/ package and the pinned set as the program ships them (planExperiment) for {@link stage}. */
type ShippedPython = Pick<Parameters<typeof runBundleEntries>[0], "pythonSources" | "requirements">;

function stage(
    hash: string,
    overrides: Partial<RunEnv> = {},
    extra: Record<string, string> = {},
    shipped?: ShippedPython,
): string {
    const runEnv = renderRunEnv({
        experimentHash: hash,
        stack: "script-test",
        runtime: "venv",
        venvPath: process.env.VIRTUAL_ENV ?? "/usr",
        python: "python3",
        venvRoot: "~/.stacktune/venvs",
        gpus: 0,
        outputStoreDir: "~/.stacktune/models/script-test",
        checkOutputStore: false,
        metricsFile: "checkpoints/metrics.json",
        maxSeconds: 600,
        keepRunDir: false,
        release: "none",
        ...overrides,
    });
    const entries = runBundleEntries({
        renderedFiles: new Map([
            ["launch.sh", FAKE_LAUNCH],
            ["training.yaml", "output_dir: checkpoints\n"],
            ["accelerate.yaml", "num_processes: 1\n"],
        ]),
        runEnv,
        pythonSources: shipped?.pythonSources ?? new Map([["python/stacktune_train/__init__.py", ""]]),
        requirements: shipped?.requirements ?? new Map([["requirements.txt", "pyyaml\n"]]),
    });
    for (const [name, content] of Object.entries(extra)) entries.set(name, { content });
    const runDir = `~/.stacktune/runs/${hash}`;
    execFileSync("bash", ["-c", stageCommand(runDir)], {
        input: deterministicTarGz(entries).toString("base64"),
        env: { ...process.env, HOME: home },
    });
    return path.join(home, ".stacktune", "runs", hash);
}

function startOrAttach(
    hash: string,
    env: Record<string, string> = {},
): { code: number; stdout: string; stderr: string } {
    const r = spawnSync("bash", ["-c", startOrAttachCommand(`~/.stacktune/runs/${hash}`)], {
        input: renderSecretsEnv({ hfToken: CANARY }),
        env: { ...process.env, HOME: home, ...env },
        encoding: "utf8",
        timeout: 60_000,
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The summary the scripts end with; every one must satisfy the job protocol's schema. */
function lastJson(stdout: string): JobSummary {
    const line = stdout.trim().split("\n").pop() ?? "";
    return JobSummarySchema.parse(JSON.parse(line));
}

const read = (dir: string, file: string): string => fs.readFileSync(path.join(dir, file), "utf8").trim();

/** Whether a live process of session `pid` remains (a zombie has ended: only its parent's reaping is left). */
function sessionAlive(pid: number): boolean {
    const states = spawnSync("ps", ["-o", "stat=", "-s", String(pid)], { encoding: "utf8" }).stdout;
    return states.split("\n").some((state) => state.trim() !== "" && !state.startsWith("Z"));
}

afterAll(() => {
    for (const pid of started) {
        try {
            process.kill(-pid, "SIGKILL");
        } catch {
            // already gone
        }
    }
    fs.rmSync(home, { recursive: true, force: true });
});

/** lib.sh's readable_progress over `input`, as the scripts run it. */
function readable(input: string): string {
    return execFileSync(
        "bash",
        ["-c", `. ${JSON.stringify(path.resolve(__dirname, "../src/job/remote/lib.sh"))}; readable_progress`],
        { input, encoding: "utf8" },
    );
}

describe("readable_progress (lib.sh): the line a person reads for each progress and phase event", () => {
    it("says phase, step/total, loss, tokens/s, elapsed and ETA on one line", () => {
        expect(
            readable(
                'STACKTUNE_PROGRESS {"phase":"train","step":5,"total":100,"loss":1.234567,"tokens_per_s":456.7,"elapsed_s":62,"eta_s":3725}\n',
            ),
        ).toBe("[train] step 5/100 (5%)  loss 1.2346  457 tokens/s  elapsed 1m02s  eta 1h02m\n");
        // a non-finite loss is written as null: the rest of the line still tells the state
        expect(
            readable(
                'STACKTUNE_PROGRESS {"phase":"train","step":1,"total":4,"loss":null,"tokens_per_s":12.0,"elapsed_s":3,"eta_s":9}\n',
            ),
        ).toBe("[train] step 1/4 (25%)  12 tokens/s  elapsed 3s  eta 9s\n");
    });

    it("words every phase event so that the last line alone tells the state", () => {
        const events = [
            '{"phase":"prepare","event":"start","elapsed_s":0}',
            '{"phase":"merge","event":"end","elapsed_s":75,"exit_code":0}',
            '{"phase":"train","event":"fail","elapsed_s":9,"exit_code":3}',
            '{"phase":"prepare","event":"skip","elapsed_s":0}',
            '{"phase":"merge","event":"skip","elapsed_s":0,"detail":"main machine only"}',
        ];
        expect(readable(events.map((e) => `STACKTUNE_PHASE ${e}\n`).join(""))).toBe(
            [
                "[prepare] started",
                "[merge] done after 1m15s",
                "[train] FAILED after 9s (exit 3)",
                "[prepare] skipped (done by an earlier attempt)",
                "[merge] skipped: main machine only",
                "",
            ].join("\n"),
        );
    });

    it("shows a detail as written (quotes, backslashes), control characters as spaces, and other lines as they are", () => {
        const lib = JSON.stringify(path.resolve(__dirname, "../src/job/remote/lib.sh"));
        const line = execFileSync(
            "bash",
            ["-c", `. ${lib}; phase attach "$1"`, "-", 'say "hi" \\ back\u001b[31m red\ttab'],
            { encoding: "utf8" },
        );
        expect(readable(line + 'noise: {"loss": 1}\nSTACKTUNE_PROGRESS {broken\n')).toBe(
            '[attach] say "hi" \\ back [31m red tab\nnoise: {"loss": 1}\nSTACKTUNE_PROGRESS {broken\n',
        );
    });
});

describe("start-or-attach.sh", () => {
    it("starts the run detached, streams only progress lines and ends with the summary", () => {
        const hash = hashOf("a1");
        const dir = stage(hash);
        const r = startOrAttach(hash);
        expect(r.code).toBe(0);
        // What `pulumi up` shows: one line a person reads per update; the JSON stays in job.log.
        const lines = r.stdout.trim().split("\n");
        expect(lines.filter((l) => l.startsWith("[train] step "))).toEqual(
            [1, 2, 3].map(
                (i) =>
                    `[train] step ${i}/3 (${Math.floor((i * 100) / 3)}%)  loss 1.5000  457 tokens/s  elapsed 1m02s  eta 1h02m`,
            ),
        );
        expect(lines).toContain("[train] started");
        expect(r.stdout).not.toContain("STACKTUNE_");
        expect(read(dir, "job.log")).toContain('STACKTUNE_PROGRESS {"phase":"train","step":3,"total":3,');
        expect(r.stdout).not.toContain("noise line");
        expect(r.stdout).toContain(`[start] started run ${hash} (start #1, pid`);
        expect(lastJson(r.stdout)).toMatchObject({
            experiment_hash: hash,
            status: "succeeded",
            exit_code: 0,
            starts: 1,
            metrics: { train_loss: 1.25, eval_loss: 1.5 },
        });
        // secrets.env was 0600 while the job ran, is gone now, and its value reached no log
        expect(read(dir, "job.log")).toContain("secrets.env mode: 600");
        expect(fs.existsSync(path.join(dir, "secrets.env"))).toBe(false);
        expect(read(dir, "job.log")).toContain("token present: yes");
        expect(r.stdout + r.stderr + read(dir, "job.log")).not.toContain(CANARY);
    });

    it("prunes a succeeded run directory to its receipt unless keepRunDir", () => {
        const dir = path.join(home, ".stacktune", "runs", hashOf("a1"));
        expect(fs.readdirSync(dir).sort()).toEqual(
            [
                ".lock",
                "exit_code",
                "job.log",
                "job.status",
                "lib.sh",
                "run-job.sh",
                "run.env",
                "runner.pid",
                "start-or-attach.sh",
                "starts",
                "summary.json",
            ].sort(),
        );
        const kept = stage(hashOf("a2"), { keepRunDir: true });
        expect(startOrAttach(hashOf("a2")).code).toBe(0);
        expect(fs.existsSync(path.join(kept, "checkpoints", "metrics.json"))).toBe(true);
        expect(fs.existsSync(path.join(kept, "launch.sh"))).toBe(true);
    });

    it("never trains a finished run again: a second call returns the summary, start count stays 1", () => {
        const hash = hashOf("a1");
        const r = startOrAttach(hash);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("already succeeded; nothing to train");
        expect(r.stdout).not.toContain("STACKTUNE_PROGRESS");
        expect(lastJson(r.stdout)).toMatchObject({ status: "succeeded", starts: 1 });
        expect(read(path.join(home, ".stacktune", "runs", hash), "starts")).toBe("1");
    });

    it("fails with the job's exit status, its last log lines and the run directory; the next call retries", () => {
        const hash = hashOf("b1");
        const dir = stage(hash, {}, { fail: "" });
        const r = startOrAttach(hash);
        expect(r.code).toBe(3);
        expect(r.stderr).toContain("ended with status 'failed' (exit 3)");
        expect(r.stderr).toContain("boom: the trainer broke");
        expect(r.stderr).toContain(`the run directory is ${dir}`);
        expect(lastJson(r.stdout)).toMatchObject({ status: "failed", exit_code: 3, starts: 1 });
        expect(fs.existsSync(path.join(dir, "launch.sh"))).toBe(true);

        fs.rmSync(path.join(dir, "fail"));
        const retry = startOrAttach(hash);
        expect(retry.code).toBe(0);
        expect(lastJson(retry.stdout)).toMatchObject({ status: "succeeded", starts: 2 });
        expect(fs.existsSync(path.join(dir, "job.1.log"))).toBe(true);
    });

    it("keeps a failing job's output short whatever the job printed: a bounded summary naming the full log and `stacktune logs`", () => {
        const hash = hashOf("b2");
        const dir = stage(hash, {}, { long: "3000" });
        const r = startOrAttach(hash);
        expect(r.code).toBe(3);
        // The command provider's error (stand-in and upstream): `<exit error>: running "<cmd>":` and the
        // command's whole stdout and stderr. It must stay a screenful while job.log keeps everything.
        const error = `Process exited with status 3: running ${JSON.stringify(startOrAttachCommand(`~/.stacktune/runs/${hash}`))}:\n${r.stdout}${r.stderr}`;
        expect(fs.statSync(path.join(dir, "job.log")).size).toBeGreaterThan(300_000);
        expect(Buffer.byteLength(error)).toBeLessThan(16 * 1024);
        expect(Buffer.byteLength(r.stderr)).toBeLessThan(6 * 1024);
        expect(r.stderr.split("\n").length).toBeLessThan(50);
        expect(r.stderr).toContain("ended with status 'failed' (exit 3)");
        expect(r.stderr).toContain("noise line 3000 of a chatty trainer");
        expect(r.stderr).toContain("RuntimeError: CUDA out of memory");
        expect(r.stderr).toContain(`the run directory is ${dir}`);
        expect(r.stderr).toContain(`full log: ${dir}/job.log`);
        expect(r.stderr).toContain("`stacktune logs script-test` shows it");
        // The live progress is sparse (one line per percent) and its last line carries the state.
        const progress = r.stdout.split("\n").filter((l) => l.startsWith("[train] step "));
        expect(progress.length).toBeLessThanOrEqual(101);
        expect(progress[progress.length - 1]).toBe(
            "[train] step 3000/3000 (100%)  loss 1.5000  457 tokens/s  elapsed 1m02s  eta 1h02m",
        );
        expect(lastJson(r.stdout)).toMatchObject({ status: "failed", exit_code: 3 });
    });

    it("survives a dropped connection and re-attaches without a second start", async () => {
        const hash = hashOf("c1");
        const dir = stage(hash, {}, { sleep_seconds: "2" });
        const first = spawn("bash", ["-c", startOrAttachCommand(`~/.stacktune/runs/${hash}`)], {
            env: { ...process.env, HOME: home },
            detached: true,
        });
        started.push(first.pid!);
        first.stdin.end(renderSecretsEnv({ hfToken: CANARY }));
        await new Promise<void>((resolve) => {
            first.stdout.on("data", (chunk: Buffer) => {
                if (chunk.toString().includes("[train] step 1/3")) resolve();
            });
        });
        // the operator's connection drops: the attaching shell and its tail die
        process.kill(-first.pid!, "SIGHUP");
        const runner = Number(read(dir, "runner.pid").split(" ")[0]);
        expect(sessionAlive(runner)).toBe(true);

        const again = startOrAttach(hash);
        expect(again.code).toBe(0);
        expect(again.stdout).toContain("[attach] re-attaching to the running job (pid ");
        expect(lastJson(again.stdout)).toMatchObject({ status: "succeeded", starts: 1 });
        expect(read(dir, "starts")).toBe("1");
    });

    it("keeps the metrics next to the model in a local output store", () => {
        const hash = hashOf("a3");
        const store = path.join(home, ".stacktune", "models", "a3");
        fs.mkdirSync(store, { recursive: true });
        fs.writeFileSync(path.join(store, "stacktune.json"), JSON.stringify({ experiment_hash: hash }));
        stage(hash, { outputStoreDir: "~/.stacktune/models/a3" });
        expect(startOrAttach(hash).code).toBe(0);
        expect(JSON.parse(fs.readFileSync(path.join(store, "metrics.json"), "utf8"))).toEqual({
            train_loss: 1.25,
            eval_loss: 1.5,
        });
    });

    it("adds metrics and phase times only to a store whose marker is this run's", () => {
        const hash = hashOf("a4");
        const store = path.join(home, ".stacktune", "models", "a4");
        fs.mkdirSync(store, { recursive: true });
        const marker = JSON.stringify({ experiment_hash: hashOf("other"), stack: "x" });
        fs.writeFileSync(path.join(store, "stacktune.json"), marker);
        stage(hash, { outputStoreDir: "~/.stacktune/models/a4" });
        expect(startOrAttach(hash).code).toBe(0);
        expect(fs.readdirSync(store)).toEqual(["stacktune.json"]);
        expect(fs.readFileSync(path.join(store, "stacktune.json"), "utf8")).toBe(marker);
    });

    it("answers from the output store on the host without training (ssh without Hub repos)", () => {
        const hash = hashOf("d1");
        const store = path.join(home, ".stacktune", "models", "done");
        fs.mkdirSync(store, { recursive: true });
        fs.writeFileSync(path.join(store, "stacktune.json"), JSON.stringify({ experiment_hash: hash, stack: "x" }));
        const dir = stage(hash, { checkOutputStore: true, outputStoreDir: "~/.stacktune/models/done" });
        const r = startOrAttach(hash);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("output store already holds the model");
        expect(lastJson(r.stdout)).toMatchObject({ status: "succeeded", starts: 0, output_store: store });
        expect(fs.existsSync(path.join(dir, "runner.pid"))).toBe(false);
        expect(fs.existsSync(path.join(dir, "secrets.env"))).toBe(false);
    });

    it("stops a run that exceeds budget.maxHours with status budget_exceeded (exit 124)", () => {
        const hash = hashOf("e1");
        const dir = stage(hash, { maxSeconds: 1 }, { sleep_seconds: "2" });
        const r = startOrAttach(hash);
        expect(r.code).toBe(124);
        expect(read(dir, "job.status")).toBe("budget_exceeded");
        expect(lastJson(r.stdout)).toMatchObject({ status: "budget_exceeded", exit_code: 124 });
    });

    it("on a host with the budget watchdog, stops gracefully a margin before the watchdog's deadline (budget_exceeded, summary written); the watchdog has not fired by then", () => {
        const hash = hashOf("bd1");
        const state = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-watchdog-"));
        // The watchdog's deadline (first boot + budget.maxHours) falls 3 s after the margin from now,
        // long before the run's own budget (an hour) and before its fake training (3 × 3 s) ends.
        const deadline = Math.floor(Date.now() / 1000) + budgetWatchdogMarginSeconds + 3;
        fs.writeFileSync(path.join(state, "deadline"), `${deadline}\n`);
        const dir = stage(
            hash,
            { maxSeconds: 3600, watchdogDeadlineFile: path.join(state, "deadline") },
            { sleep_seconds: "3" },
        );
        const r = startOrAttach(hash);
        expect(r.code).toBe(124);
        expect(lastJson(r.stdout)).toMatchObject({ status: "budget_exceeded", exit_code: 124 });
        expect(read(dir, "job.status")).toBe("budget_exceeded");
        expect(r.stderr).toContain(
            `stops ${budgetWatchdogMarginSeconds}s before the budget watchdog powers the host off`,
        );
        expect(fs.statSync(path.join(dir, "summary.json")).mtimeMs / 1000).toBeLessThan(
            deadline - budgetWatchdogMarginSeconds + 60,
        );

        // The real watchdog, with the rendered user-data's host.env, on the same deadline: not due yet.
        const hostEnv = (
            cloudInitConfig(awsSettings({ budget: { maxHours: 1 } })).write_files as { path: string; content: string }[]
        ).find((f) => f.path === hostPaths.env)!.content;
        fs.writeFileSync(path.join(state, "host.env"), hostEnv);
        const bin = path.join(state, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(
            path.join(bin, "systemctl"),
            `#!/bin/sh\necho "systemctl $*" >> "${path.join(state, "calls.log")}"\n`,
            { mode: 0o755 },
        );
        execFileSync("bash", ["cloud-init/budget-watchdog.sh"], {
            env: {
                PATH: `${bin}:/usr/bin:/bin`,
                STACKTUNE_HOST_ENV: path.join(state, "host.env"),
                STACKTUNE_STATE_DIR: state,
            },
        });
        expect(fs.existsSync(path.join(state, "calls.log"))).toBe(false);
        expect(fs.existsSync(path.join(state, "budget-exceeded"))).toBe(false);
        fs.rmSync(state, { recursive: true, force: true });
    });

    it("bounds the whole run by budget.maxHours: a later attempt gets only what the earlier ones left", () => {
        const hash = hashOf("e2");
        const dir = stage(hash, { maxSeconds: 4 }, { sleep_seconds: "1", fail: "" });
        const first = startOrAttach(hash);
        expect(first.code).toBe(3);
        const spent = (lastJson(first.stdout) as { attempt_seconds: number }).attempt_seconds;
        expect(spent).toBeGreaterThanOrEqual(3);

        // The retry would need 3 s again; 4 s minus the first attempt's leaves at most 1.
        fs.rmSync(path.join(dir, "fail"));
        const second = startOrAttach(hash);
        expect(second.code).toBe(124);
        expect(lastJson(second.stdout)).toMatchObject({ status: "budget_exceeded", exit_code: 124, starts: 2 });
        expect((lastJson(second.stdout) as { attempt_seconds: number }).attempt_seconds).toBeLessThanOrEqual(2);

        const third = startOrAttach(hash);
        expect(third.code).toBe(124);
        expect(lastJson(third.stdout)).toMatchObject({
            status: "budget_exceeded",
            exit_code: 124,
            starts: 3,
            attempt_seconds: 0,
        });
        expect(third.stderr).toContain("budget.maxHours is used up");
        expect(third.stderr).toContain("stacktune:budget.maxHours");
        expect(read(dir, "job.log")).not.toContain("token present");
    });

    it("counts an attempt whose runner was killed (it never counted itself) until its log's last write", async () => {
        const hash = hashOf("e3");
        const dir = stage(hash, { maxSeconds: 5 }, { sleep_seconds: "1" });
        const first = spawn("bash", ["-c", startOrAttachCommand(`~/.stacktune/runs/${hash}`)], {
            env: { ...process.env, HOME: home },
            detached: true,
        });
        started.push(first.pid!);
        first.stdin.end(renderSecretsEnv({}));
        await new Promise<void>((resolve) =>
            first.stdout.on("data", (c: Buffer) => c.toString().includes("[train] step 3/3") && resolve()),
        );
        const runner = Number(read(dir, "runner.pid").split(" ")[0]);
        process.kill(-runner, "SIGKILL");
        process.kill(-first.pid!, "SIGKILL");

        // About 2 s were used; the retry needs 3 s and may run only what is left.
        const retry = startOrAttach(hash);
        expect(read(dir, "job.log")).toMatch(/\((2|3)s used by earlier attempts: this one may run (3|2)s\)/);
        expect(retry.code).toBe(124);
        expect(lastJson(retry.stdout)).toMatchObject({ status: "budget_exceeded", starts: 2 });
        // The killed runner's launch.sh (timeout gave it a process group of its own) did not train on beside attempt 2.
        expect(retry.stdout).toContain("stopping the processes attempt 1 left (its runner is gone)");
        expect(sessionAlive(runner)).toBe(false);
    });

    it("reports an incomplete run directory with exit 64", () => {
        const r = startOrAttach(hashOf("f1"));
        expect(r.code).toBe(64);
        expect(r.stderr).toContain("is missing; run 'pulumi up' again");
    });
});

describe("one GPU job per host (the GPU lock under the run root)", () => {
    it("a second GPU run waits for the holder (named: stack and run), gives up after its budget, and starts once the GPUs are free; a CPU run does not wait", async () => {
        const holder = hashOf("ac1");
        const holderDir = stage(holder, { gpus: 1, stack: "stack-a" }, { sleep_seconds: "2" });
        const first = spawn("bash", ["-c", startOrAttachCommand(`~/.stacktune/runs/${holder}`)], {
            env: { ...process.env, HOME: home },
            detached: true,
        });
        started.push(first.pid!);
        first.stdin.end(renderSecretsEnv({}));
        await new Promise<void>((resolve) =>
            first.stdout.on("data", (c: Buffer) => c.toString().includes("[train] step 1/3") && resolve()),
        );

        stage(hashOf("ac2"), { gpus: 0 });
        const cpu = startOrAttach(hashOf("ac2"));
        expect(cpu.code).toBe(0);
        expect(cpu.stdout).not.toContain("waiting for the GPUs");

        stage(hashOf("ac3"), { gpus: 1, stack: "stack-b", maxSeconds: 1 });
        const impatient = startOrAttach(hashOf("ac3"));
        expect(impatient.code).toBe(75);
        expect(impatient.stdout).toContain(`waiting for the GPUs of this host: stack stack-a (run ${holder}`);
        expect(impatient.stderr).toContain(`the GPUs of this host stayed held by stack stack-a (run ${holder}`);
        expect(lastJson(impatient.stdout)).toMatchObject({ status: "gpus_busy", exit_code: 75, attempt_seconds: 0 });
        expect(read(holderDir, "job.status")).toBe("running");

        const queuedDir = stage(hashOf("ac4"), { gpus: 1, stack: "stack-c" });
        const queued = startOrAttach(hashOf("ac4"));
        expect(queued.stdout).toContain(`waiting for the GPUs of this host: stack stack-a (run ${holder}`);
        expect(queued.code).toBe(0);
        expect(lastJson(queued.stdout)).toMatchObject({ status: "succeeded" });
        // It trained only after the holder had finished.
        const holderEnd = fs.statSync(path.join(holderDir, "summary.json")).mtimeMs;
        expect(fs.statSync(path.join(queuedDir, "job.log")).mtimeMs).toBeGreaterThanOrEqual(holderEnd);
        expect(read(queuedDir, "job.log")).toMatch(/got the GPUs of this host after \d+s/);
    });
});

describe("machine-written JSON (summary.json and the summary lines)", () => {
    // A path may hold any byte but NUL: quotes, backslashes, newlines and other control characters.
    const oddStore = '.stacktune/models/a "quoted" \\ back\nslash\ttab\u0001';

    it("writes summary.json as valid JSON whatever the output-store path holds", () => {
        const hash = hashOf("ab1");
        const dir = stage(hash, { outputStoreDir: `~/${oddStore}` });
        const r = startOrAttach(hash);
        expect(r.code).toBe(0);
        for (const line of r.stdout
            .trim()
            .split("\n")
            .filter((l) => l.startsWith("STACKTUNE_"))) {
            expect(JSON.parse(line.slice(line.indexOf(" ") + 1)) as unknown).toBeTypeOf("object");
        }
        const summary = JSON.parse(fs.readFileSync(path.join(dir, "summary.json"), "utf8")) as Record<string, unknown>;
        expect(summary).toMatchObject({ status: "succeeded", output_store: path.join(home, oddStore), run_dir: dir });
        expect(lastJson(r.stdout)).toEqual(summary);
    });

    it("answers an already-complete store with a valid JSON summary whatever its path holds", () => {
        const hash = hashOf("ab2");
        const store = path.join(home, oddStore + "-done");
        fs.mkdirSync(store, { recursive: true });
        fs.writeFileSync(path.join(store, "stacktune.json"), JSON.stringify({ experiment_hash: hash }));
        fs.writeFileSync(path.join(store, "metrics.json"), JSON.stringify({ train_loss: 1.25 }, null, 2));
        stage(hash, { checkOutputStore: true, outputStoreDir: `~/${oddStore}-done` });
        const r = startOrAttach(hash);
        expect(r.code).toBe(0);
        expect(lastJson(r.stdout)).toMatchObject({
            status: "succeeded",
            starts: 0,
            output_store: store,
            metrics: { train_loss: 1.25 },
        });
    });
});

describe("run identity (a reused PID is not this run's runner)", () => {
    /** Another run's runner, as far as its command line goes, in its own session (as setsid makes one). */
    function foreignRunner(): number {
        const child = spawn("bash", ["-c", "exec -a ./run-job.sh sleep 20"], { detached: true, stdio: "ignore" });
        started.push(child.pid!);
        return child.pid!;
    }
    /** PID reuse: the number recorded for this run's runner now belongs to `pid`; the rest of the record stays. */
    function reusePid(dir: string, pid: number): void {
        fs.writeFileSync(path.join(dir, "runner.pid"), read(dir, "runner.pid").replace(/^\d+/, String(pid)) + "\n");
    }
    const alive = (pid: number): boolean => spawnSync("kill", ["-0", String(pid)]).status === 0;

    it("starts a new attempt when the runner's PID now belongs to another run's runner, and leaves that one alone", async () => {
        const hash = hashOf("aa1");
        const dir = stage(hash, {}, { sleep_seconds: "30" });
        const first = spawn("bash", ["-c", startOrAttachCommand(`~/.stacktune/runs/${hash}`)], {
            env: { ...process.env, HOME: home },
            detached: true,
        });
        started.push(first.pid!);
        first.stdin.end(renderSecretsEnv({}));
        await new Promise<void>((resolve) =>
            first.stdout.on("data", (c: Buffer) => c.toString().includes("[train] step 1/3") && resolve()),
        );
        // The host loses this run's runner (killed; job.status still says running) ...
        const runner = Number(read(dir, "runner.pid").split(/\s+/)[0]);
        process.kill(-runner, "SIGKILL");
        process.kill(-first.pid!, "SIGKILL");
        await new Promise((resolve) => setTimeout(resolve, 200));
        // ... and its PID goes to another run's runner.
        const other = foreignRunner();
        reusePid(dir, other);
        fs.rmSync(path.join(dir, "sleep_seconds"));

        const r = startOrAttach(hash);
        expect(r.stdout).not.toContain("[attach]");
        expect(r.stdout).toContain("(start #2, pid");
        expect(r.code).toBe(0);
        expect(lastJson(r.stdout)).toMatchObject({ status: "succeeded", starts: 2 });
        expect(alive(other)).toBe(true);
    });

    it("stop-run never signals a process that took over the runner's PID", () => {
        const hash = hashOf("aa2");
        const dir = stage(hash, { keepRunDir: true });
        expect(startOrAttach(hash).code).toBe(0);
        const other = foreignRunner();
        reusePid(dir, other);
        const out = execFileSync("bash", ["-c", stopRunCommand(`~/.stacktune/runs/${hash}`, false)], {
            env: { ...process.env, HOME: home },
            encoding: "utf8",
        });
        expect(out).not.toContain("stopping run");
        expect(alive(other)).toBe(true);
        expect(fs.existsSync(dir)).toBe(false);
        process.kill(-other, "SIGKILL");
    });
});

describe("release after the run (run-job.sh, with stand-ins for sudo and shutdown)", () => {
    /** A PATH whose `sudo` and `shutdown` record their arguments instead of powering anything off. */
    function fakePowerOff(): { env: Record<string, string>; calls: () => string[] } {
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-poweroff-"));
        const log = path.join(bin, "calls.log");
        fs.writeFileSync(path.join(bin, "shutdown"), `#!/bin/sh\necho "shutdown $*" >>"${log}"\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "sudo"), `#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n`, { mode: 0o755 });
        return {
            env: { PATH: `${bin}:${process.env.PATH ?? ""}` },
            calls: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : []),
        };
    }

    it("powers off after a successful run when release is poweroff", () => {
        const power = fakePowerOff();
        const dir = stage(hashOf("e51"), { release: "poweroff" });
        expect(startOrAttach(hashOf("e51"), power.env).code).toBe(0);
        expect(power.calls()).toEqual(["shutdown -h +1"]);
        expect(read(dir, "job.log")).toContain("powering off in 1 minute");
    });

    it("keeps a single machine whose run failed (for inspection), but releases a failed machine of a multi-host run", () => {
        const single = fakePowerOff();
        const kept = stage(hashOf("e52"), { release: "poweroff" }, { fail: "" });
        expect(startOrAttach(hashOf("e52"), single.env).code).toBe(3);
        expect(single.calls()).toEqual([]);
        expect(read(kept, "job.status")).toBe("failed");

        const cluster = fakePowerOff();
        const released = stage(
            hashOf("e53"),
            { release: "poweroff", machineRank: 1, releaseOnFailure: true },
            { fail: "" },
        );
        expect(startOrAttach(hashOf("e53"), cluster.env).code).toBe(3);
        expect(cluster.calls()).toEqual(["shutdown -h +1"]);
        expect(read(released, "job.log")).toContain("status failed on a multi-host run: powering off in 1 minute");
    });

    it("never powers off a host it does not own (release none), whatever the status", () => {
        const power = fakePowerOff();
        stage(hashOf("e54"), { release: "none", machineRank: 1 }, { fail: "" });
        expect(startOrAttach(hashOf("e54"), power.env).code).toBe(3);
        expect(power.calls()).toEqual([]);
    });
});

describe("stop-run.sh (the job's delete)", () => {
    it("stops every process of the run and removes its directory", async () => {
        const hash = hashOf("9a");
        const dir = stage(hash, {}, { sleep_seconds: "30" });
        const child = spawn("bash", ["-c", startOrAttachCommand(`~/.stacktune/runs/${hash}`)], {
            env: { ...process.env, HOME: home },
            detached: true,
        });
        started.push(child.pid!);
        child.stdin.end(renderSecretsEnv({}));
        await new Promise<void>((resolve) =>
            child.stdout.on("data", (c: Buffer) => c.toString().includes("[train] step 1/3") && resolve()),
        );
        const runner = Number(read(dir, "runner.pid").split(" ")[0]);
        started.push(runner);
        expect(sessionAlive(runner)).toBe(true);

        const out = execFileSync("bash", ["-c", stopRunCommand(`~/.stacktune/runs/${hash}`, false)], {
            env: { ...process.env, HOME: home },
            encoding: "utf8",
        });
        expect(out).toContain(`stopping run in ${dir}`);
        expect(sessionAlive(runner)).toBe(false);
        expect(fs.existsSync(dir)).toBe(false);
    });

    it("keeps the directory (minus secrets) when keepRunDir, and is a no-op on a missing run", () => {
        const hash = hashOf("9b");
        const dir = stage(hash, {}, { "secrets.env": "HF_TOKEN=x\n" });
        execFileSync("bash", ["-c", stopRunCommand(`~/.stacktune/runs/${hash}`, true)], {
            env: { ...process.env, HOME: home },
        });
        expect(fs.existsSync(path.join(dir, "run.env"))).toBe(true);
        expect(fs.existsSync(path.join(dir, "secrets.env"))).toBe(false);
        const missing = spawnSync("bash", ["-c", stopRunCommand("~/.stacktune/runs/" + hashOf("9c"), false)], {
            env: { ...process.env, HOME: home },
        });
        expect(missing.status).toBe(0);
    });
});

describe("the venv runtime's environment (run-job.sh): the one install script, the one manifest", () => {
    const repoRoot = path.resolve(__dirname, "..");
    const runJob = fs.readFileSync(path.join(repoRoot, "src", "job", "remote", "run-job.sh"), "utf8");
    const stubs = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-python-stub-"));
    // An interpreter stand-in: `-m venv DIR` makes DIR/bin/python (itself); anything else is logged.
    const python = path.join(stubs, "python");
    fs.writeFileSync(
        python,
        '#!/usr/bin/env bash\nif [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; exit 0; fi\nprintf \'%s\\n\' "$*" >>"$STUB_LOG"\n',
        { mode: 0o755 },
    );
    afterAll(() => fs.rmSync(stubs, { recursive: true, force: true }));
    const plan = planExperiment(cpuLocalSettings(), "script-test", repoRoot);

    /** What images/install-python-deps.sh (from the repository) asks pip for, paths relative to its root. */
    function installScriptLog(args: string[]): string[] {
        const log = path.join(stubs, `script-${args.join("-")}.log`);
        execFileSync("bash", [path.join(repoRoot, "images", "install-python-deps.sh"), ...args], {
            env: { ...process.env, PYTHON: python, STUB_LOG: log, STACKTUNE_WHEELHOUSE: "" },
        });
        return fs.readFileSync(log, "utf8").replaceAll(repoRoot, "<root>").trim().split("\n");
    }

    it.each([
        ["a CPU run", 0, ["requirements", "cpu"]],
        ["a GPU run", 2, ["requirements"]],
    ])(
        "%s creates its venv by exactly what images/install-python-deps.sh installs, read from the shipped manifests",
        (_, gpus, args) => {
            const hash = hashOf(`5e${gpus}`);
            const dir = stage(hash, { venvPath: undefined, python, gpus }, {}, plan);
            const log = path.join(stubs, `run-${gpus}.log`);
            const r = startOrAttach(hash, { STUB_LOG: log });
            expect(r.stdout).toContain("[venv] creating");
            expect(lastJson(r.stdout)).toMatchObject({ status: "succeeded", exit_code: 0 });
            const venvInstalls = fs.readFileSync(log, "utf8").replaceAll(dir, "<root>").trim().split("\n");
            expect(venvInstalls).toEqual(installScriptLog(args));
            expect(venvInstalls).toContain("-m pip --disable-pip-version-check check");
        },
    );

    it("run-job.sh holds no pip command of its own", () => {
        expect(runJob).not.toMatch(/\bpip\b/);
        expect(runJob).not.toMatch(/requirements[-\w]*\.txt/);
    });
});
