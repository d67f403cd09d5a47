/**
 * Runs the operator's command (`src/cli/stacktune.ts` through tsx) against a project copy, the way
 * an operator would: its own process group (a test can SIGKILL all of it, CLI and engine), output
 * collected as it arrives, one `[e2e]` line with the exit and wall time.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import type { PulumiProject } from "./project";

const REPO = resolve(__dirname, "..", "..", "..");
const TSX = join(REPO, "node_modules", ".bin", "tsx");

export interface StacktuneRun {
    code: number;
    /** stdout and stderr, interleaved as written. */
    output: string;
    seconds: number;
}

export interface StacktuneRunner {
    (
        args: string[],
        opts?: { env?: Record<string, string>; onOutput?: (soFar: string, child: ChildProcess) => void },
    ): Promise<StacktuneRun>;
    /** Every process started, for the suite's clean-up. */
    children: ChildProcess[];
}

/**
 * A `stacktune` runner for `project`. `passphrase` unlocks its stacks (the committed local-demo
 * salt belongs to the public demo passphrase); `env` is added to every run (e.g. HOME).
 */
export function stacktuneRunner(
    project: () => PulumiProject,
    passphrase: string,
    env: Record<string, string> = {},
): StacktuneRunner {
    const children: ChildProcess[] = [];
    const run = (
        args: string[],
        opts: { env?: Record<string, string>; onOutput?: (soFar: string, child: ChildProcess) => void } = {},
    ) => {
        const started = Date.now();
        const p = project();
        return new Promise<StacktuneRun>((done, fail) => {
            const child = spawn(TSX, [join(REPO, "src", "cli", "stacktune.ts"), ...args], {
                cwd: REPO,
                env: {
                    ...process.env,
                    STACKTUNE_PROJECT_DIR: p.dir,
                    PULUMI_BACKEND_URL: `file://${p.stateDir}`,
                    PULUMI_HOME: p.pulumiHome,
                    PULUMI_CONFIG_PASSPHRASE: passphrase,
                    ...env,
                    ...opts.env,
                },
                stdio: ["ignore", "pipe", "pipe"],
                detached: true,
            });
            children.push(child);
            let output = "";
            const take = (d: Buffer) => {
                output += d.toString("utf8");
                opts.onOutput?.(output, child);
            };
            child.stdout.on("data", take);
            child.stderr.on("data", take);
            child.once("error", fail);
            child.once("close", (code, signal) => {
                const seconds = (Date.now() - started) / 1000;
                console.log(
                    `[e2e] stacktune ${args.join(" ")}: ${signal ?? `exit ${code}`} in ${seconds.toFixed(1)} s`,
                );
                done({ code: code ?? -1, output, seconds });
            });
        });
    };
    return Object.assign(run, { children });
}
