/** The ssh target's hosts: one SshHost (preflight over a verified connection) per machine. */
import { SshHost } from "../../hosts/ssh";
import { clusterMachines, type SshTarget } from "../../settings";
import type { HostFactory } from "../hostTypes";

export const createSshHosts: HostFactory<SshTarget> = ({ name, plan, secrets, runRoot, parent, runtime, python }) => {
    const target = plan.settings.target;
    const privateKey = secrets.sshPrivateKey;
    // The settings refuse an ssh target without a key (rule ssh-needs-one-key) or a host key (schema).
    if (privateKey === undefined) throw new TypeError("the ssh target reached the program without its SSH key");
    // Machine 0 keeps the single-host name; each machine gets its own preflight.
    const hosts = clusterMachines(target).map((machine) => {
        if (machine.hostKey === undefined)
            throw new TypeError(`machine ${machine.rank} of the ssh target reached the program without a host key`);
        return new SshHost(
            machine.rank === 0 ? name : `${name}-${machine.rank}`,
            {
                host: machine.host ?? "",
                port: machine.port ?? target.port,
                user: machine.user ?? target.user,
                hostKey: machine.hostKey,
                privateKey,
                gpus: target.gpus,
                gpuMemoryGb: target.gpuMemoryGb,
                minFreeDiskGb: target.minFreeDiskGb,
                runtime,
                python,
                runRoot,
            },
            { parent },
        );
    });
    const [primary] = hosts;
    if (primary === undefined) throw new TypeError("the ssh target reached the program without a machine");
    return { primary, jobHosts: hosts.map((h) => h.jobHost) };
};
