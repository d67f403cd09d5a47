// The job protocol (src/contract/job-protocol.ts) against its real producers: the trainer's progress
// lines (python/stacktune_train/progress.py, run by the project's Python), the rendered launch.sh's
// phase events and lib.sh's notes (run by bash), and the worker's summary (src/job.ts). The
// scripts' summaries are checked by every test of test/job.scripts.test.ts.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import {
    JobSummarySchema,
    PHASE_PREFIX,
    PROGRESS_PREFIX,
    PhaseEventSchema,
    ProgressRecordSchema,
    RUN_FILES,
} from "../src/contract/job-protocol";
import { parseJobResult, workerRunCommand } from "../src/job";
import { renderLaunchScript } from "../src/render/launch";
import { cpuLocalSettings } from "./render/fixtures";
import { tempDir } from "./helpers/tempDir";

const repoRoot = path.resolve(__dirname, "..");
const HASH = "0123456789abcdef".repeat(4);

/** The JSON of every line of `out` that starts with `prefix`. */
function recordsAfter(prefix: string, out: string): unknown[] {
    return out
        .split("\n")
        .filter((l) => l.startsWith(prefix))
        .map((l) => JSON.parse(l.slice(prefix.length)) as unknown);
}

describe("progress lines (progress.py)", () => {
    // Importing transformers takes a while on a loaded machine.
    it(
        "every line the trainer's callback prints is a progress record, a non-finite loss included",
        { timeout: 180_000 },
        () => {
            const script = [
                "import types",
                "from stacktune_train.progress import ProgressCallback",
                "ticks = iter([0.0, 10.0, 20.0])",
                "cb = ProgressCallback(clock=lambda: next(ticks))",
                "state = types.SimpleNamespace(global_step=0, max_steps=4, is_world_process_zero=True)",
                "cb.on_train_begin(None, state, None)",
                "state.global_step = 1",
                "cb.on_log(None, state, None, logs={'loss': 1.23456, 'num_tokens': 400})",
                "state.global_step = 2",
                "cb.on_log(None, state, None, logs={'loss': float('nan'), 'num_tokens': 900})",
            ].join("\n");
            const out = execFileSync(path.join(repoRoot, ".venv", "bin", "python"), ["-c", script], {
                env: { ...process.env, PYTHONPATH: path.join(repoRoot, "python") },
                encoding: "utf8",
            });
            const records = recordsAfter(PROGRESS_PREFIX, out).map((r) => ProgressRecordSchema.parse(r));
            expect(records.map((r) => [r.step, r.loss])).toEqual([
                [1, 1.2346],
                [2, null],
            ]);
        },
    );
});

describe("phase events", () => {
    it("launch.sh's start, end, fail and skip lines are phase events", () => {
        const launch = renderLaunchScript(cpuLocalSettings(), "protocol-test");
        // The rendered phase runner and what it needs, without the pipeline that follows them.
        const functions = ["write_file", "run_phase"].map((name) => {
            const match = new RegExp(`^${name}\\(\\) \\{\\n[\\s\\S]*?^\\}$`, "m").exec(launch);
            expect(match, `${name} in launch.sh`).not.toBeNull();
            return match![0];
        });
        const dir = tempDir("phases");
        const out = execFileSync(
            "bash",
            [
                "-c",
                `${functions.join("\n")}\nrun_phase prepare true; run_phase prepare true; (run_phase train false) || true`,
            ],
            {
                cwd: dir,
                encoding: "utf8",
            },
        );
        const events = recordsAfter(PHASE_PREFIX, out).map((e) => PhaseEventSchema.parse(e));
        expect(events.map((e) => `${e.phase} ${e.event}`)).toEqual([
            "prepare start",
            "prepare end",
            "prepare skip",
            "train start",
            "train fail",
        ]);
        expect(events.at(-1)).toMatchObject({ exit_code: 1 });
    });

    it("lib.sh's notes are phase events, whatever their detail holds", () => {
        const lib = path.join(repoRoot, "src", "job", "remote", "lib.sh");
        const out = execFileSync(
            "bash",
            ["-c", `. "$1"; phase attach "$2"`, "-", lib, 'say "hi" \\ back\u001b[31m\ttab\nline'],
            { encoding: "utf8" },
        );
        expect(recordsAfter(PHASE_PREFIX, out).map((e) => PhaseEventSchema.parse(e))).toEqual([
            { phase: "attach", detail: 'say "hi" \\ back\u001b[31m\ttab\nline' },
        ]);
    });
});

describe("the job summary", () => {
    it("the worker's answer (the main machine holds the model) is a summary that parses back", () => {
        const out = execFileSync("bash", ["-c", workerRunCommand("false", "complete", "~/.stacktune/runs/x", HASH)], {
            encoding: "utf8",
        });
        expect(JobSummarySchema.parse(JSON.parse(out.trim().split("\n").at(-1)!))).toEqual(parseJobResult(out));
        expect(parseJobResult(out)).toMatchObject({ experiment_hash: HASH, status: "succeeded", starts: 0 });
    });

    it("names the run files the host scripts write and read", () => {
        const scripts = ["run-job.sh", "start-or-attach.sh"]
            .map((s) => fs.readFileSync(path.join(repoRoot, "src", "job", "remote", s), "utf8"))
            .join("\n");
        for (const file of Object.values(RUN_FILES))
            expect(scripts).toMatch(new RegExp(`(^|[\\s>/"])${file.replace(".", "\\.")}\\b`, "m"));
    });
});
