#!/usr/bin/env node
// Stand-in for the Pulumi command provider plugin (pulumi-resource-command v1.2.1), installed by
// scripts/setup.sh as .tools/bin/pulumi-resource-command so that programs written against the
// @pulumi/command 1.2.1 SDK run unchanged.
//
// Why this exists: the Go module proxy refuses the provider's module
// (github.com/pulumi/pulumi-command/provider, HTTP 403) and nothing else may be downloaded here.
// This implements the part of the provider's behaviour that stacktune uses, on the same wire
// contract (resource types, input and output property names):
//   command:local:Command   run `create` on create, `update` (or `create`) on update, `delete` on
//                            delete, through `interpreter` (default /bin/sh -c), with `stdin`,
//                            `environment` and `dir`; outputs stdout/stderr (trailing newline trimmed).
//   command:remote:Command  the same over SSH with the system OpenSSH client: `connection`
//                            {host, port, user, privateKey, hostKey, dialErrorLimit, perDialTimeout}
//                            (scripts/lib/command-ssh.js: hostKey verified as upstream, key kept off disk);
//                            `environment` is sent like the upstream provider does (SSH "env"
//                            requests, which sshd applies only for names in its AcceptEnv).
// A change to `triggers` replaces the resource; any other input change is an update; a change to
// `stdout`/`stderr` alone is never a diff. Output lines stream into the Pulumi output as they come;
// stdout/stderr are stored as secrets when any input is a secret (as upstream).
//   command:remote:CopyToRemote  scp of a FileAsset, StringAsset or FileArchive of a directory to
//                            `remotePath` (parents created); delete leaves the files, as upstream.
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
/** Lines of combined output quoted in the error of a failed command. */
const ERROR_TAIL_LINES = 50;

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
function engineLog(urn, message, severity = engineProto.LogSeverity.INFO) {
    if (!engine) return;
    const req = new engineProto.LogRequest();
    req.setSeverity(severity);
    req.setMessage(message);
    req.setUrn(urn);
    logQueue = logQueue.then(() => new Promise((resolve) => engine.log(req, () => resolve())));
}

/** Calls onLine for each complete line written to the returned sink. */
function lineSplitter(onLine) {
    let rest = "";
    return {
        write(chunk) {
            rest += chunk.toString("utf8");
            let nl;
            while ((nl = rest.indexOf("\n")) >= 0) {
                onLine(rest.slice(0, nl));
                rest = rest.slice(nl + 1);
            }
        },
        end() {
            if (rest) onLine(rest);
            rest = "";
        },
    };
}

/**
 * Runs argv, feeding stdin, streaming output lines to the Pulumi output; resolves with
 * {code, stdout, stderr, combined}.
 */
function spawnStreaming(urn, argv, { cwd, env, stdin, logging }) {
    return new Promise((resolve, reject) => {
        const child = childProcess.spawn(argv[0], argv.slice(1), { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
        const out = [];
        const err = [];
        const combined = [];
        const show = (stream) => logging === "none" ? false : logging === undefined || logging === "stdoutAndStderr" || logging === stream;
        const sink = (stream) =>
            lineSplitter((line) => {
                combined.push(line);
                if (show(stream)) engineLog(urn, line);
            });
        const outLines = sink("stdout");
        const errLines = sink("stderr");
        child.stdout.on("data", (b) => {
            out.push(b);
            outLines.write(b);
        });
        child.stderr.on("data", (b) => {
            err.push(b);
            errLines.write(b);
        });
        child.on("error", reject);
        child.on("close", async (code, signal) => {
            outLines.end();
            errLines.end();
            await logQueue;
            resolve({
                code: code ?? (signal ? 128 : 1),
                signal,
                stdout: Buffer.concat(out).toString("utf8"),
                stderr: Buffer.concat(err).toString("utf8"),
                combined,
            });
        });
        child.stdin.on("error", () => {});
        child.stdin.end(stdin ?? "");
    });
}

function trimNewline(s) {
    return s.endsWith("\n") ? s.slice(0, -1) : s;
}

function commandFailed(result, where, cmd) {
    const tail = result.combined.slice(-ERROR_TAIL_LINES).join("\n");
    const status = result.signal ? `killed by ${result.signal}` : `exit status ${result.code}`;
    return new Error(`${status}: running ${JSON.stringify(cmd)}${where}:\n${tail}`);
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
    if (result.code !== 0) throw commandFailed(result, "", cmd);
    return { stdout: trimNewline(result.stdout), stderr: trimNewline(result.stderr) };
}

/** The connection of props, for `withSsh` (scripts/lib/command-ssh.js): hostKey, key, retries. */
function sshSession(urn, props, fn) {
    const spawner = (argv, opts) => spawnStreaming(urn, argv, opts);
    return withSsh(reveal(props.connection) ?? {}, spawner, fn);
}

async function runRemote(urn, props, cmd, previous) {
    const env = commandEnvironment(props, previous);
    return sshSession(urn, props, async (ssh) => {
        // Values travel in the ssh process's environment and as SSH env requests, never on a command line.
        const sendEnv = Object.keys(env).flatMap((name) => ["-o", `SendEnv=${name}`]);
        const result = await ssh.run("ssh", sendEnv, [`${ssh.user}@${ssh.host}`, cmd], {
            env: { ...process.env, ...env },
            stdin: reveal(props.stdin),
            logging: reveal(props.logging),
        });
        if (result.code !== 0) throw commandFailed(result, ` on ${ssh.where}`, cmd);
        return { stdout: trimNewline(result.stdout), stderr: trimNewline(result.stderr) };
    });
}

const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
const ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7";

function shellQuote(s) {
    return `'${s.replace(/'/g, "'\\''")}'`;
}

/**
 * remote:CopyToRemote: copies a FileAsset, StringAsset or FileArchive of a directory to remotePath
 * with scp (creating its parent directories). As upstream, an existing directory at remotePath
 * receives the source inside it, and delete leaves the copied files on the host.
 */
async function copyToRemote(urn, props) {
    const source = reveal(props.source) ?? {};
    const remotePath = reveal(props.remotePath);
    if (!remotePath) throw new Error("remotePath is required");
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-copy-"));
    try {
        let local;
        if (source[SIG_KEY] === ASSET_SIG && typeof source.path === "string") {
            local = source.path;
        } else if (source[SIG_KEY] === ASSET_SIG && typeof source.text === "string") {
            local = path.join(tmp, path.basename(remotePath));
            fs.writeFileSync(local, source.text);
        } else if (source[SIG_KEY] === ARCHIVE_SIG && typeof source.path === "string" && fs.statSync(source.path).isDirectory()) {
            local = source.path;
        } else {
            throw new Error("CopyToRemote supports FileAsset, StringAsset and FileArchive of a directory as source");
        }
        await sshSession(urn, props, async (ssh) => {
            const parent = path.posix.dirname(remotePath);
            const mkdir = await ssh.run("ssh", [], [`${ssh.user}@${ssh.host}`, `mkdir -p -- ${shellQuote(parent)}`], {
                logging: "none",
            });
            if (mkdir.code !== 0) throw commandFailed(mkdir, ` on ${ssh.where}`, `mkdir -p ${parent}`);
            const copy = await ssh.run("scp", ["-r", "-p", "-q"], [local, `${ssh.user}@${ssh.host}:${remotePath}`], {
                logging: "none",
            });
            if (copy.code !== 0) throw commandFailed(copy, ` to ${ssh.where}`, `scp ${local} ${remotePath}`);
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
            throw new Error(`${typeOf(urn)} is not implemented by this command provider (see scripts/lib/pulumi-resource-command.js)`);
    }
}

function containsSecret(v) {
    if (isSecret(v)) return true;
    if (v !== null && typeof v === "object") return Object.values(v).some(containsSecret);
    return false;
}

/**
 * stdout/stderr are secret when any input is (stdin, environment, or the connection, which the SDK
 * always marks secret), as upstream: output of a command fed a secret may contain it. Unwrap a
 * known-harmless value in the program with pulumi.unsecret().
 */
function withOutputs(inputs, outputs) {
    const wrap = containsSecret(inputs) ? (value) => ({ [SIG_KEY]: SECRET_SIG, value }) : (value) => value;
    return { ...inputs, stdout: wrap(outputs.stdout), stderr: wrap(outputs.stderr) };
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
            return { id: `${nameOf(urn)}${crypto.randomBytes(4).toString("hex")}`, outs: inputs };
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
            await copyToRemote(urn, news);
            return { outs: news };
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
