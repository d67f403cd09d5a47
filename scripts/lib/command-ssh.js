// The SSH connection of the command provider stand-in (scripts/lib/pulumi-resource-command.js),
// with the system OpenSSH client, as the upstream provider (pulumi-command v1.2.1,
// provider/pkg/provider/remote/connection.go) connects with Go's ssh library:
//   - `connection.hostKey` set: an authorized_keys-style public key line; the server must present
//     exactly that key (upstream: ssh.FixedHostKey, HostKeyAlgorithms = the key's type), else the
//     dial fails before authentication and is retried like any dial error. Unset: not verified.
//     A line that does not parse fails with "failed to parse host key", as upstream.
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
 * ssh exit status 255 with one of these stderr lines means the connection was never made (retry).
 * A connection lost mid-command ("Connection to H closed by remote host", "Read from remote host ...")
 * is not retried: the command may have run.
 */
const DIAL_ERROR = /^(ssh: connect to host|Connection timed out during banner exchange|ssh: Could not resolve|kex_exchange_identification|Connection closed by|Connection reset by \S+ port)/m;
/** The server did not present the pinned host key (a dial error upstream too: retried). */
const HOST_KEY_ERROR = /^(Host key verification failed\.|Unable to negotiate with .* no matching host key type found)/m;

/** The fingerprint OpenSSH shows for a public key blob: SHA256:<unpadded base64>. */
function fingerprint(blob) {
    return `SHA256:${crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
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
        throw new Error(`failed to parse host key: not an OpenSSH public key line (type base64 [comment]): ${JSON.stringify(line.slice(0, 40))}`);
    }
    return { type: match[1], base64: match[2], fingerprint: fingerprint(blob) };
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
            "-o", "StrictHostKeyChecking=yes",
            ...common,
            "-o", "CheckHostIP=no",
            // The only known host: a line matching any name, printed by ssh itself (no file).
            "-o", `KnownHostsCommand=/bin/echo * ${key.type} ${key.base64}`,
            "-o", `HostKeyAlgorithms=${hostKeyAlgorithms(key.type)}`,
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

/**
 * Calls fn(ssh) with an SSH session for the (revealed) connection: `ssh.run(tool, flags, operands,
 * opts)` runs `ssh` or `scp` with the connection's options, the tool's flags, `--` (so no operand,
 * user or host starting with `-` is ever read as an option) and the operands, through
 * `spawner(argv, opts)`, retrying dial failures up to dialErrorLimit.
 */
async function withSsh(conn, spawner, fn) {
    if (!conn.host) throw new Error("connection.host is required");
    if (conn.proxy) throw new Error("connection.proxy is not supported by this command provider");
    if (!conn.privateKey && !process.env.SSH_AUTH_SOCK && !conn.agentSocketPath) {
        throw new Error("connection.privateKey is required (password logins are not supported by this command provider)");
    }
    const port = conn.port ?? 22;
    const user = conn.user ?? "root";
    const dialErrorLimit = conn.dialErrorLimit ?? 10;
    const perDialTimeout = conn.perDialTimeout ?? 15;
    const where = `${user}@${conn.host}:${port}`;
    const verify = hostKeyOptions(conn.hostKey);

    const key = conn.privateKey ? openKeyInMemory(conn.privateKey) : undefined;
    try {
        const options = [
            "-o", "BatchMode=yes",
            ...verify.options,
            "-o", "LogLevel=ERROR",
            "-o", `ConnectTimeout=${perDialTimeout}`,
            // A dead connection (host gone, network dropped) fails the command within a minute
            // instead of hanging the update.
            "-o", "ServerAliveInterval=15",
            "-o", "ServerAliveCountMax=4",
        ];
        if (key) options.push("-i", key.path, "-o", "IdentitiesOnly=yes");
        if (conn.agentSocketPath) options.push("-o", `IdentityAgent=${conn.agentSocketPath}`);

        const run = async (tool, flags, operands, opts) => {
            const portFlag = tool === "scp" ? "-P" : "-p";
            for (let dial = 1; ; dial++) {
                const result = await spawner([tool, portFlag, String(port), ...options, ...flags, "--", ...operands], opts);
                const hostKeyError = result.code === 255 && verify.key !== undefined && HOST_KEY_ERROR.test(result.stderr);
                const dialError = hostKeyError || (result.code === 255 && DIAL_ERROR.test(result.stderr));
                if (dialError && (dialErrorLimit < 0 || dial < dialErrorLimit)) {
                    await new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** (dial - 1), 5000)));
                    continue;
                }
                if (hostKeyError) {
                    const presented = /key sent by the remote host is\s+(SHA256:\S+?)\.?$/m.exec(result.stderr);
                    throw new Error(
                        `host key verification failed for ${where}: it did not present the ${verify.key.type} host key of ` +
                            `connection.hostKey (${verify.key.fingerprint})` +
                            (presented ? `, it presented ${presented[1]}` : "") +
                            ` (after ${dial} attempt(s)); nothing was sent to it`,
                    );
                }
                if (dialError) {
                    throw new Error(`cannot connect to ${where} after ${dial} attempt(s): ${result.stderr.trim()}`);
                }
                return result;
            }
        };
        return await fn({ run, user, host: conn.host, where });
    } finally {
        key?.close();
    }
}

module.exports = { withSsh };
