import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { type CostEstimate, estimateExperimentCost, formatCostEstimate, formatCostMoney } from "./cost";
import { markerMetrics, markerPhases } from "./contract/job-protocol";
import { experimentHash, readSourceTree, renderedDigest } from "./hash";
import { HostAccess, HostAccessRecord } from "./hosts/access";
import { JobHost } from "./hosts/command";
import { DEFAULT_RUN_ROOT } from "./hosts/ssh";
import { CompletedExperiment, expandHome, findHubCompletion, isCommitId, resolveRevision } from "./hub";
import { pythonSetFiles, trainingImageInputs, TrainingImage } from "./image";
import { TrainingJob, JobResult } from "./job";
import { renderAll, renderedFileNames, runDirPaths, trainingConfig } from "./render";
import { targetOf } from "./targets";
import { hostsOf, type TargetHosts } from "./targets/hosts";
import { defaultOutputStoreDir, hostSecretsNeeded, readsFromHub, type PulumiSettings, type Settings } from "./settings";

/**
 * Stack name used when rendering for the hash: the real name appears in headers, `run_name` and the
 * default output directory, none of which change what is trained.
 */
export const HASH_STACK_NAME = "<stack>";

/** Everything the program derives from the settings before creating any resource. */
export interface ExperimentPlan {
    stack: string;
    settings: Settings;
    /** Files rendered for this stack (the run-directory files, plus cloud-init for aws). */
    renderedFiles: Map<string, string>;
    /** The three run-directory files only. */
    runFiles: Map<string, string>;
    experimentHash: string;
    renderedDigest: string;
    pythonSources: Map<string, string>;
    /** docker runtime: the build context (images/ + python/). */
    imageInputs?: Map<string, string>;
    /** Pinned requirement files by base name, for the venv runtime. */
    requirements: Map<string, string>;
    /** Where the merged model is published. */
    model: ModelLocation;
    /** How completion is checked: on the Hub before any host exists, or on the host by the job. */
    completionCheck: "hub" | "on-host";
    estimatedCost: CostEstimate;
}

export interface ModelLocation {
    adapterRepo?: string;
    mergedRepo?: string;
    /** The output store directory on the host (no merged repo, or hub.localDir set). */
    localDir?: string;
}

/** The run-directory files: every rendered file but the instance user-data (one accelerate config per machine). */
function runFilesOf(rendered: Map<string, string>): Map<string, string> {
    return new Map([...rendered].filter(([name]) => name !== renderedFileNames.cloudInit));
}

/** Derives the plan: rendered files, hash, model location, cost. Pure apart from reading the repo. */
export function planExperiment(settings: Settings, stack: string, repoRoot: string): ExperimentPlan {
    const renderedFiles = renderAll(settings, stack);
    const pythonSources = readSourceTree(path.join(repoRoot, "python"), "python", ["tests"]);
    const imageInputs = settings.runtime.kind === "docker" ? trainingImageInputs(repoRoot) : undefined;
    const requirements = pythonSetFiles(repoRoot);
    // A venv that run-job.sh creates is built from the pinned set; a provided runtime.path is not.
    const createsVenv = settings.runtime.kind === "venv" && settings.runtime.path === undefined;
    const hash = experimentHash({
        renderedFiles: runFilesOf(renderAll(settings, HASH_STACK_NAME)),
        pythonSources,
        runtime: {
            kind: settings.runtime.kind,
            ...(imageInputs !== undefined ? { imageInputs } : {}),
            ...(createsVenv ? { pythonSet: requirements } : {}),
        },
        dataSpec: settings.dataset,
    });

    const outputStore = trainingConfig(settings, stack).output_store_dir as string | undefined;
    const model: ModelLocation = {
        ...(settings.hub.adapterRepo !== undefined ? { adapterRepo: settings.hub.adapterRepo } : {}),
        ...(settings.hub.mergedRepo !== undefined ? { mergedRepo: settings.hub.mergedRepo } : {}),
        // A store on this machine (the local target's) is shown as an absolute path.
        ...(outputStore !== undefined
            ? { localDir: targetOf(settings.target).runsOnThisMachine ? expandHome(outputStore) : outputStore }
            : {}),
    };
    // The merge step writes the completion marker next to the merged model: in the merged repo
    // when there is one, else in the output store (an adapter repo never holds it). The store is
    // checked by the job on the host, the local target's too: its host and job are only records, and
    // keeping them makes a second `up` of a finished experiment a no-op (nothing to delete either).
    const completionCheck = settings.hub.mergedRepo !== undefined ? "hub" : "on-host";

    // Hours from the run's tokens and its recipe's measured throughput (bench/results/), priced;
    // budget.maxUsd was checked against the same estimate by the settings layer.
    const estimatedCost = estimateExperimentCost(settings);

    return {
        stack,
        settings,
        renderedFiles,
        runFiles: runFilesOf(renderedFiles),
        experimentHash: hash,
        renderedDigest: renderedDigest(renderedFiles),
        pythonSources,
        ...(imageInputs !== undefined ? { imageInputs } : {}),
        requirements,
        model,
        completionCheck,
        estimatedCost,
    };
}

/** Resolves an Output's value at program time (config secrets are known in preview too). */
function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => {
        output.apply((value) => {
            resolve(value);
            return value;
        });
    });
}

/**
 * Completion lookup, before any host exists: the Hub repo the merge step publishes to. Without a
 * merged repo the job checks the output store on the host (start-or-attach.sh).
 */
export async function lookupCompletion(
    plan: ExperimentPlan,
    options: { hfToken?: pulumi.Output<string>; hubUrl?: string },
): Promise<CompletedExperiment | undefined> {
    switch (plan.completionCheck) {
        case "hub": {
            const repo = plan.model.mergedRepo ?? "";
            const accessToken = options.hfToken !== undefined ? await valueOf(options.hfToken) : undefined;
            return findHubCompletion({
                repo,
                experimentHash: plan.experimentHash,
                ...(accessToken !== undefined ? { accessToken } : {}),
                ...(options.hubUrl !== undefined ? { hubUrl: options.hubUrl } : {}),
            });
        }
        case "on-host":
            return undefined;
    }
}

export interface ExperimentArgs {
    plan: ExperimentPlan;
    secrets: PulumiSettings["secrets"];
    /** The lookup's answer: when set, no host and no job are created. */
    completed: CompletedExperiment | undefined;
    /** Where runs live on the host. @default "~/.stacktune/runs" */
    runRoot?: string;
    /** The project directory: the local target resolves relative paths in the settings against it. */
    repoRoot?: string;
    /** The inputs as set and as pinned (see {@link pinInputs}). */
    inputs: PinnedInputs;
}

/**
 * The local target runs in a run directory under ~/.stacktune/runs, but a user writes paths on
 * this machine relative to the project (`model.id: .stacktune/tiny-llama`, `runtime.path: .venv`).
 * The venv becomes absolute in run.env; the model is linked into the run directory under the same
 * relative path, so the rendered training.yaml (and the experiment hash) stay location-free.
 */
export function localTargetPaths(
    settings: Settings,
    repoRoot: string,
): { venvPath?: string; links?: Map<string, string> } | undefined {
    if (!targetOf(settings.target).runsOnThisMachine) return undefined;
    const runtime = settings.runtime;
    const venvPath =
        runtime.kind === "venv" && runtime.path !== undefined
            ? path.resolve(repoRoot, expandHome(runtime.path))
            : undefined;
    const modelId = settings.model.id;
    const isRelativePath = !modelId.startsWith("/") && !modelId.startsWith("~") && !modelId.split("/").includes("..");
    const links =
        isRelativePath && fs.existsSync(path.join(repoRoot, modelId))
            ? new Map([[modelId, path.join(repoRoot, modelId)]])
            : undefined;
    return { ...(venvPath !== undefined ? { venvPath } : {}), ...(links !== undefined ? { links } : {}) };
}

function readPrivateKey(file: string): pulumi.Output<string> {
    const resolved = expandHome(file);
    try {
        return pulumi.secret(fs.readFileSync(resolved, "utf8"));
    } catch {
        throw new Error(
            `cannot read the SSH private key ${resolved} (stacktune:target.privateKeyPath): fix the path, or ` +
                "remove it and run `pulumi config set --secret stacktune:sshPrivateKey < ~/.ssh/id_ed25519`",
        );
    }
}

/** The run's model and dataset as set, and the commit each was trained at (Hub inputs only). */
export interface PinnedInputs {
    model: { id: string; revision: string; commit?: string };
    dataset: { source: string; revision: string; commit?: string };
}

/**
 * Pins the Hub inputs of an aws/ssh stack: a model or dataset revision that is not a commit id (`main`,
 * a tag) is resolved to the commit it names now, and the run trains at that commit (it is in the
 * staged training.yaml and the experiment hash, so a moved `main` is a new experiment). Resolved
 * rather than refused, so a stack on `main` runs, and the commit is printed for the user to pin. The
 * local target reads nothing from the Hub that needs pinning (and must work offline), so it keeps
 * what the settings say.
 */
export async function pinInputs(
    settings: Settings,
    options: { accessToken?: string; hubUrl?: string },
): Promise<{ settings: Settings; inputs: PinnedInputs; messages: string[] }> {
    const { model, dataset } = settings;
    const messages: string[] = [];
    const pinnable = !targetOf(settings.target).runsOnThisMachine;
    const commitOf = async (kind: "model" | "dataset", id: string, revision: string): Promise<string | undefined> => {
        if (!readsFromHub(id)) return undefined;
        if (isCommitId(revision)) return revision;
        if (!pinnable) return undefined;
        const settingsKey = `stacktune:${kind}.revision`;
        const commit = await resolveRevision({ kind, id, revision, settingsKey, ...options });
        messages.push(
            `${kind} ${id}: revision ${revision} is commit ${commit}; set ${settingsKey} to it to keep this run's inputs`,
        );
        return commit;
    };
    const modelCommit = await commitOf("model", model.id, model.revision);
    const datasetCommit = await commitOf("dataset", dataset.source, dataset.revision);
    const inputs: PinnedInputs = {
        model: {
            id: model.id,
            revision: model.revision,
            ...(modelCommit !== undefined ? { commit: modelCommit } : {}),
        },
        dataset: {
            source: dataset.source,
            revision: dataset.revision,
            ...(datasetCommit !== undefined ? { commit: datasetCommit } : {}),
        },
    };
    const pinned =
        (modelCommit ?? model.revision) === model.revision && (datasetCommit ?? dataset.revision) === dataset.revision
            ? settings
            : {
                  ...settings,
                  model: { ...model, revision: modelCommit ?? model.revision },
                  dataset: { ...dataset, revision: datasetCommit ?? dataset.revision },
              };
    return { settings: pinned, inputs, messages };
}

/** The summary the stack exports. */
export interface ExperimentOutputs {
    /** The host's address, or `none` when the experiment was already complete. */
    hostAddress: pulumi.Output<string>;
    experimentHash: string;
    renderedDigest: string;
    /** The model and dataset as set, and the commits the run trains at. */
    inputs: PinnedInputs;
    model: ModelLocation & { completedBefore: boolean };
    metrics: pulumi.Output<Record<string, unknown> | null>;
    /** Wall time per phase of the run that produced the model, in seconds. */
    phases: pulumi.Output<Record<string, number> | null>;
    status: pulumi.Output<string>;
    estimatedCost: CostEstimate;
    /** The run directory and each machine's connection, for `stacktune status|logs` (none when already complete). */
    hostAccess: pulumi.Output<HostAccess>;
    /** Each machine's address and job status, in machine-rank order (empty when already complete). */
    machines: pulumi.Output<{ rank: number; address: string; status: string }[]>;
}

/**
 * One fine-tuning experiment: completion lookup first; when the model tagged with this experiment's
 * hash already exists, nothing else (and any host of an earlier `up` is removed by Pulumi). Otherwise
 * a host by target kind, the training image (docker runtime) and the job.
 */
export class Experiment extends pulumi.ComponentResource {
    public readonly host?: TargetHosts["primary"];
    public readonly image?: TrainingImage;
    public readonly job?: TrainingJob;
    /** Every machine's host and job, in machine-rank order (one each on a single-host target). */
    public readonly machineHosts: JobHost[] = [];
    public readonly machineJobs: TrainingJob[] = [];
    public readonly outputs: ExperimentOutputs;
    public readonly access?: HostAccessRecord;

    constructor(name: string, args: ExperimentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("stacktune:index:Experiment", name, {}, opts);
        const { plan, completed } = args;
        const { settings } = plan;
        const runRoot = args.runRoot ?? DEFAULT_RUN_ROOT;

        if (completed === undefined) {
            const hosts = createHosts(`${name}-host`, plan, args.secrets, runRoot, this);
            this.host = hosts.primary;
            this.machineHosts = hosts.jobHosts;
            const multiHost = hosts.jobHosts.length > 1;
            const outputStore = plan.model.localDir ?? defaultOutputStoreDir(plan.stack);
            const runtime = settings.runtime;
            const local = args.repoRoot !== undefined ? localTargetPaths(settings, args.repoRoot) : undefined;
            // Machine 0 keeps the single-host names, so adding machines never replaces its resources.
            const suffixOf = (rank: number) => (rank === 0 ? "" : `-${rank}`);
            // The same image is built on every machine (no registry needed).
            const images = hosts.jobHosts.map((jobHost, rank) =>
                plan.imageInputs !== undefined
                    ? new TrainingImage(
                          `${name}-image${suffixOf(rank)}`,
                          { host: jobHost, inputs: plan.imageInputs },
                          { parent: this },
                      )
                    : undefined,
            );
            this.image = images[0];
            const needed = hostSecretsNeeded(settings);
            // What every machine's job shares; per machine: host, image, store check, checkpoint prefix, rank.
            const shared = {
                experimentHash: plan.experimentHash,
                stack: plan.stack,
                renderedFiles: plan.runFiles,
                pythonSources: plan.pythonSources,
                requirements: plan.requirements,
                // Only the secrets a setting needs on the host travel there.
                secrets: {
                    ...(needed.hfToken && args.secrets.hfToken !== undefined ? { hfToken: args.secrets.hfToken } : {}),
                    ...(needed.wandbApiKey && args.secrets.wandbApiKey !== undefined
                        ? { wandbApiKey: args.secrets.wandbApiKey }
                        : {}),
                },
                outputStoreDir: outputStore,
                estimatedCost: `${formatCostMoney(plan.estimatedCost)}; ${plan.estimatedCost.summary ?? plan.estimatedCost.basis}`,
                metricsFile: `${runDirPaths.outputDir}/metrics.json`,
                maxHours: settings.budget.maxHours,
                keepRunDir: settings.budget.keepRunDir,
                release: targetOf(settings.target).releasesAfterRun(settings)
                    ? ("poweroff" as const)
                    : ("none" as const),
                runRoot,
                ...(local?.links !== undefined ? { links: local.links } : {}),
            };
            const venv = {
                kind: "venv" as const,
                ...(runtime.kind === "venv" && runtime.path !== undefined
                    ? { venvPath: local?.venvPath ?? runtime.path }
                    : {}),
                ...(runtime.kind === "venv" ? { python: runtime.python } : {}),
            };
            // Spot preemption and periodic sync: checkpoints go to the experiment's bucket.
            const checkpointStores = hosts.checkpointStores;
            const jobs: TrainingJob[] = [];
            hosts.jobHosts.forEach((jobHost, rank) => {
                const suffix = suffixOf(rank);
                const image = images[rank];
                const main = jobs[0];
                jobs.push(
                    new TrainingJob(
                        `${name}-job${suffix}`,
                        {
                            ...shared,
                            host: jobHost,
                            runtime:
                                image !== undefined
                                    ? { kind: "docker", image: image.tag, imageReady: image.build }
                                    : venv,
                            // Only the main machine merges, so only its store can hold the model.
                            checkOutputStore: plan.completionCheck === "on-host" && rank === 0,
                            ...(checkpointStores?.[rank] !== undefined
                                ? { checkpointStore: checkpointStores[rank] }
                                : {}),
                            ...(multiHost
                                ? {
                                      machine: {
                                          rank,
                                          ...(main !== undefined ? { mainStoreState: main.storeState } : {}),
                                      },
                                  }
                                : {}),
                        },
                        { parent: this },
                    ),
                );
            });
            this.job = jobs[0];
            this.machineJobs = jobs;
            // What `stacktune status|logs` reach the hosts by, saved before the job runs (access.ts).
            this.access = new HostAccessRecord(
                `${name}-access`,
                { runDir: jobs[0]?.runDir ?? "", hosts: hosts.jobHosts },
                { parent: this },
            );
        }

        const result: pulumi.Output<JobResult | undefined> = this.job?.result ?? pulumi.output(undefined);
        this.outputs = {
            // "none" rather than undefined: Pulumi drops undefined outputs with a warning.
            hostAddress: this.host?.jobHost.address ?? pulumi.output("none"),
            experimentHash: plan.experimentHash,
            renderedDigest: plan.renderedDigest,
            inputs: args.inputs,
            model: { ...plan.model, completedBefore: completed !== undefined },
            metrics: result.apply((r) =>
                completed !== undefined ? markerMetrics(completed.marker) : (r?.metrics ?? null),
            ),
            phases: result.apply((r) =>
                completed !== undefined ? markerPhases(completed.marker) : (r?.phases ?? null),
            ),
            status: result.apply((r) => (completed !== undefined ? "already-complete" : (r?.status ?? "pending"))),
            estimatedCost: plan.estimatedCost,
            hostAccess: this.access?.access ?? pulumi.output({ runDir: "", machines: [] }),
            machines: pulumi.all(
                this.machineJobs.map((job, rank) =>
                    pulumi
                        .all([this.machineHosts[rank]?.address ?? pulumi.output("none"), job.result])
                        .apply(([address, r]) => ({ rank, address, status: r?.status ?? "pending" })),
                ),
            ),
        };
        this.registerOutputs({
            experimentHash: this.outputs.experimentHash,
            renderedDigest: this.outputs.renderedDigest,
            hostAddress: this.outputs.hostAddress,
            metrics: this.outputs.metrics,
            phases: this.outputs.phases,
            status: this.outputs.status,
        });
    }
}

/** The host component of the target and each machine's job host, in machine-rank order. */
function createHosts(
    name: string,
    plan: ExperimentPlan,
    secrets: PulumiSettings["secrets"],
    runRoot: string,
    parent: pulumi.Resource,
): TargetHosts {
    const { settings } = plan;
    // The interpreter the host creates the venv with; none when the venv is given (runtime.path).
    const python =
        settings.runtime.kind === "venv" && settings.runtime.path === undefined ? settings.runtime.python : undefined;
    return hostsOf(settings.target)({ name, plan, secrets, runRoot, parent, runtime: settings.runtime.kind, python });
}

/** Builds the experiment after the completion lookup (which must finish before resources are declared). */
export async function createExperiment(
    name: string,
    args: { settings: Settings; secrets: PulumiSettings["secrets"]; stack: string; repoRoot: string; hubUrl?: string },
    opts?: pulumi.ComponentResourceOptions,
): Promise<Experiment> {
    // The rules first: a stack they refuse asks the Hub nothing.
    let plan = planExperiment(args.settings, args.stack, args.repoRoot);
    // An unreadable key file fails here, before any resource is declared.
    const keyPath = targetOf(args.settings.target).privateKeyPath(args.settings.target);
    const secrets = keyPath !== undefined ? { ...args.secrets, sshPrivateKey: readPrivateKey(keyPath) } : args.secrets;
    const accessToken = secrets.hfToken !== undefined ? await valueOf(secrets.hfToken) : undefined;
    const pinned = await pinInputs(args.settings, {
        ...(accessToken !== undefined ? { accessToken } : {}),
        ...(args.hubUrl !== undefined ? { hubUrl: args.hubUrl } : {}),
    });
    if (pinned.settings !== args.settings) {
        plan = planExperiment(pinned.settings, args.stack, args.repoRoot);
    }
    // Shown by `pulumi preview` and `pulumi up` before anything is created.
    for (const message of pinned.messages) void pulumi.log.info(message);
    if (plan.estimatedCost.stoppedByBudget === true) {
        void pulumi.log.warn(formatCostEstimate(plan.estimatedCost));
    } else {
        void pulumi.log.info(formatCostEstimate(plan.estimatedCost));
    }
    const completed = await lookupCompletion(plan, {
        ...(secrets.hfToken !== undefined ? { hfToken: secrets.hfToken } : {}),
        ...(args.hubUrl !== undefined ? { hubUrl: args.hubUrl } : {}),
    });
    return new Experiment(name, { plan, secrets, completed, repoRoot: args.repoRoot, inputs: pinned.inputs }, opts);
}
