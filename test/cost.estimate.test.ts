// The cost estimate from measured throughput (src/cost.ts): the bench file's figures, recipe
// matching, training tokens from the settings, projection to the instance, budget cap and refusal;
// several hosts (target.hosts): measured scaling for the recipe and machine count the multi-host
// benchmark ran, else linear and said to be assumed.
import * as path from "path";
import { describe, expect, it } from "vitest";
import {
    benchRecipeOf,
    estimateExperimentCost,
    formatCostEstimate,
    loadBenchThroughput,
    multiHostThroughput,
    trainSampleCount,
} from "../src/cost";
import { MEASURED_THROUGHPUT } from "../src/cost/measured";
import { checkSettingsRules, loadSettingsFromStackFile, type Settings } from "../src/settings";

const repo = path.resolve(__dirname, "..");
const bench = loadBenchThroughput(repo);
const stack = (name: string): Settings =>
    loadSettingsFromStackFile(path.join(repo, "stacks", `Pulumi.${name}.yaml`)).settings;
/** A stack with b2's numerics: PEFT's float32 frozen weights, every decoder layer recomputed. */
const asB2 = (s: Settings): Settings => ({
    ...s,
    quantization: { ...s.quantization, upcastFrozenWeights: true },
    training: { ...s.training, checkpointSkipLayers: 0 },
});

describe("bench throughput", () => {
    it("reads the projection of bench/results/2026-11-27-gpu-recipes.json, the multi-host result and the 1-GPU speed ratios", () => {
        expect(bench).toEqual({
            date: "2026-11-27",
            referenceTokensPerSecondOn4090: 5893,
            referenceEvalSecondsPerSample: 7533 / 300466,
            // P2P-off figures win (PCIe boxes); b3 was measured with P2P only. b5 / b6: b2's figure
            // times their ratio over b2 on one H200 at 24 GiB (bench/results/2026-12-01-h200-speed.json).
            recipeSpeedup: {
                "b2-ddp-liger-nonreentrant": 1.294,
                "b3-ddp-bfd-liger": 1.166,
                "b5-ddp-liger-bf16-skip8": Math.round(1.294 * 1.454 * 1000) / 1000,
                "b6-ddp-liger-bf16-skip4": Math.round(1.294 * 1.422 * 1000) / 1000,
            },
            timeScale: { "4x RTX 4090": 1, "g5.12xlarge": 2.36, "g6.12xlarge": 1.365 },
            meanTokensPerSample: 375.9,
            // bench/results/2026-11-28-multihost-gpu.json: median ratios 0.995 (p2p), 1.003 (nop2p),
            // 1.000 (net); the worst one is taken.
            multiHost: { date: "2026-11-28", recipe: "b2-ddp-liger-nonreentrant", machines: 2, efficiency: 0.995 },
        });
    });

    it("multi-host efficiency: the worst median ratio, never above 1, refused when none was measured", () => {
        const result = (...ratios: (number | undefined)[]) => ({
            meta: { date: "2026-12-01" },
            comparisons: Object.fromEntries(
                ratios.map((r, i) => [`m2x2.mode${i}`, r === undefined ? {} : { median_tokens_per_s_ratio: r }]),
            ),
        });
        expect(multiHostThroughput(result(1.02, 0.9376, undefined, 0.99))).toEqual({
            date: "2026-12-01",
            recipe: "b2-ddp-liger-nonreentrant",
            machines: 2,
            efficiency: 0.938,
        });
        expect(multiHostThroughput(result(1.003, 1.01)).efficiency).toBe(1);
        expect(() => multiHostThroughput(result(undefined))).toThrow(
            "bench/results/2026-11-28-multihost-gpu.json has no median_tokens_per_s_ratio in its comparisons",
        );
    });

    it("the program's copy of the figures (src/cost/measured.ts) is the committed file's", () => {
        expect(MEASURED_THROUGHPUT).toEqual(bench);
    });

    it("matches a stack's recipe to the benchmarked one", () => {
        expect(benchRecipeOf(stack("seed-reference"))).toBe("a-reference");
        // The aws stacks: bf16 frozen weights, the last 4 layers not recomputed.
        expect(benchRecipeOf(stack("aws-g5"))).toBe("b6-ddp-liger-bf16-skip4");
        const s = stack("aws-g5");
        expect(benchRecipeOf(asB2(s))).toBe("b2-ddp-liger-nonreentrant");
        const skip = (n: number, upcast = false) =>
            benchRecipeOf({
                ...s,
                quantization: { ...s.quantization, upcastFrozenWeights: upcast },
                training: { ...s.training, checkpointSkipLayers: n },
            });
        // The measured skip count at or below the run's; b2's (slower) figure below 4 or with float32 frozen weights.
        expect([skip(8), skip(12), skip(7), skip(4), skip(3), skip(0), skip(8, true)]).toEqual([
            "b5-ddp-liger-bf16-skip8",
            "b5-ddp-liger-bf16-skip8",
            "b6-ddp-liger-bf16-skip4",
            "b6-ddp-liger-bf16-skip4",
            "b2-ddp-liger-nonreentrant",
            "b2-ddp-liger-nonreentrant",
            "b2-ddp-liger-nonreentrant",
        ]);
        expect(benchRecipeOf({ ...s, training: { ...s.training, packingStrategy: "bfd" } })).toBe("b3-ddp-bfd-liger");
        expect(benchRecipeOf({ ...s, training: { ...s.training, useLigerKernel: false } })).toBeUndefined();
    });

    it("counts training samples from the split, the cap, or the known size of OpenHermes-2.5", () => {
        const d = stack("seed-reference").dataset;
        expect(trainSampleCount(d)).toBe(1_001_551 - 300_466);
        expect(trainSampleCount({ ...d, maxTrainSamples: 1000 })).toBe(1000);
        expect(trainSampleCount({ ...d, source: "my/data", numSamples: 100, testSize: 0.25 })).toBe(75);
        expect(trainSampleCount({ ...d, source: "my/data" })).toBeUndefined();
    });
});

describe("estimateExperimentCost", () => {
    it("aws-g5: its recipe (b6) on 4xA10G, one epoch of OpenHermes, spot bounded by on-demand", () => {
        const cost = estimateExperimentCost(stack("aws-g5"), bench);
        const tokens = Math.round(701_085 * 375.9);
        const tps = (5893 / 2.36) * 1.84;
        const evalH = (2000 * (7533 / 300466) * 2.36) / 3600;
        const hours = tokens / tps / 3600 + evalH + 0.5;
        expect(cost.trainTokens).toBe(tokens);
        expect(cost.tokensPerSecond).toBeCloseTo(tps, 1);
        expect(cost.hours).toBeCloseTo(hours, 3);
        expect(cost.usd).toBeCloseTo(hours * 5.672, 1);
        expect(cost.stoppedByBudget).toBe(false);
        expect(cost.basis).toContain("b6-ddp-liger-bf16-skip4 projected to g5.12xlarge");
        expect(cost.basis).toContain("spot without maxPrice, priced at the g5.12xlarge on-demand 5.672 USD/h");
        // With b2's numerics, the bench's own projection for this host and recipe ("candidate, capped eval (conservative)"): 22.31 h.
        const b2 = estimateExperimentCost(asB2(stack("aws-g5")), bench);
        expect(b2.hours - 0.5).toBeCloseTo(22.31 + (tokens - 259e6) / ((5893 / 2.36) * 1.294) / 3600, 0);
    });

    it("g6 is faster per hour and cheaper; a spot maxPrice prices the hours", () => {
        const g6 = estimateExperimentCost(stack("aws-g6-r16"), bench);
        expect(g6.hours).toBeLessThan(estimateExperimentCost(stack("aws-g5"), bench).hours);
        const s = stack("aws-g6-r16");
        if (s.target.kind !== "aws") throw new Error("aws stack expected");
        const capped = estimateExperimentCost(
            { ...s, target: { ...s.target, spot: { enabled: true, maxPrice: 2 } } },
            bench,
        );
        expect(capped).toMatchObject({ usdPerHour: 2, usd: Math.round(capped.hours * 2 * 100) / 100 });
    });

    it("the reference recipe on the reference box: the bench's 12.2 h projection, no charge", () => {
        const cost = estimateExperimentCost(stack("seed-reference"), bench);
        expect(cost.usd).toBe(0);
        expect(cost.hours).toBeCloseTo(12.44, 2);
        expect(cost.basis).toContain("ssh host: no instance charge");
    });

    it("maxSteps fixes the tokens; a run longer than budget.maxHours is capped and flagged", () => {
        const s = stack("aws-g5");
        const short = estimateExperimentCost({ ...s, training: { ...s.training, maxSteps: 100 } }, bench);
        expect(short.trainTokens).toBe(100 * 4 * 2 * 4 * 2048);
        const long = estimateExperimentCost({ ...s, budget: { ...s.budget, maxHours: 5 } }, bench);
        expect(long).toMatchObject({ hours: 5, stoppedByBudget: true, usd: 28.36 });
        // A short block a person reads in the preview: money and hours, the basis in a few words.
        expect(formatCostEstimate(long).split("\n")).toEqual([
            "estimated cost: 28.36 USD (5 h x 5.672 USD/h)",
            "  basis: 263.5M tokens at 4595 tokens/s (benchmark) + 0.53 h eval and setup, capped at budget.maxHours 5 h; spot, at most the g5.12xlarge on-demand price",
            `  WARNING: the run needs ${long.expectedHours} h, over budget.maxHours: the watchdog will stop it unfinished`,
            "  every figure and its source: pulumi stack output estimatedCost",
        ]);
    });

    it("the local CPU target says its throughput is an assumption and charges nothing", () => {
        const cost = estimateExperimentCost(stack("local-demo"), bench);
        expect(cost.usd).toBe(0);
        expect(cost.basis).toBe(
            "30720 tokens at 5000 tokens/s (assumed: throughput on a CPU is not benchmarked); local host: no instance charge",
        );
        expect(formatCostEstimate(cost)).toBe(
            [
                "estimated cost: 0 USD, 0.0017 h",
                "  basis: 30.7k tokens at 5000 tokens/s (assumed); local host, no charge",
                "  every figure and its source: pulumi stack output estimatedCost",
            ].join("\n"),
        );
    });

    it("budget.maxUsd refuses an up whose estimate is over it, giving the estimate and the fix", () => {
        const s = stack("aws-g5");
        const withCap = { ...s, hub: { ...s.hub, mergedRepo: "me/model" }, budget: { ...s.budget, maxUsd: 50 } };
        const cost = estimateExperimentCost(withCap, bench);
        // A settings rule (the one validation layer): render, new, sweep and up all refuse it.
        const issues = checkSettingsRules(withCap, undefined);
        expect(issues.map((i) => i.path)).toEqual(["budget.maxUsd"]);
        expect(issues[0]?.message).toMatch(
            new RegExp(
                `^the run is estimated at ${cost.usd} USD \\(.*\\), over budget.maxUsd 50: raise stacktune:budget.maxUsd, lower budget.maxHours, or use spot with a maxPrice$`,
            ),
        );
        expect(checkSettingsRules({ ...withCap, budget: { ...withCap.budget, maxUsd: 200 } }, undefined)).toEqual([]);
    });
});

describe("estimateExperimentCost on several hosts (measured for b2 on 2 machines, else assumed linear)", () => {
    const g5 = asB2(stack("aws-g5"));
    const awsTarget = g5.target;
    if (awsTarget.kind !== "aws") throw new Error("aws stack expected");
    const onAws = (hosts: number, over: Partial<Settings> = {}): Settings => ({
        ...g5,
        ...over,
        target: { ...awsTarget, hosts },
    });
    const tokens = Math.round(701_085 * 375.9);
    const tps = (5893 / 2.36) * 1.294;
    const evalH = (2000 * (7533 / 300466) * 2.36) / 3600;

    it("aws: every instance bills, training and evaluation go hosts times as fast, setup stays", () => {
        const cost = estimateExperimentCost(onAws(4), bench);
        expect(cost).toMatchObject({
            hours: 6.1722,
            usdPerHour: 22.688,
            usd: 140.03,
            expectedHours: 6.1722,
            stoppedByBudget: false,
            trainTokens: 263_537_851,
            tokensPerSecond: 12924.6,
            hosts: 4,
        });
        expect(cost.hours).toBeCloseTo(tokens / (tps * 4) / 3600 + evalH / 4 + 0.5, 4);
        expect(cost.basis).toContain(
            "263537851 tokens at 12924.6 tokens/s = 4 hosts x 3231.2 tokens/s (b2-ddp-liger-nonreentrant projected to g5.12xlarge",
        );
        expect(cost.basis).toContain(
            "; 4 hosts, linear scaling assumed (multi-host measured only for b2-ddp-liger-nonreentrant on 2 machines); ",
        );
        expect(cost.basis).toContain(
            "priced at the g5.12xlarge on-demand 5.672 USD/h that AWS caps it at x 4 instances = 22.688 USD/h",
        );
        expect(formatCostEstimate(cost).split("\n").slice(0, 2)).toEqual([
            "estimated cost: 140.03 USD (6.1722 h x 22.688 USD/h)",
            "  basis: 263.5M tokens at 12925 tokens/s (benchmark) on 4 hosts + 0.51 h eval and setup; spot, at most the g5.12xlarge on-demand price",
        ]);
    });

    it("one host is priced exactly as before: no hosts field, no scaling words", () => {
        const cost = estimateExperimentCost(onAws(1), bench);
        expect(cost).toEqual(estimateExperimentCost(g5, bench));
        expect(cost).toMatchObject({ hours: 23.1888, usdPerHour: 5.672, usd: 131.53, tokensPerSecond: 3231.2 });
        expect(cost).not.toHaveProperty("hosts");
        expect(cost.basis).not.toContain("hosts");
    });

    it("maxSteps: a step takes a batch from every process of every host, so the step count's hours stay those of one host", () => {
        const steps = { training: { ...g5.training, maxSteps: 100 } };
        const four = estimateExperimentCost(onAws(4, steps), bench);
        const one = estimateExperimentCost(onAws(1, steps), bench);
        expect(four).toMatchObject({ trainTokens: 100 * 4 * 2 * (4 * 4) * 2048, hours: 1.0716, usd: 24.31, hosts: 4 });
        expect(one.trainTokens).toBe(100 * 4 * 2 * 4 * 2048);
        // Same training time, evaluation shared by 4 hosts.
        expect(four.hours - 0.5 - evalH / 4).toBeCloseTo(one.hours - 0.5 - evalH, 3);
    });

    it("b2 on 2 machines: the measured efficiency, named; the budget caps the hours; a spot maxPrice bills per instance", () => {
        const cost = estimateExperimentCost(
            {
                ...g5,
                budget: { ...g5.budget, maxHours: 5 },
                target: { ...awsTarget, hosts: 2, spot: { enabled: true, maxPrice: 2 } },
            },
            bench,
        );
        expect(cost).toMatchObject({
            hours: 5,
            usdPerHour: 4,
            usd: 20,
            expectedHours: 11.9013,
            stoppedByBudget: true,
            hosts: 2,
            tokensPerSecond: 6430,
        });
        expect(cost.expectedHours).toBeCloseTo(tokens / (tps * 2 * 0.995) / 3600 + evalH / 2 + 0.5, 4);
        expect(cost.basis).toMatch(
            /^capped at budget\.maxHours \(5 h\); 263537851 tokens at 6430 tokens\/s = 2 hosts x 3231\.2 tokens\/s x 0\.995 \(/,
        );
        expect(cost.basis).toMatch(
            / would take 11\.9 h; 2 hosts, 0\.995x of linear scaling as measured for b2-ddp-liger-nonreentrant \(median tokens\/s of 2 x 2 against 1 x 4 GPUs, bench 2026-11-28\); spot max price 2 USD\/h x 2 instances = 4 USD\/h$/,
        );
    });

    it("a recipe the multi-host bench did not run is linear and assumed, also b2 on another machine count", () => {
        const b3 = estimateExperimentCost(onAws(2, { training: { ...g5.training, packingStrategy: "bfd" } }), bench);
        expect(b3.basis).toContain(
            "; 2 hosts, linear scaling assumed (multi-host measured only for b2-ddp-liger-nonreentrant on 2 machines); ",
        );
        expect(b3.basis).toContain(" = 2 hosts x ");
        expect(b3.basis).not.toContain(" x 0.995 ");
        const three = estimateExperimentCost(onAws(3), bench);
        expect(three.tokensPerSecond).toBe(9693.5);
        expect(three.tokensPerSecond).toBeCloseTo(tps * 3, 1);
        expect(three.basis).toContain(
            "; 3 hosts, linear scaling assumed (multi-host measured only for b2-ddp-liger-nonreentrant on 2 machines); ",
        );
    });

    it("ssh with several machines: hours divided by their number, still no charge", () => {
        const ref = stack("seed-reference");
        if (ref.target.kind !== "ssh") throw new Error("ssh stack expected");
        const { host: _host, ...target } = ref.target;
        const machines = [
            { host: "gpu-a.example.internal", port: 22 },
            { host: "gpu-b.example.internal", port: 22 },
        ];
        const cost = estimateExperimentCost({ ...ref, target: { ...target, hosts: machines } }, bench);
        expect(cost).toMatchObject({ hours: 6.2181, usdPerHour: 0, usd: 0, tokensPerSecond: 11786, hosts: 2 });
        expect(cost.hours).toBeCloseTo(tokens / (5893 * 2) / 3600 + (2000 * (7533 / 300466)) / 3600 / 2, 4);
        expect(cost.basis).toMatch(/^263537851 tokens at 11786 tokens\/s = 2 hosts x 5893 tokens\/s \(a-reference /);
        expect(cost.basis).toMatch(
            /; 2 hosts, linear scaling assumed \(likely optimistic: ZeRO-3 gathers the sharded weights across machines every step; multi-host measured only for b2-ddp-liger-nonreentrant on 2 machines\); ssh hosts: no instance charge$/,
        );
        expect(estimateExperimentCost(ref, bench).hours).toBe(12.4363);
    });
});
