#!/usr/bin/env node
// Node.js language host for the Pulumi CLI, installed by scripts/setup.sh as
// .tools/bin/pulumi-language-nodejs.
//
// Why this exists: the Go module proxy this project builds from refuses the upstream language host
// module (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3, HTTP 403), so the CLI
// built from pkg/v3 would have no way to run a Node.js program. The language host's job is small:
// serve the LanguageRuntime gRPC service and, on Run, start the program through the runner that
// ships in the project's own @pulumi/pulumi package (node_modules/@pulumi/pulumi/cmd/run), passing
// the engine/monitor addresses as flags and the stack config as PULUMI_CONFIG. Everything else
// (TypeScript via ts-node, config, secrets, resource registration) is done by that runner.
//
// Required packages are reported as upstream's host reports them (GetRequiredPackages): every
// package.json under a node_modules of the program directory with `"pulumi": {"resource": true}`,
// so the engine knows the aws, command and docker plugins up front. (Without plugin downloads a
// plugin that is not installed and never used, here aws and docker, stops nothing.)
"use strict";

const childProcess = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const repoRoot = path.resolve(__dirname, "..", "..");
const sdkRequire = (id) => require(require.resolve(id, { paths: [repoRoot] }));

const grpc = sdkRequire("@grpc/grpc-js");
const languageGrpc = sdkRequire("@pulumi/pulumi/proto/language_grpc_pb");
const language = sdkRequire("@pulumi/pulumi/proto/language_pb");
const plugin = sdkRequire("@pulumi/pulumi/proto/plugin_pb");
const emptyPb = sdkRequire("google-protobuf/google/protobuf/empty_pb");

const SDK_VERSION = sdkRequire("@pulumi/pulumi/package.json").version;

/** `{name, version}` of the resource plugin a node_modules package.json declares, as upstream's getPackageInfo reads it. */
function resourcePlugin(info) {
    if (info?.pulumi?.resource !== true) return undefined;
    const name =
        info.pulumi.name ||
        (typeof info.name === "string" && info.name.startsWith("@pulumi/")
            ? info.name.slice("@pulumi/".length)
            : undefined);
    const version = info.pulumi.version || info.version;
    if (!name || !version) return undefined;
    return { name, version: version.startsWith("v") ? version : `v${version}`, server: info.pulumi.server ?? "" };
}

/**
 * Every resource plugin package under dir (upstream's getPackagesFromDir): all directories, links
 * followed once each, and a package.json counts only inside a node_modules tree.
 */
function requiredPackages(dir, inNodeModules = false, visited = new Set()) {
    let real;
    try {
        real = fs.realpathSync(dir);
    } catch {
        return [];
    }
    if (visited.has(real)) return [];
    visited.add(real);
    let entries;
    try {
        entries = fs.readdirSync(real, { withFileTypes: true });
    } catch {
        return [];
    }
    const found = [];
    for (const entry of entries) {
        const full = path.join(real, entry.name);
        let isDir = entry.isDirectory();
        if (entry.isSymbolicLink()) isDir = fs.statSync(full, { throwIfNoEntry: false })?.isDirectory() ?? false;
        if (isDir) {
            found.push(...requiredPackages(full, inNodeModules || path.basename(real) === "node_modules", visited));
        } else if (inNodeModules && entry.name === "package.json") {
            try {
                const plugin = resourcePlugin(JSON.parse(fs.readFileSync(full, "utf8")));
                if (plugin) found.push(plugin);
            } catch {
                // upstream collects the error and goes on with the rest
            }
        }
    }
    return found;
}

/** Exit code of @pulumi/pulumi's runner when it has already shown the error to the user. */
const ERROR_ALREADY_REPORTED = 32;

let engineAddress = process.argv.slice(2).find((arg) => /^[^-].*:\d+$/.test(arg)) ?? "";

/** Runtime options from Pulumi.yaml (`runtime.options`), with the upstream defaults. */
function runtimeOptions(info) {
    const options = info?.getOptions()?.toJavaScript() ?? {};
    return {
        typescript: options.typescript !== false,
        tsconfig: typeof options.tsconfig === "string" ? options.tsconfig : undefined,
        nodeargs: typeof options.nodeargs === "string" ? options.nodeargs.split(/\s+/).filter(Boolean) : [],
    };
}

function runnerPath(programDirectory) {
    try {
        return require.resolve("@pulumi/pulumi/cmd/run", { paths: [programDirectory] });
    } catch {
        throw new Error(
            `@pulumi/pulumi is not installed for the program in ${programDirectory}: run npm ci there (or scripts/setup.sh).`,
        );
    }
}

function runArguments(req, programDirectory, entryPoint) {
    const args = [];
    const flag = (name, value) => {
        if (value !== undefined && value !== "") args.push(`--${name}`, String(value));
    };
    flag("monitor", req.getMonitorAddress());
    flag("engine", engineAddress);
    flag("organization", req.getOrganization());
    flag("project", req.getProject());
    flag("stack", req.getStack());
    flag("pwd", programDirectory);
    flag("root-directory", req.getInfo()?.getRootDirectory());
    if (req.getDryrun()) args.push("--dry-run");
    flag("parallel", req.getParallel());
    args.push(entryPoint, ...req.getArgsList());
    return args;
}

function run(call, callback) {
    const req = call.request;
    const info = req.getInfo();
    const programDirectory = info?.getProgramDirectory() || req.getPwd() || process.cwd();
    const entryPoint = info?.getEntryPoint() || req.getProgram() || ".";
    const options = runtimeOptions(info);

    let runner;
    try {
        runner = runnerPath(programDirectory);
    } catch (err) {
        callback(null, new language.RunResponse().setError(err.message));
        return;
    }

    const config = {};
    for (const [key, value] of req.getConfigMap().entries()) config[key] = value;
    const env = {
        ...process.env,
        PULUMI_CONFIG: JSON.stringify(config),
        PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(req.getConfigsecretkeysList()),
        PULUMI_NODEJS_TYPESCRIPT: String(options.typescript),
    };
    if (options.tsconfig) env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;

    const child = childProcess.spawn(
        process.execPath,
        [...options.nodeargs, runner, ...runArguments(req, programDirectory, entryPoint)],
        { cwd: programDirectory, env, stdio: ["ignore", "inherit", "inherit"] },
    );
    child.on("error", (err) => {
        callback(null, new language.RunResponse().setError(`could not start node: ${err.message}`));
    });
    child.on("exit", (code, signal) => {
        const resp = new language.RunResponse();
        if (code === ERROR_ALREADY_REPORTED) {
            resp.setBail(true);
        } else if (code !== 0) {
            resp.setError(
                signal ? `Program was killed by ${signal}` : `Program exited with non-zero exit code: ${code}`,
            );
        }
        callback(null, resp);
    });
}

const service = {
    handshake(call, callback) {
        engineAddress = call.request.getEngineAddress() || engineAddress;
        callback(null, new language.LanguageHandshakeResponse());
    },
    // Upstream answers Unimplemented here: the engine asks GetRequiredPackages.
    getRequiredPlugins(_call, callback) {
        callback({ code: grpc.status.UNIMPLEMENTED, details: "method GetRequiredPlugins not implemented" });
    },
    getRequiredPackages(call, callback) {
        const dir = call.request.getInfo()?.getProgramDirectory() || process.cwd();
        const packages = requiredPackages(dir).map((p) =>
            new plugin.PackageDependency()
                .setName(p.name)
                .setKind("resource")
                .setVersion(p.version)
                .setServer(p.server),
        );
        callback(null, new language.GetRequiredPackagesResponse().setPackagesList(packages));
    },
    getPluginInfo(_call, callback) {
        callback(null, new plugin.PluginInfo().setVersion(SDK_VERSION));
    },
    about(_call, callback) {
        callback(null, new language.AboutResponse().setExecutable(process.execPath).setVersion(process.version));
    },
    getProgramDependencies(_call, callback) {
        callback(null, new language.GetProgramDependenciesResponse().setDependenciesList([]));
    },
    cancel(_call, callback) {
        callback(null, new emptyPb.Empty());
    },
    run,
};

const server = new grpc.Server();
server.addService(languageGrpc.LanguageRuntimeService, service);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
        process.stderr.write(`pulumi-language-nodejs: cannot listen: ${err.message}\n`);
        process.exit(1);
    }
    // The engine reads the port from our first line of stdout.
    process.stdout.write(`${port}\n`);
});

// The engine starts this plugin and normally stops it; a SIGKILLed engine cannot, and the plugin
// would be re-parented and live on. Its parent changing means the engine is gone: exit too. (A
// running command's remote job is unaffected: it is detached on the host by design.)
const enginePid = process.ppid;
setInterval(() => {
    if (process.ppid !== enginePid) process.exit(0);
}, 2000).unref();
