import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { JobSummary, JobSummarySchema, parseJobSummary } from "./contract/job-protocol";
import { targets } from "./targets";
import { HostCommand, hostCommand, JobHost } from "./hosts/command";
import { hostCleanup } from "./hosts/reach";
import { deterministicTarGz, TarEntry } from "./job/tarball";
import { budgetWatchdogMarginSeconds, hostPaths } from "./render/cloudInit";
import { bashHeredoc, hostPath, shellQuote } from "./render/shell";

const REMOTE_SCRIPTS_DIR = path.join(__dirname, "job", "remote");

/** The on-host scripts shipped into every run directory (see src/job/remote/). */
export const RUN_SCRIPTS = [
    "start-or-attach.sh",
    "run-job.sh",
    "spot-watch.sh",
    "checkpoint-sync.sh",
    "lib.sh",
] as const;

/**
 * `script` with the scripts' shared functions (lib.sh: run identity, JSON strings, phase lines) in
 * front, for a host script that cannot source them from the run directory (it may be pruned or gone).
 */
export function withRunLib(script: string): string {
    return `${fs.readFileSync(path.join(REMOTE_SCRIPTS_DIR, "lib.sh"), "utf8")}\n${script}`;
}

/** `<runRoot>/<experimentHash>`: one directory per experiment on the host (contracts §2). */
export function runDirectory(runRoot: string, experimentHash: string): string {
    if (!/^[0-9a-f]{64}$/.test(experimentHash)) {
        throw new Error(`experiment hash must be 64 hex characters (got "${experimentHash}")`);
    }
    return `${runRoot.replace(/\/+$/, "")}/${experimentHash}`;
}

/** Non-secret settings of the run, sourced by the scripts and by launch.sh (contracts §2). */
export interface RunEnv {
    experimentHash: string;
    stack: string;
    runtime: "docker" | "venv";
    /** docker: the image tag to run. */
    image?: string;
    /** venv: an existing environment; unset = one is created under {@link venvRoot}. */
    venvPath?: string;
    /** venv: interpreter that creates the environment. */
    python: string;
    venvRoot: string;
    gpus: number;
    /** Directory of the merged model when no Hub repo is set (`output_store_dir`). */
    outputStoreDir: string;
    /** Whether start-or-attach looks for the finished model in {@link outputStoreDir} first. */
    checkOutputStore: boolean;
    /** metrics.json, relative to the run directory. */
    metricsFile: string;
    maxSeconds: number;
    keepRunDir: boolean;
    release: "poweroff" | "none";
    /** Watch the metadata service for spot interruption notices (aws hosts; spot-watch.sh). @default false */
    spotWatch?: boolean;
    /** Machine rank of a multi-host run (launch.sh picks its accelerate config by it); unset on one machine. */
    machineRank?: number;
    /** Power off after a failed run too (`release: poweroff` on a multi-host run). @default false */
    releaseOnFailure?: boolean;
    /**
     * The budget watchdog's deadline file on the host (aws: {@link hostPaths}.budgetDeadline): each
     * attempt stops gracefully {@link budgetWatchdogMarginSeconds} before it. @default none
     */
    watchdogDeadlineFile?: string;
    /** The plan's cost estimate, as `pulumi preview` printed it: the model card states it. */
    estimatedCost?: string;
}

/** A value for a bash assignment: `~/x` becomes `"$HOME"/'x'` so it expands on the host. */
function envValue(value: string): string {
    return hostPath(value);
}

/** The content of run.env. Never holds a secret: it travels in the (plain) stage command input. */
export function renderRunEnv(env: RunEnv): string {
    const entries: [string, string][] = [
        ["STACKTUNE_EXPERIMENT_HASH", env.experimentHash],
        ["STACKTUNE_STACK", env.stack],
        ["STACKTUNE_RUNTIME", env.runtime],
        ...(env.image !== undefined ? ([["STACKTUNE_IMAGE", env.image]] as [string, string][]) : []),
        ...(env.venvPath !== undefined ? ([["STACKTUNE_VENV", env.venvPath]] as [string, string][]) : []),
        ["STACKTUNE_PYTHON", env.python],
        ["STACKTUNE_VENV_ROOT", env.venvRoot],
        ["STACKTUNE_GPUS", String(env.gpus)],
        ["STACKTUNE_OUTPUT_STORE_DIR", env.outputStoreDir],
        ["STACKTUNE_CHECK_OUTPUT_STORE", String(env.checkOutputStore)],
        ["STACKTUNE_METRICS_FILE", env.metricsFile],
        ["STACKTUNE_MAX_SECONDS", String(Math.ceil(env.maxSeconds))],
        ["STACKTUNE_KEEP_RUN_DIR", String(env.keepRunDir)],
        ["STACKTUNE_RELEASE", env.release],
        ...(env.spotWatch === true ? ([["STACKTUNE_SPOT_WATCH", "true"]] as [string, string][]) : []),
        ...(env.machineRank !== undefined
            ? ([["STACKTUNE_MACHINE_RANK", String(env.machineRank)]] as [string, string][])
            : []),
        ...(env.releaseOnFailure === true ? ([["STACKTUNE_RELEASE_ON_FAILURE", "true"]] as [string, string][]) : []),
        ...(env.watchdogDeadlineFile !== undefined
            ? ([
                  ["STACKTUNE_WATCHDOG_DEADLINE_FILE", env.watchdogDeadlineFile],
                  ["STACKTUNE_WATCHDOG_MARGIN_S", String(budgetWatchdogMarginSeconds)],
              ] as [string, string][])
            : []),
        ...(env.estimatedCost !== undefined
            ? ([["STACKTUNE_ESTIMATED_COST", env.estimatedCost]] as [string, string][])
            : []),
    ];
    return [
        "# stacktune run settings (no secrets: those are in secrets.env, mode 0600)",
        ...entries.map(([k, v]) => `${k}=${envValue(v)}`),
        "",
    ].join("\n");
}

/** The secrets, as the content of secrets.env. Only ever sent on the job command's stdin. */
export function renderSecretsEnv(secrets: { hfToken?: string; wandbApiKey?: string }): string {
    const lines = ["# stacktune secrets (mode 0600, removed when the run ends)"];
    if (secrets.hfToken !== undefined) {
        lines.push(`HF_TOKEN=${shellQuote(secrets.hfToken)}`);
    }
    if (secrets.wandbApiKey !== undefined) {
        lines.push(`WANDB_API_KEY=${shellQuote(secrets.wandbApiKey)}`);
    }
    return `${lines.join("\n")}\n`;
}

export interface RunBundleInputs {
    /** Rendered run-directory files (accelerate.yaml, training.yaml, launch.sh). */
    renderedFiles: ReadonlyMap<string, string>;
    runEnv: string;
    /** python/ sources by `python/…` path. */
    pythonSources: ReadonlyMap<string, string>;
    /** The pinned set's install script and manifests by repository path (images/…: pythonSetFiles in src/image.ts). */
    requirements: ReadonlyMap<string, string>;
}

/** The files uploaded into the run directory, with modes. */
export function runBundleEntries(inputs: RunBundleInputs): Map<string, TarEntry> {
    const entries = new Map<string, TarEntry>();
    for (const [name, content] of inputs.renderedFiles) {
        entries.set(name, { content, mode: name.endsWith(".sh") ? 0o755 : 0o644 });
    }
    entries.set("run.env", { content: inputs.runEnv });
    for (const script of RUN_SCRIPTS) {
        entries.set(script, { content: fs.readFileSync(path.join(REMOTE_SCRIPTS_DIR, script), "utf8"), mode: 0o755 });
    }
    for (const [name, content] of inputs.pythonSources) {
        entries.set(name, { content });
    }
    for (const [name, content] of inputs.requirements) {
        entries.set(name, { content });
    }
    return entries;
}

/**
 * Unpacks the bundle (base64 tar.gz on stdin) into the run directory, then links each of `links`
 * (run-directory-relative path → absolute path on the host) into it.
 */
export function stageCommand(runDir: string, links: ReadonlyMap<string, string> = new Map()): string {
    const linkCommands = [...links].map(([rel, target]) => {
        if (rel.startsWith("/") || rel.split("/").includes("..")) {
            throw new Error(`a run-directory link must be a relative path inside it (got "${rel}")`);
        }
        return `; mkdir -p "$d"/${shellQuote(path.posix.dirname(rel))}; ln -sfn ${shellQuote(target)} "$d"/${shellQuote(rel)}`;
    });
    return `set -euo pipefail; d=${hostPath(runDir)}; mkdir -p "$d"; base64 -d | tar -xzmf - -C "$d"${linkCommands.join("")}`;
}

/**
 * The job command: start or re-attach (the secrets.env content arrives on stdin). A checkpoint
 * store (s3://bucket/prefix) reaches a run it starts through the environment: the trainer syncs
 * every checkpoint there and restores from it on a new instance (python/stacktune_train/preemption.py).
 */
export function startOrAttachCommand(runDir: string, checkpointStore?: string): string {
    return (
        (checkpointStore !== undefined ? `export STACKTUNE_CHECKPOINT_STORE=${shellQuote(checkpointStore)}; ` : "") +
        `d=${hostPath(runDir)}; if [ ! -f "$d/start-or-attach.sh" ]; then ` +
        `echo "stacktune: run directory $d is missing; run 'pulumi up' again to upload it" >&2; exit 64; fi; ` +
        'exec bash "$d/start-or-attach.sh" "$d"'
    );
}

/** The stage command's line saying whether the output store already holds this experiment's model. */
export const STORE_STATE_PREFIX = "STACKTUNE_STORE=";

/**
 * Appended to the main machine's stage command on a multi-host run: prints whether its output store
 * already holds the model of this experiment (the marker the merge step writes), so the other
 * machines can skip the run instead of waiting for a rendezvous that never opens.
 */
export function storeStateCommand(outputStoreDir: string, experimentHash: string): string {
    if (!/^[0-9a-f]{64}$/.test(experimentHash))
        throw new Error(`experiment hash must be 64 hex characters (got "${experimentHash}")`);
    // lib.sh's store_holds_this_run: the one check of the completion marker, the one start-or-attach.sh runs too.
    const script =
        `STACKTUNE_EXPERIMENT_HASH=${experimentHash}; if store_holds_this_run ${hostPath(outputStoreDir)}; ` +
        `then echo ${STORE_STATE_PREFIX}complete; else echo ${STORE_STATE_PREFIX}pending; fi`;
    return `bash -c ${shellQuote(withRunLib(script))}`;
}

/** `complete` or `pending` from a stage command's stdout; `pending` when it says nothing. */
export function parseStoreState(stdout: string): "complete" | "pending" {
    return stdout.split("\n").some((line) => line.trim() === `${STORE_STATE_PREFIX}complete`) ? "complete" : "pending";
}

/**
 * The run command of a machine other than the main one: when the main machine's store already
 * holds the model, nothing trains here either (the summary says so); else start or re-attach.
 */
export function workerRunCommand(
    runCommand: string,
    mainStoreState: "complete" | "pending",
    runDir: string,
    experimentHash: string,
): string {
    if (mainStoreState === "pending") return runCommand;
    const summary = JSON.stringify(
        JobSummarySchema.parse({
            experiment_hash: experimentHash,
            status: "succeeded",
            exit_code: 0,
            starts: 0,
            metrics: null,
            output_store: "",
            run_dir: runDir,
        } satisfies JobSummary),
    );
    return (
        `printf '%s\\n' '[done] the main machine already holds the model of ${experimentHash}; nothing to train' ` +
        `${shellQuote(summary)}`
    );
}

/** Stops this run's processes and removes its directory per policy; self-contained (the run dir may be pruned). */
export function stopRunCommand(runDir: string, keepRunDir: boolean, container?: string): string {
    const script = withRunLib(fs.readFileSync(path.join(REMOTE_SCRIPTS_DIR, "stop-run.sh"), "utf8"));
    return bashHeredoc(script, [
        hostPath(runDir),
        String(keepRunDir),
        ...(container !== undefined ? [shellQuote(container)] : []),
    ]);
}

/** How long `pulumi up` follows the run command: the wait for the GPUs and the run, each up to budget.maxHours, plus 30 min. */
export function runCommandTimeout(maxHours: number): string {
    return `${2 * Math.ceil(maxHours * 60) + 30}m`;
}

/** The job's summary (src/contract/job-protocol.ts): the last JSON line of the job command's stdout. */
export type JobResult = JobSummary;

/** The summary from the job command's stdout; a line that is not one is a JobProtocolError. */
export const parseJobResult = parseJobSummary;

export interface TrainingJobArgs {
    host: JobHost;
    experimentHash: string;
    stack: string;
    /** Run-directory files from the renderer (accelerate.yaml, training.yaml, launch.sh). */
    renderedFiles: ReadonlyMap<string, string>;
    pythonSources: ReadonlyMap<string, string>;
    /** The pinned set's install script and manifests by repository path, for the venv runtime. */
    requirements: ReadonlyMap<string, string>;
    runtime:
        | { kind: "docker"; image: string; imageReady: pulumi.Resource }
        | { kind: "venv"; venvPath?: string; python?: string };
    /** The plan's cost estimate, for the model card (run.env `STACKTUNE_ESTIMATED_COST`). */
    estimatedCost?: string;
    /** Hub token and W&B key; reach the host only through stdin into a 0600 file. @default {} */
    secrets?: { hfToken?: pulumi.Input<string>; wandbApiKey?: pulumi.Input<string> };
    /** Output store directory on the host (the model's home when no Hub repo is set). */
    outputStoreDir: string;
    /** Look for a finished model in {@link outputStoreDir} before training (no Hub repos). */
    checkOutputStore: boolean;
    /** @default "checkpoints/metrics.json" */
    metricsFile?: string;
    /** budget.maxHours: the run (all its attempts together) is stopped when it runs longer. */
    maxHours: number;
    /** @default false */
    keepRunDir?: boolean;
    /** Power the host off after success (aws) or leave it (ssh/local, or budget.teardown keep). */
    release: "poweroff" | "none";
    /** @default "~/.stacktune/runs" */
    runRoot?: string;
    /** @default "~/.stacktune/venvs" */
    venvRoot?: string;
    /**
     * Paths on the host linked into the run directory (run-directory-relative path → absolute
     * path): the local target's model given relative to the project. @default none
     */
    links?: ReadonlyMap<string, string>;
    /** Where checkpoints are synced and restored from (aws with target.checkpointBucket). @default none */
    checkpointStore?: pulumi.Input<string>;
    /**
     * A multi-host run: this machine's rank, and for the other machines the main machine's output
     * store state ({@link storeStateCommand}). @default one machine
     */
    machine?: { rank: number; mainStoreState?: pulumi.Input<"complete" | "pending"> };
}

/**
 * The managed training job. Two commands on the host:
 * - `stage` unpacks the rendered files, run.env, the scripts and the python/ package into the run
 *   directory `<runRoot>/<experimentHash>` (plain input: nothing secret is in it);
 * - `run` pipes secrets.env in on stdin and runs start-or-attach.sh, which starts the job detached or
 *   re-attaches to it, streams its progress and exits with its status.
 * Both are triggered by the experiment hash: an unchanged stack is a no-op, a changed setting
 * replaces them — the old run is stopped first (the clean-up's deleteBeforeReplace), then exactly one
 * new run starts. Deleting the clean-up stops the run's processes and removes its directory (unless
 * budget.keepRunDir), and skips a host that is gone (src/hosts/reach.ts).
 */
export class TrainingJob extends pulumi.ComponentResource {
    public readonly runDir: string;
    /** Stops the run and removes its directory when deleted; probes the host first when created. */
    public readonly cleanup: HostCommand;
    public readonly stage: HostCommand;
    public readonly run: HostCommand;
    /** The job's summary (status, starts, metrics, output store). */
    public readonly result: pulumi.Output<JobResult | undefined>;
    /** Main machine of a multi-host run: whether its output store held the model at stage time. */
    public readonly storeState: pulumi.Output<"complete" | "pending">;

    constructor(name: string, args: TrainingJobArgs, opts?: pulumi.ComponentResourceOptions) {
        super("stacktune:job:TrainingJob", name, {}, opts);
        const runRoot = args.runRoot ?? "~/.stacktune/runs";
        this.runDir = runDirectory(runRoot, args.experimentHash);
        const keepRunDir = args.keepRunDir ?? false;
        const runEnv = renderRunEnv({
            experimentHash: args.experimentHash,
            stack: args.stack,
            runtime: args.runtime.kind,
            ...(args.runtime.kind === "docker" ? { image: args.runtime.image } : {}),
            ...(args.runtime.kind === "venv" && args.runtime.venvPath !== undefined
                ? { venvPath: args.runtime.venvPath }
                : {}),
            python: (args.runtime.kind === "venv" ? args.runtime.python : undefined) ?? "python3",
            venvRoot: args.venvRoot ?? "~/.stacktune/venvs",
            gpus: args.host.gpus,
            outputStoreDir: args.outputStoreDir,
            checkOutputStore: args.checkOutputStore,
            metricsFile: args.metricsFile ?? "checkpoints/metrics.json",
            maxSeconds: args.maxHours * 3600,
            keepRunDir,
            release: args.release,
            spotWatch: targets[args.host.kind].spotWatch,
            ...(targets[args.host.kind].budgetWatchdog ? { watchdogDeadlineFile: hostPaths.budgetDeadline } : {}),
            ...(args.machine !== undefined ? { machineRank: args.machine.rank } : {}),
            // A cluster is released as a whole: a machine whose job failed cannot continue alone.
            ...(args.machine !== undefined && args.release === "poweroff" ? { releaseOnFailure: true } : {}),
            ...(args.estimatedCost !== undefined ? { estimatedCost: args.estimatedCost } : {}),
        });
        const bundle = deterministicTarGz(
            runBundleEntries({
                renderedFiles: args.renderedFiles,
                runEnv,
                pythonSources: args.pythonSources,
                requirements: args.requirements,
            }),
        );
        const ready = [...args.host.ready, ...(args.runtime.kind === "docker" ? [args.runtime.imageReady] : [])];
        const triggers = [args.experimentHash];

        const container = args.runtime.kind === "docker" ? `stacktune-${args.experimentHash.slice(0, 12)}` : undefined;
        const reportsStore = args.machine?.rank === 0;
        // The run's clean-up lives in its own resource, created before the stage (it probes the host
        // first) and deleted after the run and the stage: a stage or run whose create failed may never
        // reach the state, and destroy must still leave nothing behind. Replaced with the experiment,
        // delete first: two runs must never share the GPUs, so the old run stops before the new starts.
        this.cleanup = hostCleanup(
            `${name}-cleanup`,
            args.host,
            {
                script: stopRunCommand(this.runDir, keepRunDir, container),
                leftBehind: targets[args.host.kind].leftBehindWhenUnreachable(this.runDir),
                triggers,
            },
            { parent: this, dependsOn: ready, deleteBeforeReplace: true },
        );
        this.stage = hostCommand(
            `${name}-stage`,
            args.host,
            {
                create:
                    stageCommand(this.runDir, args.links) +
                    (reportsStore ? `; ${storeStateCommand(args.outputStoreDir, args.experimentHash)}` : ""),
                stdin: bundle.toString("base64"),
                triggers,
            },
            { parent: this, dependsOn: [...ready, this.cleanup] },
        );

        const secrets = args.secrets ?? {};
        const secretsEnv = pulumi.secret(
            pulumi.all([secrets.hfToken, secrets.wandbApiKey]).apply(([hfToken, wandbApiKey]) =>
                renderSecretsEnv({
                    ...(hfToken !== undefined ? { hfToken } : {}),
                    ...(wandbApiKey !== undefined ? { wandbApiKey } : {}),
                }),
            ),
        );
        const ownCommand =
            args.checkpointStore !== undefined
                ? pulumi.output(args.checkpointStore).apply((store) => startOrAttachCommand(this.runDir, store))
                : pulumi.output(startOrAttachCommand(this.runDir));
        const mainStoreState = args.machine?.mainStoreState;
        const runCommand =
            mainStoreState !== undefined
                ? pulumi
                      .all([ownCommand, mainStoreState])
                      .apply(([command, state]) => workerRunCommand(command, state, this.runDir, args.experimentHash))
                : ownCommand;
        this.run = hostCommand(
            `${name}-run`,
            args.host,
            {
                create: runCommand,
                // A changed secret or connection re-runs start-or-attach: it re-attaches, never retrains.
                update: runCommand,
                stdin: secretsEnv,
                triggers,
            },
            {
                parent: this,
                dependsOn: [this.stage],
                additionalSecretOutputs: ["stdin"],
                // A 15-hour run is one create; Pulumi's default timeouts must not cut it. A GPU run may
                // first wait up to maxHours for another run to free the host's GPUs (run-job.sh).
                customTimeouts: { create: runCommandTimeout(args.maxHours), update: runCommandTimeout(args.maxHours) },
            },
        );
        // The summary line is built on the host from fixed fields and metrics.json, never from a
        // secret; a provider that marks all stdout secret (because stdin is) must not hide it.
        this.result = pulumi.unsecret(this.run.stdout.apply(parseJobResult));
        this.storeState = this.stage.stdout.apply(parseStoreState);
        this.registerOutputs({ runDir: this.runDir, result: this.result });
    }
}
