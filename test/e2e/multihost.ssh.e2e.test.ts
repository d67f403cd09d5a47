/**
 * Issue 8, item 3: one training job across two machines, for real, on CPU. Two OpenSSH servers on
 * 127.0.0.1 (different ports, different login users, one shared client key) stand in for the two
 * machines of an `ssh` target with `hosts:`; `pulumi up` stages the run on both, accelerate's
 * multi-node launch (torchrun, static rendezvous on machine 0, gloo) trains the tiny model once
 * across them, and only machine 0 merges and smoke-tests.
 *
 * Then the same experiment on one machine with the same global batch (one process of 4 instead of
 * two of 2): the step count and the trained tokens must be equal, which they are only if the two
 * machines split the data between them rather than each training on all of it.
 *
 * Then a spot interruption (issue 12, item 5): an IMDSv2 stand-in serves the notice mid-run, both
 * machines save their own checkpoint of the same step into one shared store (as one S3 bucket is),
 * both are "replaced" (their local checkpoints gone), and the next `up` resumes both at that step,
 * each from its own copy, ending at the step count and trained tokens of an uninterrupted run.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareSharedHostPython } from "./fixtures/host-python";
import { startImds, type ImdsStandIn } from "./fixtures/imds";
import { startSshd, type Sshd } from "./fixtures/sshd";
import { copyProject, E2E_PASSPHRASE, writeStackConfig, type PulumiProject } from "./helpers/project";
import { stacktuneRunner } from "./helpers/stacktune";
import { shellQuote } from "../../src/render/shell";

const REPO = resolve(__dirname, "..", "..");
const USERS = ["stacktune-mh0", "stacktune-mh1"] as const;
const TWO = "mh";
const ONE = "mh-single";
const SPOT = "mh-spot";
// The spot run trains EPOCHS epochs of TWO's data, so an uninterrupted run is EPOCHS times TWO's.
const EPOCHS = 3;

let machines: Sshd[] = [];
let shared: ReturnType<typeof prepareSharedHostPython>;
let sharedDir: string;
let project: PulumiProject;
let imds: ImdsStandIn;
let checkpointStore: string;
const stacktune = stacktuneRunner(() => project, E2E_PASSPHRASE);

function settingsYaml(target: string, batch: { perDevice: number; epochs?: number; checkpointSteps?: number }): string {
    return `config:
  stacktune:target:
${target}
    privateKeyPath: ${machines[0]?.privateKeyPath}
    gpus: 0
    minFreeDiskGb: 1
  stacktune:runtime:
    kind: venv
    python: python3
    path: ${shared.venvPath}
  stacktune:model:
    id: ${shared.modelPath}
  stacktune:dataset:
    source: python/stacktune_train/data/demo.jsonl
    testSize: 0.25
    numSamples: 40
  stacktune:quantization:
    load4bit: false
  stacktune:training:
    epochs: ${batch.epochs ?? 1}
    maxLength: 128
    perDeviceTrainBatchSize: ${batch.perDevice}
    gradientAccumulationSteps: 1
    gradientCheckpointing: false
    bf16: false
    loggingSteps: 1
  stacktune:distributed:
    strategy: ddp
    rendezvousPort: ${29400 + Math.floor(Math.random() * 500)}
    socketInterface: lo
  stacktune:attention:
    implementation: sdpa
  stacktune:evaluation:
    strategy: no
    maxSamples: 4
  stacktune:checkpointing:
${batch.checkpointSteps === undefined ? "    strategy: no" : `    strategy: steps\n    steps: ${batch.checkpointSteps}`}
  stacktune:tracking:
    kind: none
  stacktune:budget:
    maxHours: 1
`;
}

const twoMachines = () =>
    [
        "    kind: ssh",
        `    user: ${USERS[0]}`,
        "    hosts:",
        ...machines.flatMap((m) => [
            `      - host: 127.0.0.1`,
            `        port: ${m.port}`,
            `        user: ${m.user}`,
            `        hostKey: ${m.knownHostsLine.split(" ").slice(1).join(" ")}`,
        ]),
    ].join("\n");

const oneMachine = () =>
    [
        "    kind: ssh",
        "    host: 127.0.0.1",
        `    port: ${machines[0]?.port}`,
        `    user: ${USERS[0]}`,
        `    hostKey: ${machines[0]?.knownHostsLine.split(" ").slice(1).join(" ")}`,
    ].join("\n");

/** Whether a run.env names `stack`, written by the one quoting rule (src/render/shell.ts) as run.env is. */
const runEnvNamesStack = (runEnv: string, stack: string) =>
    runEnv.split("\n").includes(`STACKTUNE_STACK=${shellQuote(stack)}`);
const runRoot = (m: Sshd) => join(m.home, ".stacktune", "runs");
const runDirs = (m: Sshd) => (existsSync(runRoot(m)) ? readdirSync(runRoot(m)).map((d) => join(runRoot(m), d)) : []);
const jobLog = (m: Sshd) =>
    runDirs(m)
        .map((d) => (existsSync(join(d, "job.log")) ? readFileSync(join(d, "job.log"), "utf8") : ""))
        .join("\n");
const runDirOf = (m: Sshd, stack: string) =>
    runDirs(m).find(
        (d) => existsSync(join(d, "run.env")) && runEnvNamesStack(readFileSync(join(d, "run.env"), "utf8"), stack),
    );
const readIn = (dir: string | undefined, file: string) =>
    dir !== undefined && existsSync(join(dir, file)) ? readFileSync(join(dir, file), "utf8") : "";
/** Every `STACKTUNE_PROGRESS` step of a log, in order. */
const progressSteps = (log: string) =>
    [...log.matchAll(/^STACKTUNE_PROGRESS \{"phase":"train","step":(\d+)/gm)].map((m) => Number(m[1]));

/** The last `STACKTUNE_PROGRESS` line of a log: step and total steps. */
function lastProgress(log: string): { step: number; total: number } | undefined {
    const lines = log.split("\n").filter((l) => l.startsWith("STACKTUNE_PROGRESS "));
    const last = lines.at(-1);
    return last === undefined
        ? undefined
        : (JSON.parse(last.slice("STACKTUNE_PROGRESS ".length)) as { step: number; total: number });
}

async function outputsOf(stack: string): Promise<Record<string, unknown>> {
    const r = await project.pulumi(["stack", "output", "--json", "--stack", stack]);
    expect(r.code, r.output).toBe(0);
    return JSON.parse(r.output) as Record<string, unknown>;
}

beforeAll(async () => {
    const first = await startSshd({ user: USERS[0] });
    const second = await startSshd({ user: USERS[1], clientKeyPath: first.privateKeyPath });
    machines = [first, second];
    sharedDir = mkdtempSync(join(tmpdir(), "stacktune-mh-shared-"));
    shared = prepareSharedHostPython(machines, REPO, sharedDir);
    project = copyProject(REPO, "multihost");
    writeStackConfig(project.stackFile(TWO), settingsYaml(twoMachines(), { perDevice: 2 }));
    writeStackConfig(project.stackFile(ONE), settingsYaml(oneMachine(), { perDevice: 4 }));
    writeStackConfig(
        project.stackFile(SPOT),
        settingsYaml(twoMachines(), { perDevice: 2, epochs: EPOCHS, checkpointSteps: 2 }),
    );
    imds = await startImds();
    // One store for both machines' checkpoints, writable by both login users.
    checkpointStore = mkdtempSync(join(tmpdir(), "stacktune-mh-store-"));
    chmodSync(checkpointStore, 0o777);
    for (const stack of [TWO, ONE, SPOT]) expect((await project.pulumi(["stack", "init", stack])).code).toBe(0);
});

afterAll(async () => {
    for (const m of machines) await m.stop();
    await imds?.stop();
    if (process.env.STACKTUNE_E2E_KEEP !== "1") {
        if (project !== undefined) rmSync(resolve(project.dir, ".."), { recursive: true, force: true });
        if (sharedDir !== undefined) rmSync(sharedDir, { recursive: true, force: true });
        if (checkpointStore !== undefined) rmSync(checkpointStore, { recursive: true, force: true });
    }
});

describe("one job across two SSH machines (accelerate multi-node, gloo, CPU)", () => {
    let twoMachineRun: { step: number; total: number; tokens: number } | undefined;

    it("pulumi up trains once across both machines; machine 0 merges and smoke-tests", async () => {
        const up = await project.pulumi(["up", "--yes", "--stack", TWO]);
        expect(up.code, up.output.slice(-5000)).toBe(0);
        const [main, worker] = machines as [Sshd, Sshd];

        // One training launch on each machine, and each machine's log shows its own rank of the two.
        expect(shared.trainingStarts(main)).toBe(1);
        expect(shared.trainingStarts(worker)).toBe(1);
        const mainLog = jobLog(main);
        const workerLog = jobLog(worker);
        expect(mainLog).toContain("[train] process 0 of 2 (local 0, MULTI_CPU, backend gloo)");
        expect(workerLog).toContain("[train] process 1 of 2 (local 0, MULTI_CPU, backend gloo)");
        expect(workerLog).toMatch(/machine 1 reached the rendezvous at 127\.0\.0\.1:\d+/);

        // Merge, smoke test and publish on machine 0 only.
        expect(mainLog).toContain('STACKTUNE_PHASE {"phase":"smoke","event":"end"');
        expect(workerLog).toContain(
            'STACKTUNE_PHASE {"phase":"merge","event":"skip","elapsed_s":0,"detail":"main machine only"}',
        );
        expect(workerLog).toContain(
            'STACKTUNE_PHASE {"phase":"smoke","event":"skip","elapsed_s":0,"detail":"main machine only"}',
        );
        expect(mainLog).toContain('STACKTUNE_PHASE {"phase":"publish","event":"end"');
        expect(workerLog).toContain(
            'STACKTUNE_PHASE {"phase":"publish","event":"skip","elapsed_s":0,"detail":"main machine only"}',
        );
        const store = join(main.home, ".stacktune", "models", TWO);
        expect(existsSync(join(store, "config.json"))).toBe(true);
        expect(existsSync(join(store, "tokenizer.json"))).toBe(true);
        expect(existsSync(join(worker.home, ".stacktune", "models", TWO))).toBe(false);

        const outputs = await outputsOf(TWO);
        expect(outputs.status).toBe("succeeded");
        expect(outputs.hostAddress).toBe(`${USERS[0]}@127.0.0.1:${main.port}`);
        expect(outputs.machines).toEqual([
            { rank: 0, address: `${USERS[0]}@127.0.0.1:${main.port}`, status: "succeeded" },
            { rank: 1, address: `${USERS[1]}@127.0.0.1:${worker.port}`, status: "succeeded" },
        ]);
        const progress = lastProgress(mainLog);
        expect(progress).toBeDefined();
        expect(progress?.step).toBe(progress?.total);
        const tokens = (outputs.metrics as { train_tokens: number }).train_tokens;
        expect(tokens).toBeGreaterThan(0);
        twoMachineRun = { step: progress?.step ?? -1, total: progress?.total ?? -1, tokens };
    });

    it("stacktune status reads the job on every machine; logs --machine N reads that machine's log", async () => {
        const status = await stacktune(["status", TWO]);
        expect(status.code, status.output).toBe(0);
        expect(status.output).toMatch(/ {2}job, machine 0 {4}succeeded \(starts: 1\)\n/);
        expect(status.output).toMatch(/ {2}job, machine 1 {4}succeeded \(starts: 1\)\n/);

        const main = await stacktune(["logs", TWO]);
        expect(main.code, main.output).toBe(0);
        // stacktune prints the job's progress and phase lines formatted for reading.
        expect(main.output).toContain("[train] process 0 of 2 (local 0, MULTI_CPU, backend gloo)");
        expect(main.output).toMatch(/\[smoke\] done after \d+s/);
        const worker = await stacktune(["logs", TWO, "--machine", "1"]);
        expect(worker.code, worker.output).toBe(0);
        expect(worker.output).toContain("[train] process 1 of 2 (local 0, MULTI_CPU, backend gloo)");
        expect(worker.output).toContain("[smoke] skipped: main machine only");
        expect(worker.output).not.toMatch(/\[smoke\] done after/);

        const none = await stacktune(["logs", TWO, "--machine", "2"]);
        expect(none.code).toBe(2);
        expect(none.output).toContain(`--machine 2: the last \`stacktune run ${TWO}\` had 2 machine(s), ranks 0 to 1`);
    });

    it("a second up changes nothing and starts nothing on either machine", async () => {
        const up = await project.pulumi(["up", "--yes", "--stack", TWO]);
        expect(up.code, up.output.slice(-3000)).toBe(0);
        expect(up.output).not.toMatch(/[~+-] +command:remote:Command/);
        for (const m of machines) expect(shared.trainingStarts(m)).toBe(1);
    });

    it("has the step count and trained tokens of the same global batch on one machine", async () => {
        const [main] = machines as [Sshd, Sshd];
        const up = await project.pulumi(["up", "--yes", "--stack", ONE]);
        expect(up.code, up.output.slice(-5000)).toBe(0);
        const single = (await outputsOf(ONE)).metrics as { train_tokens: number };
        const singleRunDir = runDirs(main).find((d) => runEnvNamesStack(readFileSync(join(d, "run.env"), "utf8"), ONE));
        expect(singleRunDir).toBeDefined();
        const progress = lastProgress(readFileSync(join(singleRunDir ?? "", "job.log"), "utf8"));
        expect(twoMachineRun).toBeDefined();
        expect(progress?.total).toBe(twoMachineRun?.total);
        expect(progress?.step).toBe(twoMachineRun?.step);
        expect(single.train_tokens).toBe(twoMachineRun?.tokens);
    });

    it("spot notice mid-run: both machines stop at one step, save their own checkpoints, and resume there on new disks", async () => {
        const [main] = machines as [Sshd, Sshd];
        // What a spot instance's environment gives the job: the metadata service (here the stand-in,
        // polled by spot-watch.sh) and a checkpoint store shared by the machines (here one directory).
        for (const m of machines) {
            m.setUserEnvironment({
                STACKTUNE_IMDS_ENDPOINT: imds.url,
                STACKTUNE_SPOT_POLL_SECONDS: "0.5",
                STACKTUNE_CHECKPOINT_STORE: checkpointStore,
            });
        }
        // The notice comes once machine 0 has trained past its first checkpoint.
        let noticeAt = 0;
        const watch = setInterval(() => {
            if (noticeAt === 0 && progressSteps(readIn(runDirOf(main, SPOT), "job.log")).some((step) => step >= 3))
                noticeAt = imds.serveNotice();
        }, 200);
        const first = await project.pulumi(["up", "--yes", "--stack", SPOT]).finally(() => clearInterval(watch));
        expect(noticeAt, first.output.slice(-3000)).toBeGreaterThan(0);
        expect(first.code).not.toBe(0);
        const dirs = machines.map((m) => runDirOf(m, SPOT));
        const stopped = dirs.map((dir) => {
            expect(readIn(dir, "job.status").trim()).toBe("preempted");
            return (JSON.parse(readIn(dir, "preempted.json")) as { step: number }).step;
        });
        const step = stopped[0] ?? -1;
        expect(stopped).toEqual([step, step]); // one step boundary on both machines
        expect(step).toBeGreaterThanOrEqual(3);
        // Each machine's own copy, side by side in the one store, each with its own process's RNG state.
        for (const rank of [0, 1]) {
            const stored = join(checkpointStore, `machine-${rank}`, `checkpoint-${step}`);
            expect(existsSync(join(stored, ".stacktune-complete"))).toBe(true);
            expect(existsSync(join(stored, `rng_state_${rank}.pth`))).toBe(true);
        }

        // New instances: no machine keeps its local checkpoints; the notice is gone.
        for (const dir of dirs) rmSync(join(dir ?? "", "checkpoints"), { recursive: true, force: true });
        imds.clearNotice();
        const second = await project.pulumi(["up", "--yes", "--stack", SPOT]);
        expect(second.code, second.output.slice(-5000)).toBe(0);
        for (const dir of dirs) {
            const log = readIn(dir, "job.log");
            expect(log).toMatch(
                new RegExp(`restored (checkpoint-\\d+, )?checkpoint-${step} from the checkpoint store`),
            );
            expect(log).toContain(`[train] resuming from checkpoints/checkpoint-${step}`);
            expect(readIn(dir, "starts").trim()).toBe("2");
        }

        // Every step trained once across the two attempts, as many as an uninterrupted run.
        expect(twoMachineRun).toBeDefined();
        const total = EPOCHS * (twoMachineRun?.total ?? 0);
        const steps = [...progressSteps(readIn(dirs[0], "job.1.log")), ...progressSteps(readIn(dirs[0], "job.log"))];
        expect(steps).toEqual(Array.from({ length: total }, (_, i) => i + 1));
        expect(lastProgress(readIn(dirs[0], "job.log"))?.total).toBe(total);
        const metrics = (await outputsOf(SPOT)).metrics as { train_tokens: number };
        expect(metrics.train_tokens).toBe(EPOCHS * (twoMachineRun?.tokens ?? 0));
        for (const m of machines) m.setUserEnvironment({});
    });

    it("after a destroy, machine 0's store still holds the model: the next up trains on neither machine", async () => {
        const down = await project.pulumi(["destroy", "--yes", "--stack", TWO]);
        expect(down.code, down.output.slice(-3000)).toBe(0);
        // Machine 0's account also ran the one-machine stack: compare with the counts before this up.
        const before = machines.map((m) => shared.trainingStarts(m));
        const up = await project.pulumi(["up", "--yes", "--stack", TWO]);
        expect(up.code, up.output.slice(-4000)).toBe(0);
        expect(up.output).toContain("the main machine already holds the model");
        expect(machines.map((m) => shared.trainingStarts(m))).toEqual(before);
        expect(((await outputsOf(TWO)).machines as { status: string }[]).map((m) => m.status)).toEqual([
            "succeeded",
            "succeeded",
        ]);
    });

    it("destroy leaves no run directory and no stacktune process on either machine", async () => {
        for (const stack of [TWO, ONE, SPOT]) {
            const down = await project.pulumi(["destroy", "--yes", "--stack", stack]);
            expect(down.code, down.output.slice(-3000)).toBe(0);
        }
        for (const m of machines) {
            expect(runDirs(m)).toEqual([]);
            const processes = spawnSync("pgrep", ["-a", "-u", m.user], { encoding: "utf8" })
                .stdout.split("\n")
                .filter((l) => l.trim() !== "" && !/^\d+ (sshd|\[sshd\])/.test(l));
            expect(processes).toEqual([]);
        }
    });
});
