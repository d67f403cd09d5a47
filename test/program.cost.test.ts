// The run's cost estimate (src/cost.ts): a price table with its source, hours from throughput,
// capped by the budget; several hosts bill together and are assumed to scale linearly.
import { describe, expect, it } from "vitest";
import {
    estimateRunCost,
    ON_DEMAND_USD_PER_HOUR,
    PRICE_SOURCE,
    REFERENCE_TOKENS_PER_SECOND,
    tokensPerStep,
} from "../src/cost";

describe("estimateRunCost", () => {
    it("prices both supported instance types on demand, naming the source", () => {
        expect(Object.keys(ON_DEMAND_USD_PER_HOUR).sort()).toEqual(["g5.12xlarge", "g6.12xlarge"]);
        const g6 = estimateRunCost({ targetKind: "aws", instanceType: "g6.12xlarge", maxHours: 10 });
        expect(g6).toEqual({
            hours: 10,
            usdPerHour: 4.6016,
            usd: 46.02,
            basis: `budget.maxHours (10 h) as upper bound: training tokens unknown before data prep; g6.12xlarge on-demand 4.6016 USD/h (${PRICE_SOURCE})`,
            summary:
                "budget.maxHours 10 h as upper bound (tokens unknown before data prep); g6.12xlarge on-demand price",
        });
    });

    it("derives hours from tokens and throughput, and never exceeds the budget's hours", () => {
        const tokens = REFERENCE_TOKENS_PER_SECOND * 3600 * 2;
        expect(
            estimateRunCost({ targetKind: "aws", instanceType: "g5.12xlarge", trainTokens: tokens, maxHours: 24 }),
        ).toMatchObject({ hours: 2, usd: 11.34 });
        const capped = estimateRunCost({
            targetKind: "aws",
            instanceType: "g5.12xlarge",
            trainTokens: tokens * 100,
            maxHours: 24,
        });
        expect(capped.hours).toBe(24);
        expect(capped.basis).toContain("capped at budget.maxHours (24 h)");
    });

    it("uses the spot max price when one is set, and charges nothing on own hardware", () => {
        expect(
            estimateRunCost({ targetKind: "aws", instanceType: "g5.12xlarge", spotMaxPricePerHour: 2, maxHours: 5 }),
        ).toMatchObject({ usd: 10, usdPerHour: 2 });
        expect(estimateRunCost({ targetKind: "ssh", maxHours: 5 })).toMatchObject({ usd: 0, hours: 5 });
    });

    it("refuses an instance type it has no price for", () => {
        expect(() => estimateRunCost({ targetKind: "aws", instanceType: "p5.48xlarge", maxHours: 1 })).toThrow(
            'no price for instance type "p5.48xlarge": use one of g5.12xlarge, g6.12xlarge',
        );
    });

    it("several hosts: every instance bills, hours assume linear scaling and say so", () => {
        expect(estimateRunCost({ targetKind: "aws", instanceType: "g6.12xlarge", maxHours: 10, hosts: 3 })).toEqual({
            hours: 10,
            usdPerHour: 13.8048,
            usd: 138.05,
            basis:
                "budget.maxHours (10 h) as upper bound: training tokens unknown before data prep; " +
                `3 hosts, linear scaling assumed (multi-host measured only for b2-ddp-liger-nonreentrant on 2 machines); g6.12xlarge on-demand 4.6016 USD/h x 3 instances = 13.8048 USD/h (${PRICE_SOURCE})`,
            summary:
                "budget.maxHours 10 h as upper bound (tokens unknown before data prep) on 3 hosts; g6.12xlarge on-demand price",
            hosts: 3,
        });
        const tokens = REFERENCE_TOKENS_PER_SECOND * 3600 * 8;
        expect(
            estimateRunCost({
                targetKind: "aws",
                instanceType: "g5.12xlarge",
                trainTokens: tokens,
                maxHours: 24,
                hosts: 4,
            }),
        ).toEqual({
            hours: 2,
            usdPerHour: 22.688,
            usd: 45.38,
            basis:
                "144000000 tokens at 20000 tokens/s = 4 hosts x 5000 tokens/s; " +
                `4 hosts, linear scaling assumed (multi-host measured only for b2-ddp-liger-nonreentrant on 2 machines); g5.12xlarge on-demand 5.672 USD/h x 4 instances = 22.688 USD/h (${PRICE_SOURCE})`,
            summary: "144M tokens at 20000 tokens/s (assumed) on 4 hosts; g5.12xlarge on-demand price",
            hosts: 4,
        });
        expect(estimateRunCost({ targetKind: "ssh", trainTokens: tokens, maxHours: 24, hosts: 2 })).toEqual({
            hours: 4,
            usdPerHour: 0,
            usd: 0,
            basis: "144000000 tokens at 10000 tokens/s = 2 hosts x 5000 tokens/s; 2 hosts, linear scaling assumed (multi-host measured only for b2-ddp-liger-nonreentrant on 2 machines); ssh hosts: no instance charge",
            summary: "144M tokens at 10000 tokens/s (assumed) on 2 hosts; ssh hosts, no charge",
            hosts: 2,
        });
        expect(
            estimateRunCost({
                targetKind: "aws",
                instanceType: "g5.12xlarge",
                trainTokens: tokens,
                maxHours: 24,
                hosts: 1,
            }),
        ).toEqual(
            estimateRunCost({ targetKind: "aws", instanceType: "g5.12xlarge", trainTokens: tokens, maxHours: 24 }),
        );
        expect(() =>
            estimateRunCost({ targetKind: "aws", instanceType: "g5.12xlarge", maxHours: 1, hosts: 0 }),
        ).toThrow("the cost estimate needs a whole number of hosts, at least 1 (got 0)");
    });

    it("counts packed tokens per optimizer step over every process", () => {
        expect(
            tokensPerStep({ perDeviceTrainBatchSize: 4, gradientAccumulationSteps: 2, processes: 4, maxLength: 2048 }),
        ).toBe(65536);
    });
});
