// The cost estimate from measured throughput (src/cost.ts): the bench file's figures, recipe
// matching, training tokens from the settings, projection to the instance, budget cap and refusal.
import * as path from "path";
import { describe, expect, it } from "vitest";
import {
    benchRecipeOf,
    estimateExperimentCost,
    formatCostEstimate,
    loadBenchThroughput,
    trainSampleCount,
} from "../src/cost";
import { MEASURED_THROUGHPUT } from "../src/cost/measured";
import { checkExperimentRules } from "../src/experiment";
import { loadSettingsFromStackFile, type Settings } from "../src/settings";

const repo = path.resolve(__dirname, "..");
const bench = loadBenchThroughput(repo);
const stack = (name: string): Settings => loadSettingsFromStackFile(path.join(repo, "stacks", `Pulumi.${name}.yaml`)).settings;

describe("bench throughput", () => {
    it("reads the projection of bench/results/2026-11-27-gpu-recipes.json", () => {
        expect(bench).toEqual({
            date: "2026-11-27",
            referenceTokensPerSecondOn4090: 5893,
            referenceEvalSecondsPerSample: 7533 / 300466,
            // P2P-off figures win (PCIe boxes); b3 was measured with P2P only.
            recipeSpeedup: { "b2-ddp-liger-nonreentrant": 1.294, "b3-ddp-bfd-liger": 1.166 },
            timeScale: { "4x RTX 4090": 1, "g5.12xlarge": 2.36, "g6.12xlarge": 1.365 },
            meanTokensPerSample: 375.9,
        });
    });

    it("the program's copy of the figures (src/cost/measured.ts) is the committed file's", () => {
        expect(MEASURED_THROUGHPUT).toEqual(bench);
    });

    it("matches a stack's recipe to the benchmarked one", () => {
        expect(benchRecipeOf(stack("seed-reference"))).toBe("a-reference");
        expect(benchRecipeOf(stack("aws-g5"))).toBe("b2-ddp-liger-nonreentrant");
        const s = stack("aws-g5");
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
    it("aws-g5: default recipe on 4xA10G, one epoch of OpenHermes, spot bounded by on-demand", () => {
        const cost = estimateExperimentCost(stack("aws-g5"), bench);
        const tokens = Math.round(701_085 * 375.9);
        const tps = (5893 / 2.36) * 1.294;
        const evalH = (2000 * (7533 / 300466) * 2.36) / 3600;
        const hours = tokens / tps / 3600 + evalH + 0.5;
        expect(cost.trainTokens).toBe(tokens);
        expect(cost.tokensPerSecond).toBeCloseTo(tps, 1);
        expect(cost.hours).toBeCloseTo(hours, 3);
        expect(cost.usd).toBeCloseTo(hours * 5.672, 1);
        expect(cost.stoppedByBudget).toBe(false);
        expect(cost.basis).toContain("b2-ddp-liger-nonreentrant projected to g5.12xlarge");
        expect(cost.basis).toContain("spot without maxPrice, priced at the g5.12xlarge on-demand 5.672 USD/h");
        // The bench's own projection for this host and recipe ("candidate, capped eval (conservative)"): 22.31 h.
        expect(cost.hours - 0.5).toBeCloseTo(22.31 + (tokens - 259e6) / tps / 3600, 0);
    });

    it("g6 is faster per hour and cheaper; a spot maxPrice prices the hours", () => {
        const g6 = estimateExperimentCost(stack("aws-g6-r16"), bench);
        expect(g6.hours).toBeLessThan(estimateExperimentCost(stack("aws-g5"), bench).hours);
        const s = stack("aws-g6-r16");
        if (s.target.kind !== "aws") throw new Error("aws stack expected");
        const capped = estimateExperimentCost({ ...s, target: { ...s.target, spot: { enabled: true, maxPrice: 2 } } }, bench);
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
        expect(formatCostEstimate(long)).toMatch(/^estimated cost: 28.36 USD \(5 h x 5.672 USD\/h\)\. Basis: capped at budget.maxHours \(5 h\);.* WARNING: the run needs 23\.\d+ h, over budget.maxHours: the watchdog will stop it unfinished\.$/);
    });

    it("the local CPU target says its throughput is an assumption and charges nothing", () => {
        const cost = estimateExperimentCost(stack("local-demo"), bench);
        expect(cost.usd).toBe(0);
        expect(cost.basis).toBe("5120 tokens at 5000 tokens/s (assumed: throughput on a CPU is not benchmarked); local host: no instance charge");
        expect(formatCostEstimate(cost)).toBe(`estimated cost: 0 USD, ${cost.hours} h. Basis: ${cost.basis}.`);
    });

    it("budget.maxUsd refuses an up whose estimate is over it, giving the estimate and the fix", () => {
        const s = stack("aws-g5");
        const withCap = { ...s, hub: { ...s.hub, mergedRepo: "me/model" }, budget: { ...s.budget, maxUsd: 50 } };
        const cost = estimateExperimentCost(withCap, bench);
        expect(() => checkExperimentRules(withCap, cost)).toThrow(
            new RegExp(`^the run is estimated at ${cost.usd} USD \\(.*\\), over budget.maxUsd 50: raise stacktune:budget.maxUsd, lower budget.maxHours, or use spot with a maxPrice$`),
        );
        expect(() => checkExperimentRules({ ...withCap, budget: { ...withCap.budget, maxUsd: 200 } }, cost)).not.toThrow();
    });
});
