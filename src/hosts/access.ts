import * as pulumi from "@pulumi/pulumi";
import { JobHost } from "./command";
import { resolvedConnection } from "./reach";

/**
 * How `stacktune status|logs` reach the job, as the program exports it: the run directory (the same
 * on every machine) and each machine's SSH connection. A machine without one (the local target)
 * runs its commands on this machine. Nothing here is secret: the host key is public.
 */
export interface HostAccess {
    runDir: string;
    machines: MachineAccess[];
}

export interface MachineAccess {
    rank: number;
    ssh?: { host: string; port: number; user: string; hostKey: string };
}

/** The resource type of {@link HostAccessRecord}: the CLI finds it in the stack's state by it. */
export const HOST_ACCESS_TYPE = "stacktune:hosts:HostAccess";

/**
 * The host access in the stack's state, written as soon as the hosts are known. Not (only) a stack
 * output: Pulumi writes stack outputs when the whole program resolves, so an `up` whose job fails or
 * is killed leaves none (or the previous experiment's), while this component's outputs are saved
 * when they resolve, before the job runs. Its outputs: `access` ({@link HostAccess}, plain) and
 * `sshPrivateKeys` (each machine's key by rank, "" for none; a Pulumi secret, ciphertext in state).
 */
export class HostAccessRecord extends pulumi.ComponentResource {
    public readonly access: pulumi.Output<HostAccess>;

    constructor(name: string, args: { runDir: string; hosts: JobHost[] }, opts?: pulumi.ComponentResourceOptions) {
        super(HOST_ACCESS_TYPE, name, {}, opts);
        const machines = args.hosts.map((host, rank) =>
            host.connection === undefined
                ? pulumi.output<MachineAccess>({ rank })
                : resolvedConnection(host.connection).apply((c): MachineAccess => ({
                      rank,
                      ssh: { host: c.host, port: c.port, user: c.user, hostKey: c.hostKey },
                  })),
        );
        // The connection is secret as a whole (it holds the key); its address and host key are not.
        this.access = pulumi.unsecret(pulumi.all(machines).apply((list) => ({ runDir: args.runDir, machines: list })));
        const keys = pulumi.secret(
            pulumi.all(args.hosts.map((host) => pulumi.output(host.connection?.privateKey ?? ""))),
        );
        this.registerOutputs({ access: this.access, sshPrivateKeys: keys });
    }
}
