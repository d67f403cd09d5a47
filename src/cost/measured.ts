/**
 * The benchmark figures the cost estimate uses, copied from bench/results/2026-11-27-gpu-recipes.json
 * (issue 6) and bench/results/2026-11-28-multihost-gpu.json (issue 8) so that the program does not
 * need bench/ on disk; each instance type's time scale is its catalog row's
 * (src/targets/aws/instance-types.json). test/cost.estimate.test.ts checks that
 * this equals `benchThroughput()` of that file: re-copy it when a new benchmark is committed.
 */
import type { BenchThroughput } from "../cost";
import { awsInstanceTypes } from "../targets/aws/catalog";

/** The ssh target's stand-in: the reference box the benchmark projects every host against. */
export const REFERENCE_BOX = "4x RTX 4090";

/** The measured time scale of every catalog row that has one ("unmeasured" rows have none). */
const catalogTimeScales = Object.fromEntries(
    Object.entries(awsInstanceTypes).flatMap(([type, row]) =>
        row.timeScaleVs4090 === "unmeasured" ? [] : [[type, row.timeScaleVs4090]],
    ),
);

export const MEASURED_THROUGHPUT: BenchThroughput = {
    date: "2026-11-27",
    referenceTokensPerSecondOn4090: 5893,
    referenceEvalSecondsPerSample: 7533 / 300466,
    // b5 / b6 (bench/results/2026-12-01-h200-speed.json, issue 16): b2's 4090 projection (1.294;
    // 4×H100 at 24 GB, 23 steps) times their tokens/s over b2 on one H200 capped at 24 GiB: b5 1.454×
    // over 100 timed steps, b6 1.422× over 11; same loss as b2 over 200 steps (…-h200-guard.md).
    recipeSpeedup: {
        "b2-ddp-liger-nonreentrant": 1.294,
        "b3-ddp-bfd-liger": 1.166,
        "b5-ddp-liger-bf16-skip8": 1.881,
        "b6-ddp-liger-bf16-skip4": 1.84,
    },
    timeScale: { [REFERENCE_BOX]: 1, ...catalogTimeScales },
    meanTokensPerSample: 375.9,
    multiHost: { date: "2026-11-28", recipe: "b2-ddp-liger-nonreentrant", machines: 2, efficiency: 0.995 },
};
