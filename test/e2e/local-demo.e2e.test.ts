/**
 * The README's main command, as a user runs it: `bash scripts/demo.sh` twice, then `--destroy`.
 * The real script in the real checkout (it runs scripts/setup.sh, which must not be pointed at a copy),
 * with HOME and the state backend in a temp dir: the local target's run directory and output store
 * live under HOME, so nothing of the user's own demo is touched — except the tiny base model in
 * .stacktune/tiny-llama, which `--destroy` removes and the next demo rebuilds in seconds.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const REPO = resolve(__dirname, "..", "..");
const home = mkdtempSync(join(tmpdir(), "stacktune-demo-home-"));
const state = mkdtempSync(join(tmpdir(), "stacktune-demo-state-"));
const store = join(home, ".stacktune", "models", "local-demo");
const runRoot = join(home, ".stacktune", "runs");
const stackFile = join(REPO, "stacks", "Pulumi.local-demo.yaml");
const stackFileBefore = readFileSync(stackFile, "utf8");

function demo(...args: string[]): Promise<{ code: number; output: string; seconds: number }> {
    const started = Date.now();
    return new Promise((done, fail) => {
        const child = spawn("bash", [join(REPO, "scripts", "demo.sh"), ...args], {
            cwd: REPO,
            env: { ...process.env, HOME: home, PULUMI_BACKEND_URL: `file://${state}` },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout.on("data", (d: Buffer) => (output += d.toString("utf8")));
        child.stderr.on("data", (d: Buffer) => (output += d.toString("utf8")));
        child.once("error", fail);
        child.once("close", (code) => {
            const seconds = (Date.now() - started) / 1000;
            console.log(`[e2e] bash scripts/demo.sh ${args.join(" ")}: exit ${code} in ${seconds.toFixed(1)} s`);
            done({ code: code ?? -1, output, seconds });
        });
    });
}

const starts = () => readdirSync(runRoot).map((d) => readFileSync(join(runRoot, d, "starts"), "utf8").trim());
/** The one run's job log (its machine-readable progress lines and the smoke test's sample). */
const jobLog = () =>
    readdirSync(runRoot)
        .map((d) => readFileSync(join(runRoot, d, "job.log"), "utf8"))
        .join("\n");
/** The demo's own data (the stack's dataset.source), and a phrase of its answer to the smoke prompt. */
const demoData = join(REPO, /^ {4}source: (\S+)$/m.exec(stackFileBefore)?.[1] ?? "");
const learned = "Thai food balances sweet, sour, salty and spicy flavours";

afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
});

describe("bash scripts/demo.sh (local-demo stack, CPU)", () => {
    it("trains once and reports where the model is, its metrics and the wall time per phase", async () => {
        const r = await demo();
        expect(r.code, r.output.slice(-4000)).toBe(0);
        expect(r.output).toContain("+ 9 created"); // 8 resources + the host-access record
        // Progress as a person reads it, one line per update; the JSON lines stay in the job's log.
        expect(r.output).toMatch(
            /\[train\] step (\d+)\/\1 \(100%\) {2}loss \d+\.\d{4} {2}\d+ tokens\/s {2}elapsed \S+ {2}eta 0s\b/,
        );
        expect(r.output).not.toMatch(/STACKTUNE_(PROGRESS|PHASE)/);
        expect(r.output).toMatch(/\n {2}status {11}succeeded\n/);
        expect(r.output).toContain(`  model            ${store}\n`);
        expect(r.output).toMatch(/\n {2}train_loss {7}\d+\.\d+/);
        expect(r.output).toMatch(/\n {2}eval_loss {8}\d+\.\d+/);
        expect(r.output).toMatch(
            /wall time per phase \(s\): prepare \d+, train \d+, merge \d+, smoke \d+, publish \d+\n/,
        );
        expect(r.output).toMatch(/this command \(s\): setup \d+, tiny model \d+, pulumi up \d+, total \d+/);
        for (const file of [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
            "stacktune.json",
        ]) {
            expect(existsSync(join(store, file)), file).toBe(true);
        }
        // It ends with the run's loss curve, a PNG in the output store beside the history it draws.
        expect(r.output.endsWith(`  loss curve       ${join(store, "loss-curve.png")}\n`), r.output.slice(-400)).toBe(
            true,
        );
        expect(readFileSync(join(store, "loss-curve.png")).subarray(0, 8)).toEqual(
            Buffer.from("\x89PNG\r\n\x1a\n", "latin1"),
        );
        expect(readFileSync(join(store, "metrics-history.jsonl"), "utf8")).toMatch(/^\{"step": 1, "elapsed_s": /);
        expect(starts()).toEqual(["1"]);
        // The demo visibly learns: the last logged training loss is at most half the first ...
        const losses = [...jobLog().matchAll(/^STACKTUNE_PROGRESS \{"phase":"train".*"loss":([\d.]+)/gm)].map((m) =>
            Number(m[1]),
        );
        expect(losses.length).toBeGreaterThan(2);
        expect(losses.at(-1), `losses ${losses.join(", ")}`).toBeLessThanOrEqual((losses[0] ?? 0) / 2);
        // ... and its smoke answer to the smoke prompt, which the demo data answers, is that answer.
        const sample = /^\[smoke\] sample \(\d+ tokens\): (.*)$/m.exec(jobLog())?.[1] ?? "";
        expect(readFileSync(demoData, "utf8")).toContain(learned);
        expect(sample).toContain(learned);
        // The committed salt is reused: `stack init` left the tracked stack file as it was.
        expect(readFileSync(stackFile, "utf8")).toBe(stackFileBefore);
    });

    it("run again: changes nothing, trains nothing, reports the same model", async () => {
        const marker = readFileSync(join(store, "stacktune.json"), "utf8");
        const r = await demo();
        expect(r.code, r.output.slice(-4000)).toBe(0);
        expect(r.output).toContain("9 unchanged");
        expect(r.output).not.toMatch(/ to create| to update| to replace| to delete/);
        expect(r.output).not.toMatch(/STACKTUNE_PROGRESS|\[train\] step/);
        expect(r.output).toContain(`  model            ${store}\n`);
        expect(r.output).toMatch(
            /wall time per phase \(s\): prepare \d+, train \d+, merge \d+, smoke \d+, publish \d+\n/,
        );
        expect(r.output.endsWith(`  loss curve       ${join(store, "loss-curve.png")}\n`), r.output.slice(-400)).toBe(
            true,
        );
        expect(starts()).toEqual(["1"]);
        expect(readFileSync(join(store, "stacktune.json"), "utf8")).toBe(marker);
    });

    it("--destroy removes what the demo created", async () => {
        const r = await demo("--destroy");
        expect(r.code, r.output.slice(-4000)).toBe(0);
        expect(r.output).toContain("- 9 deleted");
        expect(existsSync(join(home, ".stacktune"))).toBe(false);
        expect(existsSync(join(REPO, ".stacktune", "tiny-llama"))).toBe(false);
        // No state, history or backup of the stack is left in the backend.
        const left = (dir: string) =>
            existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith("local-demo")) : [];
        for (const kind of ["stacks", "history", "backups"])
            expect(left(join(state, ".pulumi", kind, "stacktune")), kind).toEqual([]);
        expect(readFileSync(stackFile, "utf8")).toBe(stackFileBefore);
    });
});
