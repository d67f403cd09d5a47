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
    // b5 / b6 (bench/results/2026-12-01-h200-speed.json, issue 16): b2's 4090 projection (1.294;
    // 4×H100 at 24 GB, 23 steps) times their tokens/s over b2 on one H200 capped at 24 GiB: b5 1.454×
    // over 100 timed steps, b6 1.422× over 11; same loss as b2 over 200 steps (…-h200-guard.md).
    recipeSpeedup: { "b2-ddp-liger-nonreentrant": 1.294, "b3-ddp-bfd-liger": 1.166, "b5-ddp-liger-bf16-skip8": 1.881, "b6-ddp-liger-bf16-skip4": 1.84 },
    timeScale: { "4x RTX 4090": 1, "g5.12xlarge": 2.36, "g6.12xlarge": 1.365 },
    meanTokensPerSample: 375.9,
    multiHost: { date: "2026-11-28", recipe: "b2-ddp-liger-nonreentrant", machines: 2, efficiency: 0.995 },
};
