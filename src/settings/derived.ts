import type { Settings } from "./schema";
import { targetGpuCount } from "./target";

/** True when the run has no GPU: a local or ssh target with `gpus: 0`. */
export function runsOnCpu(settings: Pick<Settings, "target">): boolean {
    return targetGpuCount(settings.target) === 0;
}

/** Training processes on the host: `distributed.numProcesses`, else one per GPU (1 on a CPU). */
export function processCount(settings: Pick<Settings, "target" | "distributed">): number {
    return settings.distributed.numProcesses ?? Math.max(1, targetGpuCount(settings.target));
}

/**
 * Held-out samples the split will produce when the settings alone tell: `testSize` of a known
 * `dataset.numSamples`, rounded up as `datasets.train_test_split` does.
 */
export function knownTestSplitSize(dataset: Settings["dataset"]): number | undefined {
    if (dataset.numSamples === undefined) return undefined;
    return Math.ceil(dataset.testSize * dataset.numSamples);
}

/**
 * Whether `id` (model.id, dataset.source) is read from the Hub rather than from a path on the host:
 * a Hub id is `name` or `owner/name`; a path starts with `/`, `.` or `~`, has more than one `/`, or
 * names a data file.
 */
export function readsFromHub(id: string): boolean {
    return !/^[/.~]/.test(id) && id.split("/").length <= 2 && !/\.(jsonl?|parquet|csv|arrow)$/i.test(id);
}

/**
 * The secrets the job needs on the host; the others never leave the operator's machine. The HF token:
 * a Hub repo to push to or pull from, or a model or dataset from the Hub (it may be gated or private,
 * which the settings cannot tell). The W&B key: tracking.kind wandb.
 */
export function hostSecretsNeeded(settings: Pick<Settings, "hub" | "dataset" | "model" | "tracking">): {
    hfToken: boolean;
    wandbApiKey: boolean;
} {
    return {
        hfToken: usesHubRepos(settings) || readsFromHub(settings.model.id) || readsFromHub(settings.dataset.source),
        wandbApiKey: settings.tracking.kind === "wandb",
    };
}

/** Whether any step pushes to or pulls a private repo from the Hugging Face Hub. */
export function usesHubRepos(settings: Pick<Settings, "hub" | "dataset">): boolean {
    return (
        settings.hub.adapterRepo !== undefined ||
        settings.hub.mergedRepo !== undefined ||
        settings.dataset.preparedRepo !== undefined
    );
}
