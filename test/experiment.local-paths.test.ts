// The local target resolves paths on this machine against the project directory: a relative venv
// becomes absolute (run.env), a relative model directory is linked into the run directory under the
// same relative path, so training.yaml and the experiment hash do not depend on where the project is.
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { localTargetPaths } from "../src/experiment";
import { stageCommand } from "../src/job";
import { parseSettings } from "../src/settings";
import { tempDir } from "./helpers/tempDir";

const project = tempDir("project");
fs.mkdirSync(path.join(project, ".stacktune", "tiny-llama"), { recursive: true });

function settingsFor(target: object, modelId: string, runtimePath?: string) {
    return parseSettings(
        {
            target,
            runtime: { kind: "venv", python: "python3", ...(runtimePath !== undefined ? { path: runtimePath } : {}) },
            model: { id: modelId },
            // what a CPU target requires (src/settings/rules.ts)
            quantization: { load4bit: false },
            training: { bf16: false },
            distributed: { strategy: "ddp" },
            attention: { implementation: "sdpa" },
        },
        {},
        { checkSecrets: false },
    );
}

describe("localTargetPaths", () => {
    it("makes a relative venv absolute and links a model directory found in the project", () => {
        expect(
            localTargetPaths(settingsFor({ kind: "local", gpus: 0 }, ".stacktune/tiny-llama", ".venv"), project),
        ).toEqual({
            venvPath: path.join(project, ".venv"),
            links: new Map([[".stacktune/tiny-llama", path.join(project, ".stacktune", "tiny-llama")]]),
        });
    });

    it("leaves Hub ids, absolute paths and missing directories alone", () => {
        for (const id of [
            "meta-llama/Meta-Llama-3-8B-Instruct",
            "/models/llama",
            "~/models/llama",
            ".stacktune/missing",
        ]) {
            expect(localTargetPaths(settingsFor({ kind: "local", gpus: 0 }, id), project), id).toEqual({});
        }
        expect(localTargetPaths(settingsFor({ kind: "local", gpus: 0 }, "../outside", "/opt/venv"), project)).toEqual({
            venvPath: "/opt/venv",
        });
    });

    it("does nothing for a remote target, whose paths are the host's", () => {
        const ssh = {
            kind: "ssh",
            host: "gpu.example",
            user: "ubuntu",
            hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb",
            privateKeyPath: "~/.ssh/id_ed25519",
            gpus: 0,
        };
        expect(localTargetPaths(settingsFor(ssh, ".stacktune/tiny-llama", ".venv"), project)).toBeUndefined();
    });
});

describe("stageCommand links", () => {
    it("links after unpacking, creating the parent inside the run directory", () => {
        expect(
            stageCommand("~/.stacktune/runs/h", new Map([[".stacktune/tiny-llama", "/p/.stacktune/tiny-llama"]])),
        ).toBe(
            `set -euo pipefail; d="$HOME"/.stacktune/runs/h; mkdir -p "$d"; base64 -d | tar -xzmf - -C "$d"` +
                `; mkdir -p "$d"/.stacktune; ln -sfn /p/.stacktune/tiny-llama "$d"/.stacktune/tiny-llama`,
        );
    });

    it("refuses a link outside the run directory", () => {
        expect(() => stageCommand("/r/h", new Map([["../x", "/x"]]))).toThrow(/relative path inside it/);
        expect(() => stageCommand("/r/h", new Map([["/x", "/x"]]))).toThrow(/relative path inside it/);
    });
});
