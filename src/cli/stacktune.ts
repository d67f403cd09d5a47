/**
 * `stacktune`: the operator's command (Pulumi Automation API over the project's own CLI build).
 *
 *   stacktune run <stack>                         recover an interrupted up, up (following progress),
 *                                                 release, and print the summary with the estimated cost
 *   stacktune status <stack>                      stack outputs, locks / pending operations, the job on the host
 *                                                 (on every machine of a multi-host run)
 *   stacktune logs <stack> [--follow] [--machine N]
 *                                                 the job's log on the host (machine N of several; default 0)
 *   stacktune down <stack>                        destroy everything of the stack
 *   stacktune new <name> --from <stack> [--set key=value]...
 *                                                 a new experiment stack file, validated and rendered
 *   stacktune recover <stack>                     only the recovery step of `run`
 *   stacktune sweep <base> --grid key=value,value... [--grid ...]... [--run] [--concurrency N]
 *                                                 one stack per combination of the grids (as `new` makes
 *                                                 them, all validated before any is written) and a manifest
 *                                                 in stacks/sweeps/; --run runs them, N at a time (default 2;
 *                                                 1 for GPU runs on one ssh/local machine), and ends with
 *                                                 one table (docs/sweeps.md)
 *   stacktune report [<stack>|<sweep>]... [--out FILE]
 *                                                 one self-contained HTML page comparing the stacks (a
 *                                                 sweep's: all of them; default: the one sweep): results,
 *                                                 settings that differ, loss and throughput curves
 *
 * Runs as `npx tsx src/cli/stacktune.ts`, `npm run stacktune --`, or `.tools/bin/stacktune` (written
 * by scripts/setup.sh). The environment of scripts/env.sh is applied for every variable not set.
 * STACKTUNE_PROJECT_DIR picks another project directory (tests use a copy of the project).
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import { DEMO_PASSPHRASE_FILE, demoPassphraseRefusal, readStackFileSecrets, stackFilePath } from "../secrets-provider";
import { withRunLib } from "../job";
import { hostPath, shellQuote } from "../render/shell";
import { loadSettingsFromStackFile, type Settings } from "../settings";
import { targetOf, targets } from "../targets";
import { hostAccessFromState, machineShell, type StackHostAccess } from "./stacktune/hostAccess";
import { formatSummary, type StackOutputs } from "./stacktune/report";
import { parseReportArgs, reportUsage, ReportUsageError, writeComparisonReport } from "./stacktune/comparisonReport";
import {
    clearPendingOperations,
    findStackLocks,
    lockIsStale,
    processIsAlive,
    unresolvedOperationsAdvice,
} from "./stacktune/recover";
import { createStackFile } from "./stacktune/stackFile";
import {
    formatSweepPlan,
    formatSweepSummary,
    parseSweepArgs,
    runSucceeded,
    runSweep,
    sweepConcurrency,
    sweepCommand,
    SweepUsageError,
    writeSweep,
} from "./stacktune/sweep";

const TOOLS_ROOT = path.resolve(__dirname, "..", "..");
const usage = `usage: stacktune run|status|logs|down|recover <stack>
       stacktune logs <stack> [--follow] [--machine N]
       stacktune new <name> --from <stack> [--set key=value]...
       stacktune sweep <base-stack> --grid key=value,value... [--grid ...]... [--run] [--concurrency N]
           one stack per combination of the grids, e.g. --grid lora.r=8,16 --grid training.learningRate=1e-4,2e-4
           (stacks/Pulumi.<base>-r8-learningRate1e-4.yaml ..., rendered/, stacks/sweeps/<base>-r-learningRate.yaml);
           --run runs each stack's \`stacktune run\`, at most N at a time (default 2): an aws stack gets its own
           instance, ssh and local stacks share their one machine
       ${reportUsage}
           one HTML page comparing the stacks (all of a sweep's; default: the one sweep in stacks/sweeps/)`;

/** The project the stacks belong to: STACKTUNE_PROJECT_DIR (tests use a copy), else this checkout. */
function projectRoot(): string {
    return path.resolve(process.env.STACKTUNE_PROJECT_DIR ?? TOOLS_ROOT);
}

/**
 * Whether the checkout's source-built toolchain (.tools) runs the stacks, or a normal Pulumi
 * installation (`system`): scripts/env.sh decides and exports STACKTUNE_TOOLCHAIN (README, "Toolchain").
 */
export function usesRepoToolchain(env: NodeJS.ProcessEnv): boolean {
    return env.STACKTUNE_TOOLCHAIN !== "system";
}

/** scripts/env.sh's defaults, for every variable the caller did not set. Pure. */
export function pulumiEnvironment(toolsRoot: string, env: NodeJS.ProcessEnv): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
    if (usesRepoToolchain(env)) {
        const bin = path.join(toolsRoot, ".tools", "bin");
        if (!(out.PATH ?? "").split(":").includes(bin)) out.PATH = `${bin}:${out.PATH ?? ""}`;
        out.PULUMI_HOME ??= path.join(toolsRoot, ".tools", "pulumi-home");
        out.PULUMI_SKIP_UPDATE_CHECK = "true";
        out.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION = "true";
    }
    out.PULUMI_BACKEND_URL ??= `file://${path.join(toolsRoot, ".stacktune", "state")}`;
    if (out.PULUMI_CONFIG_PASSPHRASE === undefined && (out.PULUMI_CONFIG_PASSPHRASE_FILE ?? "") === "") {
        out.PULUMI_CONFIG_PASSPHRASE_FILE = path.join(toolsRoot, path.relative(TOOLS_ROOT, DEMO_PASSPHRASE_FILE));
    }
    out.PULUMI_NODEJS_TRANSPILE_ONLY ??= "true";
    return out;
}

interface Context {
    projectDir: string;
    env: Record<string, string>;
    stackName: string;
    settings: Settings;
}

function context(stackName: string | undefined): Context {
    if (stackName === undefined || stackName.startsWith("-")) throw new UsageError(usage);
    const projectDir = projectRoot();
    const stackFile = path.join(projectDir, "stacks", `Pulumi.${stackName}.yaml`);
    if (!fs.existsSync(stackFile)) {
        throw new UsageError(
            `no stack file stacks/Pulumi.${stackName}.yaml: create one with \`stacktune new ${stackName} --from <stack>\``,
        );
    }
    const env = pulumiEnvironment(TOOLS_ROOT, process.env);
    const backend = env.PULUMI_BACKEND_URL ?? "";
    if (backend.startsWith("file://")) fs.mkdirSync(backend.slice("file://".length), { recursive: true });
    return { projectDir, env, stackName, settings: loadSettingsFromStackFile(stackFile).settings };
}

class UsageError extends Error {}

async function openStack(ctx: Context): Promise<Stack> {
    // The repo toolchain's CLI, or (system) the `pulumi` the Automation API finds on PATH.
    const pulumiCommand = await PulumiCommand.get(
        usesRepoToolchain(ctx.env) ? { root: path.join(TOOLS_ROOT, ".tools") } : {},
    );
    return LocalWorkspace.createOrSelectStack(
        { stackName: ctx.stackName, workDir: ctx.projectDir },
        { pulumiCommand, envVars: ctx.env },
    );
}

/** Engine output → the terminal, one line at a time (the host already words progress for reading). */
function lineWriter(): { write: (chunk: string) => void; flush: () => void } {
    let pending = "";
    return {
        write: (chunk) => {
            pending += chunk;
            const lines = pending.split("\n");
            pending = lines.pop() ?? "";
            for (const line of lines) process.stdout.write(`${line}\n`);
        },
        flush: () => {
            if (pending !== "") process.stdout.write(`${pending}\n`);
            pending = "";
        },
    };
}

function outputsOf(raw: Record<string, { value: unknown }>): StackOutputs {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) o[k] = v.value;
    return o;
}

/**
 * Clears what a killed `pulumi up` left behind: its lock (only when its process is gone) and the
 * pending operations of stacktune's commands in the state; throws, saying what to check, when an
 * operation on another resource is pending (recover.ts). Returns what it did, in words.
 */
async function recover(ctx: Context, stack: Stack): Promise<string[]> {
    const done: string[] = [];
    const backend = ctx.env.PULUMI_BACKEND_URL ?? "";
    if (backend.startsWith("file://")) {
        const locks = findStackLocks(backend.slice("file://".length), ctx.stackName);
        const live = locks.filter((lock) => !lockIsStale(lock, processIsAlive));
        if (live.length > 0) {
            const who = live
                .map((l) => `pid ${l.pid ?? "?"} on ${l.hostname ?? "?"} since ${l.timestamp ?? "?"}`)
                .join(", ");
            throw new Error(
                `an update of ${ctx.stackName} is running (${who}): wait for it, or stop that process first`,
            );
        }
        if (locks.length > 0) {
            await stack.cancel();
            done.push(`removed the lock of a killed update (pid ${locks.map((l) => l.pid ?? "?").join(", ")})`);
        }
    }
    const exported = await stack.exportStack();
    const { state, cleared, unresolved } = clearPendingOperations(exported);
    if (unresolved.length > 0) {
        for (const line of done) console.log(`[recover] ${line}`);
        throw new Error(unresolvedOperationsAdvice(ctx.stackName, unresolved));
    }
    if (cleared.length > 0) {
        await stack.importStack(state);
        done.push(
            `dropped ${cleared.length} pending operation(s) of the interrupted update: ` +
                cleared.map((op) => `${op.type} ${op.urn.split("::").pop()}`).join(", ") +
                " (a started job keeps running on the host; the next up re-attaches to it)",
        );
    }
    return done;
}

/**
 * Refuses a stack file holding secrets under the public demo passphrase (the program refuses it
 * too; this stops before Pulumi starts). `stack` names the stack the file becomes.
 */
function refuseDemoPassphrase(stackFile: string, stack: string, env: Record<string, string | undefined>): void {
    const { secureKeys, passphrase } = readStackFileSecrets(stackFile);
    const refusal = demoPassphraseRefusal({ stack, secretKeys: secureKeys, passphraseProvider: passphrase, env });
    if (refusal !== undefined) throw new Error(refusal);
}

async function run(ctx: Context): Promise<number> {
    refuseDemoPassphrase(stackFilePath(ctx.projectDir, ctx.stackName), ctx.stackName, ctx.env);
    const started = Date.now();
    const stack = await openStack(ctx);
    for (const line of await recover(ctx, stack)) console.log(`[recover] ${line}`);
    console.log(`[up] pulumi up --stack ${ctx.stackName}`);
    const out = lineWriter();
    let failed: Error | undefined;
    try {
        await stack.up({ onOutput: out.write, color: "never" });
    } catch (error) {
        failed = error as Error;
    }
    out.flush();
    if (failed === undefined && targetOf(ctx.settings.target).releasesAfterRun(ctx.settings)) {
        // The instance powered itself off after the push; the completion lookup now finds the model,
        // so this up removes the instance's resources.
        console.log("[release] up again: the model is published, the instance's resources are removed");
        await stack.up({ onOutput: out.write, color: "never" });
        out.flush();
    }
    const outputs = outputsOf(await stack.outputs());
    console.log("");
    if (failed !== undefined) {
        console.log(
            formatSummary(
                ctx.stackName,
                { ...outputs, status: "failed (see above)" },
                { wallSeconds: (Date.now() - started) / 1000 },
            ),
        );
        try {
            const access = await stackHostAccess(ctx, stack);
            await onHost(ctx, access, jobReportScript(access.runDir, "job", ctx.stackName));
        } catch (error) {
            console.log(`  job               ${(error as Error).message}`);
        }
        console.error(
            `\nstacktune: pulumi up failed; \`stacktune logs ${ctx.stackName}\` shows the job's log, and \`stacktune run ${ctx.stackName}\` resumes`,
        );
        return 1;
    }
    console.log(formatSummary(ctx.stackName, outputs, { wallSeconds: (Date.now() - started) / 1000 }));
    return 0;
}

/**
 * How to reach the stack's hosts: what the program saved in the state (src/hosts/access.ts) on the
 * last `up` that got as far as its hosts, also one that failed or was killed. Every target alike:
 * no setting is read here, so an aws stack (its key only a secret) is reached as an ssh one is.
 */
async function stackHostAccess(ctx: Context, stack?: Stack): Promise<StackHostAccess> {
    const state = (await (stack ?? (await openStack(ctx))).exportStack()) as {
        deployment?: Parameters<typeof hostAccessFromState>[0];
    };
    const access = hostAccessFromState(state.deployment ?? {});
    if (access === undefined || access.runDir === "") {
        throw new Error(
            `the state of ${ctx.stackName} records no host to read: \`stacktune run ${ctx.stackName}\` records it once the host exists (a stack last run by an older stacktune has none until its next run)`,
        );
    }
    return access;
}

/** A host script run by bash with the run scripts' shared functions (lib.sh), whatever the login shell. */
function hostScriptWithRunLib(script: string): string {
    return `bash -c ${shellQuote(withRunLib(script))}`;
}

/**
 * The job as the host sees it now: state (running, waiting for the host's GPUs, succeeded, failed,
 * budget_exceeded, preempted, gpus_busy), starts, last event; `label` names the machine when there
 * are several. A running or waiting state whose runner is gone (lib.sh's runner_alive, the rule
 * start-or-attach follows) is reported as such.
 */
export function jobReportScript(runDir: string, label: string, stackName: string): string {
    const dir = hostPath(runDir);
    const name = shellQuote(`  ${label.padEnd(18)}`);
    return hostScriptWithRunLib(
        `d=${dir}; [ -d "$d" ] || { echo ${name}"no run directory on the host"; exit 0; }; ` +
            `state=$(cat "$d/job.status" 2>/dev/null || echo unknown); ` +
            `if { [ "$state" = running ] || [ "$state" = waiting ]; } && ! runner_alive "$d"; then state="interrupted (its runner is gone: \\\`stacktune run ${stackName}\\\` starts the next attempt)"; fi; ` +
            `printf '%s%s (starts: %s)\\n' ${name} "$state" "$(cat "$d/starts" 2>/dev/null || echo 0)"; ` +
            `grep -E '^STACKTUNE_(PROGRESS|PHASE) ' "$d/job.log" 2>/dev/null | tail -n 1 | readable_progress`,
    );
}

/** Runs `script` on machine `rank` (machine 0, the main one, runs the merge and holds the summary). */
async function onHost(ctx: Context, access: StackHostAccess, script: string, rank = 0): Promise<number> {
    let shell: ReturnType<typeof machineShell>;
    try {
        shell = machineShell(access, rank, script, ctx.stackName);
    } catch (error) {
        if (error instanceof RangeError) throw new UsageError(error.message);
        throw error;
    }
    return new Promise((resolve) => {
        const child = spawn(shell.command, shell.args, { stdio: ["ignore", "pipe", "inherit"] });
        const out = lineWriter();
        child.stdout.on("data", (d: Buffer) => out.write(d.toString("utf8")));
        const stop = (): void => {
            child.kill("SIGTERM");
        };
        process.once("SIGINT", stop);
        child.on("close", (code) => {
            out.flush();
            process.removeListener("SIGINT", stop);
            shell.cleanup();
            resolve(code ?? 1);
        });
    });
}

async function currentOutputs(ctx: Context): Promise<StackOutputs> {
    const stack = await openStack(ctx);
    return outputsOf(await stack.outputs());
}

/**
 * The host script of `stacktune logs`: the job log's last 200 lines, progress and phase events as
 * lib.sh's readable lines; --follow ends with the run's runner (its identity checked, lib.sh), or
 * at once when it is gone.
 */
export function logsScript(runDir: string, follow: boolean): string {
    const dir = hostPath(runDir);
    const script =
        `d=${dir}; if [ ! -f "$d/job.log" ]; then echo "stacktune: no job log in $d (has the run started?)" >&2; exit 66; fi; ` +
        (follow
            ? `if runner_alive "$d"; then tail -n 200 -F "$d/job.log" --pid="$runner_pid" | readable_progress; exit; fi; `
            : "") +
        `tail -n 200 "$d/job.log" | readable_progress`;
    return hostScriptWithRunLib(script);
}

async function logs(ctx: Context, follow: boolean, rank: number): Promise<number> {
    const access = await stackHostAccess(ctx);
    return onHost(ctx, access, logsScript(access.runDir, follow), rank);
}

/** `--machine N` of `stacktune logs`: a machine rank, 0 when absent. */
export function machineArgument(args: string[]): number {
    const at = args.indexOf("--machine");
    if (at < 0) return 0;
    const value = args[at + 1];
    if (value === undefined || !/^\d+$/.test(value)) {
        throw new UsageError(
            `--machine needs a machine rank, a whole number (0 is the main machine), got ${value ?? "nothing"}\n${usage}`,
        );
    }
    return Number(value);
}

async function status(ctx: Context): Promise<number> {
    const stack = await openStack(ctx);
    const outputs = outputsOf(await stack.outputs());
    console.log(formatSummary(ctx.stackName, outputs));
    const backend = ctx.env.PULUMI_BACKEND_URL ?? "";
    if (backend.startsWith("file://")) {
        for (const lock of findStackLocks(backend.slice("file://".length), ctx.stackName)) {
            const stale = lockIsStale(lock, processIsAlive);
            console.log(
                `  ${"update".padEnd(18)}${stale ? "interrupted (its process is gone): `stacktune run` recovers it" : `running (pid ${lock.pid})`}`,
            );
        }
    }
    const { cleared, unresolved } = clearPendingOperations(await stack.exportStack());
    if (unresolved.length > 0) {
        console.log(
            `  ${"pending ops".padEnd(18)}${unresolved.length} on resources other than stacktune's commands, from an interrupted update: \`stacktune recover ${ctx.stackName}\` says what to check`,
        );
    } else if (cleared.length > 0) {
        console.log(
            `  ${"pending ops".padEnd(18)}${cleared.length} (from an interrupted update: \`stacktune run\` clears them)`,
        );
    }
    if (outputs.hostAddress === "none") return 0;
    let access: StackHostAccess;
    try {
        access = await stackHostAccess(ctx, stack);
    } catch (error) {
        console.log(`  ${"job".padEnd(18)}${(error as Error).message}`);
        return 0;
    }
    // Every machine is asked, also after one fails to answer; the first failing exit code is returned.
    const ranks = access.machines.map((m) => m.rank);
    let code = 0;
    for (const rank of ranks) {
        const label = ranks.length > 1 ? `job, machine ${rank}` : "job";
        try {
            const answered = await onHost(ctx, access, jobReportScript(access.runDir, label, ctx.stackName), rank);
            if (code === 0) code = answered;
        } catch (error) {
            console.log(`  ${label.padEnd(18)}${(error as Error).message}`);
        }
    }
    return code;
}

async function down(ctx: Context): Promise<number> {
    const stack = await openStack(ctx);
    for (const line of await recover(ctx, stack)) console.log(`[recover] ${line}`);
    const out = lineWriter();
    await stack.destroy({ onOutput: out.write, color: "never" });
    out.flush();
    console.log(`stacktune: ${ctx.stackName} destroyed (the stack file stays in stacks/)`);
    return 0;
}

function newStack(argv: string[]): number {
    const [name, ...rest] = argv;
    let from: string | undefined;
    const sets: string[] = [];
    for (let i = 0; i < rest.length; i++) {
        if (rest[i] === "--from") from = rest[++i];
        else if (rest[i] === "--set" && rest[i + 1] !== undefined) sets.push(rest[++i] as string);
        else throw new UsageError(`unknown argument ${rest[i]}\n${usage}`);
    }
    if (name === undefined || from === undefined) throw new UsageError(usage);
    const projectDir = projectRoot();
    // The new stack carries the source's `secure:` values (and their encryption) over.
    refuseDemoPassphrase(stackFilePath(projectDir, from), name, pulumiEnvironment(TOOLS_ROOT, process.env));
    const made = createStackFile(projectDir, name, from, sets);
    console.log(`wrote ${made.stackFile} and ${made.rendered.join(", ")}`);
    console.log(`review the rendered files, commit them, then: stacktune run ${name}`);
    return 0;
}

/** `stacktune run <stack>` in a child process (its own engine, output and signals), line by line. */
function runInChild(stack: string, line: (text: string, stream: "stdout" | "stderr") => void): Promise<number> {
    return new Promise((resolve, reject) => {
        const child = spawn(path.join(TOOLS_ROOT, "node_modules", ".bin", "tsx"), [__filename, "run", stack], {
            stdio: ["ignore", "pipe", "pipe"],
        });
        const follow = (stream: "stdout" | "stderr"): void => {
            let pending = "";
            child[stream].on("data", (d: Buffer) => {
                const lines = (pending + d.toString("utf8")).split("\n");
                pending = lines.pop() ?? "";
                for (const text of lines) line(text, stream);
            });
            child[stream].on("end", () => {
                if (pending !== "") line(pending, stream);
            });
        };
        follow("stdout");
        follow("stderr");
        child.once("error", reject);
        child.once("close", (code) => resolve(code ?? 1));
    });
}

async function sweep(argv: string[]): Promise<number> {
    const args = parseSweepArgs(argv);
    const projectDir = projectRoot();
    const written = writeSweep(projectDir, args.base, args.axes);
    console.log(formatSweepPlan(args.base, args.axes, written));
    if (!args.run) {
        console.log(
            `review the stack files and rendered files, commit them, then: ${sweepCommand(args.base, args.axes)} --run`,
        );
        return 0;
    }
    const { concurrency, note } = sweepConcurrency(args.concurrency, {
        kind: written.targetKind,
        gpus: written.targetGpus,
    });
    const shared = targets[written.targetKind].sharedSweepMachine;
    const where = shared === undefined ? "each on its own instance" : `all on ${shared.where}, sharing it`;
    console.log(`\nrunning ${written.stacks.length} stack(s), at most ${concurrency} at a time, ${where}\n`);
    if (note !== undefined) console.log(`${note}\n`);
    const results = await runSweep(
        written.stacks,
        concurrency,
        { run: runInChild, outputs: (stack) => currentOutputs(context(stack)) },
        (text, stream) => (stream === "stdout" ? process.stdout : process.stderr).write(`${text}\n`),
    );
    console.log(`\n${formatSweepSummary(args.base, args.axes, results)}`);
    const failed = results.filter((r) => !runSucceeded(r)).map((r) => r.stack.stack);
    if (failed.length === 0) return 0;
    console.error(
        `\nstacktune: ${failed.length} run(s) failed (${failed.join(", ")}); their output is above, prefixed with the stack; \`stacktune run <stack>\` resumes one`,
    );
    return 1;
}

/** A stack's outputs for the report: none for a stack that was never initialised (nothing is created). */
async function reportOutputs(stack: string): Promise<StackOutputs> {
    const ctx = context(stack);
    const pulumiCommand = await PulumiCommand.get(
        usesRepoToolchain(ctx.env) ? { root: path.join(TOOLS_ROOT, ".tools") } : {},
    );
    try {
        const selected = await LocalWorkspace.selectStack(
            { stackName: stack, workDir: ctx.projectDir },
            { pulumiCommand, envVars: ctx.env },
        );
        return outputsOf(await selected.outputs());
    } catch (error) {
        if (/no stack named/i.test((error as Error).message)) return {};
        throw error;
    }
}

async function report(argv: string[]): Promise<number> {
    const { file, stacks } = await writeComparisonReport(projectRoot(), parseReportArgs(argv), reportOutputs);
    console.log(`stacktune report: ${stacks.length} stack(s) (${stacks.join(", ")})\n  ${file}`);
    return 0;
}

export async function main(argv: string[]): Promise<number> {
    const [command, ...rest] = argv;
    try {
        switch (command) {
            case "run":
                return await run(context(rest[0]));
            case "status":
                return await status(context(rest[0]));
            case "logs":
                return await logs(
                    context(rest[0]),
                    rest.includes("--follow") || rest.includes("-f"),
                    machineArgument(rest),
                );
            case "down":
                return await down(context(rest[0]));
            case "recover": {
                const ctx = context(rest[0]);
                const done = await recover(ctx, await openStack(ctx));
                console.log(
                    done.length > 0 ? done.map((l) => `[recover] ${l}`).join("\n") : "[recover] nothing to recover",
                );
                return 0;
            }
            case "new":
                return newStack(rest);
            case "sweep":
                return await sweep(rest);
            case "report":
                return await report(rest);
            default:
                throw new UsageError(usage);
        }
    } catch (error) {
        if (error instanceof UsageError || error instanceof SweepUsageError || error instanceof ReportUsageError) {
            console.error(error.message);
            return 2;
        }
        const message = (error as Error).message ?? String(error);
        console.error(`stacktune: ${message.split("\n").slice(-40).join("\n")}`);
        return 1;
    }
}

if (require.main === module) {
    void main(process.argv.slice(2)).then((code) => process.exit(code));
}
