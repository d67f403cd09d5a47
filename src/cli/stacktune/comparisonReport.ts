/**
 * `stacktune report <stack|sweep> [...] [--out FILE]`: which stacks a report compares, what it
 * reads of each, and where the page goes. The page itself is src/report/comparisonPage.ts.
 *
 * A name is a stack (stacks/Pulumi.<name>.yaml) or a sweep (stacks/sweeps/<name>.yaml, whose stacks
 * it stands for); with no name, the one sweep in stacks/sweeps/. Each stack's history is the
 * metrics-history.jsonl that the run wrote beside its model in the output store (`model.localDir`).
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { loadSettingsFromStackFile } from "../../settings";
import { type ExperimentReport, renderComparisonPage } from "../../report/comparisonPage";
import { HISTORY_FILE, readRunHistory } from "../../report/history";
import { type StackOutputs } from "./report";

export const reportUsage = "stacktune report [<stack>|<sweep>]... [--out FILE]";

export class ReportUsageError extends Error {}

export interface ReportArgs {
    /** Stacks or sweeps, as given. */
    names: string[];
    out?: string;
}

export function parseReportArgs(argv: readonly string[]): ReportArgs {
    const args: ReportArgs = { names: [] };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i] as string;
        if (arg === "--out") {
            const value = argv[++i];
            if (value === undefined) throw new ReportUsageError(`--out needs a file name\nusage: ${reportUsage}`);
            args.out = value;
        } else if (arg.startsWith("-")) {
            throw new ReportUsageError(`unknown option ${arg}\nusage: ${reportUsage}`);
        } else {
            args.names.push(arg);
        }
    }
    return args;
}

const sweepsDir = (projectDir: string): string => path.join(projectDir, "stacks", "sweeps");

/** The stacks of a sweep manifest (stacks/sweeps/<sweep>.yaml), in its order. */
export function sweepStacks(projectDir: string, sweep: string): string[] {
    const file = path.join(sweepsDir(projectDir), `${sweep}.yaml`);
    const manifest = parse(fs.readFileSync(file, "utf8")) as { stacks?: { stack?: unknown }[] } | null;
    const stacks = (manifest?.stacks ?? []).map((s) => s.stack).filter((s): s is string => typeof s === "string");
    if (stacks.length === 0)
        throw new ReportUsageError(
            `stacks/sweeps/${sweep}.yaml lists no stacks: make it again with \`stacktune sweep\``,
        );
    return stacks;
}

/** The report's stacks (each once, in the order named) and its title. */
export function resolveReportStacks(projectDir: string, names: readonly string[]): { stacks: string[]; title: string } {
    const sweeps = fs.existsSync(sweepsDir(projectDir))
        ? fs
              .readdirSync(sweepsDir(projectDir))
              .filter((f) => f.endsWith(".yaml"))
              .map((f) => f.slice(0, -".yaml".length))
              .sort()
        : [];
    if (names.length === 0) {
        if (sweeps.length === 1) return resolveReportStacks(projectDir, sweeps);
        throw new ReportUsageError(
            (sweeps.length === 0
                ? "no sweep in stacks/sweeps/: name the stacks to compare"
                : `${sweeps.length} sweeps in stacks/sweeps/ (${sweeps.join(", ")}): name one, or the stacks to compare`) +
                `\nusage: ${reportUsage}`,
        );
    }
    const stacks: string[] = [];
    for (const name of names) {
        if (fs.existsSync(path.join(projectDir, "stacks", `Pulumi.${name}.yaml`))) stacks.push(name);
        else if (sweeps.includes(name)) stacks.push(...sweepStacks(projectDir, name));
        else
            throw new ReportUsageError(
                `${name} is neither a stack (stacks/Pulumi.${name}.yaml) nor a sweep (stacks/sweeps/${name}.yaml)`,
            );
    }
    const unique = [...new Set(stacks)];
    const title =
        names.length === 1 && sweeps.includes(names[0] as string)
            ? `stacktune sweep ${names[0]}`
            : `stacktune: ${unique.join(", ")}`;
    return { stacks: unique, title };
}

/** What the report shows of one stack: its settings, its outputs and the history beside its model. */
export function experimentReport(projectDir: string, stack: string, outputs: StackOutputs): ExperimentReport {
    const { settings } = loadSettingsFromStackFile(path.join(projectDir, "stacks", `Pulumi.${stack}.yaml`));
    const localDir = outputs.model?.localDir;
    const report: ExperimentReport = { stack, settings, outputs };
    if (localDir === undefined) {
        report.historyNote =
            outputs.status === undefined
                ? "not run yet"
                : `its model is not in a local output store; ${HISTORY_FILE} is in its model repo`;
        return report;
    }
    const history = readRunHistory(localDir);
    if (history === undefined) report.historyNote = `no ${HISTORY_FILE} in ${localDir}`;
    else report.history = history;
    return report;
}

/** Default page: .stacktune/reports/<sweep or stacks>.html under the project. */
export function defaultReportPath(projectDir: string, names: readonly string[], stacks: readonly string[]): string {
    const base = (names.length === 1 ? names[0] : stacks.join("+")) as string;
    return path.join(projectDir, ".stacktune", "reports", `${base.slice(0, 120)}.html`);
}

/** Writes the page; returns its path. */
export async function writeComparisonReport(
    projectDir: string,
    args: ReportArgs,
    outputs: (stack: string) => Promise<StackOutputs>,
    now: Date = new Date(),
): Promise<{ file: string; stacks: string[] }> {
    const { stacks, title } = resolveReportStacks(projectDir, args.names);
    const experiments: ExperimentReport[] = [];
    for (const stack of stacks) experiments.push(experimentReport(projectDir, stack, await outputs(stack)));
    const file = path.resolve(args.out ?? defaultReportPath(projectDir, args.names, stacks));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, renderComparisonPage(title, experiments, now.toISOString().replace(/\.\d+Z$/, "Z")));
    return { file, stacks };
}
