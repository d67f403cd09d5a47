import { z } from "zod";
import benchmarkTasks from "../../python/stacktune_train/benchmarks/tasks.json";
import { settingsDefaults } from "./defaults";

/**
 * The evaluation gate after the merge: the merged model's loss on a fixed held-out sample is
 * compared with the adapter's on the same rows; a failed gate publishes nothing.
 */
export const EvaluationGateSchema = z.strictObject({
    /** `gate_enabled`. @default true */
    enabled: z.boolean().default(settingsDefaults.evaluation.gate.enabled),
    /** `gate_samples`: the first N rows of the seeded test split (split_seed). @default 32 */
    samples: z.number().int().positive().max(100000).default(settingsDefaults.evaluation.gate.samples),
    /** `gate_tolerance`: largest relative increase of the merged loss over the adapter's. @default 0.05 */
    tolerance: z.number().min(0).max(1).default(settingsDefaults.evaluation.gate.tolerance),
});

/**
 * The tasks `evaluation.benchmarks.tasks` may name: the table python/stacktune_train/benchmarks/tasks.json,
 * which the trainer checks against too (built-in lm-evaluation-harness tasks, and the tasks shipped
 * with stacktune that run offline). Names only, never paths: a name reaches the host as a word of
 * training.yaml and is looked up there, in lm-eval's registry and the package's own directory.
 */
export const benchmarkTaskNames: readonly string[] = [...benchmarkTasks.shipped, ...benchmarkTasks.builtin];

const BenchmarkTaskSchema = z.string().refine((name) => benchmarkTaskNames.includes(name), {
    error: `must be one of ${benchmarkTaskNames.join(", ")} (the tasks in python/stacktune_train/benchmarks/tasks.json)`,
});

/** `<task>.<metric>` as lm-eval names them, e.g. `arc_easy.acc`. */
const scoreKey = /^([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*$/;

/**
 * Benchmark tasks run through lm-evaluation-harness on the merged model, after the loss gate; a
 * score below its `minScores` threshold fails the gate like a merge error: nothing is published.
 */
export const EvaluationBenchmarksSchema = z
    .strictObject({
        /** `benchmark_tasks`; none: no benchmarks run. @default [] */
        tasks: z
            .array(BenchmarkTaskSchema)
            .max(benchmarkTaskNames.length)
            .default(settingsDefaults.evaluation.benchmarks.tasks),
        /** `benchmark_limit`: examples per task (lm-eval's `limit`); keeps the GPU time small. @default 100 */
        limit: z.number().int().positive().max(100000).default(settingsDefaults.evaluation.benchmarks.limit),
        /** `benchmark_min_scores`: `<task>.<metric>` -> the lowest score that passes. @default {} */
        minScores: z.record(z.string(), z.number().finite()).default(settingsDefaults.evaluation.benchmarks.minScores),
    })
    .superRefine(({ tasks, minScores }, context) => {
        // Each message says what to do already (`complete`: no "change <key>" is appended).
        const problem = (path: (string | number)[], message: string): void => {
            context.addIssue({ code: "custom", path, message, params: { complete: true } });
        };
        for (const [index, task] of tasks.entries()) {
            if (tasks.indexOf(task) !== index) problem(["tasks", index], `lists ${task} twice; remove one`);
        }
        for (const key of Object.keys(minScores)) {
            const task = scoreKey.exec(key)?.[1];
            if (task === undefined) {
                problem(
                    ["minScores", key],
                    "must be <task>.<metric> as lm-eval names them, such as arc_easy.acc; rename it",
                );
            } else if (!tasks.includes(task)) {
                problem(
                    ["minScores", key],
                    `names task ${task}, which stacktune:evaluation.benchmarks.tasks does not list; add it there or remove this threshold`,
                );
            }
        }
    });

export const EvaluationSchema = z.strictObject({
    /** `eval_strategy`. @default epoch */
    strategy: z.enum(["no", "steps", "epoch"]).default(settingsDefaults.evaluation.strategy),
    /** `eval_steps`; required when strategy is `steps`. */
    steps: z.number().int().positive().optional(),
    /** Evaluate at most this many held-out samples (`max_eval_samples`); null = the whole split. @default 2000 */
    maxSamples: z.number().int().positive().nullable().default(settingsDefaults.evaluation.maxSamples),
    gate: EvaluationGateSchema.prefault({}),
    benchmarks: EvaluationBenchmarksSchema.prefault({}),
});

export type EvaluationSettings = z.infer<typeof EvaluationSchema>;
