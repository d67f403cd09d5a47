// The SSH connection of the command provider stand-in (scripts/lib/pulumi-resource-command.js),
// with the system OpenSSH client, as the upstream provider (pulumi-command v1.2.1,
// provider/pkg/provider/remote/connection.go) connects with Go's ssh library:
//   - `connection.hostKey` set: an authorized_keys-style public key line; the server must present
//     exactly that key (upstream: ssh.FixedHostKey, HostKeyAlgorithms = the key's type), else the
//     dial fails before authentication ("ssh: handshake failed: ssh: host key mismatch") and is
//     retried like any dial error. Unset: not verified. A line that does not parse fails with
//     "failed to parse host key", as upstream.
//   - Dial errors are retried and reported in upstream's words (dialError, withSsh).
//   - The private key never lies in a file: upstream keeps it in memory. Here ssh reads it from a
//     file that is unlinked before the key is written to it, through /proc/<pid>/fd/<n> of this
//     process (ssh closes inherited descriptors, so /dev/fd/<n> would not do). It lives only as long
//     as this process holds the descriptor: a SIGKILL leaves no copy anywhere. (Linux only, like the
//     rest of this stand-in.)
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

/**
 * Lines the OpenSSH client itself writes to stderr (LogLevel INFO): kept out of the command's output,
 * which upstream fills with the remote command's streams only. `Connection to H closed by remote
 * host.` and a keep-alive timeout mean the session ended without an exit status.
 */
const CLIENT_LINE =
    /^(Warning: Permanently added .* to the list of known hosts\.|Connection to \S+ closed by remote host\.|Connection to \S+ closed\.|Timeout, server \S+ not responding\.|client_loop: send disconnect: .*|Read from remote host \S+: .*|Shared connection to \S+ closed\.)\r?$/;
const CONNECTION_LOST =
    /^(Connection to \S+ closed by remote host\.|Timeout, server \S+ not responding\.|client_loop: send disconnect: .*|Read from remote host \S+: .*)\r?$/m;

/**
 * The error upstream's Go SSH client reports for a failed dial (ssh.Dial), from what OpenSSH printed;
 * undefined when ssh got past the handshake. Upstream retries every dial error, authentication
 * failures and host key mismatches included.
 */
function dialError(stderr, addr, key) {
    let m;
    if (key && /^Host key verification failed\./m.test(stderr)) return "ssh: handshake failed: ssh: host key mismatch";
    if (key && (m = /no matching host key type found\. Their offer: (\S+)/m.exec(stderr))) {
        return `ssh: handshake failed: ssh: no common algorithm for host key; client offered: [${key.type}], server offered: [${m[1].split(",").join(" ")}]`;
    }
    if (/^ssh: connect to host \S+ port \d+: Connection refused/m.test(stderr))
        return `dial tcp ${addr}: connect: connection refused`;
    if (/^ssh: connect to host \S+ port \d+: No route to host/m.test(stderr))
        return `dial tcp ${addr}: connect: no route to host`;
    if (/^ssh: connect to host \S+ port \d+: (Connection|Operation) timed out/m.test(stderr))
        return `dial tcp ${addr}: i/o timeout`;
    if ((m = /^ssh: Could not resolve hostname ([^:]+):/m.exec(stderr)))
        return `dial tcp: lookup ${m[1]}: no such host`;
    if (/^\S+: Permission denied \(/m.test(stderr)) {
        return "ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain";
    }
    // Upstream has no deadline on the SSH handshake (its perDialTimeout bounds the TCP connect only)
    // and would wait here; ssh's ConnectTimeout bounds the banner exchange too (docs/TOOLCHAIN.md).
    if (/Connection timed out during banner exchange/m.test(stderr))
        return `ssh: handshake failed: read tcp ${addr}: i/o timeout`;
    if (
        /^(kex_exchange_identification: .*|Connection closed by \S+ port \d+|Connection reset by \S+ port \d+)\r?$/m.test(
            stderr,
        )
    ) {
        return "ssh: handshake failed: EOF";
    }
    return undefined;
}

/**
 * The key of an authorized_keys-style line (`type base64 [comment]`), checked as upstream's
 * ssh.ParseAuthorizedKey checks it: the blob is base64 and names the same type.
 */
function parseHostKey(line) {
    const match = /^(\S+)\s+([A-Za-z0-9+/]+={0,2})(\s.*)?$/.exec(line.trim());
    const blob = match ? Buffer.from(match[2], "base64") : Buffer.alloc(0);
    const length = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
    if (!match || blob.length < 4 + length || blob.subarray(4, 4 + length).toString("latin1") !== match[1]) {
        throw new Error(
            `failed to parse host key: not an OpenSSH public key line (type base64 [comment]): ${JSON.stringify(line.slice(0, 40))}`,
        );
    }
    return { type: match[1], base64: match[2] };
}

/** Algorithms that verify a key of this type: ssh-rsa signs with SHA-2 (OpenSSH refuses SHA-1). */
function hostKeyAlgorithms(type) {
    return type === "ssh-rsa" ? "rsa-sha2-512,rsa-sha2-256" : type;
}

/** Options that verify the server against `hostKey`, or (unset, as upstream) do not verify it. */
function hostKeyOptions(hostKey) {
    const common = ["-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null"];
    if (hostKey === undefined || hostKey === null) return { options: ["-o", "StrictHostKeyChecking=no", ...common] };
    const key = parseHostKey(hostKey);
    return {
        key,
        options: [
            "-o",
            "StrictHostKeyChecking=yes",
            ...common,
            "-o",
            "CheckHostIP=no",
            // The only known host: a line matching any name, printed by ssh itself (no file).
            "-o",
            `KnownHostsCommand=/bin/echo * ${key.type} ${key.base64}`,
            "-o",
            `HostKeyAlgorithms=${hostKeyAlgorithms(key.type)}`,
        ],
    };
}

/**
 * The private key as a path ssh can open while this process lives, and nothing on disk: the file
 * is created empty (0600, exclusive), unlinked, and only then written through the descriptor.
 */
function openKeyInMemory(privateKey) {
    const dir = fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();
    const name = path.join(dir, `stacktune-ssh-${process.pid}-${crypto.randomBytes(6).toString("hex")}`);
    const fd = fs.openSync(name, "wx+", 0o600);
    fs.unlinkSync(name);
    fs.writeSync(fd, privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`);
    return { path: `/proc/${process.pid}/fd/${fd}`, close: () => fs.closeSync(fd) };
}

/** Upstream's dial retry delays (pulumi sdk retry.Until defaults): 100 ms, growing 1.5x, at most 5 s. */
function retryDelayMs(failures) {
    return Math.min(100 * 1.5 ** (failures - 1), 5000);
}

/**
 * Calls fn(ssh) with an SSH session for the (revealed) connection: `ssh.run(tool, flags, operands,
 * opts)` runs `ssh`, `scp` or `sftp` with the connection's options, the tool's flags, `--` (so no
 * operand, user or host starting with `-` is ever read as an option) and the operands, through
 * `spawner(argv, opts)`. As upstream, a failed dial is retried until dialErrorLimit dials have
 * failed after the first (-1: forever), each retry announced through `status(message)` (upstream's
 * ephemeral "Dial 1/10 failed: retrying"), and then fails with `after N failed attempts: <error>`.
 * The result's `stderr` holds the remote stderr only; `lost` is true when the session ended without
 * an exit status (upstream's "wait: remote command exited without exit status or exit signal").
 */
async function withSsh(conn, spawner, fn, status = () => {}) {
    if (!conn.host) throw new Error("connection.host is required");
    if (conn.proxy) throw new Error("connection.proxy is not supported by this command provider");
    if (!conn.privateKey && !process.env.SSH_AUTH_SOCK && !conn.agentSocketPath) {
        throw new Error(
            "connection.privateKey is required (password logins are not supported by this command provider)",
        );
    }
    const port = conn.port ?? 22;
    const user = conn.user ?? "root";
    const dialErrorLimit = conn.dialErrorLimit ?? 10;
    const perDialTimeout = conn.perDialTimeout ?? 15;
    const addr = `${conn.host}:${port}`;
    const verify = hostKeyOptions(conn.hostKey);

    const key = conn.privateKey ? openKeyInMemory(conn.privateKey) : undefined;
    try {
        const options = [
            "-o",
            "BatchMode=yes",
            ...verify.options,
            // INFO, not ERROR: ssh then says when the connection was lost (CLIENT_LINE), which
            // tells a lost session from a command that exited 255.
            "-o",
            "LogLevel=INFO",
            "-o",
            `ConnectTimeout=${perDialTimeout}`,
            // A dead connection (host gone, network dropped) fails the command within a minute
            // instead of hanging the update.
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "ServerAliveCountMax=4",
        ];
        if (key) options.push("-i", key.path, "-o", "IdentitiesOnly=yes");
        if (conn.agentSocketPath) options.push("-o", `IdentityAgent=${conn.agentSocketPath}`);

        const run = async (tool, flags, operands, opts) => {
            const portFlag = tool === "ssh" ? "-p" : "-P";
            for (let failures = 1; ; failures++) {
                const result = await spawner([tool, portFlag, String(port), ...options, ...flags, "--", ...operands], {
                    ...opts,
                    clientLine: CLIENT_LINE,
                });
                // A spawner that does not split off the client's lines (clientLine) leaves them in stderr.
                const clientStderr = result.clientStderr ?? result.stderr;
                const error = result.code === 255 ? dialError(clientStderr, addr, verify.key) : undefined;
                if (error === undefined)
                    return { ...result, lost: result.code === 255 && CONNECTION_LOST.test(clientStderr) };
                if (dialErrorLimit >= 0 && failures > dialErrorLimit)
                    throw new Error(`after ${dialErrorLimit} failed attempts: ${error}`);
                status(`Dial ${failures}/${dialErrorLimit < 0 ? "inf" : dialErrorLimit} failed: retrying`);
                await new Promise((r) => setTimeout(r, retryDelayMs(failures)));
            }
        };
        return await fn({ run, user, host: conn.host });
    } finally {
        key?.close();
    }
}
module.exports = { withSsh };
