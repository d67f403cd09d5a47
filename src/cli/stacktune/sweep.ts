/**
 * `stacktune sweep <base> --grid key=v1,v2… [--run] [--concurrency N]`: a hyperparameter grid as
 * experiment stacks. One stack per combination of the grids, each made by `stacktune new`'s
 * {@link createStackFile} (same derivation, validation and rendering); every combination is
 * validated before any file is written; a manifest in stacks/sweeps/ lists the stacks and their
 * values. With --run, every stack's `stacktune run`, a few at a time, ending in one table.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isDeepStrictEqual } from "util";
import { Document, isSeq, parse as parseYaml, parseDocument } from "yaml";
import { type HubDestinations, destinationKeys } from "../../render";
import { shellQuote } from "../../render/shell";
import { loadSettingsFromStackFile, targetGpuCount, type Settings } from "../../settings";
import { targets } from "../../targets";
import { formatDuration, formatMetric, type StackOutputs } from "./report";
import { createStackFile, ownDestinationAssignments, parseAssignment, sharedDestinations } from "./stackFile";

export const sweepUsage =
    "stacktune sweep <base-stack> --grid key=value,value... [--grid key=value,value...]... [--run] [--concurrency N]";

/** A malformed command line: printed with the usage, exit status 2. */
export class SweepUsageError extends Error {
    constructor(message: string) {
        super(`${message}\nusage: ${sweepUsage}`);
    }
}

/** One `--grid`: a settings key and the values to try, as typed (YAML, parsed as `--set` parses them). */
export interface GridAxis {
    /** Dotted key under the stacktune namespace, e.g. `lora.r`. */
    key: string;
    values: string[];
}

export interface SweepArgs {
    base: string;
    axes: GridAxis[];
    run: boolean;
    /** `--concurrency N`; unset, {@link sweepConcurrency} picks it from the base's target. */
    concurrency?: number;
}

/** Pulumi refuses longer stack names. */
const MAX_STACK_NAME = 100;

/** `a,[b, c],"d,e"` → `a`, `[b, c]`, `"d,e"`: commas inside brackets, braces or quotes do not split. */
export function splitGridValues(text: string): string[] {
    const values: string[] = [];
    let depth = 0;
    let quote: string | undefined;
    let current = "";
    for (const ch of text) {
        if (quote !== undefined) {
            if (ch === quote) quote = undefined;
        } else if (ch === '"' || ch === "'") quote = ch;
        else if (ch === "[" || ch === "{") depth++;
        else if (ch === "]" || ch === "}") depth--;
        else if (ch === "," && depth === 0) {
            values.push(current.trim());
            current = "";
            continue;
        }
        current += ch;
    }
    values.push(current.trim());
    return values;
}

/** One `--grid key=v1,v2` argument. */
export function parseGridArgument(argument: string): GridAxis {
    const eq = argument.indexOf("=");
    if (eq <= 0)
        throw new SweepUsageError(
            `--grid takes key=value,value... with a dotted key, e.g. --grid lora.r=8,16 (got "${argument}")`,
        );
    const key = argument.slice(0, eq);
    if (key.split(".").some((part) => part === "")) {
        throw new SweepUsageError(`--grid key "${key}" must be a dotted path such as training.learningRate`);
    }
    // Each sweep stack gets its own destinations (ownDestinations): a grid cannot set them.
    if (key === "hub" || destinationKeys.some((d) => key === `hub.${d}`)) {
        throw new SweepUsageError(
            `--grid ${key}: each sweep stack gets its own hub.adapterRepo / hub.mergedRepo / hub.localDir (the base stack's value + -<suffix>), so it cannot be a grid key; set it in the base stack`,
        );
    }
    const text = argument.slice(eq + 1);
    if (text.trim() === "")
        throw new SweepUsageError(
            `--grid ${key}= lists no value: give one or more, comma-separated, e.g. --grid lora.r=8,16`,
        );
    const values = splitGridValues(text);
    if (values.some((v) => v === "")) {
        throw new SweepUsageError(
            `--grid ${argument} has an empty value: remove the extra comma (to drop a key from every stack, use a base stack made with \`stacktune new --set ${key}=\`)`,
        );
    }
    const seen = new Set<string>();
    for (const value of values) {
        if (seen.has(value)) throw new SweepUsageError(`--grid ${key} lists ${value} twice: list each value once`);
        seen.add(value);
        try {
            parseAssignment(`${key}=${value}`);
        } catch (error) {
            throw new SweepUsageError(
                `--grid ${key}: value ${value} is not a YAML value (${(error as Error).message.split("\n")[0]}); quote it, e.g. '"${value}"'`,
            );
        }
    }
    return { key, values };
}

export function parseSweepArgs(argv: readonly string[]): SweepArgs {
    const [base, ...rest] = argv;
    if (base === undefined || base.startsWith("-"))
        throw new SweepUsageError("stacktune sweep needs a base stack first");
    const args: SweepArgs = { base, axes: [], run: false };
    for (let i = 0; i < rest.length; i++) {
        const arg = rest[i];
        if (arg === "--grid" && rest[i + 1] !== undefined) {
            const axis = parseGridArgument(rest[++i] as string);
            if (args.axes.some((a) => a.key === axis.key)) {
                throw new SweepUsageError(
                    `--grid ${axis.key} is given twice: put all its values in one --grid ${axis.key}=value,value...`,
                );
            }
            args.axes.push(axis);
        } else if (arg === "--run") args.run = true;
        else if (arg === "--concurrency" && rest[i + 1] !== undefined) {
            const n = Number(rest[++i]);
            if (!Number.isInteger(n) || n < 1)
                throw new SweepUsageError(
                    `--concurrency takes a whole number of runs at a time, 1 or more (got "${rest[i]}")`,
                );
            args.concurrency = n;
        } else throw new SweepUsageError(`unknown or incomplete argument ${arg ?? ""}`);
    }
    if (args.axes.length === 0)
        throw new SweepUsageError("stacktune sweep needs at least one --grid key=value,value...");
    return args;
}

/**
 * The name each key gets in stack names and tables: its last segment (`lora.r` → `r`), or as many
 * trailing segments as needed to tell it from the other keys (`training.steps`, `evaluation.steps`).
 */
export function axisLabels(keys: readonly string[]): string[] {
    return keys.map((key) => {
        const parts = key.split(".");
        for (let n = 1; n < parts.length; n++) {
            const tail = parts.slice(-n).join(".");
            if (!keys.some((other) => other !== key && (other === tail || other.endsWith(`.${tail}`)))) return tail;
        }
        return key;
    });
}

/** A value as it can appear in a stack name: runs of other characters become `_`. */
function stackNameText(text: string): string {
    return text.replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^_+|_+$/g, "");
}

/** One combination of the grid values. */
export interface SweepStack {
    stack: string;
    /** The values as typed, one per axis, in axis order. */
    values: string[];
    /** `--set` assignments that make this stack from the base: the grid values, then its own model destinations. */
    assignments: string[];
}

/**
 * Every combination, first axis slowest (as nested loops in `--grid` order), named
 * `<base>-<label><value>-…`, e.g. `aws-g5-r8-learningRate1e-4`. Refuses two combinations that
 * would get the same name. Pure.
 */
export function planSweep(base: string, axes: readonly GridAxis[], destinations: HubDestinations): SweepStack[] {
    const labels = axisLabels(axes.map((a) => a.key));
    let combinations: string[][] = [[]];
    for (const axis of axes)
        combinations = combinations.flatMap((combination) => axis.values.map((value) => [...combination, value]));
    const byName = new Map<string, string[]>();
    return combinations.map((values) => {
        const suffix = values.map((value, i) => `${labels[i]}${stackNameText(value)}`).join("-");
        const stack = `${base}-${suffix}`;
        const described = describeCombination(axes, values);
        const clash = [...byName].find(([name]) => name.toLowerCase() === stack.toLowerCase());
        if (clash !== undefined) {
            throw new SweepUsageError(
                `${describeCombination(axes, clash[1])} and ${described} would both be stack ${clash[0]}: ` +
                    "spell one of the values so that it differs in letters, digits, '-', '_' or '.'",
            );
        }
        byName.set(stack, values);
        if (stack.length > MAX_STACK_NAME) {
            throw new SweepUsageError(
                `${described} would be stack ${stack}, longer than Pulumi's ${MAX_STACK_NAME} characters: use a shorter base stack name or fewer grid keys`,
            );
        }
        const own = ownDestinationAssignments(destinations, base, stack);
        return { stack, values, assignments: [...axes.map((axis, i) => `${axis.key}=${values[i]}`), ...own] };
    });
}

function describeCombination(axes: readonly GridAxis[], values: readonly string[]): string {
    return `combination ${axes.map((axis, i) => `${axis.key}=${values[i]}`).join(" ")}`;
}

/** The command that makes (and, with `--run`, runs) this sweep; written into its manifest. */
export function sweepCommand(base: string, axes: readonly GridAxis[]): string {
    return `stacktune sweep ${base}${axes.map((a) => ` --grid ${shellQuote(`${a.key}=${a.values.join(",")}`)}`).join("")}`;
}

/** stacks/sweeps/<base>-<labels>.yaml: one manifest per base stack and set of grid keys. */
export function manifestPath(base: string, axes: readonly GridAxis[]): string {
    return path.join("stacks", "sweeps", `${base}-${axisLabels(axes.map((a) => a.key)).join("-")}.yaml`);
}

/** The manifest: the command, the base, the grid, and each stack with its values (as typed). Pure. */
export function renderManifest(base: string, axes: readonly GridAxis[], stacks: readonly SweepStack[]): string {
    const value = (text: string): unknown => parseDocument(text).contents;
    const grid: Record<string, unknown> = {};
    for (const axis of axes) grid[axis.key] = axis.values.map(value);
    const doc = new Document({
        base,
        grid,
        stacks: stacks.map((s) => {
            const entry: Record<string, unknown> = { stack: s.stack };
            axes.forEach((axis, i) => (entry[axis.key] = value(s.values[i] as string)));
            return entry;
        }),
    });
    for (const axis of axes) {
        const seq = doc.getIn(["grid", axis.key], true);
        if (isSeq(seq)) seq.flow = true;
    }
    const command = sweepCommand(base, axes);
    return (
        `# Made by: ${command}\n` +
        `# Run it:  ${command} --run   (writes nothing new; runs every stack below)\n` +
        `# One stack per combination; each stacks/Pulumi.<stack>.yaml says how it differs from ${base}.\n` +
        doc.toString()
    );
}

/**
 * Whether an existing stack file says the same as the one the sweep would write. What Pulumi itself
 * adds to a stack file after the first `up` (its `encryptionsalt`, `secure:` values set with
 * `pulumi config set --secret`) and comments do not count, so a re-run after `--run` is unchanged.
 */
export function sameStackFile(existing: string, made: string): boolean {
    const substance = (text: string): unknown => {
        const doc = (parseYaml(text) ?? {}) as Record<string, unknown>;
        const { encryptionsalt: _salt, config, ...rest } = doc;
        const plain = Object.entries((config ?? {}) as Record<string, unknown>).filter(
            ([, v]) => !(v !== null && typeof v === "object" && "secure" in v),
        );
        return { ...rest, config: Object.fromEntries(plain) };
    };
    try {
        return isDeepStrictEqual(substance(existing), substance(made));
    } catch {
        return false;
    }
}

export interface WrittenSweep {
    /** Relative to the project, e.g. stacks/sweeps/aws-g5-r-learningRate.yaml. */
    manifest: string;
    /** The base's target kind, which every stack of the sweep shares (where `--run` runs them). */
    targetKind: Settings["target"]["kind"];
    /** GPUs each run of the sweep uses (0 = CPU). */
    targetGpus: number;
    /**
     * `updated`: it listed another grid of the same keys (e.g. before a value was added); it lists
     * this one now, and the stacks only the earlier grid made stay in stacks/.
     */
    manifestState: "written" | "unchanged" | "updated";
    stacks: (SweepStack & { state: "written" | "unchanged" })[];
}

function filesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        return entry.isDirectory() ? filesUnder(full).map((f) => path.join(entry.name, f)) : [entry.name];
    });
}

/**
 * Writes the sweep's stack files, their rendered files and the manifest, all or nothing: every
 * combination is first made by {@link createStackFile} in a scratch copy of the base stack file
 * (so it is validated and rendered exactly as `stacktune new` does), and nothing is written when
 * any is invalid or would overwrite an existing stack file that says something else.
 */
export function writeSweep(projectDir: string, base: string, axes: readonly GridAxis[]): WrittenSweep {
    const baseFile = path.join(projectDir, "stacks", `Pulumi.${base}.yaml`);
    if (!fs.existsSync(baseFile))
        throw new Error(`no stack file stacks/Pulumi.${base}.yaml: pick one of stacks/ as the base`);
    const { hub, target } = loadSettingsFromStackFile(baseFile).settings;
    const stacks = planSweep(base, axes, hub);

    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-sweep-"));
    try {
        fs.mkdirSync(path.join(scratch, "stacks"));
        fs.copyFileSync(baseFile, path.join(scratch, "stacks", `Pulumi.${base}.yaml`));
        const invalid: string[] = [];
        for (const s of stacks) {
            try {
                createStackFile(scratch, s.stack, base, s.assignments);
            } catch (error) {
                invalid.push(`${describeCombination(axes, s.values)}: ${(error as Error).message}`);
            }
        }
        if (invalid.length > 0) {
            throw new Error(
                `${invalid.join("\n")}\nnothing written: ${invalid.length} of ${stacks.length} combination(s) are invalid; ` +
                    `fix the --grid keys or values (or the base stack ${base}) and run the sweep again`,
            );
        }
        // Each was checked against the scratch copy's stacks (the base, the other combinations); now against stacks/.
        const made = stacks.map((s) => ({
            stack: s.stack,
            hub: loadSettingsFromStackFile(path.join(scratch, "stacks", `Pulumi.${s.stack}.yaml`)).settings.hub,
        }));
        const shared = sharedDestinations(projectDir, made);
        if (shared.length > 0) {
            throw new Error(
                `${shared.join("\n")}\nnothing written: a sweep stack's model destinations are the base stack's with -<suffix> appended; ` +
                    `give the other stack its own (or the base stack ${base} other ones) and run the sweep again`,
            );
        }

        const refused: string[] = [];
        const states = stacks.map((s) => {
            const file = path.join("stacks", `Pulumi.${s.stack}.yaml`);
            if (!fs.existsSync(path.join(projectDir, file))) return "written" as const;
            if (
                sameStackFile(
                    fs.readFileSync(path.join(projectDir, file), "utf8"),
                    fs.readFileSync(path.join(scratch, file), "utf8"),
                )
            ) {
                return "unchanged" as const;
            }
            refused.push(
                `${file} exists with other settings: a sweep never overwrites a stack file; delete it (after \`stacktune down ${s.stack}\` if it ran) or change the grid`,
            );
            return "written" as const;
        });
        const manifest = manifestPath(base, axes);
        const manifestText = renderManifest(base, axes, stacks);
        const manifestFull = path.join(projectDir, manifest);
        const manifestState = !fs.existsSync(manifestFull)
            ? "written"
            : fs.readFileSync(manifestFull, "utf8") === manifestText
              ? "unchanged"
              : "updated";
        if (refused.length > 0) throw new Error(`${refused.join("\n")}\nnothing written`);

        for (const [i, s] of stacks.entries()) {
            const file = path.join("stacks", `Pulumi.${s.stack}.yaml`);
            if (states[i] === "written") fs.copyFileSync(path.join(scratch, file), path.join(projectDir, file));
            const renderedDir = path.join("rendered", s.stack);
            for (const name of filesUnder(path.join(scratch, renderedDir))) {
                const to = path.join(projectDir, renderedDir, name);
                fs.mkdirSync(path.dirname(to), { recursive: true });
                fs.copyFileSync(path.join(scratch, renderedDir, name), to);
                fs.chmodSync(to, fs.statSync(path.join(scratch, renderedDir, name)).mode & 0o777);
            }
        }
        if (manifestState !== "unchanged") {
            fs.mkdirSync(path.dirname(manifestFull), { recursive: true });
            fs.writeFileSync(manifestFull, manifestText);
        }
        return {
            manifest,
            targetKind: target.kind,
            targetGpus: targetGpuCount(target),
            manifestState,
            stacks: stacks.map((s, i) => ({ ...s, state: states[i] ?? "written" })),
        };
    } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
    }
}

/** Columns padded to their widest cell, two spaces apart, each line indented by two. */
export function formatTable(rows: readonly (readonly string[])[]): string {
    const widths: number[] = [];
    for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
    return rows
        .map(
            (row) =>
                `  ${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ")}`,
        )
        .join("\n");
}

/** What `stacktune sweep` wrote: the manifest, then each stack with its values. */
export function formatSweepPlan(base: string, axes: readonly GridAxis[], written: WrittenSweep): string {
    return [
        `sweep ${base}: ${written.stacks.length} stack(s), manifest ${written.manifest} (${written.manifestState})`,
        formatTable([
            ["stack", ...axes.map((a) => a.key), "stack file + rendered/"],
            ...written.stacks.map((s) => [s.stack, ...s.values, s.state]),
        ]),
    ].join("\n");
}

/** How one stack's `stacktune run` ended. */
export interface SweepRunResult {
    stack: SweepStack;
    /** Exit status of its `stacktune run`. */
    code: number;
    /** The stack's outputs after the run (empty when they could not be read). */
    outputs: StackOutputs;
    wallSeconds: number;
}

/** A run that exited 0 and whose model is there (trained now or before). */
export function runSucceeded(result: SweepRunResult): boolean {
    return result.code === 0 && (result.outputs.status === "succeeded" || result.outputs.status === "already-complete");
}

/** The one table at the end of `sweep --run`. */
export function formatSweepSummary(
    base: string,
    axes: readonly GridAxis[],
    results: readonly SweepRunResult[],
): string {
    const ok = results.filter(runSucceeded).length;
    const rows = results.map((r) => {
        const m = r.outputs.metrics ?? undefined;
        const cost = r.outputs.estimatedCost?.usd;
        return [
            r.stack.stack,
            ...r.stack.values,
            r.code !== 0 ? `failed (exit ${r.code})` : (r.outputs.status ?? "unknown"),
            formatMetric(m?.train_loss, 4),
            formatMetric(m?.eval_loss, 4),
            formatMetric(m?.tokens_per_s, 1),
            typeof cost === "number" ? cost.toFixed(2) : "-",
            formatDuration(r.wallSeconds),
        ];
    });
    return [
        `sweep ${base}: ${results.length} run(s), ${ok} succeeded, ${results.length - ok} failed`,
        formatTable([
            ["stack", ...axes.map((a) => a.key), "status", "train loss", "eval loss", "tokens/s", "cost USD", "wall"],
            ...rows,
        ]),
    ].join("\n");
}

/** How the sweep runs one stack and reads its outputs (the `stacktune` command supplies them). */
export interface SweepRunner {
    /** `stacktune run <stack>`; each output line goes to `line`; resolves to its exit status. */
    run(stack: string, line: (text: string, stream: "stdout" | "stderr") => void): Promise<number>;
    outputs(stack: string): Promise<StackOutputs>;
}

/**
 * How many runs of a sweep go at once, and a note when the host will hold some of them back. GPU
 * runs on the one ssh or local machine share its GPUs, and that host lets one GPU job run at a time
 * (run-job.sh's GPU lock): the default there is 1, and a larger N only makes the other runs wait on
 * the host. aws stacks each get their own instance; CPU runs share cores, not GPU memory: 2 by default.
 */
export function sweepConcurrency(
    requested: number | undefined,
    target: { kind: Settings["target"]["kind"]; gpus: number },
): { concurrency: number; note?: string } {
    const shared = targets[target.kind].sharedSweepMachine;
    const sharesGpus = shared !== undefined && target.gpus > 0;
    const concurrency = requested ?? (sharesGpus ? 1 : 2);
    if (shared === undefined || !sharesGpus || concurrency === 1) return { concurrency };
    return {
        concurrency,
        note: `note: the ${shared.name} runs one GPU job at a time; with --concurrency ${concurrency} the other runs wait on it for the GPUs (each prints whom it waits for), so they finish no sooner than one at a time`,
    };
}

/** `fn` over `items`, at most `limit` at a time, results in the items' order. */
export async function mapWithConcurrency<T, R>(
    items: readonly T[],
    limit: number,
    fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
    const results: R[] = new Array<R>(items.length);
    let next = 0;
    const worker = async (): Promise<void> => {
        while (next < items.length) {
            const index = next++;
            results[index] = await fn(items[index] as T, index);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return results;
}

/**
 * Every stack's run, at most `concurrency` at a time; each output line prefixed with `[<stack>]`.
 * A failed run does not stop the others.
 */
export async function runSweep(
    stacks: readonly SweepStack[],
    concurrency: number,
    runner: SweepRunner,
    print: (text: string, stream: "stdout" | "stderr") => void,
    now: () => number = Date.now,
): Promise<SweepRunResult[]> {
    return mapWithConcurrency(stacks, concurrency, async (stack, index) => {
        const prefix = `[${stack.stack}] `;
        print(`${prefix}stacktune run ${stack.stack} (${index + 1}/${stacks.length})`, "stdout");
        const started = now();
        let code: number;
        try {
            code = await runner.run(stack.stack, (text, stream) => print(`${prefix}${text}`, stream));
        } catch (error) {
            print(`${prefix}could not start: ${(error as Error).message}`, "stderr");
            code = 1;
        }
        const wallSeconds = (now() - started) / 1000;
        let outputs: StackOutputs = {};
        try {
            outputs = await runner.outputs(stack.stack);
        } catch (error) {
            print(`${prefix}could not read the stack's outputs: ${(error as Error).message.split("\n")[0]}`, "stderr");
        }
        return { stack, code, outputs, wallSeconds };
    });
}
