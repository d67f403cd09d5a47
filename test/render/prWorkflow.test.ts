import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { expectedRenderedFiles, renderStacks, writeRendered } from "../../src/render/stacks";

const workflow = ".github/workflows/pr.yml";

/** actionlint from scripts/setup.sh (.tools/bin) or anywhere on PATH. */
function findActionlint(): string | undefined {
    const dirs = [join(".tools", "bin"), ...(process.env.PATH ?? "").split(delimiter)];
    return dirs.map((dir) => join(dir, "actionlint")).find((path) => existsSync(path));
}

interface Workflow {
    jobs: Record<
        string,
        { steps: { name?: string; run?: string; uses?: string; if?: string; with?: Record<string, unknown> }[] }
    >;
}

function readWorkflow(): Workflow {
    return parse(readFileSync(workflow, "utf8")) as Workflow;
}

describe("pull-request workflow (checks the rendered configs in CI)", () => {
    const actionlint = findActionlint();

    // CI builds actionlint (scripts/setup.sh), so the check always runs there.
    it.skipIf(actionlint === undefined && !process.env.CI)("passes actionlint", () => {
        const result = spawnSync(actionlint ?? "actionlint", ["-no-color", workflow], { encoding: "utf8" });
        expect(result.stdout + result.stderr).toBe("");
        expect(result.status).toBe(0);
    });

    it("runs the render check and the README test command, and diffs changed stacks into the job summary", () => {
        const jobs = readWorkflow().jobs;
        const runs = (job: string): string[] => (jobs[job]?.steps ?? []).flatMap((s) => (s.run ? [s.run] : []));
        expect(runs("test")).toEqual(
            expect.arrayContaining(["bash scripts/setup.sh", "npm run --silent render -- --check", "bash .ci/run"]),
        );
        // The browser tests' screenshot (test/browser) is kept as an artifact, also when a test failed.
        const keep = jobs.test?.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
        expect(keep?.with).toMatchObject({ path: "test-artifacts/" });
        expect(keep?.if).toBe("always()");
        const diffStep = runs("stack-diff").join("\n");
        expect(diffStep).toContain("git diff --name-only \"${base}...HEAD\" -- 'stacks/Pulumi.*.yaml'");
        expect(diffStep).toContain('npm run --silent diff -- "${base_dir}/${name}" "${stack}" --markdown');
        expect(diffStep).toContain('>> "${GITHUB_STEP_SUMMARY}"');
    });

    it("the stack-diff step writes the diff of a changed stack and the files of a new one to the job summary", () => {
        const script = readWorkflow().jobs["stack-diff"]?.steps.find((s) => s.name?.startsWith("Diff of every"))?.run;
        expect(script).toBeDefined();
        const dir = mkdtempSync(join(tmpdir(), "stacktune-pr-"));
        const git = (cwd: string, ...args: string[]): string =>
            execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
                cwd,
                encoding: "utf8",
            });
        try {
            // A repository with a base branch `main` on an `origin`, and a pull request on top of it.
            const repo = join(dir, "repo");
            // The settings and the renderer read two tables of the Python package: the training.yaml keys
            // (src/contract/training-keys.ts) and the benchmark tasks (src/settings/evaluation.ts).
            const pythonTables = [
                "python/stacktune_train/training_keys.json",
                "python/stacktune_train/benchmarks/tasks.json",
            ];
            for (const path of [
                "src",
                "cloud-init",
                "stacks",
                "rendered",
                ...pythonTables,
                "package.json",
                "tsconfig.json",
            ]) {
                cpSync(path, join(repo, path), { recursive: true });
            }
            symlinkSync(resolve("node_modules"), join(repo, "node_modules"));
            writeFileSync(join(repo, ".gitignore"), "node_modules\n");
            git(dir, "init", "-q", "--bare", "origin.git");
            git(repo, "init", "-q", "-b", "main");
            git(repo, "add", ".");
            git(repo, "commit", "-q", "-m", "base");
            git(repo, "remote", "add", "origin", join(dir, "origin.git"));
            git(repo, "push", "-q", "origin", "main");
            git(repo, "checkout", "-q", "-b", "pr");
            const g5 = join(repo, "stacks/Pulumi.aws-g5.yaml");
            writeFileSync(g5, readFileSync(g5, "utf8").replace("maxHours: 24", "maxHours: 12"));
            cpSync(join(repo, "stacks/Pulumi.local-demo.yaml"), join(repo, "stacks/Pulumi.new-demo.yaml"));
            writeRendered(repo, expectedRenderedFiles(renderStacks(repo).stacks));
            git(repo, "add", ".");
            git(repo, "commit", "-q", "-m", "pr");

            const summary = join(dir, "summary.md");
            const result = spawnSync("bash", ["-e", "-c", script ?? ""], {
                cwd: repo,
                encoding: "utf8",
                env: { ...process.env, BASE_REF: "main", GITHUB_STEP_SUMMARY: summary },
            });
            expect(result.stderr).not.toMatch(/error/i);
            expect(result.status).toBe(0);
            const text = readFileSync(summary, "utf8");
            expect(text).toContain("## Experiment changes");
            expect(text).toContain("### `aws-g5@main` → `aws-g5@pr`");
            expect(text).toContain("| `budget.maxHours` | `24` | `12` |");
            expect(text).toContain('-  - [shutdown, -P, "+1440", "stacktune: budget of 24 h reached"]');
            expect(text).toContain("### `new-demo` (new stack)");
            expect(text).toContain("<details><summary><code>rendered/new-demo/training.yaml</code></summary>");
            expect(text).toContain("run_name: new-demo");
            expect(text).not.toContain("aws-g6-r16");
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
