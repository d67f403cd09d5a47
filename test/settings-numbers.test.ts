import { describe, expect, it } from "vitest";
import { parseSettings } from "../src/settings";
import { allSecrets, awsTarget, issuesOf, merge, sshTarget } from "./settings/fixtures";

type Raw = Record<string, unknown>;

const gpu: Raw = { target: sshTarget };
const aws: Raw = { target: awsTarget, hub: { mergedRepo: "me/model" } };

/** Sets `value` at the dotted `path` of `base` (a copy). */
function at(base: Raw, path: string, value: unknown): Raw {
    const keys = path.split(".");
    const patch: Raw = {};
    let node = patch;
    keys.slice(0, -1).forEach((key) => {
        node[key] = {};
        node = node[key] as Raw;
    });
    node[keys.at(-1) ?? ""] = value;
    return merge(base, patch);
}

/** [key, value, the whole message, base settings]: each number is refused outside what its reader accepts. */
const outOfBounds: [string, unknown, string, Raw][] = [
    // 0.5 used to floor to 0 and switch the GPU memory check off; 1e308 reached preflight as "1e+308".
    [
        "target.gpuMemoryGb",
        0.5,
        "expected a whole number, found a fraction; set stacktune:target.gpuMemoryGb to a whole number such as 4",
        gpu,
    ],
    ["target.gpuMemoryGb", 1e308, "must be at most 1024; change stacktune:target.gpuMemoryGb", gpu],
    [
        "target.minFreeDiskGb",
        0.5,
        "expected a whole number, found a fraction; set stacktune:target.minFreeDiskGb to a whole number such as 4",
        gpu,
    ],
    ["target.minFreeDiskGb", 1e308, "must be at most 100000; change stacktune:target.minFreeDiskGb", gpu],
    // numpy's seeds are 32-bit: 2^32 crashed at train start.
    ["training.seed", 4294967296, "must be at most 4294967295; change stacktune:training.seed", gpu],
    ["dataset.splitSeed", 4294967296, "must be at most 4294967295; change stacktune:dataset.splitSeed", gpu],
    ["target.spot.maxPrice", 1e308, "must be at most 1000; change stacktune:target.spot.maxPrice", aws],
    ["budget.maxUsd", 1e308, "must be at most 1000000; change stacktune:budget.maxUsd", aws],
    ["lora.alpha", 1e308, "must be at most 16384; change stacktune:lora.alpha", gpu],
    ["training.epochs", 1e308, "must be at most 1000; change stacktune:training.epochs", gpu],
    ["training.weightDecay", 2, "must be at most 1; change stacktune:training.weightDecay", gpu],
    ["training.maxGradNorm", 1e308, "must be at most 1000; change stacktune:training.maxGradNorm", gpu],
    [
        "training.perDeviceTrainBatchSize",
        1e6,
        "must be at most 1024; change stacktune:training.perDeviceTrainBatchSize",
        gpu,
    ],
    [
        "training.perDeviceEvalBatchSize",
        1e6,
        "must be at most 1024; change stacktune:training.perDeviceEvalBatchSize",
        gpu,
    ],
    [
        "training.gradientAccumulationSteps",
        1e6,
        "must be at most 4096; change stacktune:training.gradientAccumulationSteps",
        gpu,
    ],
    ["distributed.numProcesses", 1000, "must be at most 16; change stacktune:distributed.numProcesses", gpu],
    ["checkpointing.totalLimit", 1e6, "must be at most 1000; change stacktune:checkpointing.totalLimit", gpu],
    // NaN and infinities (YAML .nan / .inf) get a message that says what to write instead.
    [
        "training.learningRate",
        Number.NaN,
        "expected a number, found .nan (not a number); set stacktune:training.learningRate to a number such as 0.5",
        gpu,
    ],
    [
        "training.seed",
        Number.NaN,
        "expected a whole number, found .nan (not a number); set stacktune:training.seed to a whole number such as 4",
        gpu,
    ],
    [
        "target.gpuMemoryGb",
        Number.POSITIVE_INFINITY,
        "expected a whole number, found .inf (infinity); set stacktune:target.gpuMemoryGb to a whole number such as 4",
        gpu,
    ],
    [
        "budget.maxHours",
        Number.NEGATIVE_INFINITY,
        "expected a number, found -.inf (infinity); set stacktune:budget.maxHours to a number such as 0.5",
        gpu,
    ],
];

describe("every number has bounds and integer-ness its reader accepts", () => {
    it.each(outOfBounds)("%s = %s is refused", (key, value, message, base) => {
        expect(issuesOf(at(base, key, value))).toEqual([{ path: key, message }]);
    });

    it("accepts the largest values in bounds", () => {
        const settings = parseSettings(
            merge(gpu, {
                target: { gpuMemoryGb: 1024, minFreeDiskGb: 100000 },
                training: { seed: 4294967295 },
                dataset: { splitSeed: 0 },
            }),
            allSecrets,
        );
        expect(settings.target).toMatchObject({ gpuMemoryGb: 1024, minFreeDiskGb: 100000 });
        expect(settings.training.seed).toBe(4294967295);
    });
});
