#!/usr/bin/env node
// Stand-in for the Pulumi command provider plugin (pulumi-resource-command v1.2.1), installed by
// scripts/setup.sh in the plugin cache so that programs written against the @pulumi/command 1.2.1
// SDK run unchanged where the upstream binary is not installed (docs/TOOLCHAIN.md says when).
//
// It implements the part of upstream's behaviour that stacktune uses, on the same wire contract
// (resource types, input and output property names), and behaves as upstream does
// (provider/pkg/provider/{local,remote}/*.go at v1.2.1) in what a user or program can observe:
//   command:local:Command   `create` on create, `update` (or `create`) on update, `delete` on
//                            delete, through `interpreter` (default /bin/sh -c), with `stdin`,
//                            `environment` and `dir`; outputs stdout/stderr (one trailing newline trimmed).
//   command:remote:Command  the same over SSH with the system OpenSSH client (scripts/lib/command-ssh.js:
//                            hostKey verified, dial errors retried and worded as upstream, key kept off
//                            disk); `environment` goes as SSH env requests, and a name sshd refuses fails.
//   command:remote:CopyToRemote  SFTP upload of a FileAsset, StringAsset or FileArchive of a directory,
//                            with upstream's path rules; delete leaves the files, as upstream.
// Output lines stream as ephemeral status lines (upstream's InfoStatus); a failure is
// `<exit error>: running "<cmd>":` followed by the whole output; stdout/stderr are never secret
// (upstream marks an output secret only when its same-named input is), `connection` always is.
// Not implemented (they fail with a clear error): remote:CopyFile, local:run, password or proxy
// connections, assetPaths/archivePaths, URI and in-memory archives.
"use strict";

const childProcess = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const repoRoot = path.resolve(__dirname, "..", "..");
const sdkRequire = (id) => require(require.resolve(id, { paths: [process.cwd(), repoRoot] }));

const pulumi = sdkRequire("@pulumi/pulumi");
const grpc = sdkRequire("@grpc/grpc-js");
const engineGrpc = sdkRequire("@pulumi/pulumi/proto/engine_grpc_pb");
const engineProto = sdkRequire("@pulumi/pulumi/proto/engine_pb");
const { withSsh } = require("./command-ssh");

const VERSION = "1.2.1";
const COPY_TO_REMOTE = "command:remote:CopyToRemote";
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const OUTPUT_KEYS = new Set(["stdout", "stderr"]);

function isSecret(v) {
    return v !== null && typeof v === "object" && v[SIG_KEY] === SECRET_SIG;
}

/** Plain value of an input that the engine may have wrapped as a secret (at any depth). */
function reveal(v) {
    if (isSecret(v)) return reveal(v.value);
    if (Array.isArray(v)) return v.map(reveal);
    if (v !== null && typeof v === "object") {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
    }
    return v;
}

// urn:pulumi:<stack>::<project>::<parent type>$<parent type>$<type>::<name>: a resource inside a
// component carries its parents' types before its own, and a name may itself contain "::".
function typeOf(urn) {
    return urn.split("::")[2].split("$").pop();
}

function nameOf(urn) {
    return urn.split("::").slice(3).join("::");
}

let engine;
/** Log calls are chained so that lines reach the Pulumi output in the order the command wrote them. */
let logQueue = Promise.resolve();
/**
 * Logs to the engine. `ephemeral`: a status line (upstream's InfoStatus), shown only while the
 * resource is in progress and never kept in the update's diagnostics.
 */
function engineLog(urn, message, { severity = engineProto.LogSeverity.INFO, ephemeral = false } = {}) {
    if (!engine) return;
    const req = new engineProto.LogRequest();
    req.setSeverity(severity);
    req.setMessage(message);
    req.setUrn(urn);
    req.setEphemeral(ephemeral);
    logQueue = logQueue.then(() => new Promise((resolve) => engine.log(req, () => resolve())));
}

/** Calls onLine(line, complete) for each line written to the returned sink (the last may lack its newline). */
function lineSplitter(onLine) {
    let rest = "";
    return {
        write(chunk) {
            rest += chunk.toString("utf8");
            let nl;
            while ((nl = rest.indexOf("\n")) >= 0) {
                onLine(rest.slice(0, nl), true);
                rest = rest.slice(nl + 1);
            }
        },
        end() {
            if (rest) onLine(rest, false);
            rest = "";
        },
    };
}

/**
 * Runs argv, feeding stdin, streaming output lines to the Pulumi output as status lines; resolves
 * with {code, signal, stdout, stderr, output (both, as written), clientStderr}. Stderr lines matching
 * `clientLine` are the SSH client's own: kept out of the outputs and shown nowhere, but returned in
 * clientStderr (with the rest of stderr) for telling dial and connection errors apart.
 */
function spawnStreaming(urn, argv, { cwd, env, stdin, logging, clientLine }) {
    return new Promise((resolve, reject) => {
        const child = childProcess.spawn(argv[0], argv.slice(1), { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
        const out = [];
        const err = [];
        const all = [];
        const client = [];
        const show = (stream) =>
            logging === "none" ? false : logging === undefined || logging === "stdoutAndStderr" || logging === stream;
        const sink = (stream, lines) =>
            lineSplitter((line, complete) => {
                const text = complete ? `${line}\n` : line;
                if (stream === "stderr" && clientLine?.test(line)) {
                    client.push(text);
                    return;
                }
                lines.push(text);
                all.push(text);
                client.push(text);
                if (show(stream)) engineLog(urn, line, { ephemeral: true });
            });
        const outLines = sink("stdout", out);
        const errLines = sink("stderr", err);
        child.stdout.on("data", (b) => outLines.write(b));
        child.stderr.on("data", (b) => errLines.write(b));
        child.on("error", reject);
        child.on("close", async (code, signal) => {
            outLines.end();
            errLines.end();
            await logQueue;
            resolve({
                code,
                signal,
                stdout: out.join(""),
                stderr: err.join(""),
                output: all.join(""),
                clientStderr: client.join(""),
            });
        });
        child.stdin.on("error", () => {});
        child.stdin.end(stdin ?? "");
    });
}

function trimNewline(s) {
    return s.endsWith("\n") ? s.slice(0, -1) : s;
}

/** Go's strconv.Quote (the %q of upstream's error text): printable characters kept, the rest escaped. */
function goQuote(s) {
    const named = {
        "\x07": "\\a",
        "\b": "\\b",
        "\f": "\\f",
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        "\v": "\\v",
        '"': '\\"',
        "\\": "\\\\",
    };
    let out = "";
    for (const ch of s) {
        const cp = ch.codePointAt(0);
        if (named[ch]) out += named[ch];
        else if (/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch)) out += ch;
        else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, "0")}`;
        else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
        else out += `\\U${cp.toString(16).padStart(8, "0")}`;
    }
    return `"${out}"`;
}

/** Go's os/exec ProcessState text for a signal, as upstream's local error shows it. */
const SIGNAL_TEXT = {
    SIGKILL: "killed",
    SIGTERM: "terminated",
    SIGINT: "interrupt",
    SIGHUP: "hangup",
    SIGPIPE: "broken pipe",
    SIGABRT: "aborted",
    SIGSEGV: "segmentation fault",
    SIGQUIT: "quit",
};

/** Upstream's error for a failed command: `<exit error>: running "<cmd>":` and the whole output. */
function commandFailed(exitError, cmd, output) {
    return new Error(`${exitError}: running ${goQuote(cmd)}:\n${output}`);
}

/** Environment for a command: PULUMI_COMMAND_STDOUT/STDERR carry the previous outputs, as upstream. */
function commandEnvironment(props, previous) {
    const env = { ...(reveal(props.environment) ?? {}) };
    if (previous && props.addPreviousOutputInEnv !== false) {
        if (previous.stdout) env.PULUMI_COMMAND_STDOUT = reveal(previous.stdout);
        if (previous.stderr) env.PULUMI_COMMAND_STDERR = reveal(previous.stderr);
    }
    return env;
}

async function runLocal(urn, props, cmd, previous) {
    const interpreter = reveal(props.interpreter) ?? ["/bin/sh", "-c"];
    const result = await spawnStreaming(urn, [...interpreter, cmd], {
        cwd: reveal(props.dir) || process.cwd(),
        env: { ...process.env, ...commandEnvironment(props, previous) },
        stdin: reveal(props.stdin),
        logging: reveal(props.logging),
    });
    if (result.signal)
        throw commandFailed(`signal: ${SIGNAL_TEXT[result.signal] ?? result.signal}`, cmd, result.output);
    if (result.code !== 0) throw commandFailed(`exit status ${result.code}`, cmd, result.output);
    return { stdout: trimNewline(result.stdout), stderr: trimNewline(result.stderr) };
}

/** The connection of props, for `withSsh` (scripts/lib/command-ssh.js): hostKey, key, dial retries. */
function sshSession(urn, props, fn) {
    const spawner = (argv, opts) => spawnStreaming(urn, argv, opts);
    return withSsh(reveal(props.connection) ?? {}, spawner, fn, (message) =>
        engineLog(urn, message, { ephemeral: true }),
    );
}

/** Upstream's words when sshd refuses an environment name (remote/commandOutputs.go, logAndWrapSetenvErr). */
function setenvRefused(name) {
    return (
        `Unable to set '${name}'. This only works if your SSH server is configured to accept\n` +
        "\tthese variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could\n" +
        "\tprefix the command itself with the variables in the form 'VAR=value command'"
    );
}

/**
 * The names of `env` that sshd did not apply. OpenSSH's client sends env requests without asking
 * for a reply (upstream's Go client asks, and fails on a refusal), so one session sent the same
 * names lists the ones missing on the host. Values travel only as env requests, never in text.
 */
async function refusedNames(ssh, env) {
    const names = Object.keys(env);
    if (names.length === 0) return [];
    const probe = `for n in ${names.map(shellQuote).join(" ")}; do printenv "$n" >/dev/null || printf '%s\\n' "$n"; done`;
    const result = await ssh.run(
        "ssh",
        names.flatMap((n) => ["-o", `SendEnv=${n}`]),
        [`${ssh.user}@${ssh.host}`, probe],
        {
            env: { ...process.env, ...env },
            logging: "none",
        },
    );
    if (result.code !== 0) throw commandFailed(`Process exited with status ${result.code}`, probe, result.output);
    return result.stdout.split("\n").filter(Boolean);
}

async function runRemote(urn, props, cmd, previous) {
    const env = { ...(reveal(props.environment) ?? {}) };
    const previousOutputs = commandEnvironment({ addPreviousOutputInEnv: props.addPreviousOutputInEnv }, previous);
    return sshSession(urn, props, async (ssh) => {
        // As upstream: a refused name of `environment` is an error, a refused previous output a warning.
        const refused = await refusedNames(ssh, { ...env, ...previousOutputs });
        for (const name of refused.filter((n) => n in previousOutputs)) {
            engineLog(urn, setenvRefused(name), { severity: engineProto.LogSeverity.WARNING });
            delete previousOutputs[name];
        }
        const refusedEnv = refused.filter((n) => n in env);
        if (refusedEnv.length > 0) {
            engineLog(urn, setenvRefused(refusedEnv[0]), { severity: engineProto.LogSeverity.ERROR });
            throw new Error(`could not set environment variable ${goQuote(refusedEnv[0])}: ssh: setenv failed`);
        }
        const all = { ...env, ...previousOutputs };
        // Values travel in the ssh process's environment and as SSH env requests, never on a command line.
        const sendEnv = Object.keys(all).flatMap((name) => ["-o", `SendEnv=${name}`]);
        const result = await ssh.run("ssh", sendEnv, [`${ssh.user}@${ssh.host}`, cmd], {
            env: { ...process.env, ...all },
            stdin: reveal(props.stdin),
            logging: reveal(props.logging),
        });
        if (result.lost)
            throw commandFailed("wait: remote command exited without exit status or exit signal", cmd, result.output);
        if (result.code !== 0) throw commandFailed(`Process exited with status ${result.code}`, cmd, result.output);
        return { stdout: trimNewline(result.stdout), stderr: trimNewline(result.stderr) };
    });
}

const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
const ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7";

function shellQuote(s) {
    return `'${s.replace(/'/g, "'\\''")}'`;
}

/**
 * A remote path as upstream's SFTP client uses it: a relative one from the login directory, and `~`
 * a plain name (OpenSSH's sftp would expand a leading ~, hence "./"), quoted for an sftp batch line.
 */
function sftpArg(p) {
    if (/[\r\n]/.test(p))
        throw new Error(`remote path ${goQuote(p)} contains a line break, which an SFTP batch cannot carry`);
    const relative = p.startsWith("/") ? p : `./${p}`;
    return `"${relative.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Batch lines creating p and its parents, ignoring those that exist (upstream: sftp MkdirAll). */
function mkdirAll(p) {
    const parts = p.split("/");
    const lines = [];
    for (let i = 1; i <= parts.length; i++) {
        const prefix = parts.slice(0, i).join("/");
        if (prefix !== "" && prefix !== ".") lines.push(`-mkdir ${sftpArg(prefix)}`);
    }
    return lines;
}

/** "dir", "file" or "missing": what is at p on the host (relative to the login directory). */
async function remoteKind(ssh, p) {
    const q = shellQuote(p);
    const probe = `if [ -d ${q} ]; then echo dir; elif [ -e ${q} ]; then echo file; else echo missing; fi`;
    const result = await ssh.run("ssh", [], [`${ssh.user}@${ssh.host}`, probe], { logging: "none" });
    if (result.code !== 0) throw new Error(`failed to stat remote path ${p}: ${result.output.trim()}`);
    return result.stdout.trim();
}

/**
 * A copy of the source under dir with the modes a new SFTP file gets upstream (created without
 * attributes: 0666/0777 less the server's umask, 0644/0755 with the usual 022): modes are not kept.
 */
function stageWithoutModes(source, dir) {
    const staged = path.join(dir, "src");
    fs.cpSync(source, staged, { recursive: true, dereference: true });
    const reset = (p) => {
        const st = fs.statSync(p);
        fs.chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
        if (st.isDirectory()) for (const name of fs.readdirSync(p)) reset(path.join(p, name));
    };
    reset(staged);
    return staged;
}

/**
 * remote:CopyToRemote over SFTP with upstream's rules (remote/copyController.go): a directory goes
 * inside remotePath (created with its parents when missing; a trailing "/" on the source copies its
 * contents instead), a file goes inside an existing directory or to remotePath, a text asset to
 * remotePath (never a directory); parents are created; modes are not kept; delete leaves the files.
 */
async function copyToRemote(urn, props) {
    const source = reveal(props.source) ?? {};
    const remotePath = reveal(props.remotePath);
    if (!remotePath) throw new Error("remotePath is required");
    const isText = source[SIG_KEY] === ASSET_SIG && typeof source.text === "string";
    const isFile = source[SIG_KEY] === ASSET_SIG && typeof source.path === "string";
    const isDir =
        source[SIG_KEY] === ARCHIVE_SIG && typeof source.path === "string" && fs.statSync(source.path).isDirectory();
    if (!isText && !isFile && !isDir) {
        throw new Error("CopyToRemote supports FileAsset, StringAsset and FileArchive of a directory as source");
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-copy-"));
    try {
        let local;
        if (isText) {
            local = path.join(tmp, "src");
            fs.writeFileSync(local, source.text, { mode: 0o644 });
        } else {
            local = stageWithoutModes(source.path, tmp);
        }
        await sshSession(urn, props, async (ssh) => {
            const kind = await remoteKind(ssh, remotePath);
            const batch = [];
            let dest = remotePath;
            if (isText) {
                if (kind === "dir")
                    throw new Error(
                        `remote path ${remotePath} is a directory; when using a text asset, remotePath must be a file path`,
                    );
                batch.push(...mkdirAll(path.posix.dirname(dest)), `put "${local}" ${sftpArg(dest)}`);
            } else if (isDir) {
                if (kind === "missing") batch.push(...mkdirAll(dest));
                if (!source.path.endsWith("/")) {
                    dest = path.posix.join(dest, path.basename(source.path));
                    if (kind === "file") throw new Error(`failed to stat remote path ${dest}: not a directory`);
                    if (kind === "dir" && (await remoteKind(ssh, dest)) === "file")
                        throw new Error(`remote path ${dest} exists but is not a directory`);
                }
                batch.push(`put -r "${local}" ${sftpArg(dest)}`);
            } else {
                if (kind === "dir") dest = path.posix.join(dest, path.basename(source.path));
                else if (kind === "missing") batch.push(...mkdirAll(path.posix.dirname(dest)));
                batch.push(`put "${local}" ${sftpArg(dest)}`);
            }
            const copy = await ssh.run("sftp", ["-q", "-b", "-"], [`${ssh.user}@${ssh.host}`], {
                stdin: `${batch.join("\n")}\n`,
                logging: "none",
            });
            if (copy.code !== 0) throw new Error(`failed to copy to remote path ${dest}: ${copy.output.trim()}`);
        });
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

function runner(urn) {
    switch (typeOf(urn)) {
        case "command:local:Command":
            return runLocal;
        case "command:remote:Command":
            return runRemote;
        default:
            throw new Error(
                `${typeOf(urn)} is not implemented by this command provider (see scripts/lib/pulumi-resource-command.js)`,
            );
    }
}

/**
 * Outputs as upstream's (pulumi-go-provider infer) are: the inputs again, each as secret as it came,
 * `connection` always secret (provider:"secret"), and stdout/stderr plain: no input shares their
 * name, so a secret stdin does not make them secret. A program that needs them secret says so
 * (additionalSecretOutputs, pulumi.secret).
 */
function withOutputs(inputs, outputs = {}) {
    const outs = { ...inputs, ...outputs };
    if (outs.connection !== undefined && !isSecret(outs.connection))
        outs.connection = { [SIG_KEY]: SECRET_SIG, value: outs.connection };
    return outs;
}

function inputsOf(props) {
    return Object.fromEntries(Object.entries(props).filter(([k]) => !OUTPUT_KEYS.has(k)));
}

function unsupportedInputs(props) {
    for (const key of ["assetPaths", "archivePaths"]) {
        if (props[key] !== undefined) throw new Error(`${key} is not supported by this command provider`);
    }
}

function sameValue(a, b) {
    return JSON.stringify(reveal(a) ?? null) === JSON.stringify(reveal(b) ?? null);
}

const provider = {
    version: VERSION,

    async check(_urn, _olds, news) {
        return { inputs: news };
    },

    async diff(_id, _urn, olds, news) {
        const keys = new Set([...Object.keys(inputsOf(olds)), ...Object.keys(inputsOf(news))]);
        const changed = [...keys].filter((k) => !sameValue(olds[k], news[k]));
        return {
            changes: changed.length > 0,
            replaces: changed.filter((k) => k === "triggers"),
            deleteBeforeReplace: false,
        };
    },

    async create(urn, inputs) {
        if (typeOf(urn) === COPY_TO_REMOTE) {
            await copyToRemote(urn, inputs);
            return { id: `${nameOf(urn)}${crypto.randomBytes(4).toString("hex")}`, outs: withOutputs(inputs) };
        }
        runner(urn);
        unsupportedInputs(inputs);
        const id = `${nameOf(urn)}${crypto.randomBytes(4).toString("hex")}`;
        const create = reveal(inputs.create);
        const outputs = create ? await runner(urn)(urn, inputs, create, undefined) : { stdout: "", stderr: "" };
        return { id, outs: withOutputs(inputs, outputs) };
    },

    async update(_id, urn, olds, news) {
        if (typeOf(urn) === COPY_TO_REMOTE) {
            // As upstream: copied again only when the source's hash or the remote path changed.
            const changed =
                reveal(news.source)?.hash !== reveal(olds.source)?.hash ||
                reveal(news.remotePath) !== reveal(olds.remotePath);
            if (changed) await copyToRemote(urn, news);
            return { outs: withOutputs(news) };
        }
        unsupportedInputs(news);
        const cmd = reveal(news.update) ?? reveal(news.create);
        const outputs = cmd
            ? await runner(urn)(urn, news, cmd, olds)
            : { stdout: reveal(olds.stdout) ?? "", stderr: reveal(olds.stderr) ?? "" };
        return { outs: withOutputs(news, outputs) };
    },

    async delete(_id, urn, props) {
        if (typeOf(urn) === COPY_TO_REMOTE) return;
        const cmd = reveal(props.delete);
        if (cmd) await runner(urn)(urn, props, cmd, props);
    },

    async read(id, _urn, props) {
        return { id, props, inputs: props ? inputsOf(props) : undefined };
    },
};

const args = process.argv.slice(2);
const engineAddress = args.find((a) => /^[^-].*:\d+$/.test(a));
if (engineAddress) engine = new engineGrpc.EngineClient(engineAddress, grpc.credentials.createInsecure());
pulumi.provider.main(provider, args);

// The engine starts this plugin and normally stops it; a SIGKILLed engine cannot, and the plugin
// would be re-parented and live on. Its parent changing means the engine is gone: exit too. (A
// running command's remote job is unaffected: it is detached on the host by design.)
const enginePid = process.ppid;
setInterval(() => {
    if (process.ppid !== enginePid) process.exit(0);
}, 2000).unref();
