import { type TrainingKey, fixedTrainingValue, trainingKeys, trainingKeysFile } from "../contract/training-keys";
import { type Settings, SettingsSchema, machineCount, runsOnCpu } from "../settings";
import { modelDestinations } from "./destinations";
import { generatedHeader } from "./header";
import { toYaml, yamlFloat } from "./yaml";

/**
 * Paths inside the run directory (docs/contracts.md §2): `launch.sh` runs there, so every path in
 * `training.yaml` is relative to it and the same file works on any host. Fixed values of the key table.
 */
export const runDirPaths = {
    outputDir: fixedTrainingValue("output_dir") as string,
    preparedDatasetDir: fixedTrainingValue("prepared_dataset_dir") as string,
    mergedOutputDir: fixedTrainingValue("merged_output_dir") as string,
} as const;

/**
 * The smoke test's prompt and length. Not a setting: it only checks that the merged model loads
 * and answers; the prompt is the reference write-up's inference example, shortened.
 */
export const smokeTest = {
    prompt: fixedTrainingValue("smoke_prompt") as string,
    maxNewTokens: fixedTrainingValue("smoke_max_new_tokens") as number,
} as const;

/** What a derivation reads: the settings, the stack, and the facts several derivations share. */
interface DerivationInput {
    settings: Settings;
    stackName: string;
    cpu: boolean;
    pushAdapter: boolean;
}

/**
 * The keys of the table whose value is not one setting as it is (`derived` rows). Each table row
 * says in words what its derivation does (docs/contracts.md §4); `undefined` leaves the key out.
 */
const derivations: Record<string, (input: DerivationInput) => unknown> = {
    lora_target_modules: ({ settings: { lora } }) =>
        typeof lora.targetModules === "string" ? lora.targetModules : lora.targetModules.join(","),
    // The merged model goes to its repo, or else to the output store on the host.
    output_store_dir: ({ settings, stackName }) => modelDestinations(settings.hub, stackName).localDir,
    // bf16 needs a GPU; on the CPU the run is fp32 (accelerate.yaml says mixed_precision: no).
    bf16: ({ settings, cpu }) => settings.training.bf16 && !cpu,
    use_cpu: ({ cpu }) => cpu,
    eval_steps: ({ settings: { evaluation } }) => (evaluation.strategy === "steps" ? evaluation.steps : undefined),
    save_steps: ({ settings: { checkpointing } }) =>
        checkpointing.strategy === "steps" ? checkpointing.steps : undefined,
    // Machines share no filesystem: each keeps its own checkpoints (its ranks' RNG and optimizer
    // state included), so every machine can resume; set only on several machines.
    save_on_each_node: ({ settings }) => (machineCount(settings.target) > 1 ? true : undefined),
    gradient_checkpointing_kwargs: ({ settings }) => ({ use_reentrant: settings.training.useReentrant }),
    run_name: ({ stackName }) => stackName,
    push_to_hub: ({ pushAdapter }) => pushAdapter,
    hub_strategy: ({ settings, pushAdapter }) => (pushAdapter ? settings.hub.strategy : undefined),
    hub_private_repo: ({ settings, pushAdapter }) => (pushAdapter ? settings.hub.private : undefined),
    // Benchmarks are off unless a stack names tasks: then their keys appear, and no other stack's file changes.
    benchmark_tasks: ({ settings: { evaluation } }) =>
        evaluation.benchmarks.tasks.length > 0 ? evaluation.benchmarks.tasks.join(",") : undefined,
    benchmark_limit: ({ settings: { evaluation } }) =>
        evaluation.benchmarks.tasks.length > 0 ? evaluation.benchmarks.limit : undefined,
    benchmark_min_scores: ({ settings: { evaluation } }) =>
        Object.keys(evaluation.benchmarks.minScores).length > 0 ? evaluation.benchmarks.minScores : undefined,
};

/** The object schema under a settings path's parent, through `.default()`/`.prefault()`/`.optional()`. */
function objectShape(schema: unknown): Record<string, unknown> | undefined {
    let current = schema as { shape?: Record<string, unknown>; _zod?: { def?: { innerType?: unknown } } } | undefined;
    while (current !== undefined && current.shape === undefined)
        current = current._zod?.def?.innerType as typeof current;
    return current?.shape;
}

/** Whether `path` (`training.learningRate`) names a field of the settings schema. */
function isSettingsPath(path: string): boolean {
    let shape: Record<string, unknown> | undefined = SettingsSchema.shape;
    const parts = path.split(".");
    for (const [index, part] of parts.entries()) {
        if (shape === undefined || !Object.hasOwn(shape, part)) return false;
        if (index < parts.length - 1) shape = objectShape(shape[part]);
    }
    return true;
}

function settingAt(settings: Settings, path: string): unknown {
    return path
        .split(".")
        .reduce<unknown>((value, part) => (value as Record<string, unknown> | undefined)?.[part], settings);
}

/** Every row is computable and every derivation has its row: a key known to one side only fails. */
function checkTable(table: readonly TrainingKey[]): void {
    const listed = new Set(table.map(({ key }) => key));
    for (const key of Object.keys(derivations)) {
        if (!listed.has(key)) {
            throw new Error(
                `src/render/training.ts derives ${key}, which ${trainingKeysFile} does not list: add its row there`,
            );
        }
    }
    for (const { key, setting, derived } of table) {
        if (derived !== undefined && !Object.hasOwn(derivations, key)) {
            throw new Error(
                `${trainingKeysFile}: ${key} is derived, but src/render/training.ts has no derivation for it`,
            );
        }
        if (setting !== undefined && !isSettingsPath(setting)) {
            throw new Error(
                `${trainingKeysFile}: ${key} maps setting ${setting}, which the stacktune settings (src/settings/) do not have`,
            );
        }
    }
}

/**
 * The `training.yaml` object: exactly the keys of the key table (docs/contracts.md §4), in its
 * order. `undefined` and `null` values are left out (optional keys, contracts §4);
 * `stacktune_train.config.parse_config` rejects any key the table does not list.
 */
export function trainingConfig(
    settings: Settings,
    stackName: string,
    table: readonly TrainingKey[] = trainingKeys,
): Record<string, unknown> {
    checkTable(table);
    const input: DerivationInput = {
        settings,
        stackName,
        cpu: runsOnCpu(settings),
        pushAdapter: settings.hub.adapterRepo !== undefined,
    };
    const entries: [string, unknown][] = [];
    for (const row of table) {
        const value =
            row.setting !== undefined
                ? settingAt(settings, row.setting)
                : row.derived !== undefined
                  ? derivations[row.key]?.(input)
                  : row.value;
        if (value === undefined || value === null) continue;
        entries.push([row.key, row.type === "float" && typeof value === "number" ? yamlFloat(value) : value]);
    }
    return Object.fromEntries(entries);
}

/** `training.yaml`: the one file every `stacktune_train` entry point reads (contracts §3–§4). */
export function renderTrainingConfig(
    settings: Settings,
    stackName: string,
    table: readonly TrainingKey[] = trainingKeys,
): string {
    return toYaml(trainingConfig(settings, stackName, table), { header: generatedHeader(stackName) });
}
