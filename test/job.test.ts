// Pure parts of the job: run directory, run.env and secrets.env content, the command texts, the
// deterministic upload archive, and reading the job's summary line.
import { execFileSync } from "child_process";
import { describe, expect, it } from "vitest";
import {
    parseJobResult,
    renderRunEnv,
    renderSecretsEnv,
    RunEnv,
    runDirectory,
    stageCommand,
    startOrAttachCommand,
    stopRunCommand,
} from "../src/job";
import { deterministicTarGz } from "../src/job/tarball";

const HASH = "0123456789abcdef".repeat(4);

describe("runDirectory", () => {
    it("is <runRoot>/<hash> and refuses anything but a full hash", () => {
        expect(runDirectory("~/.stacktune/runs/", HASH)).toBe(`~/.stacktune/runs/${HASH}`);
        expect(() => runDirectory("~/.stacktune/runs", "../../etc")).toThrow(
            "experiment hash must be 64 hex characters",
        );
    });
});

describe("renderRunEnv", () => {
    const env: RunEnv = {
        experimentHash: HASH,
        stack: "it's-a-stack",
        runtime: "docker",
        image: "stacktune-train:abc",
        python: "python3",
        venvRoot: "~/.stacktune/venvs",
        gpus: 4,
        outputStoreDir: "~/.stacktune/models/x",
        checkOutputStore: true,
        metricsFile: "checkpoints/metrics.json",
        maxSeconds: 1.5 * 3600,
        keepRunDir: false,
        release: "poweroff",
    };

    it("writes shell assignments that bash reads back exactly, with ~ expanded on the host", () => {
        const text = renderRunEnv(env);
        const dump = execFileSync(
            "bash",
            [
                "-c",
                'set -eu; eval "$RUN_ENV"; printf "%s\\n" "$STACKTUNE_STACK" "$STACKTUNE_OUTPUT_STORE_DIR" "$STACKTUNE_MAX_SECONDS" "$STACKTUNE_RELEASE"',
            ],
            { env: { ...process.env, RUN_ENV: text, HOME: "/home/trainer" }, encoding: "utf8" },
        );
        expect(dump).toBe("it's-a-stack\n/home/trainer/.stacktune/models/x\n5400\npoweroff\n");
    });

    it("names no secret", () => {
        expect(renderRunEnv(env)).not.toMatch(/TOKEN|API_KEY|PRIVATE/);
    });
});

describe("renderSecretsEnv", () => {
    it("quotes values so any character survives, and names only the secrets that are set", () => {
        const text = renderSecretsEnv({ hfToken: "hf_a'b$c", wandbApiKey: "w" });
        expect(text).toBe(
            "# stacktune secrets (mode 0600, removed when the run ends)\nHF_TOKEN='hf_a'\\''b$c'\nWANDB_API_KEY=w\n",
        );
        const value = execFileSync("bash", ["-c", 'eval "$S"; printf %s "$HF_TOKEN"'], {
            env: { ...process.env, S: text },
            encoding: "utf8",
        });
        expect(value).toBe("hf_a'b$c");
        expect(renderSecretsEnv({})).toBe("# stacktune secrets (mode 0600, removed when the run ends)\n");
    });
});

describe("command texts", () => {
    it("address the run directory through $HOME and carry no value of a setting beyond paths", () => {
        expect(stageCommand(`~/.stacktune/runs/${HASH}`)).toBe(
            `set -euo pipefail; d="$HOME"/.stacktune/runs/${HASH}; mkdir -p "$d"; base64 -d | tar -xzmf - -C "$d"`,
        );
        expect(startOrAttachCommand(`~/.stacktune/runs/${HASH}`)).toContain(`exec bash "$d/start-or-attach.sh" "$d"`);
        const stop = stopRunCommand(`/srv/runs/${HASH}`, true, "stacktune-0123456789ab");
        expect(stop.split("\n")[0]).toBe(
            `bash -s -- /srv/runs/${HASH} true stacktune-0123456789ab <<'STACKTUNE_SCRIPT'`,
        );
        expect(stop.trimEnd().endsWith("STACKTUNE_SCRIPT")).toBe(true);
    });
});

describe("deterministicTarGz", () => {
    it("gives the same bytes for the same files in any order, and tar reads names and modes back", () => {
        const a = deterministicTarGz(
            new Map([
                ["b.sh", { content: "echo b\n", mode: 0o755 }],
                ["dir/a.txt", { content: "a" }],
            ]),
        );
        const b = deterministicTarGz(
            new Map([
                ["dir/a.txt", { content: "a" }],
                ["b.sh", { content: "echo b\n", mode: 0o755 }],
            ]),
        );
        expect(a.equals(b)).toBe(true);
        const listing = execFileSync("tar", ["-tvzf", "-"], { input: a, encoding: "utf8" });
        expect(listing).toMatch(/^-rwxr-xr-x .* b\.sh$/m);
        expect(listing).toMatch(/^-rw-r--r-- .* dir\/a\.txt$/m);
    });

    it("stores long paths with the ustar prefix", () => {
        const long = `python/${"deep/".repeat(25)}module.py`;
        const listing = execFileSync("tar", ["-tzf", "-"], {
            input: deterministicTarGz(new Map([[long, { content: "x" }]])),
            encoding: "utf8",
        });
        expect(listing.trim()).toBe(long);
    });
});

describe("parseJobResult", () => {
    it("reads the last JSON line after progress lines", () => {
        const stdout = [
            'STACKTUNE_PROGRESS {"phase":"train","step":1}',
            `{"experiment_hash":"${HASH}","status":"succeeded","exit_code":0,"starts":1,"metrics":{"train_loss":1},"output_store":"/s","run_dir":"/r"}`,
            "",
        ].join("\n");
        expect(parseJobResult(stdout)).toMatchObject({ status: "succeeded", starts: 1, metrics: { train_loss: 1 } });
        expect(parseJobResult("STACKTUNE_PHASE {}\nno summary")).toBeUndefined();
    });

    it("refuses a summary line whose fields are wrong, naming every bad field, instead of passing it on", () => {
        const line = `{"experiment_hash":"${HASH}","status":"done","exit_code":"0","starts":1,"metrics":{"train_loss":"low"},"output_store":"/s","run_dir":"/r"}`;
        expect(() => parseJobResult(`[done] ok\n${line}\n`)).toThrow(
            /^the job's summary line is not a job summary: status: .*; exit_code: .*; metrics\.train_loss: .*; the whole output is in the run directory's job\.log$/,
        );
        expect(() => parseJobResult(`{"experiment_hash":"${HASH}","status":"succeeded"}`)).toThrow(
            /exit_code: .*starts: .*output_store: .*run_dir: /s,
        );
    });

    it("refuses a summary line that is not JSON instead of reporting no summary", () => {
        expect(() => parseJobResult(`{"experiment_hash":"${HASH}","status":"succ`)).toThrow(
            /^the job's summary line is not JSON \(/,
        );
    });
});
