/** The machines of an ssh target, in machine-rank order: `host`, or each entry of `hosts`. */
import type { ClusterMachine } from "../types";
import type { SshMachine, SshTarget } from "./settings";

export function sshMachines(target: SshTarget): ClusterMachine[] {
    const machines: SshMachine[] = target.hosts ?? [{ host: target.host ?? "", port: target.port }];
    return machines.map((m, rank) => ({
        rank,
        host: m.host,
        port: m.port ?? target.port,
        user: m.user ?? target.user,
        clusterAddress: m.clusterAddress ?? m.host,
        ...((m.hostKey ?? target.hostKey) !== undefined ? { hostKey: m.hostKey ?? target.hostKey } : {}),
    }));
}
