import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { JobHost } from "./command";
import { preflightCommand } from "./preflight";
import { sshReachability } from "./reach";

export interface SshHostArgs {
    /** Address of the existing machine. */
    host: string;
    /** @default 22 */
    port?: number;
    /** Login user; runs live under its home directory. */
    user: string;
    /** The private key for the connection; a Pulumi secret, used only in the connection. */
    privateKey: pulumi.Input<string>;
    /**
     * The machine's host key (`ssh-ed25519 AAAA…`, OpenSSH public key line), which every connection
     * verifies before it authenticates or sends anything: a server without it gets no secret.
     */
    hostKey: string;
    /** GPUs the machine has and the job uses; 0 skips GPU checks. */
    gpus: number;
    /** @default 24 */
    gpuMemoryGb?: number;
    /** @default 100 */
    minFreeDiskGb?: number;
    runtime: "docker" | "venv";
    /** venv runtime: the interpreter that creates the environment, checked by the preflight. @default undefined */
    python?: string;
    /** @default "~/.stacktune/runs" */
    runRoot?: string;
    /**
     * Connection attempts before giving up; with {@link perDialTimeoutSeconds} this bounds how long
     * an unreachable host takes to fail (the reachability probe waits their product). @default 3
     */
    dialErrorLimit?: number;
    /** @default 10 */
    perDialTimeoutSeconds?: number;
}

export const DEFAULT_RUN_ROOT = "~/.stacktune/runs";

/** The SSH connection of an existing machine; the key is wrapped as a secret. */
export function sshConnection(args: SshHostArgs): command.types.input.remote.ConnectionArgs {
    return {
        host: args.host,
        port: args.port ?? 22,
        user: args.user,
        privateKey: pulumi.secret(args.privateKey),
        hostKey: args.hostKey,
        dialErrorLimit: args.dialErrorLimit ?? 3,
        perDialTimeout: args.perDialTimeoutSeconds ?? 10,
    };
}

/**
 * An existing machine reached over SSH. Registers nothing on it but a preflight check; destroy
 * leaves the machine as it was (the job removes its own run directory).
 */
export class SshHost extends pulumi.ComponentResource {
    public readonly address: pulumi.Output<string>;
    public readonly preflight: command.remote.Command;
    public readonly jobHost: JobHost;

    constructor(name: string, args: SshHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("stacktune:ssh:Host", name, {}, opts);
        const connection = sshConnection(args);
        const port = args.port ?? 22;
        // The program bounds the wait itself: the provider's SSH handshake has no deadline.
        const reach = sshReachability(
            `${name}-reach`,
            connection,
            `that the machine is up, that its sshd listens on port ${port} (stacktune:target.host, stacktune:target.port), and that no firewall drops the connection`,
            { parent: this },
        );
        this.preflight = new command.remote.Command(
            `${name}-preflight`,
            {
                connection,
                create: preflightCommand({
                    gpus: args.gpus,
                    gpuMemoryGb: args.gpuMemoryGb ?? 24,
                    minFreeDiskGb: args.minFreeDiskGb ?? 100,
                    runtime: args.runtime,
                    python: args.python,
                    runRoot: args.runRoot ?? DEFAULT_RUN_ROOT,
                }),
                addPreviousOutputInEnv: false,
            },
            { parent: this, dependsOn: [reach] },
        );
        this.address = pulumi.output(`${args.user}@${args.host}:${args.port ?? 22}`);
        this.jobHost = {
            kind: "ssh",
            address: this.address,
            connection,
            gpus: args.gpus,
            ready: [this.preflight],
            releaseAction: "none",
        };
        this.registerOutputs({ address: this.address, preflight: this.preflight.stdout });
    }
}
