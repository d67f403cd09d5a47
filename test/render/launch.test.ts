import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { launchPhases, renderLaunchScript } from "../../src/render";
import { loadSettingsFromStackFile } from "../../src/settings";
import { awsSettings, cpuLocalSettings, settingsFrom, sshTarget } from "./fixtures";

const contractCommands = [
    "python -m stacktune_train.prepare training.yaml",
    "accelerate launch --config_file accelerate.yaml -m stacktune_train.train training.yaml",
    "python -m stacktune_train.merge training.yaml",
    "python -m stacktune_train.smoke training.yaml",
    "python -m stacktune_train.publish training.yaml",
];

describe("renderLaunchScript", () => {
    const { settings: reference } = loadSettingsFromStackFile("stacks/Pulumi.seed-reference.yaml");
    const script = renderLaunchScript(reference, "seed-reference");

    it("runs the exact contract commands (docs/contracts.md §3), in order", () => {
        expect(launchPhases.map((p) => p.command)).toEqual(contractCommands);
        const runLines = script.split("\n").filter((l) => l.startsWith("run_phase "));
        expect(runLines).toEqual([
            `run_phase prepare ${contractCommands[0]}`,
            `run_phase train ${contractCommands[1]}`,
            `run_phase merge ${contractCommands[2]}`,
            `run_phase smoke ${contractCommands[3]}`,
            `run_phase publish ${contractCommands[4]}`,
        ]);
    });

    it("is strict bash that runs from its own directory and never traces", () => {
        expect(script.startsWith("#!/usr/bin/env bash\n")).toBe(true);
        expect(script).toContain("\nset -euo pipefail\n");
        expect(script).toContain('\ncd -- "$(dirname -- "${BASH_SOURCE[0]}")"\n');
        expect(script).not.toMatch(/set -[a-z]*x|set -o xtrace/);
        expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
    });

    it("exports the non-secret environment of the runtime and tracking", () => {
        expect(script).toContain("\nexport HF_HUB_ENABLE_HF_TRANSFER=1 ");
        expect(script).toContain("\nexport TOKENIZERS_PARALLELISM=false ");
        expect(script).toContain("\nexport WANDB_PROJECT=stacktune-seed-reference ");
        const venv = renderLaunchScript(cpuLocalSettings(), "cpu");
        expect(venv).not.toContain("HF_HUB_ENABLE_HF_TRANSFER");
        expect(venv).not.toContain("WANDB_PROJECT");
        expect(venv).toContain("\nexport CUDA_VISIBLE_DEVICES='' ");
        expect(renderLaunchScript(awsSettings({ tracking: { kind: "wandb" } }), "aws")).not.toContain("WANDB_PROJECT");
    });

    it("quotes a configured value that the shell would otherwise interpret", () => {
        const text = renderLaunchScript(
            settingsFrom({
                target: sshTarget,
                tracking: { kind: "wandb", project: "it's $HOME" },
                hub: { localDir: "/m" },
            }),
            "s",
        );
        expect(text).toContain(`export WANDB_PROJECT='it'\\''s $HOME' `);
        expect(spawnSync("bash", ["-n"], { input: text }).status).toBe(0);
    });

    const hasShellcheck = (process.env.PATH ?? "").split(delimiter).some((d) => existsSync(join(d, "shellcheck")));
    it.skipIf(!hasShellcheck)("passes shellcheck for every runtime and target", () => {
        const variants = [
            script,
            renderLaunchScript(cpuLocalSettings({ runtime: { kind: "venv", path: "/opt/venv" } }), "cpu"),
            renderLaunchScript(awsSettings({ tracking: { kind: "wandb", project: "p" } }), "aws"),
        ];
        for (const text of variants) {
            const result = spawnSync("shellcheck", ["-s", "bash", "-"], { input: text, encoding: "utf8" });
            expect(result.stdout).toBe("");
            expect(result.status).toBe(0);
        }
    });

    it("defaults STACKTUNE_VENV to a configured existing environment", () => {
        const text = renderLaunchScript(
            cpuLocalSettings({ runtime: { kind: "venv", path: "/opt/stacktune-venv" } }),
            "cpu",
        );
        expect(text).toContain('if [[ -z "${STACKTUNE_VENV:-}" ]]; then STACKTUNE_VENV=/opt/stacktune-venv; fi');
    });
});

describe("launch.sh, executed with stand-ins for python and accelerate", () => {
    const canary = "hf_CANARYsecretVALUE0123456789";
    let runDir = "";

    afterEach(() => {
        if (runDir !== "") rmSync(runDir, { recursive: true, force: true });
    });

    /** A run directory with launch.sh, run.env, secrets.env and a venv whose tools log their calls. */
    function prepareRunDir(): string {
        runDir = mkdtempSync(join(tmpdir(), "stacktune-launch-"));
        const bin = join(runDir, "venv", "bin");
        mkdirSync(bin, { recursive: true });
        const fake = [
            "#!/usr/bin/env bash",
            'echo "$(basename "$0") $*" >> "$CALLS"',
            'echo "env HF_TOKEN=${HF_TOKEN:+set} TOKENIZERS_PARALLELISM=${TOKENIZERS_PARALLELISM} PWD=$(pwd)" >> "$CALLS"',
            'echo "STACKTUNE_PROGRESS {\\"phase\\":\\"$(basename "$0")\\"}"',
            'case " $* " in *" stacktune_train.${FAIL_ON:-none} "*) exit 3 ;; esac',
        ].join("\n");
        for (const tool of ["python", "accelerate"]) {
            writeFileSync(join(bin, tool), fake);
            chmodSync(join(bin, tool), 0o755);
        }
        writeFileSync(join(runDir, "launch.sh"), renderLaunchScript(cpuLocalSettings(), "cpu"));
        // A quoted `~` reaches launch.sh unexpanded; it expands it against HOME (here: the run dir).
        writeFileSync(join(runDir, "run.env"), "STACKTUNE_EXPERIMENT_HASH=abc\nSTACKTUNE_VENV='~/venv'\n");
        writeFileSync(join(runDir, "secrets.env"), `HF_TOKEN=${canary}\n`, { mode: 0o600 });
        return runDir;
    }

    function launch(failOn?: string) {
        const result = spawnSync("bash", [join(runDir, "launch.sh")], {
            cwd: tmpdir(),
            encoding: "utf8",
            env: {
                PATH: process.env.PATH,
                HOME: runDir,
                CALLS: join(runDir, "calls.log"),
                ...(failOn ? { FAIL_ON: failOn } : {}),
            },
        });
        const events = result.stdout
            .split("\n")
            .filter((l) => l.startsWith("STACKTUNE_PHASE "))
            .map((l) => JSON.parse(l.slice("STACKTUNE_PHASE ".length)) as Record<string, unknown>);
        return { ...result, events };
    }

    const read = (name: string): string => readFileSync(join(runDir, name), "utf8");

    it("runs every phase in the run directory, reports each, and ends succeeded", () => {
        prepareRunDir();
        const run = launch();
        expect(run.status).toBe(0);
        expect(run.events.map((e) => `${String(e.phase)}:${String(e.event)}`)).toEqual([
            "prepare:start",
            "prepare:end",
            "train:start",
            "train:end",
            "merge:start",
            "merge:end",
            "smoke:start",
            "smoke:end",
            "publish:start",
            "publish:end",
        ]);
        expect(
            run.events
                .filter((e) => e.event === "end")
                .every((e) => e.exit_code === 0 && typeof e.elapsed_s === "number"),
        ).toBe(true);
        const calls = read("calls.log").split("\n");
        expect(calls.filter((l) => !l.startsWith("env "))).toEqual([...contractCommands, ""]);
        // Secrets reach the steps as environment; the working directory is the run directory.
        expect(calls[1]).toBe(`env HF_TOKEN=set TOKENIZERS_PARALLELISM=false PWD=${runDir}`);
        expect(read("status")).toBe("succeeded\n");
        expect(read("phase")).toBe("publish\n");
        expect(run.stdout + run.stderr).not.toContain(canary);
    });

    it("publishes nothing when the smoke test fails: the publish step (which writes the marker) never starts", () => {
        prepareRunDir();
        const failed = launch("smoke");
        expect(failed.status).toBe(3);
        expect(failed.events.at(-1)).toMatchObject({ phase: "smoke", event: "fail", exit_code: 3 });
        expect(failed.events.some((e) => e.phase === "publish")).toBe(false);
        expect(read("calls.log")).not.toContain("stacktune_train.publish");
        expect(read("status")).toBe("failed\n");
        expect(read("phase")).toBe("smoke\n");
    });

    it("stops at a failing phase with its exit status, then resumes there when started again", () => {
        prepareRunDir();
        const failed = launch("train");
        expect(failed.status).toBe(3);
        expect(failed.events.at(-1)).toMatchObject({ phase: "train", event: "fail", exit_code: 3 });
        expect(read("status")).toBe("failed\n");
        expect(read("phase")).toBe("train\n");
        expect(read("calls.log")).not.toContain("stacktune_train.merge");

        const resumed = launch();
        expect(resumed.status).toBe(0);
        expect(resumed.events.map((e) => `${String(e.phase)}:${String(e.event)}`)).toEqual([
            "prepare:skip",
            "train:start",
            "train:end",
            "merge:start",
            "merge:end",
            "smoke:start",
            "smoke:end",
            "publish:start",
            "publish:end",
        ]);
        expect(read("status")).toBe("succeeded\n");
        expect(resumed.stdout + resumed.stderr + failed.stdout + failed.stderr).not.toContain(canary);
    });
});
