import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { HOST_ACCESS_TYPE, type HostAccess, type MachineAccess } from "../../hosts/access";
import { hostSshArgs } from "./hostSsh";

/** A machine as `stacktune status|logs` reach it: its connection and, for SSH, the key the program used. */
export interface ReachableMachine extends MachineAccess {
    privateKey?: string;
}

export interface StackHostAccess {
    runDir: string;
    machines: ReachableMachine[];
}

/** A secret of `pulumi stack export --show-secrets`: `{<sig>: …, plaintext: "<JSON>"}`; undefined when still ciphertext. */
function revealed(value: unknown): unknown {
    if (value === null || typeof value !== "object" || !("plaintext" in value)) return value;
    const text = value.plaintext;
    return typeof text === "string" ? JSON.parse(text) : undefined;
}

/**
 * The program's host access (src/hosts/access.ts) from the stack's exported state (the Automation
 * API's exportStack, which shows secrets); undefined when no `up` has got as far as the hosts.
 */
export function hostAccessFromState(deployment: {
    resources?: { type?: string; outputs?: Record<string, unknown> }[];
}): StackHostAccess | undefined {
    const record = (deployment.resources ?? []).find((r) => r.type === HOST_ACCESS_TYPE);
    const access = record?.outputs?.access as HostAccess | undefined;
    if (access === undefined || typeof access.runDir !== "string" || !Array.isArray(access.machines)) return undefined;
    const keys = revealed(record?.outputs?.sshPrivateKeys);
    return {
        runDir: access.runDir,
        machines: access.machines.map((machine) => {
            const key = Array.isArray(keys) ? (keys as unknown[])[machine.rank] : undefined;
            return typeof key === "string" && key !== "" ? { ...machine, privateKey: key } : machine;
        }),
    };
}

/** A command that runs a script on one machine; `cleanup` once it has ended. */
export interface MachineShell {
    command: string;
    args: string[];
    cleanup: () => void;
}

/**
 * A shell on machine `rank`: bash here for a machine without SSH (the local target), else ssh with
 * the pinned host key and the stack's key. The key goes to ssh as `/proc/<this pid>/fd/<n>`, an
 * unlinked 0600 file this process holds open until {@link MachineShell.cleanup}: no copy stays on
 * disk, even when this process is killed. (Not an inherited descriptor: ssh closes those first.)
 */
export function machineShell(access: StackHostAccess, rank: number, script: string, stackName: string): MachineShell {
    const machine = access.machines.find((m) => m.rank === rank);
    if (machine === undefined) {
        const count = access.machines.length;
        throw new RangeError(
            `--machine ${rank}: the last \`stacktune run ${stackName}\` had ${count} machine(s), ranks 0 to ${count - 1}`,
        );
    }
    if (machine.ssh === undefined) return { command: "bash", args: ["-c", script], cleanup: () => undefined };
    if (machine.privateKey === undefined) {
        throw new Error(
            `the state of ${stackName} holds no SSH key for machine ${rank} (its secrets cannot be read): check the stack's passphrase`,
        );
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-key-"));
    let fd: number;
    try {
        const file = path.join(dir, "key");
        // A key read back from Pulumi config may have lost its last newline, without which OpenSSH cannot load it.
        fs.writeFileSync(file, machine.privateKey.endsWith("\n") ? machine.privateKey : `${machine.privateKey}\n`, {
            mode: 0o600,
        });
        fd = fs.openSync(file, "r");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return {
        command: "ssh",
        args: hostSshArgs({ ...machine.ssh, keyPath: `/proc/${process.pid}/fd/${fd}` }, script),
        cleanup: () => fs.closeSync(fd),
    };
}
