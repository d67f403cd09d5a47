/**
 * `npm run diff -- <stackA> <stackB> [--markdown] [--from-label A] [--to-label B] [--root DIR]`
 *
 * Prints what differs between two experiments: every setting (after defaults) as
 * `dotted.key: a → b`, then a line diff of each rendered file. A stack is a name
 * (stacks/Pulumi.<name>.yaml under the root) or a path to a stack file, e.g. the base branch's
 * version of a stack in CI. --markdown writes the pull-request job summary form; the labels
 * (default: the arguments as given) name the two sides in headings and diff headers.
 * Exit status: 0 (also when they differ), 2 for bad arguments or invalid settings.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { SettingsError } from "../settings";
import { stackFilePath } from "../render/header";
import { diffStacks, formatStackDiffMarkdown, formatStackDiffText } from "../render/stackDiff";
import { renderStackFile } from "../render/stacks";

const usage = "usage: npm run diff -- <stackA> <stackB> [--markdown] [--from-label A] [--to-label B] [--root DIR]";

interface DiffArgs {
    stacks: string[];
    labels: (string | undefined)[];
    markdown: boolean;
    root: string;
}

function parseArgs(argv: readonly string[]): DiffArgs {
    const args: DiffArgs = { stacks: [], labels: [], markdown: false, root: resolve(__dirname, "..", "..") };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i] ?? "";
        const value = argv[i + 1];
        if (arg === "--markdown") args.markdown = true;
        else if (arg === "--from-label" && value !== undefined) args.labels[0] = argv[++i];
        else if (arg === "--to-label" && value !== undefined) args.labels[1] = argv[++i];
        else if (arg === "--root" && value !== undefined) args.root = resolve(argv[++i] ?? "");
        else if (arg.startsWith("--root=")) args.root = resolve(arg.slice("--root=".length));
        else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}\n${usage}`);
        else args.stacks.push(arg);
    }
    if (args.stacks.length !== 2) throw new Error(usage);
    return args;
}

/** A stack name or a stack file path → the file to load. */
function stackFileFor(root: string, stack: string): string {
    if (stack.endsWith(".yaml") || stack.includes("/")) return resolve(stack);
    return resolve(root, stackFilePath(stack));
}

export function main(argv: readonly string[]): number {
    let args: DiffArgs;
    try {
        args = parseArgs(argv);
    } catch (error) {
        console.error((error as Error).message);
        return 2;
    }
    const sides = [];
    for (const [index, stack] of args.stacks.entries()) {
        const path = stackFileFor(args.root, stack);
        if (!existsSync(path)) {
            console.error(`no stack file ${path}; name a stack in stacks/ or give a path to Pulumi.<stack>.yaml`);
            return 2;
        }
        try {
            sides.push({ ...renderStackFile(path), label: args.labels[index] ?? stack });
        } catch (error) {
            if (!(error instanceof SettingsError)) throw error;
            console.error(error.message);
            return 2;
        }
    }
    const [a, b] = sides;
    if (!a || !b) return 2;
    const diff = diffStacks(a, b);
    process.stdout.write(args.markdown ? formatStackDiffMarkdown(diff) : formatStackDiffText(diff));
    return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
