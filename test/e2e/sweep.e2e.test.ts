/**
 * `stacktune sweep` on the real engine, local target, CPU, tiny model: a base stack made with
 * `stacktune new` (4 steps, no evaluation), then `sweep tiny --grid lora.r=4,8 --run --concurrency 2`:
 * both stacks written and rendered, both runs succeed side by side with prefixed output, one summary
 * table with a numeric train loss per row, each model in its own directory under its own experiment
 * hash; a re-run of the sweep writes nothing; `stacktune down` removes both.
 * The project is a copy in a temp dir (stack files and state are the test's own); HOME is a temp dir.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyProject, type PulumiProject } from "./helpers/project";
import { stacktuneRunner } from "./helpers/stacktune";

const REPO = resolve(__dirname, "..", "..");
const home = mkdtempSync(join(tmpdir(), "stacktune-sweep-home-"));
let project: PulumiProject;

// The committed local-demo salt belongs to the public demo passphrase.
const stacktune = stacktuneRunner(() => project, "stacktune-demo-passphrase", { HOME: home });

const modelDir = (stack: string) => join(home, ".stacktune", "models", stack);

beforeAll(() => {
    project = copyProject(REPO, "sweep");
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
});

afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(join(project.dir, ".."), { recursive: true, force: true });
});

describe("stacktune sweep (real engine, CPU)", () => {
    it("writes one rendered stack per value, runs both two at a time, one table, own models; re-run writes nothing; down", async () => {
        const base = await stacktune([
            "new",
            "tiny",
            "--from",
            "local-demo",
            "--set",
            "training.maxSteps=4",
            "--set",
            "evaluation.strategy=no",
            "--set",
            "evaluation.steps=",
            "--set",
            "checkpointing.steps=4",
            "--set",
            "hub.localDir=~/.stacktune/models/tiny",
        ]);
        expect(base.code, base.output).toBe(0);

        const r = await stacktune(["sweep", "tiny", "--grid", "lora.r=4,8", "--run", "--concurrency", "2"]);
        expect(r.code, r.output.slice(-4000)).toBe(0);
        expect(r.output).toContain(
            [
                "sweep tiny: 2 stack(s), manifest stacks/sweeps/tiny-r.yaml (written)",
                "  stack    lora.r  stack file + rendered/",
                "  tiny-r4  4       written",
                "  tiny-r8  8       written",
            ].join("\n"),
        );
        expect(r.output).toContain("running 2 stack(s), at most 2 at a time, all on this machine, sharing it");
        for (const stack of ["tiny-r4", "tiny-r8"]) {
            expect(readdirSync(join(project.dir, "rendered", stack)).sort()).toEqual([
                "accelerate.yaml",
                "launch.sh",
                "training.yaml",
            ]);
            expect(readFileSync(join(project.dir, "rendered", stack, "training.yaml"), "utf8")).toMatch(
                new RegExp(`^lora_r: ${stack.slice(6)}$`, "m"),
            );
            // Each run's own output, prefixed with its stack.
            expect(r.output).toMatch(
                new RegExp(`^\\[${stack}\\] .*\\[train\\] step 4/4 \\(100%\\) {2}loss \\d+\\.\\d{4}`, "m"),
            );
            expect(r.output).toMatch(new RegExp(`^\\[${stack}\\] {3}status {12}succeeded$`, "m"));
        }
        expect(readFileSync(join(project.dir, "stacks", "sweeps", "tiny-r.yaml"), "utf8")).toContain(
            "  - stack: tiny-r4\n    lora.r: 4\n  - stack: tiny-r8\n    lora.r: 8\n",
        );

        const table = r.output.slice(r.output.lastIndexOf("sweep tiny: 2 run(s)"));
        expect(table).toMatch(
            /^sweep tiny: 2 run\(s\), 2 succeeded, 0 failed\n {2}stack {4}lora\.r {2}status {5}train loss {2}eval loss {2}tokens\/s {2}cost USD {2}wall\n/,
        );
        expect(table).toMatch(/\n {2}tiny-r4 {2}4 {7}succeeded {2}\d+\.\d+ +- +\d+(\.\d)? +0\.00 +(\d+m)?\d+s\n/);
        expect(table).toMatch(/\n {2}tiny-r8 {2}8 {7}succeeded {2}\d+\.\d+ +- +\d+(\.\d)? +0\.00 +(\d+m)?\d+s/);

        // Each model in its own directory, under its own experiment hash.
        const hashes = ["tiny-r4", "tiny-r8"].map((stack) => {
            const marker = JSON.parse(readFileSync(join(modelDir(stack), "stacktune.json"), "utf8")) as {
                experiment_hash: string;
                stack: string;
            };
            expect(marker.stack).toBe(stack);
            return marker.experiment_hash;
        });
        expect(hashes[0]).toMatch(/^[0-9a-f]{64}$/);
        expect(hashes[1]).not.toBe(hashes[0]);
        expect(existsSync(modelDir("tiny"))).toBe(false);

        // The same sweep again (its stack files now initialised by Pulumi): nothing written.
        const again = await stacktune(["sweep", "tiny", "--grid", "lora.r=4,8"]);
        expect(again.code, again.output).toBe(0);
        expect(again.output).toContain(
            "manifest stacks/sweeps/tiny-r.yaml (unchanged)\n  stack    lora.r  stack file + rendered/\n  tiny-r4  4       unchanged\n  tiny-r8  8       unchanged",
        );

        for (const stack of ["tiny-r4", "tiny-r8"]) {
            const down = await stacktune(["down", stack]);
            expect(down.code, down.output.slice(-2000)).toBe(0);
            expect(down.output).toContain(`stacktune: ${stack} destroyed`);
        }
    });
});
