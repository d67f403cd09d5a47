/**
 * `npm run render [-- --check] [-- --root DIR]`
 *
 * Writes rendered/<stack>/{accelerate.yaml, training.yaml, launch.sh[, cloud-init.yaml]} for every
 * stacks/Pulumi.<stack>.yaml. With --check it writes nothing and exits 1 naming every stale,
 * missing or extra file (with its diff), 0 when rendered/ is up to date. Invalid settings, or two
 * stacks naming one model destination (src/render/destinations.ts): the error is printed and the
 * exit status is 2. It also keeps docs/contracts.md §4 generated from the training.yaml key table.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { trainingKeys, trainingKeysFile } from "../contract/training-keys";
import { contractsDocFile, withTrainingKeysTable } from "../contract/training-keys-doc";
import { describeClash, findDestinationClashes } from "../render/destinations";
import { unifiedDiff } from "../render/lineDiff";
import {
    type RenderedFileProblem,
    checkRendered,
    expectedRenderedFiles,
    renderStacks,
    writeRendered,
} from "../render/stacks";

const usage = "usage: npm run render [-- --check] [-- --root DIR]";

interface RenderArgs {
    check: boolean;
    root: string;
}

function parseArgs(argv: readonly string[]): RenderArgs {
    const args: RenderArgs = { check: false, root: resolve(__dirname, "..", "..") };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--check") args.check = true;
        else if (arg === "--root" && argv[i + 1] !== undefined) args.root = resolve(argv[++i] ?? "");
        else if (arg?.startsWith("--root=")) args.root = resolve(arg.slice("--root=".length));
        else throw new Error(`unknown argument ${arg ?? ""}\n${usage}`);
    }
    return args;
}

const problemText: Record<RenderedFileProblem["kind"], string> = {
    missing: "missing: its stack renders it but it is not committed",
    stale: "stale: its stack file renders different content",
    extra: "extra: no stack renders it (was its stack file renamed or deleted?)",
};

/** One problem: the file and what is wrong; a stale file also shows its diff (committed → now). */
function describe(problem: RenderedFileProblem): string {
    const line = `${problem.path} is ${problemText[problem.kind]}`;
    if (problem.kind !== "stale") return line;
    const diff = unifiedDiff(problem.actual ?? "", problem.expected ?? "", {
        from: `${problem.path} (committed)`,
        to: `${problem.path} (rendered now)`,
    });
    return `${line}\n${diff}`;
}

/**
 * docs/contracts.md when its key section differs from the table; nothing for a root without the
 * document (a copy of stacks/ and rendered/ only).
 */
function staleContractsDoc(root: string): RenderedFileProblem | undefined {
    const path = join(root, contractsDocFile);
    if (!existsSync(path)) return undefined;
    const actual = readFileSync(path, "utf8");
    const expected = withTrainingKeysTable(actual, trainingKeys);
    return actual === expected ? undefined : { path: contractsDocFile, kind: "stale", actual, expected };
}

export function main(argv: readonly string[]): number {
    let args: RenderArgs;
    try {
        args = parseArgs(argv);
    } catch (error) {
        console.error((error as Error).message);
        return 2;
    }
    const { stacks, invalid } = renderStacks(args.root);
    for (const { error } of invalid) console.error(`${error.message}\n`);
    const shared = findDestinationClashes(stacks.map(({ stack, settings }) => ({ stack, hub: settings.hub })));
    if (shared.length > 0) {
        console.error(
            `${shared.map(describeClash).join("\n")}\n` +
                "Two stacks sharing a model destination overwrite each other's model and each retrains after the other ran: " +
                "give each stack its own hub.adapterRepo / hub.mergedRepo / hub.localDir (`stacktune new` and `sweep` derive one per stack).\n",
        );
    }
    // Settings problems, of one stack or between stacks.
    const settingsFailed = invalid.length > 0 || shared.length > 0;
    const expected = expectedRenderedFiles(stacks);
    const skip = invalid.map(({ stackFile }) => /Pulumi\.(.+)\.yaml$/.exec(stackFile)?.[1] ?? "");

    const doc = staleContractsDoc(args.root);

    if (args.check) {
        const problems = checkRendered(args.root, expected, skip);
        for (const problem of [...problems, ...(doc ? [doc] : [])]) console.log(describe(problem));
        if (settingsFailed) return 2;
        if (problems.length > 0) {
            console.error(
                `render --check: ${problems.length} rendered file(s) out of date: ${problems.map((p) => p.path).join(", ")}\n` +
                    "Run `npm run render` and commit rendered/.",
            );
        }
        if (doc) {
            console.error(
                `render --check: ${contractsDocFile} is out of date: its training.yaml key table differs from ${trainingKeysFile}. ` +
                    `Run \`npm run render\` and commit ${contractsDocFile}.`,
            );
        }
        if (problems.length > 0 || doc) return 1;
        console.log(`render --check: rendered/ is up to date (${stacks.length} stacks, ${expected.size} files)`);
        return 0;
    }

    const fixed = writeRendered(args.root, expected, skip);
    if (doc) {
        writeFileSync(join(args.root, doc.path), doc.expected ?? "");
        fixed.push(doc);
    }
    for (const problem of fixed) {
        console.log(
            `${problem.kind === "extra" ? "removed" : problem.kind === "missing" ? "created" : "updated"} ${problem.path}`,
        );
    }
    console.log(
        `render: ${stacks.length} stacks, ${expected.size} files, ${fixed.length} changed` +
            (invalid.length > 0 ? `; ${invalid.length} stack(s) skipped for invalid settings` : "") +
            (shared.length > 0 ? `; ${shared.length} model destination(s) shared by two stacks` : ""),
    );
    return settingsFailed ? 2 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
