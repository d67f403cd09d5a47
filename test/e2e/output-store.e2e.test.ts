/**
 * Issue 12 items 1 and 2 on the real engine, local target, CPU, tiny model (`pulumi up` of a copy
 * of the project, HOME a temp dir):
 * - hub.localDir names a folder holding a user's file: `up` fails naming stacktune:hub.localDir, before
 *   training, and the file is still there, alone;
 * - the smoke test fails: no completion marker anywhere, and the next `up` does not report success.
 *   The failure is real: the base model's generation config suppresses every token but end-of-turn,
 *   so the real merged model answers with nothing and the real smoke check says so — the empty reply
 *   the smoke test exists to catch. Nothing in stacktune knows about the test.
 */
import { execFileSync } from "node:child_process";
import {
    existsSync,
    mkdirSync,
    mkdtempSync,
    readdirSync,
    readFileSync,
    rmSync,
    symlinkSync,
    writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyProject, writeStackConfig, type PulumiProject } from "./helpers/project";
import { killRunners } from "./helpers/runners";

const REPO = resolve(__dirname, "..", "..");
const home = mkdtempSync(join(tmpdir(), "stacktune-store-home-"));
const runRoot = join(home, ".stacktune", "runs");
let project: PulumiProject;

const python = join(REPO, ".venv", "bin", "python");
const pythonEnv = { ...process.env, PYTHONPATH: join(REPO, "python"), HF_HUB_OFFLINE: "1" };

/** The local-demo stack's settings (no salt: each stack gets its own), with `changes` applied to lines. */
function stackYaml(changes: [from: string, to: string][]): string {
    let text = readFileSync(join(REPO, "stacks", "Pulumi.local-demo.yaml"), "utf8").replace(
        /^encryptionsalt: .*\n?/m,
        "",
    );
    for (const [from, to] of changes) {
        if (!text.includes(from)) throw new Error(`local-demo stack has no ${from}`);
        text = text.replace(from, to);
    }
    return text;
}

async function newStack(name: string, changes: [string, string][]): Promise<void> {
    writeStackConfig(project.stackFile(name), stackYaml(changes));
    const r = await project.pulumi(["stack", "init", name]);
    expect(r.code, r.output).toBe(0);
}

const up = (stack: string) => project.pulumi(["up", "--yes", "--stack", stack], { env: { HOME: home } });

beforeAll(() => {
    project = copyProject(REPO, "store");
    symlinkSync(join(REPO, ".venv"), join(project.dir, ".venv"));
    const tiny = join(project.dir, ".stacktune", "tiny-llama");
    execFileSync(python, ["-m", "stacktune_train.tiny_model", tiny], { env: pythonEnv, stdio: "ignore" });
    // The same model, whose generation may only end the turn: it answers every prompt with nothing.
    execFileSync(
        python,
        [
            "-c",
            [
                "import shutil, sys",
                "from transformers import AutoConfig, GenerationConfig",
                "src, dst = sys.argv[1:]",
                "shutil.copytree(src, dst)",
                "g = GenerationConfig.from_pretrained(dst)",
                "eos = g.eos_token_id if isinstance(g.eos_token_id, list) else [g.eos_token_id]",
                "g.suppress_tokens = [i for i in range(AutoConfig.from_pretrained(dst).vocab_size) if i not in eos]",
                "g.save_pretrained(dst)",
            ].join("\n"),
            tiny,
            join(project.dir, ".stacktune", "silent-llama"),
        ],
        { env: pythonEnv, stdio: "ignore" },
    );
});

afterAll(() => {
    // Jobs are detached from the test: stop any still running (by their own pid) before their files go.
    killRunners(runRoot);
    rmSync(home, { recursive: true, force: true });
    if (project !== undefined) rmSync(join(project.dir, ".."), { recursive: true, force: true });
});

describe("the output store on the local target (real engine, CPU)", () => {
    it("hub.localDir at a folder holding a file: up fails naming the key before training, the file is still there", async () => {
        const mine = join(home, "mine");
        mkdirSync(mine);
        writeFileSync(join(mine, "thesis.tex"), "years of work\n");
        await newStack("foreign", [["localDir: ~/.stacktune/models/local-demo", `localDir: ${mine}`]]);
        const r = await up("foreign");
        expect(r.code, r.output.slice(-3000)).not.toBe(0);
        expect(r.output).toContain(`${mine} already holds files that stacktune did not write`);
        expect(r.output).toContain(
            "set stacktune:hub.localDir to a directory of its own (e.g. ~/.stacktune/models/foreign)",
        );
        expect(r.output).toContain("[prepare] FAILED after ");
        expect(r.output).not.toContain("[train] st");
        expect(readdirSync(mine)).toEqual(["thesis.tex"]);
        expect(readFileSync(join(mine, "thesis.tex"), "utf8")).toBe("years of work\n");
        expect(readdirSync(home).sort()).toEqual([".stacktune", "mine"]);
    });

    it("a failed smoke test leaves no completion marker, and the next up does not report success", async () => {
        const store = join(home, ".stacktune", "models", "silent");
        await newStack("silent", [
            ["id: .stacktune/tiny-llama", "id: .stacktune/silent-llama"],
            ["localDir: ~/.stacktune/models/local-demo", "localDir: ~/.stacktune/models/silent"],
        ]);
        const first = await up("silent");
        expect(first.code, first.output.slice(-3000)).not.toBe(0);
        expect(first.output).toContain("[merge] done after ");
        expect(first.output).toContain("[smoke] FAILED: the model generated no text");
        expect(first.output).not.toContain("[publish] st");
        expect(existsSync(store)).toBe(false);

        const again = await up("silent");
        expect(again.code, again.output.slice(-3000)).not.toBe(0);
        expect(again.output).not.toContain("already holds the model");
        expect(again.output).toContain("[smoke] FAILED: the model generated no text");
        expect(existsSync(join(store, "stacktune.json"))).toBe(false);
        const outputs = await project.pulumi(["stack", "output", "--json", "--stack", "silent"]);
        expect(outputs.output).not.toContain('"succeeded"');
    });
});
