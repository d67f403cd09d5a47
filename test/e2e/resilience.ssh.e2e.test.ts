/**
 * Issue 7, item 5 on the `ssh` target: a real OpenSSH server on 127.0.0.1 (non-root user, venv
 * runtime, tiny model, CPU). `stacktune run` is SIGKILLed mid-job together with its `pulumi up`
 * (the operator's laptop is gone); `stacktune status` reads the job on the host over SSH; the next
 * `stacktune run` clears the dead lock and the pending operations and re-attaches to the job that
 * kept running on the host: exactly one job start and one training start. Then `logs` over SSH and
 * `down` (nothing left on the host). The stack sets its key only as a secret (stacktune:sshPrivateKey,
 * as aws stacks do): status and logs find the host and key in what the program saved in the state.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareHostPython, type HostPython } from "./fixtures/host-python";
import { startSshd, type Sshd } from "./fixtures/sshd";
import { copyProject, E2E_PASSPHRASE, writeStackConfig, type PulumiProject } from "./helpers/project";
import { keyFilesInTemp } from "./helpers/key-files";
import { stacktuneRunner } from "./helpers/stacktune";

const REPO = resolve(__dirname, "..", "..");
const USER = "stacktune-resil";
const STACK = "resil";
let sshd: Sshd;
let host: HostPython;
let project: PulumiProject;

const stacktune = stacktuneRunner(() => project, E2E_PASSPHRASE);

const runRoot = () => join(sshd.home, ".stacktune", "runs");
const runDirs = () => (existsSync(runRoot()) ? readdirSync(runRoot()).map((d) => join(runRoot(), d)) : []);

beforeAll(async () => {
    sshd = await startSshd({ user: USER });
    host = prepareHostPython(sshd, REPO);
    project = copyProject(REPO, "resilience-ssh");
    writeStackConfig(
        project.stackFile(STACK),
        `config:
  stacktune:target:
    kind: ssh
    host: 127.0.0.1
    port: ${sshd.port}
    user: ${USER}
    hostKey: ${sshd.knownHostsLine.split(" ").slice(1).join(" ")}
    gpus: 0
    minFreeDiskGb: 1
  stacktune:runtime:
    kind: venv
    python: python3
    path: ${host.venvPath}
  stacktune:model:
    id: ${host.modelPath}
  stacktune:dataset:
    source: python/stacktune_train/data/demo.jsonl
    testSize: 0.25
    numSamples: 40
  stacktune:quantization:
    load4bit: false
  stacktune:training:
    maxSteps: 600
    maxLength: 256
    perDeviceTrainBatchSize: 2
    gradientAccumulationSteps: 1
    gradientCheckpointing: false
    bf16: false
    loggingSteps: 1
  stacktune:distributed:
    strategy: ddp
  stacktune:attention:
    implementation: sdpa
  stacktune:evaluation:
    strategy: no
    maxSamples: 4
  stacktune:checkpointing:
    strategy: steps
    steps: 100
    totalLimit: 1
  stacktune:tracking:
    kind: none
  stacktune:budget:
    maxHours: 1
`,
    );
    // The key only as a secret, as an aws stack has it (no target.privateKeyPath): `stacktune status`
    // and `logs` reach the host through what the program saved in the state.
    expect((await project.pulumi(["stack", "init", STACK])).code).toBe(0);
    expect(
        (
            await project.pulumi(["config", "set", "--secret", "--stack", STACK, "stacktune:sshPrivateKey"], {
                input: sshd.privateKey,
            })
        ).code,
    ).toBe(0);
});

afterAll(async () => {
    for (const child of stacktune.children) {
        if (child.exitCode === null && child.pid !== undefined) {
            try {
                process.kill(-child.pid, "SIGKILL");
            } catch {
                // gone
            }
        }
    }
    // The job runs detached on the host: stop its process group (runner.pid) if a test left it running.
    for (const dir of runDirs()) {
        const pid = existsSync(join(dir, "runner.pid"))
            ? Number(readFileSync(join(dir, "runner.pid"), "utf8").split(" ")[0])
            : 0;
        if (pid > 0) spawnSync("kill", ["-KILL", "--", `-${pid}`]);
    }
    await sshd?.stop();
    if (project !== undefined) rmSync(join(project.dir, ".."), { recursive: true, force: true });
});

describe("stacktune on the ssh target (real engine, real sshd)", () => {
    it("operator SIGKILLed mid-job: status over SSH, the next run recovers and re-attaches, one start", async () => {
        let killed = false;
        const first = await stacktune(["run", STACK], {
            onOutput: (soFar, child) => {
                if (!killed && /\[train\] step \d+\/600/.test(soFar) && child.pid !== undefined) {
                    killed = true;
                    process.kill(-child.pid, "SIGKILL");
                }
            },
        });
        expect(killed, first.output.slice(-3000)).toBe(true);
        // The command provider was killed with the engine mid-connection: no copy of the SSH key is left.
        expect(keyFilesInTemp(sshd.privateKey, [dirname(sshd.privateKeyPath)])).toEqual([]);
        const [runDir] = runDirs();
        expect(runDir).toBeDefined();
        expect(readFileSync(join(runDir!, "job.status"), "utf8").trim()).toBe("running");

        const status = await stacktune(["status", STACK]);
        expect(status.output).toContain("interrupted (its process is gone): `stacktune run` recovers it");
        expect(status.output).toMatch(/ {2}job {15}running \(starts: 1\)/);

        const again = await stacktune(["run", STACK]);
        expect(again.code, again.output.slice(-3000)).toBe(0);
        expect(again.output).toContain("[recover] removed the lock of a killed update");
        expect(again.output).toMatch(/\[recover\] dropped \d+ pending operation\(s\)/);
        expect(again.output).toMatch(/\[attach\] re-attaching to the running job \(pid \d+\), start #1/);
        expect(again.output).toMatch(/ {2}status {12}succeeded\n/);
        expect(readFileSync(join(runDir!, "starts"), "utf8").trim()).toBe("1");
        expect(host.trainingStarts()).toBe(1);

        const logs = await stacktune(["logs", STACK]);
        expect(logs.code, logs.output).toBe(0);
        expect(logs.output).toContain("[train] step 600/600");

        const down = await stacktune(["down", STACK]);
        expect(down.code, down.output.slice(-2000)).toBe(0);
        expect(down.output).toContain(`stacktune: ${STACK} destroyed`);
        expect(runDirs()).toEqual([]);
    });
});
