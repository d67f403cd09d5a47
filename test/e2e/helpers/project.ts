/**
 * A copy of the stacktune project in a temp dir, driven by the real Pulumi CLI.
 *
 * Why a copy: `pulumi stack init` writes `encryptionsalt` into the stack file and `stack rm` deletes
 * it (docs/TOOLCHAIN.md), so e2e stacks live in the copy's own stacks/; state, PULUMI_HOME (plugins
 * linked from the checkout, logs its own) and the CLI's temp dir (`-v` logs) are per-run temp dirs
 * that the secrets canary scans afterwards. node_modules is a symlink (the program's dependencies).
 */
import { spawn } from "node:child_process";
import {
    cpSync,
    lstatSync,
    mkdirSync,
    mkdtempSync,
    readdirSync,
    readFileSync,
    symlinkSync,
    writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

/** What the program reads from the project (index.ts → src, python/ and images/ for the hash). */
/** The passphrase of every e2e project's stacks (the pulumi CLI and `stacktune` runs alike). */
export const E2E_PASSPHRASE = "stacktune-e2e-passphrase";

const PROJECT_ENTRIES = ["Pulumi.yaml", "index.ts", "src", "python", "images", "tsconfig.json", "package.json"];

export interface CliResult {
    code: number;
    /** stdout and stderr, interleaved as written. */
    output: string;
    seconds: number;
}

export interface RunOptions {
    /** Called with each chunk of output as it arrives (for actions in the middle of an update). */
    onOutput?: (chunk: string, soFar: string) => void;
    /** Extra environment for this run only. */
    env?: Record<string, string>;
    /** Written to the CLI's stdin (e.g. a secret for `config set`, never an argument). */
    input?: string;
}

export interface PulumiProject {
    dir: string;
    stateDir: string;
    pulumiHome: string;
    /** TMPDIR of every CLI run: where `-v` logs (glog) and ts-node's cache land. */
    cliTmp: string;
    stackFile(stack: string): string;
    /** Every CLI output so far, in order (for the canary). */
    outputs: string[];
    pulumi(args: string[], opts?: RunOptions): Promise<CliResult>;
}

export function copyProject(repo: string, label: string): PulumiProject {
    return projectIn(repo, label, (dir) => {
        for (const entry of PROJECT_ENTRIES) {
            cpSync(join(repo, entry), join(dir, entry), {
                recursive: true,
                filter: (src) => !/(__pycache__|\.egg-info|\.pytest_cache)$/.test(src),
            });
        }
    });
}

/** A project of its own `files` (name → content), with the checkout's node_modules: for provider-level tests. */
export function copyProjectFiles(repo: string, label: string, files: Record<string, string>): PulumiProject {
    return projectIn(repo, label, (dir) => {
        for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    });
}

/**
 * Where the CLI and its plugins come from: the toolchain `source scripts/env.sh` chose
 * (STACKTUNE_TOOLCHAIN): `repo` = the checkout's .tools (scripts/setup.sh), `system` = the normal
 * installation already on PATH with its plugins in PULUMI_HOME (default ~/.pulumi).
 */
export function toolchain(repo: string): { pathPrefix: string; plugins: string } {
    if (process.env.STACKTUNE_TOOLCHAIN === "system") {
        return { pathPrefix: "", plugins: join(process.env.PULUMI_HOME ?? join(homedir(), ".pulumi"), "plugins") };
    }
    return { pathPrefix: `${join(repo, ".tools", "bin")}:`, plugins: join(repo, ".tools", "pulumi-home", "plugins") };
}

function projectIn(repo: string, label: string, fill: (dir: string) => void): PulumiProject {
    const root = mkdtempSync(join(tmpdir(), `stacktune-${label}-`));
    const dir = join(root, "project");
    const stateDir = join(root, "state");
    const pulumiHome = join(root, "pulumi-home");
    const cliTmp = join(root, "tmp");
    for (const d of [dir, stateDir, pulumiHome, cliTmp, join(dir, "stacks")]) mkdirSync(d, { recursive: true });
    fill(dir);
    symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"));
    const tools = toolchain(repo);
    // The plugins (the command provider) of the chosen toolchain; logs and credentials stay per run.
    symlinkSync(tools.plugins, join(pulumiHome, "plugins"));

    const env: Record<string, string> = {
        ...(process.env as Record<string, string>),
        PATH: `${tools.pathPrefix}${process.env.PATH ?? ""}`,
        PULUMI_HOME: pulumiHome,
        PULUMI_BACKEND_URL: `file://${stateDir}`,
        PULUMI_CONFIG_PASSPHRASE: E2E_PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        TMPDIR: cliTmp,
    };
    delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
    const outputs: string[] = [];

    return {
        dir,
        stateDir,
        pulumiHome,
        cliTmp,
        outputs,
        stackFile: (stack) => join(dir, "stacks", `Pulumi.${stack}.yaml`),
        pulumi(args, opts = {}) {
            const started = Date.now();
            return new Promise((resolve, reject) => {
                const child = spawn("pulumi", [...args, "--non-interactive"], {
                    cwd: dir,
                    env: { ...env, ...opts.env },
                    stdio: [opts.input !== undefined ? "pipe" : "ignore", "pipe", "pipe"],
                });
                if (opts.input !== undefined) child.stdin?.end(opts.input);
                let output = "";
                const take = (chunk: Buffer) => {
                    output += chunk.toString("utf8");
                    opts.onOutput?.(chunk.toString("utf8"), output);
                };
                child.stdout?.on("data", take);
                child.stderr?.on("data", take);
                child.once("error", reject);
                child.once("close", (code) => {
                    const seconds = (Date.now() - started) / 1000;
                    outputs.push(output);
                    console.log(`[e2e] pulumi ${args.join(" ")}: exit ${code} in ${seconds.toFixed(1)} s`);
                    resolve({ code: code ?? -1, output, seconds });
                });
            });
        },
    };
}

/** Writes a stack file whose config is `yaml`, keeping the `encryptionsalt` and secure values already in it. */
export function writeStackConfig(file: string, yaml: string): void {
    let kept = "";
    try {
        kept = readFileSync(file, "utf8");
    } catch {
        // a new stack
    }
    const salt = /^encryptionsalt: .*$/m.exec(kept)?.[0];
    const secure = [...kept.matchAll(/^ {2}stacktune:\w+:\n {4}secure: .*$/gm)].map((m) => m[0]);
    writeFileSync(file, [yaml.trimEnd(), ...secure, ...(salt ? [salt] : []), ""].join("\n"));
}

/** Every regular file under `dir` (symlinks are not followed). */
export function filesUnder(dir: string): string[] {
    const out: string[] = [];
    const walk = (d: string) => {
        let names: string[];
        try {
            names = readdirSync(d);
        } catch {
            return;
        }
        for (const name of names) {
            const p = join(d, name);
            const st = lstatSync(p, { throwIfNoEntry: false });
            if (st?.isDirectory()) walk(p);
            else if (st?.isFile()) out.push(p);
        }
    };
    walk(dir);
    return out;
}
