import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SettingsError, loadSettingsFromStackFile, type Settings } from "../settings";
import { renderAll } from "./index";
import { stackFilePath } from "./header";

/** Directory of the committed rendered files, relative to the repository root. */
export const renderedDir = "rendered";

/** A stack's settings and the files it renders. */
export interface RenderedStack {
    stack: string;
    /** Relative to the root, e.g. `stacks/Pulumi.aws-g5.yaml`. */
    stackFile: string;
    settings: Settings;
    /** File name → content, as {@link renderAll} returns it. */
    files: Map<string, string>;
}

/** A stack file whose settings are invalid. */
export interface InvalidStack {
    stackFile: string;
    error: SettingsError;
}

/** Stack names with a `stacks/Pulumi.<stack>.yaml` under `root`, sorted. */
export function listStacks(root: string): string[] {
    const dir = join(root, "stacks");
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
        .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
        .filter((stack): stack is string => stack !== undefined)
        .sort();
}

/** Loads and renders one stack file (a path); throws {@link SettingsError} when it is invalid. */
export function renderStackFile(path: string): Omit<RenderedStack, "stackFile"> {
    const { stack, settings } = loadSettingsFromStackFile(path);
    return { stack, settings, files: renderAll(settings, stack) };
}

/** Renders every stack under `root`; invalid stacks are collected, not thrown. */
export function renderStacks(root: string): { stacks: RenderedStack[]; invalid: InvalidStack[] } {
    const stacks: RenderedStack[] = [];
    const invalid: InvalidStack[] = [];
    for (const stack of listStacks(root)) {
        const stackFile = stackFilePath(stack);
        try {
            stacks.push({ ...renderStackFile(join(root, stackFile)), stackFile });
        } catch (error) {
            if (!(error instanceof SettingsError)) throw error;
            invalid.push({ stackFile, error });
        }
    }
    return { stacks, invalid };
}

/** Expected content of every rendered file, by path relative to the root (`rendered/<stack>/<file>`). */
export function expectedRenderedFiles(stacks: readonly RenderedStack[]): Map<string, string> {
    const expected = new Map<string, string>();
    for (const { stack, files } of stacks) {
        for (const [name, content] of files) expected.set(`${renderedDir}/${stack}/${name}`, content);
    }
    return expected;
}

/** Every file now under `rendered/`, relative to the root, sorted. */
export function listRenderedFiles(root: string): string[] {
    const found: string[] = [];
    const walk = (relative: string): void => {
        for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
            const path = `${relative}/${entry.name}`;
            if (entry.isDirectory()) walk(path);
            else found.push(path);
        }
    };
    if (existsSync(join(root, renderedDir))) walk(renderedDir);
    return found.sort();
}

/** How a committed rendered file differs from what its stack renders. */
export interface RenderedFileProblem {
    /** Relative to the root, e.g. `rendered/aws-g5/training.yaml`. */
    path: string;
    /** `missing`: not committed; `stale`: content differs; `extra`: no stack renders it. */
    kind: "missing" | "stale" | "extra";
    /** Content on disk (stale, extra). */
    actual?: string;
    /** Content the stack renders (missing, stale). */
    expected?: string;
}

/**
 * Compares `rendered/` under `root` with what the stacks render. `skipStacks` are stacks whose
 * files cannot be judged (invalid settings): their committed files are neither stale nor extra.
 */
export function checkRendered(
    root: string,
    expected: ReadonlyMap<string, string>,
    skipStacks: readonly string[] = [],
): RenderedFileProblem[] {
    const problems: RenderedFileProblem[] = [];
    const onDisk = new Set(listRenderedFiles(root));
    const skipped = (path: string): boolean => skipStacks.some((stack) => path.startsWith(`${renderedDir}/${stack}/`));
    for (const [path, content] of expected) {
        if (!onDisk.has(path)) {
            problems.push({ path, kind: "missing", expected: content });
            continue;
        }
        const actual = readFileSync(join(root, path), "utf8");
        if (actual !== content) problems.push({ path, kind: "stale", actual, expected: content });
    }
    for (const path of onDisk) {
        if (!expected.has(path) && !skipped(path)) {
            problems.push({ path, kind: "extra", actual: readFileSync(join(root, path), "utf8") });
        }
    }
    return problems.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

/**
 * Brings `rendered/` in line with `expected`: writes missing and stale files (`launch.sh`
 * executable), removes files no stack renders and the directories they leave empty.
 * Returns the problems it fixed.
 */
export function writeRendered(
    root: string,
    expected: ReadonlyMap<string, string>,
    skipStacks: readonly string[] = [],
): RenderedFileProblem[] {
    const problems = checkRendered(root, expected, skipStacks);
    for (const problem of problems) {
        const path = join(root, problem.path);
        if (problem.kind === "extra") {
            rmSync(path);
            const dir = join(path, "..");
            if (readdirSync(dir).length === 0) rmdirSync(dir);
        } else {
            mkdirSync(join(path, ".."), { recursive: true });
            writeFileSync(path, problem.expected ?? "");
            chmodSync(path, problem.path.endsWith(".sh") ? 0o755 : 0o644);
        }
    }
    return problems;
}
