// How `stacktune status|logs` reach a stack's machines: from the host access the program saved in
// the state (src/hosts/access.ts), read back as `pulumi stack export --show-secrets` shows it, for
// every target alike (an aws stack has no key file, only the secret key the program used).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import { describe, expect, it } from "vitest";
import { hostAccessFromState, machineShell } from "../src/cli/stacktune/hostAccess";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb";
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nCANARY-cli-key-77aa\n-----END OPENSSH PRIVATE KEY-----";
const SECRET_SIG = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };
const RUN_DIR = `~/.stacktune/runs/${"ab".repeat(32)}`;

/** The exported deployment of an aws stack with two machines, as the Automation API returns it. */
function deployment(keys: unknown = { ...SECRET_SIG, plaintext: JSON.stringify([KEY, KEY]) }) {
    return {
        resources: [
            { type: "pulumi:pulumi:Stack", outputs: {} },
            {
                type: "stacktune:hosts:HostAccess",
                outputs: {
                    access: {
                        runDir: RUN_DIR,
                        machines: [
                            { rank: 0, ssh: { host: "198.51.100.23", port: 22, user: "ubuntu", hostKey: HOST_KEY } },
                            { rank: 1, ssh: { host: "198.51.100.24", port: 22, user: "ubuntu", hostKey: HOST_KEY } },
                        ],
                    },
                    sshPrivateKeys: keys,
                },
            },
        ],
    };
}

const keyFiles = (): string[] => fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("stacktune-key-"));

describe("stacktune status|logs: reaching the hosts through what the program saved in the state", () => {
    it("reads the run directory, each machine's connection and its key from the state", () => {
        const access = hostAccessFromState(deployment());
        expect(access?.runDir).toBe(RUN_DIR);
        expect(access?.machines.map((m) => [m.rank, m.ssh?.host, m.privateKey])).toEqual([
            [0, "198.51.100.23", KEY],
            [1, "198.51.100.24", KEY],
        ]);
        expect(hostAccessFromState({ resources: [{ type: "pulumi:pulumi:Stack", outputs: {} }] })).toBeUndefined();
    });

    it("hands ssh the key as an unlinked file this process holds open (no copy on disk) and pins the machine's host key", () => {
        const before = keyFiles();
        const shell = machineShell(hostAccessFromState(deployment())!, 1, "uptime", "aws-g5");
        expect(shell.command).toBe("ssh");
        const keyPath = shell.args[1]!;
        expect(keyPath).toMatch(new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
        expect(shell.args.slice(2, 4)).toEqual(["-p", "22"]);
        expect(shell.args).toContain(`KnownHostsCommand=/bin/echo * ${HOST_KEY}`);
        expect(shell.args.slice(-3)).toEqual(["--", "ubuntu@198.51.100.24", "uptime"]);
        expect(keyFiles()).toEqual(before);
        // What ssh reads on that descriptor: the key, its last newline restored, from a 0600 file.
        const read = spawnSync("bash", ["-c", 'stat -L -c %a "$1" && cat "$1"', "read", keyPath], { encoding: "utf8" });
        expect(read.stdout).toBe(`600\n${KEY}\n`);
        shell.cleanup();
        expect(fs.existsSync(keyPath)).toBe(false);
    });

    it("runs a machine without SSH (the local target) here, and names the ranks the last run had", () => {
        const local = hostAccessFromState({
            resources: [
                {
                    type: "stacktune:hosts:HostAccess",
                    outputs: {
                        access: { runDir: RUN_DIR, machines: [{ rank: 0 }] },
                        sshPrivateKeys: { ...SECRET_SIG, plaintext: '[""]' },
                    },
                },
            ],
        })!;
        expect(machineShell(local, 0, "echo hi", "local-demo")).toMatchObject({
            command: "bash",
            args: ["-c", "echo hi"],
        });
        expect(() => machineShell(local, 2, "echo hi", "local-demo")).toThrow(
            "--machine 2: the last `stacktune run local-demo` had 1 machine(s), ranks 0 to 0",
        );
    });

    it("says what to check when the state's key is still ciphertext", () => {
        const access = hostAccessFromState(deployment({ ...SECRET_SIG, ciphertext: "v1:abc" }))!;
        expect(() => machineShell(access, 0, "uptime", "aws-g5")).toThrow(
            "the state of aws-g5 holds no SSH key for machine 0",
        );
    });
});
