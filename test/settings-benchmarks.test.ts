// evaluation.benchmarks (issue 19 item 4): lm-evaluation-harness tasks on the merged model, off by
// default; task names come from one allow-list, thresholds name a listed task, and the settings
// reach training.yaml as the trainer's benchmark_* keys only when a stack names tasks.
import { describe, expect, it } from "vitest";
import { trainingConfig } from "../src/render";
import { parseSettings } from "../src/settings";
import { cpuLocalSettings } from "./render/fixtures";
import { allSecrets, canary, merge, settingsErrorOf, sshTarget } from "./settings/fixtures";

const gpu = { target: sshTarget };

function messageAt(raw: Record<string, unknown>, path: string): string | undefined {
    const error = settingsErrorOf(() => parseSettings(raw, allSecrets));
    const issue = error.issues.find((candidate) => candidate.path === path);
    expect(issue, `issues: ${JSON.stringify(error.issues)}`).toBeDefined();
    expect(error.message).toContain(`stacktune:${path}: `);
    return issue?.message;
}

describe("evaluation.benchmarks settings", () => {
    it("are off by default: no tasks, 100 examples per task when some are named, no thresholds", () => {
        expect(parseSettings(gpu, allSecrets).evaluation.benchmarks).toEqual({ tasks: [], limit: 100, minScores: {} });
    });

    it("accept a shipped task and a built-in harness task with a threshold", () => {
        const settings = parseSettings(
            merge(gpu, {
                evaluation: {
                    benchmarks: {
                        tasks: ["stacktune_demo_qa", "arc_easy"],
                        limit: 5,
                        minScores: { "arc_easy.acc": 0.3 },
                    },
                },
            }),
            allSecrets,
        );
        expect(settings.evaluation.benchmarks).toEqual({
            tasks: ["stacktune_demo_qa", "arc_easy"],
            limit: 5,
            minScores: { "arc_easy.acc": 0.3 },
        });
    });

    it("refuse a task outside the allow-list, naming the key and the allowed names", () => {
        const message = messageAt(
            merge(gpu, { evaluation: { benchmarks: { tasks: ["arc_easy", "../../etc/passwd"] } } }),
            "evaluation.benchmarks.tasks[1]",
        );
        expect(message).toContain("must be one of stacktune_demo_qa, arc_easy, arc_challenge");
        expect(message).toContain("python/stacktune_train/benchmarks/tasks.json");
    });

    it("refuse a shell command as a task name without echoing it", () => {
        const error = settingsErrorOf(() =>
            parseSettings(merge(gpu, { evaluation: { benchmarks: { tasks: [`x; echo ${canary}`] } } }), allSecrets),
        );
        expect(error.message).not.toContain(canary);
        expect(error.issues.map((issue) => issue.path)).toEqual(["evaluation.benchmarks.tasks[0]"]);
    });

    it("refuse a task listed twice", () => {
        expect(
            messageAt(
                merge(gpu, { evaluation: { benchmarks: { tasks: ["piqa", "piqa"] } } }),
                "evaluation.benchmarks.tasks[1]",
            ),
        ).toBe("lists piqa twice; remove one");
    });

    it("refuse a threshold for a task that is not run, saying what to do", () => {
        expect(
            messageAt(
                merge(gpu, { evaluation: { benchmarks: { tasks: ["piqa"], minScores: { "arc_easy.acc": 0.5 } } } }),
                "evaluation.benchmarks.minScores.arc_easy.acc",
            ),
        ).toBe(
            "names task arc_easy, which stacktune:evaluation.benchmarks.tasks does not list; add it there or remove this threshold",
        );
    });

    it("refuse a threshold key that is not <task>.<metric>", () => {
        expect(
            messageAt(
                merge(gpu, { evaluation: { benchmarks: { tasks: ["piqa"], minScores: { "piqa acc": 0.5 } } } }),
                "evaluation.benchmarks.minScores.piqa acc",
            ),
        ).toContain("must be <task>.<metric> as lm-eval names them, such as arc_easy.acc");
    });

    it("refuse a limit of 0 and a threshold that is not a number", () => {
        expect(
            messageAt(merge(gpu, { evaluation: { benchmarks: { limit: 0 } } }), "evaluation.benchmarks.limit"),
        ).toContain("greater than 0");
        expect(
            messageAt(
                merge(gpu, { evaluation: { benchmarks: { tasks: ["piqa"], minScores: { "piqa.acc": "high" } } } }),
                "evaluation.benchmarks.minScores.piqa.acc",
            ),
        ).toContain("number");
    });
});

describe("evaluation.benchmarks in training.yaml", () => {
    const benchmarkKeys = (config: Record<string, unknown>): Record<string, unknown> =>
        Object.fromEntries(Object.entries(config).filter(([key]) => key.startsWith("benchmark_")));

    it("adds no key when no task is named (every existing training.yaml stays as it is)", () => {
        expect(benchmarkKeys(trainingConfig(cpuLocalSettings(), "cpu"))).toEqual({});
    });

    it("renders the tasks joined with commas, the limit and the thresholds", () => {
        const settings = cpuLocalSettings({
            evaluation: {
                benchmarks: {
                    tasks: ["stacktune_demo_qa", "piqa"],
                    limit: 8,
                    minScores: { "stacktune_demo_qa.acc": 0.25 },
                },
            },
        });
        expect(benchmarkKeys(trainingConfig(settings, "cpu"))).toEqual({
            benchmark_tasks: "stacktune_demo_qa,piqa",
            benchmark_limit: 8,
            benchmark_min_scores: { "stacktune_demo_qa.acc": 0.25 },
        });
    });
});
