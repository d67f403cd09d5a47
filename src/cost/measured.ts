/**
 * The benchmark figures the cost estimate uses, copied from bench/results/2026-11-27-gpu-recipes.json
 * (issue 6) and bench/results/2026-11-28-multihost-gpu.json (issue 8) so that the program does not
 * need bench/ on disk. test/cost.estimate.test.ts checks that
 * this equals `benchThroughput()` of that file: re-copy it when a new benchmark is committed.
 */
import type { BenchThroughput } from "../cost";

export const MEASURED_THROUGHPUT: BenchThroughput = {
    date: "2026-11-27",
    referenceTokensPerSecondOn4090: 5893,
    referenceEvalSecondsPerSample: 7533 / 300466,
    recipeSpeedup: { "b2-ddp-liger-nonreentrant": 1.294, "b3-ddp-bfd-liger": 1.166 },
    timeScale: { "4x RTX 4090": 1, "g5.12xlarge": 2.36, "g6.12xlarge": 1.365 },
    meanTokensPerSample: 375.9,
    multiHost: { date: "2026-11-28", recipe: "b2-ddp-liger-nonreentrant", machines: 2, efficiency: 0.995 },
};
