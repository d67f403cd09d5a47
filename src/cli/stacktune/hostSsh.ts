/** Where `stacktune status|logs` connects: one machine of an ssh target. */
export interface HostSshTarget {
    user: string;
    host: string;
    port: number;
    /** The operator's private key file (`target.privateKeyPath`, `~` expanded). */
    keyPath: string;
    /** The machine's host key from the settings (`ssh-ed25519 AAAA…`, comment optional). */
    hostKey: string;
}

/**
 * Host key algorithms that verify a pinned key of this type: an `ssh-rsa` key signs with SHA-2
 * (OpenSSH no longer accepts SHA-1 signatures), every other type is its own algorithm.
 */
function hostKeyAlgorithms(keyType: string): string {
    return keyType === "ssh-rsa" ? "rsa-sha2-512,rsa-sha2-256" : keyType;
}

/**
 * `ssh` arguments that run `script` on the machine. The host key is the only one trusted
 * (KnownHostsCommand prints it, no known_hosts file is read or written), so another server on the
 * address fails before authentication; `--` ends the options, so a user or host starting with `-`
 * can never become one (`-oProxyCommand=…`).
 */
export function hostSshArgs(target: HostSshTarget, script: string): string[] {
    const [keyType = "", keyBlob = ""] = target.hostKey.split(" ");
    return [
        "-i",
        target.keyPath,
        "-p",
        String(target.port),
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "CheckHostIP=no",
        // A known_hosts line matching any host name: the pinned key is checked whatever the address is called.
        "-o",
        `KnownHostsCommand=/bin/echo * ${keyType} ${keyBlob}`,
        "-o",
        `HostKeyAlgorithms=${hostKeyAlgorithms(keyType)}`,
        "-o",
        "LogLevel=ERROR",
        "--",
        `${target.user}@${target.host}`,
        script,
    ];
}
