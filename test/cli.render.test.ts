import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/render";

/** Runs the render CLI in-process and returns its exit status and output. */
function render(...argv: string[]): { status: number; out: string; err: string } {
    const out: string[] = [];
    const err: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
    const error = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
    try {
        return { status: main(argv), out: out.join("\n"), err: err.join("\n") };
    } finally {
        log.mockRestore();
        error.mockRestore();
    }
}

describe("npm run render", () => {
    let root = "";
    beforeEach(() => {
        // A copy of the repository's stacks and committed rendered files.
        root = mkdtempSync(join(tmpdir(), "stacktune-render-"));
        cpSync("stacks", join(root, "stacks"), { recursive: true });
        cpSync("rendered", join(root, "rendered"), { recursive: true });
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    const edit = (path: string, from: string | RegExp, to: string): void => {
        const file = join(root, path);
        const before = readFileSync(file, "utf8");
        const after = before.replace(from, to);
        expect(after, `${path} edited`).not.toBe(before);
        writeFileSync(file, after);
    };

    it("--check passes on the committed tree", () => {
        const result = render("--check", "--root", root);
        expect(result.status).toBe(0);
        expect(result.out).toContain("render --check: rendered/ is up to date (4 stacks, 14 files)");
    });

    it("--check fails after a stack value is edited, naming the stale file and showing its diff", () => {
        edit("stacks/Pulumi.seed-reference.yaml", "learningRate: 1.0e-4", "learningRate: 3.0e-4");
        const result = render("--check", "--root", root);
        expect(result.status).toBe(1);
        expect(result.out).toContain(
            "rendered/seed-reference/training.yaml is stale: its stack file renders different content",
        );
        expect(result.out).toContain("-learning_rate: 0.0001\n+learning_rate: 0.0003");
        expect(result.err).toContain(
            "render --check: 1 rendered file(s) out of date: rendered/seed-reference/training.yaml",
        );
        expect(result.err).toContain("Run `npm run render` and commit rendered/.");
    });

    it("--check names missing and extra files; render then fixes all of it", () => {
        rmSync(join(root, "rendered/aws-g5/launch.sh"));
        writeFileSync(join(root, "rendered/aws-g5/notes.txt"), "hand-written\n");
        cpSync(join(root, "rendered/local-demo"), join(root, "rendered/old-stack"), { recursive: true });
        const check = render("--check", "--root", root);
        expect(check.status).toBe(1);
        expect(check.out).toContain("rendered/aws-g5/launch.sh is missing");
        expect(check.out).toContain("rendered/aws-g5/notes.txt is extra: no stack renders it");
        expect(check.out).toContain("rendered/old-stack/training.yaml is extra");

        const write = render("--root", root);
        expect(write.status).toBe(0);
        expect(write.out).toContain("created rendered/aws-g5/launch.sh");
        expect(write.out).toContain("removed rendered/old-stack/training.yaml");
        expect(statSync(join(root, "rendered/aws-g5/launch.sh")).mode & 0o777).toBe(0o755);
        expect(render("--check", "--root", root).status).toBe(0);
    });

    it("prints the settings error and exits 2 for an invalid stack", () => {
        edit("stacks/Pulumi.aws-g5.yaml", "stacktune:budget:", "stacktune:lora:\n    rank: 8\n  stacktune:budget:");
        const result = render("--check", "--root", root);
        expect(result.status).toBe(2);
        expect(result.err).toContain("Invalid stacktune settings in");
        expect(result.err).toContain("stacktune:lora.rank");
    });

    it("fails when two stacks share a model destination, naming both stacks and the key", () => {
        // aws-g6-r16 publishing to aws-g5's merged repo: each run would overwrite the other's model.
        edit(
            "stacks/Pulumi.aws-g6-r16.yaml",
            "mergedRepo: your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-r16",
            "mergedRepo: your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-g5",
        );
        expect(render("--root", root).status).toBe(2);
        const result = render("--check", "--root", root);
        expect(result.status).toBe(2);
        expect(result.err).toContain(
            "stacks aws-g5 and aws-g6-r16 both set stacktune:hub.mergedRepo to your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-g5",
        );
    });

    it("counts the default output store directory of a stack without hub.mergedRepo as its destination", () => {
        // `plain` keeps its model in the default ~/.stacktune/models/plain; `copy` names that directory.
        const demo = readFileSync(join(root, "stacks/Pulumi.local-demo.yaml"), "utf8");
        writeFileSync(
            join(root, "stacks/Pulumi.plain.yaml"),
            demo.replace("  stacktune:hub:\n    localDir: ~/.stacktune/models/local-demo\n", ""),
        );
        writeFileSync(join(root, "stacks/Pulumi.copy.yaml"), demo.replace("models/local-demo", "models/plain"));
        expect(render("--root", root).status).toBe(2);
        const result = render("--check", "--root", root);
        expect(result.status).toBe(2);
        expect(result.err).toContain(
            "stacks copy and plain both set stacktune:hub.localDir to ~/.stacktune/models/plain (plain: its default, having no hub.mergedRepo)",
        );
    });

    it("refuses a stack whose output store is the home directory, naming stacktune:hub.localDir", () => {
        edit("stacks/Pulumi.local-demo.yaml", "localDir: ~/.stacktune/models/local-demo", 'localDir: "~"');
        const result = render("--root", root);
        expect(result.status).toBe(2);
        expect(result.err).toContain("Invalid stacktune settings in");
        expect(result.err).toContain("stacktune:hub.localDir: is the home directory itself");
        expect(readFileSync(join(root, "rendered/local-demo/training.yaml"), "utf8")).toContain(
            "output_store_dir: ~/.stacktune/models/local-demo",
        );
    });

    it("exits non-zero from the command line too (npm run render -- --check)", () => {
        edit("stacks/Pulumi.local-demo.yaml", "maxSteps: 60", "maxSteps: 20");
        const result = spawnSync("npx", ["tsx", "src/cli/render.ts", "--check", "--root", root], { encoding: "utf8" });
        expect(result.status).toBe(1);
        expect(result.stdout).toContain("rendered/local-demo/training.yaml is stale");
    });
});
