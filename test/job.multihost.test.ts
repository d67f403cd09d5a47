// The job side of a multi-host run: the machine rank in run.env, the main machine's output-store
// check appended to its stage command (executed for real with bash against a temporary store), and
// the other machines' run command, which trains nothing when the main machine already holds the model.
// Last, two TrainingJobs under Pulumi mocks, wired as the experiment wires machine 0 and machine 1.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import {
    parseJobResult,
    parseStoreState,
    renderRunEnv,
    RunEnv,
    runBundleEntries,
    stageCommand,
    startOrAttachCommand,
    storeStateCommand,
    TrainingJob,
    workerRunCommand,
} from "../src/job";
import type { JobHost } from "../src/hosts/command";
import { deterministicTarGz } from "../src/job/tarball";
import { plain, RegisteredResource, textInput, valueOf } from "./helpers/pulumiMocks";
import { tempDir } from "./helpers/tempDir";
import { TEST_PUBLIC_KEY } from "./helpers/keys";

const HASH = "0123456789abcdef".repeat(4);
const OTHER_HASH = "fedcba9876543210".repeat(4);
const RUN_DIR = `~/.stacktune/runs/${HASH}`;

const env: RunEnv = {
    experimentHash: HASH,
    stack: "mh",
    runtime: "venv",
    python: "python3",
    venvRoot: "~/.stacktune/venvs",
    gpus: 4,
    outputStoreDir: "~/.stacktune/models/mh",
    checkOutputStore: true,
    metricsFile: "checkpoints/metrics.json",
    maxSeconds: 3600,
    keepRunDir: false,
    release: "none",
};

/** What bash reads from run.env for a variable (`unset` when run.env does not set it). */
function runEnvValue(text: string, name: string): string {
    return execFileSync("bash", ["-c", `set -eu; eval "$RUN_ENV"; printf %s "\${${name}-unset}"`], {
        env: { ...process.env, RUN_ENV: text, HOME: "/home/trainer" },
        encoding: "utf8",
    });
}

describe("renderRunEnv with a machine rank", () => {
    it("writes STACKTUNE_MACHINE_RANK as the last line, rank 0 included", () => {
        const worker = renderRunEnv({ ...env, machineRank: 1 });
        expect(worker.endsWith("STACKTUNE_RELEASE=none\nSTACKTUNE_MACHINE_RANK=1\n")).toBe(true);
        expect(runEnvValue(worker, "STACKTUNE_MACHINE_RANK")).toBe("1");
        const main = renderRunEnv({ ...env, machineRank: 0 });
        expect(main.split("\n")).toContain("STACKTUNE_MACHINE_RANK=0");
        expect(runEnvValue(main, "STACKTUNE_MACHINE_RANK")).toBe("0");
    });

    it("leaves it out on one machine, and changes nothing else", () => {
        const single = renderRunEnv(env);
        expect(single).not.toContain("STACKTUNE_MACHINE_RANK");
        expect(runEnvValue(single, "STACKTUNE_MACHINE_RANK")).toBe("unset");
        expect(renderRunEnv({ ...env, machineRank: 1 })).toBe(`${single}STACKTUNE_MACHINE_RANK=1\n`);
    });
});

describe("storeStateCommand, executed with bash", () => {
    /** merge.py's marker: `json.dumps({"experiment_hash": …, "stack": …})` plus a newline. */
    const marker = (hash: string): string =>
        `${JSON.stringify({ experiment_hash: hash, stack: "mh" }).replace(/":/g, '": ').replace(/,"/g, ', "')}\n`;

    function storeState(home: string, storeDir: string): { status: number | null; stdout: string; stderr: string } {
        const r = spawnSync("bash", ["-c", storeStateCommand(storeDir, HASH)], {
            env: { ...process.env, HOME: home },
            encoding: "utf8",
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    it("prints complete only when the store's marker names this experiment", () => {
        const home = tempDir("store-home");
        const store = path.join(home, ".stacktune", "models", "mh");
        expect(storeState(home, "~/.stacktune/models/mh")).toEqual({
            status: 0,
            stdout: "STACKTUNE_STORE=pending\n",
            stderr: "",
        });

        fs.mkdirSync(store, { recursive: true });
        fs.writeFileSync(path.join(store, "stacktune.json"), marker(OTHER_HASH));
        expect(storeState(home, "~/.stacktune/models/mh")).toEqual({
            status: 0,
            stdout: "STACKTUNE_STORE=pending\n",
            stderr: "",
        });

        fs.writeFileSync(path.join(store, "stacktune.json"), marker(HASH));
        expect(fs.readFileSync(path.join(store, "stacktune.json"), "utf8")).toBe(
            `{"experiment_hash": "${HASH}", "stack": "mh"}\n`,
        );
        expect(storeState(home, "~/.stacktune/models/mh")).toEqual({
            status: 0,
            stdout: "STACKTUNE_STORE=complete\n",
            stderr: "",
        });
        // Compact JSON is the same marker.
        fs.writeFileSync(path.join(store, "stacktune.json"), JSON.stringify({ experiment_hash: HASH }));
        expect(storeState(home, "~/.stacktune/models/mh").stdout).toBe("STACKTUNE_STORE=complete\n");
    });

    it("reads an absolute store path with a space in it", () => {
        const home = tempDir("store-home");
        const store = path.join(tempDir("store"), "my models");
        fs.mkdirSync(store);
        fs.writeFileSync(path.join(store, "stacktune.json"), marker(HASH));
        expect(storeState(home, store).stdout).toBe("STACKTUNE_STORE=complete\n");
    });

    it("ends a real stage command (set -euo pipefail) without failing it when the store does not exist", () => {
        const home = tempDir("stage-home");
        const bundle = deterministicTarGz(
            runBundleEntries({
                renderedFiles: new Map([["launch.sh", "#!/usr/bin/env bash\n"]]),
                runEnv: renderRunEnv({ ...env, machineRank: 0 }),
                pythonSources: new Map(),
                requirements: new Map(),
            }),
        );
        const command = `${stageCommand(RUN_DIR)}; ${storeStateCommand("~/.stacktune/models/mh", HASH)}`;
        const r = spawnSync("bash", ["-c", command], {
            input: bundle.toString("base64"),
            env: { ...process.env, HOME: home },
            encoding: "utf8",
        });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.stdout).toBe("STACKTUNE_STORE=pending\n");
        expect(fs.readFileSync(path.join(home, ".stacktune", "runs", HASH, "run.env"), "utf8")).toContain(
            "STACKTUNE_MACHINE_RANK=0\n",
        );
    });

    it("refuses anything but a full experiment hash", () => {
        expect(() => storeStateCommand("~/.stacktune/models/mh", "abc' ; rm -rf ~ #")).toThrow(
            "experiment hash must be 64 hex characters",
        );
    });
});

describe("parseStoreState", () => {
    it("is complete only for its exact line, pending otherwise", () => {
        expect(parseStoreState("STACKTUNE_STORE=complete\n")).toBe("complete");
        expect(parseStoreState("unpacked\r\n  STACKTUNE_STORE=complete \r\n")).toBe("complete");
        expect(parseStoreState("STACKTUNE_STORE=pending\n")).toBe("pending");
        expect(parseStoreState("")).toBe("pending");
        expect(parseStoreState("STACKTUNE_STORE=completed\n")).toBe("pending");
        expect(parseStoreState("echo STACKTUNE_STORE=complete\n")).toBe("pending");
    });
});

describe("workerRunCommand", () => {
    const own = startOrAttachCommand(RUN_DIR);

    it("is the machine's own start-or-attach while the main machine's store is pending", () => {
        expect(workerRunCommand(own, "pending", RUN_DIR, HASH)).toBe(own);
        const withStore = startOrAttachCommand(RUN_DIR, "s3://bucket/mh/0123456789abcdef-1");
        expect(workerRunCommand(withStore, "pending", RUN_DIR, HASH)).toBe(withStore);
    });

    it("trains nothing when the main machine holds the model: a done line and a succeeded summary with 0 starts", () => {
        const command = workerRunCommand(own, "complete", RUN_DIR, HASH);
        expect(command).not.toContain("start-or-attach.sh");
        const home = tempDir("worker-home");
        const r = spawnSync("bash", ["-c", command], {
            input: "HF_TOKEN=x\n",
            env: { ...process.env, HOME: home },
            encoding: "utf8",
        });
        expect(r.status).toBe(0);
        expect(r.stderr).toBe("");
        const summary = {
            experiment_hash: HASH,
            status: "succeeded",
            exit_code: 0,
            starts: 0,
            metrics: null,
            output_store: "",
            run_dir: RUN_DIR,
        };
        expect(r.stdout).toBe(
            `[done] the main machine already holds the model of ${HASH}; nothing to train\n` +
                `${JSON.stringify(summary)}\n`,
        );
        expect(parseJobResult(r.stdout)).toEqual(summary);
        // Nothing is created on the machine.
        expect(fs.readdirSync(home)).toEqual([]);
    });

    it("keeps a run directory with a quote in it intact in the summary", () => {
        const odd = `/srv/it's runs/${HASH}`;
        const r = spawnSync("bash", ["-c", workerRunCommand(startOrAttachCommand(odd), "complete", odd, HASH)], {
            encoding: "utf8",
        });
        expect(parseJobResult(r.stdout)?.run_dir).toBe(odd);
    });
});

describe("TrainingJob of machine 0 and machine 1 (Pulumi mocks)", () => {
    const resources: RegisteredResource[] = [];
    /** Stage stdout per job name: the main machine's store check answers here. */
    const stageStdout: Record<string, string> = {
        "done-0-stage": "STACKTUNE_STORE=complete\n",
        "todo-0-stage": "STACKTUNE_STORE=pending\n",
    };

    const hostOf = (host: string): JobHost => ({
        kind: "ssh",
        address: pulumi.output(`trainer@${host}:22`),
        connection: { host, port: 22, user: "trainer", privateKey: pulumi.secret("KEY"), hostKey: TEST_PUBLIC_KEY },
        gpus: 4,
        ready: [],
        releaseAction: "none",
    });

    function jobPair(prefix: string): [TrainingJob, TrainingJob] {
        const args = {
            experimentHash: HASH,
            stack: "mh",
            renderedFiles: new Map([["launch.sh", "#!/usr/bin/env bash\n"]]),
            pythonSources: new Map<string, string>(),
            requirements: new Map<string, string>(),
            runtime: { kind: "venv" as const },
            outputStoreDir: "~/.stacktune/models/mh",
            maxHours: 1,
            release: "none" as const,
        };
        const main = new TrainingJob(`${prefix}-0`, {
            ...args,
            host: hostOf("10.0.0.5"),
            checkOutputStore: true,
            machine: { rank: 0 },
        });
        const worker = new TrainingJob(`${prefix}-1`, {
            ...args,
            host: hostOf("10.0.0.6"),
            checkOutputStore: false,
            machine: { rank: 1, mainStoreState: main.storeState },
        });
        return [main, worker];
    }

    let done: [TrainingJob, TrainingJob];
    let todo: [TrainingJob, TrainingJob];
    const named = (name: string): RegisteredResource => {
        const found = resources.find((r) => r.name === name);
        if (found === undefined) throw new Error(`no resource named ${name}`);
        return found;
    };

    beforeAll(async () => {
        await pulumi.runtime.setMocks(
            {
                newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
                    const inputs = args.inputs as Record<string, unknown>;
                    resources.push({ type: args.type, name: args.name, inputs });
                    const state: Record<string, unknown> = { ...inputs };
                    if (args.type.startsWith("command:")) {
                        state.stdout = stageStdout[args.name] ?? "";
                        state.stderr = "";
                    }
                    return { id: `${args.name}-id`, state };
                },
                call: () => ({}),
            },
            "stacktune",
            "job-multihost",
            false,
        );
        done = jobPair("done");
        todo = jobPair("todo");
        await valueOf(pulumi.all([...done, ...todo].map((j) => j.run.create)));
        await new Promise((r) => setTimeout(r, 50));
    });

    it("appends the store check to machine 0's stage only", () => {
        const stage = stageCommand(RUN_DIR);
        expect(textInput(named("done-0-stage"), "create")).toBe(
            `${stage}; ${storeStateCommand("~/.stacktune/models/mh", HASH)}`,
        );
        expect(textInput(named("done-1-stage"), "create")).toBe(stage);
    });

    it("reads the main machine's store state from its stage output", async () => {
        expect(await valueOf(done[0].storeState)).toBe("complete");
        expect(await valueOf(todo[0].storeState)).toBe("pending");
        expect(await valueOf(done[1].storeState)).toBe("pending");
    });

    it("runs machine 1 only when the main machine's store is pending; machine 0 always starts or attaches", () => {
        const own = startOrAttachCommand(RUN_DIR);
        expect(textInput(named("done-0-run"), "create")).toBe(own);
        expect(textInput(named("todo-0-run"), "create")).toBe(own);
        expect(textInput(named("todo-1-run"), "create")).toBe(own);
        expect(textInput(named("done-1-run"), "create")).toBe(workerRunCommand(own, "complete", RUN_DIR, HASH));
        expect(textInput(named("done-1-run"), "update")).toBe(workerRunCommand(own, "complete", RUN_DIR, HASH));
    });

    it("connects each job's commands to its own machine", () => {
        for (const [prefix, host] of [
            ["done-0", "10.0.0.5"],
            ["done-1", "10.0.0.6"],
        ] as const) {
            for (const command of ["stage", "run"]) {
                expect(plain(named(`${prefix}-${command}`).inputs.connection)).toMatchObject({
                    host,
                    port: 22,
                    user: "trainer",
                    privateKey: "KEY",
                    hostKey: TEST_PUBLIC_KEY,
                });
            }
        }
    });
});
