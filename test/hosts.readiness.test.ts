// The first `up` on a fresh aws instance, with the real prepare-host script and the real readiness
// command: the readiness command's SSH session opens (as the login user, with the groups it has
// then) before cloud-init's prepare-host adds that user to the docker group, and its preflight runs
// once prepare-host is done. Stand-ins for what an instance has: a real user and a real docker
// group (root needed: useradd, groupadd, runuser), and fake nvidia-smi / docker / cloud-init / df
// binaries. The fake docker answers `docker info` only to a process that is in the docker group,
// as the daemon's socket (root:docker 0660) does.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readinessCommand } from "../src/hosts/aws";

const REPO = resolve(__dirname, "..");
const USER = "stacktune-prep";
const isRoot = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), "stacktune-readiness-"));
chmodSync(dir, 0o755);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fake(bin: string, name: string, body: string): void {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
}

function sh(args: string[]): void {
    spawnSync(args[0]!, args.slice(1), { stdio: "ignore" });
}

describe.skipIf(!isRoot)("first up on a fresh instance: the readiness command and the real prepare-host", () => {
    it("the preflight sees the docker group prepare-host gave the login user after the readiness session began", async () => {
        sh(["groupadd", "-f", "docker"]);
        sh(["useradd", "--create-home", "--shell", "/bin/bash", USER]);
        sh(["gpasswd", "-d", USER, "docker"]); // a fresh AMI user: not in the group yet
        const bin = join(dir, "bin");
        const state = join(dir, "state");
        mkdirSync(bin);
        mkdirSync(state, { mode: 0o755 });
        fake(
            bin,
            "nvidia-smi",
            [
                'case "$*" in',
                '  *--list-gpus*) for i in 0 1 2 3; do echo "GPU $i: NVIDIA A10G (UUID: GPU-$i)"; done ;;',
                '  *--query-gpu*) for i in 0 1 2 3; do echo "23028, 595.58.03"; done ;;',
                "esac",
            ].join("\n"),
        );
        fake(bin, "nvidia-ctk", "exit 0");
        fake(bin, "systemctl", "exit 0");
        fake(
            bin,
            "docker",
            [
                'id -nG | tr " " "\\n" | grep -qx docker || { echo "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock" >&2; exit 1; }',
                'case "$*" in *Runtimes*) echo \'{"nvidia":{"path":"nvidia-container-runtime"},"runc":{"path":"runc"}}\' ;; *) echo "Server Version: 28.0.0" ;; esac',
            ].join("\n"),
        );
        // cloud-init's status --wait returns once runcmd (prepare-host) has finished.
        fake(
            bin,
            "cloud-init",
            `until [ -f ${state}/host-ready ] || [ -f ${state}/host-failed ]; do sleep 0.2; done; exit 0`,
        );
        // The instance's 300 GB root volume.
        fake(
            bin,
            "df",
            'echo "Filesystem 1024-blocks Used Available Capacity Mounted on"; echo "/dev/root 314572800 10485760 304087040 4% /"',
        );
        writeFileSync(
            join(dir, "host.env"),
            `STACKTUNE_USER=${USER}\nSTACKTUNE_RUNTIME=docker\nSTACKTUNE_GPUS=4\nSTACKTUNE_DRIVER_TIMEOUT_S=10\n`,
        );
        const path = `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`;

        const readiness = readinessCommand(`${state}/host-ready`, {
            gpus: 4,
            gpuMemoryGb: 24,
            minFreeDiskGb: 100,
            runtime: "docker",
            runRoot: "~/.stacktune/runs",
        });
        // The readiness session: logged in as the user before prepare-host runs, so with its groups of then.
        const session = spawn("runuser", ["-u", USER, "--", "env", `PATH=${path}`, "bash", "-c", readiness], {
            cwd: "/",
            stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        session.stdout.on("data", (d: Buffer) => (output += d.toString()));
        session.stderr.on("data", (d: Buffer) => (output += d.toString()));
        const code = new Promise<number>((r) => session.on("close", (c) => r(c ?? -1)));
        await new Promise((r) => setTimeout(r, 500));

        const prepare = spawnSync("bash", [join(REPO, "cloud-init", "prepare-host.sh")], {
            env: { PATH: path, STACKTUNE_HOST_ENV: join(dir, "host.env"), STACKTUNE_STATE_DIR: state },
            encoding: "utf8",
        });
        expect(prepare.status, prepare.stderr).toBe(0);
        expect(spawnSync("id", ["-nG", USER], { encoding: "utf8" }).stdout.split(/\s+/)).toContain("docker");

        expect(await code, output).toBe(0);
        expect(output).toContain("stacktune preflight: ok (docker runtime, 4 GPU(s) required)");
        sh(["gpasswd", "-d", USER, "docker"]);
    }, 60_000);
});
