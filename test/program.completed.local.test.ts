// The local target's completion lookup reads the output directory at program time: with
// stacktune.json carrying this experiment's hash there, `pulumi up` registers no host and no job.
import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { planExperiment } from "../src/experiment";
import { loadSettingsFromPulumiConfig } from "../src/settings";
import { installProgramMocks, ProgramMocks, runProgram, valueOf } from "./helpers/pulumiMocks";
import { tempDir } from "./helpers/tempDir";

const storeDir = tempDir("done");
let mocks: ProgramMocks;
let outputs: Record<string, unknown>;

beforeAll(async () => {
    mocks = await installProgramMocks({
        stack: "local-demo",
        config: {
            "stacktune:target": { kind: "local", gpus: 0 },
            "stacktune:model": { id: ".stacktune/tiny-llama" },
            "stacktune:hub": { localDir: storeDir },
            "stacktune:quantization": { load4bit: false },
            "stacktune:training": { maxSteps: 10, bf16: false, gradientCheckpointing: false },
            "stacktune:distributed": { strategy: "ddp" },
            "stacktune:attention": { implementation: "sdpa" },
        },
    });
    const hash = planExperiment(loadSettingsFromPulumiConfig().settings, "local-demo", path.join(__dirname, "..")).experimentHash;
    fs.writeFileSync(path.join(storeDir, "stacktune.json"), JSON.stringify({ experiment_hash: hash, stack: "local-demo" }));
    // kept next to the model by the job that trained it
    fs.writeFileSync(path.join(storeDir, "metrics.json"), JSON.stringify({ train_loss: 6.47, eval_loss: 6.48 }));
    outputs = await runProgram();
});

describe("completion lookup finds the model in the local output directory", () => {
    it("registers nothing but the Experiment", () => {
        expect(mocks.resources.map((r) => r.type)).toEqual(["stacktune:index:Experiment"]);
    });

    it("reports the finished model and the metrics kept beside it", async () => {
        expect(await valueOf(outputs.status as string)).toBe("already-complete");
        expect(await valueOf(outputs.model as object)).toEqual({ localDir: storeDir, completedBefore: true });
        expect(await valueOf(outputs.metrics as object | null)).toEqual({ train_loss: 6.47, eval_loss: 6.48 });
        expect(await valueOf(outputs.hostAddress as string)).toBe("none");
    });
});
