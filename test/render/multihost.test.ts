// A run on several machines (target.hosts): one accelerate config per machine rank, checkpoints
// on every node, and a launch.sh that picks its machine's config, waits for the main machine's
// rendezvous and leaves merge and smoke test to the main machine. launch.sh is also executed for
// real with stand-ins for python and accelerate, against a rendezvous port that is closed, then open.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { delimiter, join } from "node:path";
import { parse } from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import {
    accelerateConfig,
    accelerateFileName,
    renderAccelerateConfig,
    renderAccelerateConfigs,
    renderAll,
    renderLaunchScript,
    renderTrainingConfig,
} from "../../src/render";
import type { Settings } from "../../src/settings";
import { tempDir } from "../helpers/tempDir";
import { awsSettings, awsTarget, settingsFrom, sshTarget } from "./fixtures";

/** Two 4-GPU machines over SSH; the main one reached by the other at a private address. */
const twoMachines = {
    kind: "ssh",
    user: "stacktune",
    gpus: 4,
    hosts: [
        { host: "gpu-a.example.internal", clusterAddress: "10.0.0.5", hostKey: sshTarget.hostKey },
        { host: "gpu-b.example.internal", port: 2222, user: "trainer", hostKey: sshTarget.hostKey },
    ],
} as const;

const sshCluster = (extra: Record<string, unknown> = {}): Settings =>
    settingsFrom({ target: twoMachines, hub: { localDir: "/srv/models/mh" }, ...extra });

/** Every key of a multi-host plain multi-GPU (ddp) config but the rank-dependent one. */
const ddpCommon = {
    compute_environment: "LOCAL_MACHINE",
    debug: false,
    distributed_type: "MULTI_GPU",
    downcast_bf16: "no",
    main_process_ip: "10.0.0.5",
    main_process_port: 29500,
    main_training_function: "main",
    mixed_precision: "bf16",
    num_machines: 2,
    num_processes: 8,
    rdzv_backend: "static",
    same_network: true,
    tpu_env: [],
    tpu_use_cluster: false,
    tpu_use_sudo: false,
    use_cpu: false,
};

const zero3 = {
    deepspeed_multinode_launcher: "standard",
    offload_optimizer_device: "none",
    offload_param_device: "none",
    zero3_init_flag: true,
    zero3_save_16bit_model: true,
    zero_stage: 3,
};

/** A CPU run on two loopback SSH accounts (the e2e shape): ddp, fp32, no 4-bit. */
function cpuCluster(extra: Record<string, unknown> = {}): Settings {
    return settingsFrom({
        target: {
            kind: "ssh",
            user: "stacktune",
            gpus: 0,
            hosts: [
                { host: "127.0.0.1", user: "rank0", hostKey: sshTarget.hostKey },
                { host: "127.0.0.1", user: "rank1", hostKey: sshTarget.hostKey },
            ],
        },
        runtime: { kind: "venv" },
        distributed: { strategy: "ddp" },
        quantization: { load4bit: false },
        training: { bf16: false, gradientCheckpointing: false },
        attention: { implementation: "sdpa" },
        hub: { localDir: "~/.stacktune/models/cpu-mh" },
        ...extra,
    });
}

describe("accelerate configs of a multi-host run", () => {
    it("names one file per machine rank, and keeps accelerate.yaml for one machine", () => {
        expect([...renderAccelerateConfigs(sshCluster({ distributed: { strategy: "ddp" } }), "mh").keys()]).toEqual([
            "accelerate.machine-0.yaml",
            "accelerate.machine-1.yaml",
        ]);
        expect([...renderAccelerateConfigs(awsSettings({ target: { ...awsTarget, hosts: 3 } }), "c3").keys()]).toEqual([
            "accelerate.machine-0.yaml",
            "accelerate.machine-1.yaml",
            "accelerate.machine-2.yaml",
        ]);
        expect(accelerateFileName(1, 0)).toBe("accelerate.yaml");
        expect(accelerateFileName(3, 2)).toBe("accelerate.machine-2.yaml");
        expect([...renderAll(sshCluster(), "mh").keys()]).toEqual([
            "accelerate.machine-0.yaml",
            "accelerate.machine-1.yaml",
            "training.yaml",
            "launch.sh",
        ]);
    });

    it("ddp on 2 × 4 GPUs: the same config on both machines but machine_rank, 8 processes, rendezvous at the main cluster address", () => {
        const settings = sshCluster({ distributed: { strategy: "ddp" } });
        const files = renderAccelerateConfigs(settings, "mh");
        expect(parse(files.get("accelerate.machine-0.yaml") ?? "")).toEqual({ ...ddpCommon, machine_rank: 0 });
        expect(parse(files.get("accelerate.machine-1.yaml") ?? "")).toEqual({ ...ddpCommon, machine_rank: 1 });
        // Keys in the order `accelerate config` writes them (sorted), main_process_* among them.
        const keys = Object.keys(accelerateConfig(settings, 1));
        expect(keys).toEqual([...keys].sort());
        expect(files.get("accelerate.machine-1.yaml")).toContain(
            "\nmain_process_ip: 10.0.0.5\nmain_process_port: 29500\n",
        );
    });

    it("DeepSpeed ZeRO-3 on 2 × 4 GPUs: the standard multinode launcher on every machine", () => {
        const settings = sshCluster();
        expect(settings.distributed.strategy).toBe("deepspeed-zero3");
        const deepspeed = { ...ddpCommon, distributed_type: "DEEPSPEED", deepspeed_config: zero3 };
        expect(accelerateConfig(settings, 0)).toEqual({ ...deepspeed, machine_rank: 0 });
        expect(accelerateConfig(settings, 1)).toEqual({ ...deepspeed, machine_rank: 1 });
    });

    it("uses the main machine’s SSH host when it has no clusterAddress, and the configured rendezvous port", () => {
        const settings = settingsFrom({
            target: {
                ...twoMachines,
                hosts: [
                    { host: "gpu-a.example.internal", hostKey: sshTarget.hostKey },
                    { host: "gpu-b.example.internal", hostKey: sshTarget.hostKey },
                ],
            },
            distributed: { strategy: "ddp", rendezvousPort: 29777 },
            hub: { localDir: "/srv/models/mh" },
        });
        expect(accelerateConfig(settings, 1)).toEqual({
            ...ddpCommon,
            machine_rank: 1,
            main_process_ip: "gpu-a.example.internal",
            main_process_port: 29777,
        });
    });

    it("aws with 3 hosts: the main instance’s fixed private address, 12 processes, ranks 0..2", () => {
        const settings = awsSettings({ target: { ...awsTarget, hosts: 3 } });
        const files = renderAccelerateConfigs(settings, "c3");
        for (const rank of [0, 1, 2]) {
            expect(parse(files.get(`accelerate.machine-${rank}.yaml`) ?? "")).toEqual({
                ...ddpCommon,
                distributed_type: "DEEPSPEED",
                deepspeed_config: zero3,
                machine_rank: rank,
                main_process_ip: "10.42.1.10",
                num_machines: 3,
                num_processes: 12,
            });
        }
    });

    it("refuses a machine rank the target does not have", () => {
        expect(() => accelerateConfig(sshCluster(), 2)).toThrow(
            "machine rank 2 is outside the 2 machine(s) of the target",
        );
    });

    it("CPU on 2 machines: MULTI_GPU with use_cpu (accelerate’s torchrun launcher, gloo), one fp32 process each", () => {
        expect(accelerateConfig(cpuCluster(), 1)).toEqual({
            ...ddpCommon,
            machine_rank: 1,
            main_process_ip: "127.0.0.1",
            mixed_precision: "no",
            num_processes: 2,
            use_cpu: true,
        });
    });

    it("leaves a single-host config as it was: accelerate.yaml, rank 0 of 1 machine, no rendezvous address", () => {
        for (const settings of [
            settingsFrom({ target: sshTarget, hub: { localDir: "/m" } }),
            awsSettings({ target: { ...awsTarget, hosts: 1 } }),
        ]) {
            const files = renderAccelerateConfigs(settings, "one");
            expect([...files.keys()]).toEqual(["accelerate.yaml"]);
            expect(files.get("accelerate.yaml")).toBe(renderAccelerateConfig(settings, "one"));
            const config = parse(files.get("accelerate.yaml") ?? "") as Record<string, unknown>;
            expect(config).toMatchObject({ machine_rank: 0, num_machines: 1, num_processes: 4 });
            expect("main_process_ip" in config).toBe(false);
            expect("main_process_port" in config).toBe(false);
        }
    });
});

describe("training.yaml of a multi-host run", () => {
    it("saves checkpoints on each node only when there are several machines", () => {
        expect(renderTrainingConfig(sshCluster(), "mh")).toContain("\nsave_total_limit: 2\nsave_on_each_node: true\n");
        expect(renderTrainingConfig(awsSettings({ target: { ...awsTarget, hosts: 2 } }), "c2")).toContain(
            "\nsave_on_each_node: true\n",
        );
        expect(renderTrainingConfig(settingsFrom({ target: sshTarget, hub: { localDir: "/m" } }), "one")).not.toContain(
            "save_on_each_node",
        );
        expect(renderTrainingConfig(awsSettings(), "one")).not.toContain("save_on_each_node");
    });
});

describe("launch.sh of a multi-host run (rendered)", () => {
    const script = renderLaunchScript(sshCluster({ distributed: { strategy: "ddp", socketInterface: "ens5" } }), "mh");
    const lines = script.split("\n");

    it("trains with its own machine’s config, waits for the main machine first, merges, smoke-tests and publishes on the main one only", () => {
        expect(lines.filter((l) => /^(run_phase |main_only |if \(\( STACKTUNE)/.test(l))).toEqual([
            "run_phase prepare python -m stacktune_train.prepare training.yaml",
            "if (( STACKTUNE_MACHINE_RANK > 0 )); then run_phase rendezvous wait_for_main; fi",
            'run_phase train accelerate launch --config_file "accelerate.machine-${STACKTUNE_MACHINE_RANK}.yaml" -m stacktune_train.train training.yaml',
            "main_only merge python -m stacktune_train.merge training.yaml",
            "main_only smoke python -m stacktune_train.smoke training.yaml",
            "main_only publish python -m stacktune_train.publish training.yaml",
        ]);
        expect(lines).toContain(
            'STACKTUNE_MACHINE_RANK="${STACKTUNE_MACHINE_RANK:?run.env must set STACKTUNE_MACHINE_RANK on a multi-host run}"',
        );
        // The address reaches the probe as a quoted argument, never pasted into the `bash -c` text.
        expect(lines).toContain("STACKTUNE_MAIN_ADDRESS=10.0.0.5");
        expect(lines).toContain(
            '  until timeout 5 bash -c \'exec 3<>"/dev/tcp/$1/$2"\' rendezvous-probe "${STACKTUNE_MAIN_ADDRESS}" 29500 2>/dev/null; do',
        );
        expect(script).toContain(
            "cannot reach the main machine at ${STACKTUNE_MAIN_ADDRESS}:29500 after $((SECONDS - started))s;",
        );
        expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
    });

    it("waits for the configured rendezvous port at the aws main instance’s private address", () => {
        const aws = renderLaunchScript(
            awsSettings({ target: { ...awsTarget, hosts: 3 }, distributed: { rendezvousPort: 29600 } }),
            "c3",
        );
        expect(aws.split("\n")).toContain("STACKTUNE_MAIN_ADDRESS=10.42.1.10");
        expect(aws.split("\n")).toContain(
            '  until timeout 5 bash -c \'exec 3<>"/dev/tcp/$1/$2"\' rendezvous-probe "${STACKTUNE_MAIN_ADDRESS}" 29600 2>/dev/null; do',
        );
        expect(aws).toContain("# Machines 0..2 train this run together;");
    });

    it("waits 1200 s for the main machine by default (docs/multihost.md), overridable from run.env", () => {
        expect(lines).toContain('STACKTUNE_RENDEZVOUS_WAIT_S="${STACKTUNE_RENDEZVOUS_WAIT_S:-1200}"');
    });

    it("writes the main-only skip line as one printf line, like every other phase line of the script", () => {
        // A format string broken over two lines works, but reads as a quoting mistake in review.
        expect(lines).toContain(
            `    printf 'STACKTUNE_PHASE {"phase":"%s","event":"skip","elapsed_s":0,"detail":"main machine only"}\\n' "$1"`,
        );
    });

    it("exports NCCL_SOCKET_IFNAME and GLOO_SOCKET_IFNAME only with socketInterface on several machines", () => {
        expect(lines).toContain("export NCCL_SOCKET_IFNAME=ens5  # NCCL traffic between machines on this interface");
        expect(lines).toContain(
            "export GLOO_SOCKET_IFNAME=ens5  # gloo (CPU collectives, barriers) on the same interface",
        );
        const noInterface = renderLaunchScript(sshCluster({ distributed: { strategy: "ddp" } }), "mh");
        const oneMachine = renderLaunchScript(
            settingsFrom({ target: sshTarget, distributed: { socketInterface: "ens5" }, hub: { localDir: "/m" } }),
            "one",
        );
        for (const text of [noInterface, oneMachine]) {
            expect(text).not.toContain("NCCL_SOCKET_IFNAME");
            expect(text).not.toContain("GLOO_SOCKET_IFNAME");
        }
    });

    it("keeps the single-host script free of the multi-host machinery", () => {
        const single = renderLaunchScript(settingsFrom({ target: sshTarget, hub: { localDir: "/m" } }), "one");
        expect(single).toContain(
            "\nrun_phase train accelerate launch --config_file accelerate.yaml -m stacktune_train.train training.yaml\n",
        );
        for (const word of ["STACKTUNE_MACHINE_RANK", "wait_for_main", "main_only", "/dev/tcp"])
            expect(single).not.toContain(word);
    });

    const hasShellcheck = (process.env.PATH ?? "").split(delimiter).some((d) => existsSync(join(d, "shellcheck")));
    it.skipIf(!hasShellcheck)("passes shellcheck on GPU and CPU clusters", () => {
        for (const text of [script, renderLaunchScript(cpuCluster(), "cpu-mh")]) {
            const result = spawnSync("shellcheck", ["-s", "bash", "-"], { input: text, encoding: "utf8" });
            expect(result.stdout).toBe("");
            expect(result.status).toBe(0);
        }
    });
});

describe("multi-host launch.sh, executed with stand-ins for python and accelerate", () => {
    let server: Server | undefined;

    afterEach(async () => {
        const open = server;
        server = undefined;
        if (open !== undefined) await new Promise<void>((resolve) => open.close(() => resolve()));
    });

    /** A loopback TCP port that nothing listens on (taken, then released). */
    async function closedPort(): Promise<number> {
        const probe = createServer();
        await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
        const address = probe.address();
        await new Promise<void>((resolve) => probe.close(() => resolve()));
        if (address === null || typeof address === "string") throw new Error("no TCP port");
        return address.port;
    }

    /** Stands in for machine 0's rendezvous: something accepts connections on the port. */
    async function listenOn(port: number): Promise<void> {
        const s = createServer((socket) => socket.destroy());
        await new Promise<void>((resolve) => s.listen(port, "127.0.0.1", resolve));
        server = s;
    }

    /** A run directory of machine `rank` (undefined: run.env without a rank) with tools that log their calls. */
    function prepareRunDir(port: number, rank: number | undefined): string {
        const runDir = tempDir("multihost-launch");
        const bin = join(runDir, "venv", "bin");
        mkdirSync(bin, { recursive: true });
        const fake = ["#!/usr/bin/env bash", 'echo "$(basename "$0") $*" >> "$CALLS"'].join("\n");
        for (const tool of ["python", "accelerate"]) {
            writeFileSync(join(bin, tool), fake);
            chmodSync(join(bin, tool), 0o755);
        }
        writeFileSync(
            join(runDir, "launch.sh"),
            renderLaunchScript(cpuCluster({ distributed: { strategy: "ddp", rendezvousPort: port } }), "cpu-mh"),
        );
        writeFileSync(
            join(runDir, "run.env"),
            [
                "STACKTUNE_EXPERIMENT_HASH=abc",
                `STACKTUNE_VENV='${join(runDir, "venv")}'`,
                ...(rank !== undefined ? [`STACKTUNE_MACHINE_RANK='${rank}'`] : []),
                "STACKTUNE_RENDEZVOUS_WAIT_S=2",
                "",
            ].join("\n"),
        );
        return runDir;
    }

    /** Runs launch.sh without blocking this process (the stand-in rendezvous server must answer). */
    function launch(
        runDir: string,
        killAfterMs = 20_000,
    ): Promise<{
        status: number | null;
        stdout: string;
        stderr: string;
        events: Record<string, unknown>[];
        calls: string[];
    }> {
        return new Promise((resolve) => {
            const child = spawn("bash", [join(runDir, "launch.sh")], {
                env: { PATH: process.env.PATH, HOME: runDir, CALLS: join(runDir, "calls.log") },
                detached: true,
            });
            // A hung script (and its subshells) is killed as a group; its status is then null.
            const timer = setTimeout(() => {
                if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
            }, killAfterMs);
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
            child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
            child.on("close", (status) => {
                clearTimeout(timer);
                const events = stdout
                    .split("\n")
                    .filter((l) => l.startsWith("STACKTUNE_PHASE "))
                    .map((l) => JSON.parse(l.slice("STACKTUNE_PHASE ".length)) as Record<string, unknown>);
                const callsFile = join(runDir, "calls.log");
                const calls = existsSync(callsFile)
                    ? readFileSync(callsFile, "utf8")
                          .split("\n")
                          .filter((l) => l !== "")
                    : [];
                resolve({ status, stdout, stderr, events, calls });
            });
        });
    }

    const timeline = (events: Record<string, unknown>[]): string[] =>
        events.map((e) => `${String(e.phase)}:${String(e.event)}`);
    const read = (runDir: string, name: string): string => readFileSync(join(runDir, name), "utf8");

    it("machine 1: fails with the keys to check when the main machine’s port stays closed, then trains once it opens", async () => {
        const port = await closedPort();
        const runDir = prepareRunDir(port, 1);

        const unreachable = await launch(runDir);
        expect(unreachable.status).toBe(1);
        expect(timeline(unreachable.events)).toEqual([
            "prepare:start",
            "prepare:end",
            "rendezvous:start",
            "rendezvous:fail",
        ]);
        expect(unreachable.events.at(-1)).toMatchObject({ exit_code: 1 });
        expect(unreachable.stderr).toContain(
            `stacktune: machine 1 cannot reach the main machine at 127.0.0.1:${port} after 2s;`,
        );
        expect(unreachable.stderr).toContain("stacktune:target.hosts[0].clusterAddress");
        expect(unreachable.stderr).toContain("stacktune:distributed.rendezvousPort");
        expect(unreachable.calls).toEqual(["python -m stacktune_train.prepare training.yaml"]);
        expect(read(runDir, "status")).toBe("failed\n");
        expect(read(runDir, "phase")).toBe("rendezvous\n");

        await listenOn(port);
        const reached = await launch(runDir);
        expect(reached.stderr).toBe("");
        expect(reached.status).toBe(0);
        expect(timeline(reached.events)).toEqual([
            "prepare:skip",
            "rendezvous:start",
            "rendezvous:end",
            "train:start",
            "train:end",
            "merge:skip",
            "smoke:skip",
            "publish:skip",
        ]);
        expect(reached.events.filter((e) => e.event === "skip" && e.phase !== "prepare")).toEqual([
            { phase: "merge", event: "skip", elapsed_s: 0, detail: "main machine only" },
            { phase: "smoke", event: "skip", elapsed_s: 0, detail: "main machine only" },
            { phase: "publish", event: "skip", elapsed_s: 0, detail: "main machine only" },
        ]);
        expect(reached.stdout).toContain(`stacktune: machine 1 reached the rendezvous at 127.0.0.1:${port}\n`);
        // The stand-ins saw the first run's prepare, then only the training, with machine 1's config.
        expect(reached.calls).toEqual([
            "python -m stacktune_train.prepare training.yaml",
            "accelerate launch --config_file accelerate.machine-1.yaml -m stacktune_train.train training.yaml",
        ]);
        expect(read(runDir, "status")).toBe("succeeded\n");
        expect(read(runDir, "phase")).toBe("train\n");
    });

    it("machine 1: gives up after STACKTUNE_RENDEZVOUS_WAIT_S when the port drops connections (a firewall), not after TCP timeouts", async () => {
        // A listener whose accept queue is full drops new SYNs, as a firewall (an AWS security group)
        // does: a connect then hangs for the kernel's SYN retries (about 2 minutes) instead of failing.
        const holder = spawn("python3", [
            "-c",
            [
                "import socket, sys, time",
                's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
                "filler = socket.create_connection(s.getsockname())",
                "print(s.getsockname()[1], flush=True)",
                "time.sleep(120)",
            ].join("\n"),
        ]);
        try {
            const port = await new Promise<number>((resolve, reject) => {
                holder.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
                holder.once("error", reject);
            });
            const runDir = prepareRunDir(port, 1);
            const started = Date.now();
            const run = await launch(runDir, 20_000);
            const seconds = (Date.now() - started) / 1000;
            // STACKTUNE_RENDEZVOUS_WAIT_S=2: a few seconds, not 2 s of sleeps plus a hung connect per try.
            expect(run.status, `still waiting after ${seconds.toFixed(0)} s with a 2 s limit`).toBe(1);
            expect(run.stderr).toContain(`stacktune: machine 1 cannot reach the main machine at 127.0.0.1:${port}`);
            expect(run.calls).toEqual(["python -m stacktune_train.prepare training.yaml"]);
        } finally {
            holder.kill("SIGKILL");
        }
    });

    it("machine 0: does not wait for a rendezvous, trains with its config, merges, smoke-tests and publishes", async () => {
        const port = await closedPort();
        const runDir = prepareRunDir(port, 0);
        const run = await launch(runDir);
        expect(run.stderr).toBe("");
        expect(run.status).toBe(0);
        expect(timeline(run.events)).toEqual([
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
        expect(run.calls).toEqual([
            "python -m stacktune_train.prepare training.yaml",
            "accelerate launch --config_file accelerate.machine-0.yaml -m stacktune_train.train training.yaml",
            "python -m stacktune_train.merge training.yaml",
            "python -m stacktune_train.smoke training.yaml",
            "python -m stacktune_train.publish training.yaml",
        ]);
        expect(read(runDir, "status")).toBe("succeeded\n");
    });

    it("refuses to start without a machine rank in run.env, before any phase", async () => {
        const runDir = prepareRunDir(await closedPort(), undefined);
        const run = await launch(runDir);
        expect(run.status).not.toBe(0);
        expect(run.stderr).toContain("run.env must set STACKTUNE_MACHINE_RANK on a multi-host run");
        expect(run.events).toEqual([]);
        expect(run.calls).toEqual([]);
    });
});
