// The ssh target (docker runtime, no Hub repo) through index.ts under Pulumi mocks: the SSH
// connection, the preflight, the image built on the host, and the job with the on-host completion check.
import * as fs from "fs";

import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageBuildCommand, trainingImageInputs, trainingImageTag } from "../src/image";
import { startOrAttachCommand, stopRunCommand } from "../src/job";
import { shellQuote } from "../src/render/shell";
import { extractBundle, listFiles } from "./helpers/bundle";
import { FakeHub } from "./helpers/fakeHub";
import {
    installProgramMocks,
    isSecretInput,
    nonSecretOccurrences,
    plain,
    ProgramMocks,
    runProgram,
    RegisteredResource,
    textInput,
    valueOf,
} from "./helpers/pulumiMocks";

const KEY_CANARY = "-----BEGIN OPENSSH PRIVATE KEY-----\nCANARY-ssh-key-55e1\n-----END OPENSSH PRIVATE KEY-----\n";
const TOKEN_CANARY = "hf_CANARY_ssh_2b7c";
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb box-4090";
let mocks: ProgramMocks;
let outputs: Record<string, unknown>;
const byName = (name: string): RegisteredResource => mocks.resources.find((r) => r.name === name)!;
// The default model and dataset are on the Hub: their revisions are resolved there at plan time.
const hub = new FakeHub();

beforeAll(async () => {
    await hub.start();
    process.env.HF_ENDPOINT = hub.url;
    mocks = await installProgramMocks({
        stack: "box-4090",
        config: {
            "stacktune:target": {
                kind: "ssh",
                host: "192.0.2.10",
                port: 2222,
                user: "trainer",
                hostKey: HOST_KEY,
                gpus: 4,
                gpuMemoryGb: 24,
                minFreeDiskGb: 150,
            },
            "stacktune:runtime": { kind: "docker" },
            "stacktune:budget": { maxHours: 20, keepRunDir: true },
            "stacktune:sshPrivateKey": KEY_CANARY,
            // Not needed without Hub repos, but set: it must still reach the host only through stdin.
            "stacktune:hfToken": TOKEN_CANARY,
        },
        secretKeys: ["stacktune:sshPrivateKey", "stacktune:hfToken"],
    });
    outputs = await runProgram();
});
afterAll(async () => {
    delete process.env.HF_ENDPOINT;
    await hub.stop();
});

describe("ssh target (docker runtime)", () => {
    it("registers the host with its preflight, the image build and the job", () => {
        expect(mocks.resources.map((r) => `${r.type} ${r.name}`)).toEqual([
            "stacktune:index:Experiment experiment",
            "stacktune:ssh:Host experiment-host",
            "stacktune:image:TrainingImage experiment-image",
            "stacktune:job:TrainingJob experiment-job",
            "stacktune:hosts:HostAccess experiment-access",
            "command:local:Command experiment-host-reach",
            "command:remote:Command experiment-host-preflight",
            "command:remote:Command experiment-image-build",
            "command:local:Command experiment-job-cleanup",
            "command:remote:Command experiment-job-stage",
            "command:remote:Command experiment-job-run",
        ]);
    });

    it("probes the host with the program's own bound before its first remote command (30 s: 3 attempts of 10 s)", () => {
        const create = textInput(byName("experiment-host-reach"), "create");
        // The probe runs from its file in the checkout (a failed command's error quotes the command).
        expect(
            create.startsWith(`node ${shellQuote(path.resolve(__dirname, "..", "src", "hosts", "ssh-probe.js"))} `),
            create.slice(0, 200),
        ).toBe(true);
        expect(create).toContain(
            " trainer@192.0.2.10:2222 192.0.2.10 2222 30 10 'that the machine is up, that its sshd listens on port 2222 (stacktune:target.host, stacktune:target.port)",
        );
        expect(textInput(byName("experiment-job-cleanup"), "create")).toContain(
            " trainer@192.0.2.10:2222 192.0.2.10 2222 30 10 ",
        );
    });

    it("no remote command deletes over SSH: the run's clean-up is a local command that probes first and gets the key on stdin", async () => {
        const hash = await valueOf(outputs.experimentHash as string);
        const runDir = `~/.stacktune/runs/${hash}`;
        for (const r of mocks.resources.filter((r) => r.type === "command:remote:Command")) {
            expect(r.inputs.delete, r.name).toBeUndefined();
        }
        const cleanup = byName("experiment-job-cleanup");
        const del = textInput(cleanup, "delete");
        expect(del.startsWith("bash -c ")).toBe(true);
        expect(del).toContain(
            ` stacktune-teardown trainer@192.0.2.10:2222 192.0.2.10 2222 trainer '${HOST_KEY}' 20 10 `,
        );
        expect(del).toContain(shellQuote(stopRunCommand(runDir, true, `stacktune-${hash.slice(0, 12)}`)));
        expect(del).not.toContain("CANARY");
        expect(cleanup.inputs.triggers).toEqual([hash]);
        expect(isSecretInput(cleanup.inputs.stdin)).toBe(true);
        expect(textInput(cleanup, "stdin")).toBe(KEY_CANARY);
    });

    it("connects with the configured address, the pinned host key and the key as a secret, failing fast when unreachable", () => {
        for (const name of [
            "experiment-host-preflight",
            "experiment-image-build",
            "experiment-job-stage",
            "experiment-job-run",
        ]) {
            const connection = byName(name).inputs.connection;
            expect(isSecretInput(connection)).toBe(true);
            expect(plain(connection)).toEqual({
                host: "192.0.2.10",
                port: 2222,
                user: "trainer",
                privateKey: KEY_CANARY,
                hostKey: HOST_KEY,
                dialErrorLimit: 3,
                perDialTimeout: 10,
            });
        }
    });

    it("preflights 4 GPUs of 24 GB, 150 GB free and docker with the NVIDIA toolkit", () => {
        const create = textInput(byName("experiment-host-preflight"), "create");
        expect(create.split("\n")[0]).toBe(
            `bash -s -- 4 24 150 docker "$HOME"/.stacktune/runs 580.65.06 13 '' 3.10 3.12 <<'STACKTUNE_SCRIPT'`,
        );
        expect(create).toContain("nvidia-smi --query-gpu=memory.total,driver_version");
        expect(create).toContain("the NVIDIA container toolkit");
    });

    it("builds the image on the host from images/ + python/, triggered by the inputs' digest", () => {
        const build = byName("experiment-image-build");
        const tag = trainingImageTag(trainingImageInputs(path.join(__dirname, "..")));
        expect(tag).toMatch(/^stacktune-train:[0-9a-f]{16}$/);
        expect(build.inputs.create).toBe(imageBuildCommand(tag));
        expect(build.inputs.triggers).toEqual([tag]);
        expect(build.inputs.delete).toBeUndefined();
        const files = listFiles(extractBundle(textInput(build, "stdin")));
        expect(files).toEqual(
            expect.arrayContaining([
                "images/train.Dockerfile",
                "images/requirements-gpu.txt",
                "python/pyproject.toml",
                "python/requirements.txt",
            ]),
        );
        expect(files.some((f) => f.startsWith("python/tests/"))).toBe(false);
    });

    it("runs the job in the image, checks the host's output store first, keeps the run dir and never powers off", async () => {
        const hash = await valueOf(outputs.experimentHash as string);
        const runDir = `~/.stacktune/runs/${hash}`;
        const runEnv = fs.readFileSync(
            path.join(extractBundle(textInput(byName("experiment-job-stage"), "stdin")), "run.env"),
            "utf8",
        );
        const tag = trainingImageTag(trainingImageInputs(path.join(__dirname, "..")));
        expect(runEnv).toContain(`STACKTUNE_IMAGE=${tag}`);
        expect(runEnv).toContain("STACKTUNE_RUNTIME=docker");
        expect(runEnv).toContain("STACKTUNE_GPUS=4");
        expect(runEnv).toContain("STACKTUNE_CHECK_OUTPUT_STORE=true");
        expect(runEnv).toContain(`STACKTUNE_OUTPUT_STORE_DIR="$HOME"/.stacktune/models/box-4090`);
        expect(runEnv).toContain("STACKTUNE_KEEP_RUN_DIR=true");
        expect(runEnv).toContain("STACKTUNE_RELEASE=none");
        const run = byName("experiment-job-run");
        expect(run.inputs.create).toBe(startOrAttachCommand(runDir));
        expect(isSecretInput(run.inputs.stdin)).toBe(true);
        expect(textInput(run, "stdin")).toContain(`HF_TOKEN=${TOKEN_CANARY}`);
    });

    it("keeps the key in the connection and the token in the job's stdin, nowhere else", () => {
        expect(nonSecretOccurrences(mocks.resources, "CANARY-ssh-key")).toEqual([]);
        expect(nonSecretOccurrences(mocks.resources, TOKEN_CANARY)).toEqual([]);
        for (const r of mocks.resources) {
            for (const key of ["create", "update", "delete"]) {
                const text = JSON.stringify(plain(r.inputs[key]) ?? "");
                expect(text).not.toContain("CANARY");
            }
            expect(r.inputs.environment).toBeUndefined();
        }
    });

    it("exports the SSH address and the model's place on the host", async () => {
        expect(await valueOf(outputs.hostAddress as string)).toBe("trainer@192.0.2.10:2222");
        expect(await valueOf(outputs.model as object)).toEqual({
            localDir: "~/.stacktune/models/box-4090",
            completedBefore: false,
        });
        const cost = await valueOf(outputs.estimatedCost as { usd: number; hours: number });
        // Default dataset (OpenHermes-2.5, 701,085 train samples) at the reference recipe's measured speed on a 4090 box.
        expect(cost).toMatchObject({ usd: 0, hours: 12.4363, stoppedByBudget: false });
    });
});
