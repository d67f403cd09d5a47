/** The ssh target's settings (`stacktune:target` with `kind: ssh`): one machine or several, each with its host key. */
import { z } from "zod";
import { settingsDefaults } from "../../settings/defaults";
import { HostSchema, TextSchema, UserSchema } from "../../settings/grammar";
import { OwnedMachineGpusSchema } from "../ownedMachine";
import { openSshPublicKeySchema } from "../sshPublicKey";

const defaults = settingsDefaults.target.ssh;

/** The OpenSSH public key types, by who accepts them. */
const HOST_KEY_TYPES = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
] as const;

/**
 * A machine's SSH host key as the command provider's `connection.hostKey` takes it: one OpenSSH
 * public key line (`ssh-ed25519 AAAA…`, comment optional), without the host name of a known_hosts line.
 */
export const SshHostKeySchema = openSshPublicKeySchema(
    HOST_KEY_TYPES,
    "must be one OpenSSH public key line such as `ssh-ed25519 AAAA…` (ssh-keyscan prints it after the host name; leave the host name out)",
);

/** What to do about a missing host key: where it comes from and how to know it is the machine's. */
function missingHostKey(key: string): string {
    return (
        "missing; run `ssh-keyscan -t ed25519 <host>`, check that `ssh-keygen -lf` of its output shows the fingerprint " +
        "the machine itself shows (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on it), and set " +
        `stacktune:${key} to its \`ssh-ed25519 AAAA…\` line`
    );
}

/** One machine of a multi-host `ssh` target (`target.hosts`), in machine-rank order. */
export const SshMachineSchema = z.strictObject({
    /** Address stacktune connects to over SSH. */
    host: HostSchema,
    /** SSH port of this machine; unset = `target.port`. */
    port: z.number().int().min(1).max(65535).optional(),
    /** Login user on this machine; unset = `target.user`. */
    user: UserSchema.optional(),
    /** This machine's SSH host key, verified on every connection (required). */
    hostKey: SshHostKeySchema.optional(),
    /**
     * Address the other machines reach this one at (rendezvous, NCCL): a private-network address
     * when `host` is a public one. Only the main machine's (the first) is used. @default host
     */
    clusterAddress: HostSchema.optional(),
});

/**
 * An existing machine reached over SSH (e.g. an on-prem 4 × RTX 4090 box), or several (`hosts`)
 * that train one job together.
 */
export const SshTargetSchema = z
    .strictObject({
        kind: z.literal("ssh"),
        /** The machine; or list several under `hosts` (exactly one of the two). */
        host: HostSchema.optional(),
        /** @default 22 */
        port: z.number().int().min(1).max(65535).default(defaults.port),
        /** Machines of one multi-host run, machine rank 0 (the main machine) first. */
        hosts: z.array(SshMachineSchema).min(1).max(64).optional(),
        user: UserSchema,
        /**
         * The machine's SSH host key, verified on every connection: whoever else answers on its address
         * gets no secret. Required with `host`; with `hosts`, each entry has its own.
         */
        hostKey: SshHostKeySchema.optional(),
        /** Path of the private key on the operator's machine; or set the secret stacktune:sshPrivateKey. */
        privateKeyPath: TextSchema.optional(),
        /** GPUs the machine has; preflight checks it. @default 4 */
        gpus: OwnedMachineGpusSchema.default(defaults.gpus),
        /** Memory per GPU that preflight requires, in whole GB (the check compares MiB). @default 24 */
        gpuMemoryGb: z.number().int().positive().max(1024).default(defaults.gpuMemoryGb),
        /** Free disk that preflight requires for model, image, data and checkpoints, in whole GB. @default 100 */
        minFreeDiskGb: z.number().int().positive().max(100_000).default(defaults.minFreeDiskGb),
    })
    .superRefine(
        (target, ctx) => {
            if (target.host !== undefined && target.hosts !== undefined)
                ctx.addIssue({
                    code: "custom",
                    path: ["hosts"],
                    params: { complete: true },
                    message:
                        "both target.host and target.hosts are set; keep target.host for one machine, or move it into target.hosts as the first entry",
                });
            if (target.host === undefined && target.hosts === undefined)
                ctx.addIssue({
                    code: "custom",
                    path: ["host"],
                    params: { complete: true },
                    message:
                        "missing; set stacktune:target.host to the machine’s host name or IP address (or list several machines under stacktune:target.hosts)",
                });
            if (target.hosts === undefined && target.host !== undefined && target.hostKey === undefined)
                ctx.addIssue({
                    code: "custom",
                    path: ["hostKey"],
                    params: { complete: true },
                    message: missingHostKey("target.hostKey"),
                });
            if (target.hosts !== undefined && target.host === undefined && target.hostKey !== undefined)
                ctx.addIssue({
                    code: "custom",
                    path: ["hostKey"],
                    params: { complete: true },
                    message:
                        "every machine has its own host key: set it on each entry as stacktune:target.hosts[N].hostKey and remove target.hostKey",
                });
            target.hosts?.forEach((machine, i) => {
                if (typeof machine === "object" && machine !== null && machine.hostKey === undefined)
                    ctx.addIssue({
                        code: "custom",
                        path: ["hosts", i, "hostKey"],
                        params: { complete: true },
                        message: missingHostKey(`target.hosts[${i}].hostKey`),
                    });
            });
        },
        // Also when other keys of the target are wrong: every problem is reported at once.
        { when: (payload) => typeof payload.value === "object" && payload.value !== null },
    );

export type SshTarget = z.infer<typeof SshTargetSchema>;
export type SshMachine = z.infer<typeof SshMachineSchema>;
