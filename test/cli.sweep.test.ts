// `stacktune sweep`: grid parsing, the order and names of the combinations, all-or-nothing writing
// through `stacktune new`'s createStackFile, idempotent re-runs, the manifest, the bounded parallel
// runner and the one summary table.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { checkRendered, expectedRenderedFiles, renderStacks } from "../src/render/stacks";
import { loadSettingsFromStackFile } from "../src/settings";
import {
    type GridAxis,
    axisLabels,
    formatSweepSummary,
    mapWithConcurrency,
    parseGridArgument,
    parseSweepArgs,
    planSweep,
    renderManifest,
    runSucceeded,
    runSweep,
    sameStackFile,
    splitGridValues,
    sweepConcurrency,
    type SweepRunResult,
    writeSweep,
} from "../src/cli/stacktune/sweep";

const repo = path.resolve(__dirname, "..");
const temp = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-sweep-"));
afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));

const lrGrid: GridAxis[] = [
    { key: "lora.r", values: ["8", "16"] },
    { key: "training.learningRate", values: ["1e-4", "2e-4"] },
];

describe("grid arguments", () => {
    it("splits values at top-level commas, parsed later as --set parses them", () => {
        expect(parseGridArgument("lora.r=8,16")).toEqual({ key: "lora.r", values: ["8", "16"] });
        expect(parseGridArgument("training.learningRate=1e-4, 2e-4")).toEqual({
            key: "training.learningRate",
            values: ["1e-4", "2e-4"],
        });
        expect(splitGridValues('[q_proj, v_proj],all-linear,"a,b",{x: 1, y: 2}')).toEqual([
            "[q_proj, v_proj]",
            "all-linear",
            '"a,b"',
            "{x: 1, y: 2}",
        ]);
    });

    it("refuses malformed, empty, repeated and destination grids with what to do", () => {
        expect(() => parseGridArgument("lora.r")).toThrow(
            '--grid takes key=value,value... with a dotted key, e.g. --grid lora.r=8,16 (got "lora.r")',
        );
        expect(() => parseGridArgument("=8")).toThrow("--grid takes key=value,value...");
        expect(() => parseGridArgument("lora..r=8")).toThrow(
            '--grid key "lora..r" must be a dotted path such as training.learningRate',
        );
        expect(() => parseGridArgument("lora.r=")).toThrow(
            "--grid lora.r= lists no value: give one or more, comma-separated, e.g. --grid lora.r=8,16",
        );
        expect(() => parseGridArgument("lora.r=8,,16")).toThrow(
            "--grid lora.r=8,,16 has an empty value: remove the extra comma",
        );
        expect(() => parseGridArgument("lora.r=8,16,8")).toThrow("--grid lora.r lists 8 twice: list each value once");
        expect(() => parseGridArgument("lora.targetModules=[q_proj")).toThrow(
            "--grid lora.targetModules: value [q_proj is not a YAML value",
        );
        expect(() => parseGridArgument("hub.localDir=/a,/b")).toThrow(
            "--grid hub.localDir: each sweep stack gets its own hub.adapterRepo / hub.mergedRepo / hub.localDir",
        );
    });

    it("reads the command line: a base, grids, --run, --concurrency (unset: the base's target decides)", () => {
        expect(
            parseSweepArgs(["aws-g5", "--grid", "lora.r=8,16", "--grid", "training.learningRate=1e-4,2e-4"]),
        ).toEqual({
            base: "aws-g5",
            axes: lrGrid,
            run: false,
        });
        expect(parseSweepArgs(["b", "--grid", "lora.r=8", "--run", "--concurrency", "4"])).toMatchObject({
            run: true,
            concurrency: 4,
        });
        expect(() => parseSweepArgs(["b", "--grid", "lora.r=8", "--grid", "lora.r=16"])).toThrow(
            "--grid lora.r is given twice: put all its values in one --grid lora.r=value,value...",
        );
        expect(() => parseSweepArgs(["b"])).toThrow(
            "stacktune sweep needs at least one --grid key=value,value...\nusage: stacktune sweep <base-stack>",
        );
        expect(() => parseSweepArgs(["--grid", "lora.r=8"])).toThrow("stacktune sweep needs a base stack first");
        expect(() => parseSweepArgs(["b", "--grid", "lora.r=8", "--concurrency", "0"])).toThrow(
            '--concurrency takes a whole number of runs at a time, 1 or more (got "0")',
        );
        expect(() => parseSweepArgs(["b", "--grid"])).toThrow("unknown or incomplete argument --grid");
    });
});

describe("combinations", () => {
    it("labels keys by their last segment, longer only where two keys share it", () => {
        expect(axisLabels(["lora.r", "training.learningRate"])).toEqual(["r", "learningRate"]);
        expect(axisLabels(["evaluation.steps", "checkpointing.steps", "lora.r"])).toEqual([
            "evaluation.steps",
            "checkpointing.steps",
            "r",
        ]);
    });

    it("names every combination, first grid slowest, and gives each its own model destinations", () => {
        const stacks = planSweep("aws-g5", lrGrid, { adapterRepo: "me/a", mergedRepo: "me/m" });
        expect(stacks.map((s) => s.stack)).toEqual([
            "aws-g5-r8-learningRate1e-4",
            "aws-g5-r8-learningRate2e-4",
            "aws-g5-r16-learningRate1e-4",
            "aws-g5-r16-learningRate2e-4",
        ]);
        expect(stacks[1]).toEqual({
            stack: "aws-g5-r8-learningRate2e-4",
            values: ["8", "2e-4"],
            assignments: [
                "lora.r=8",
                "training.learningRate=2e-4",
                'hub.adapterRepo="me/a-r8-learningRate2e-4"',
                'hub.mergedRepo="me/m-r8-learningRate2e-4"',
            ],
        });
        expect(
            planSweep("local-demo", [{ key: "lora.r", values: ["4"] }], {
                localDir: "~/.stacktune/models/local-demo/",
            })[0]?.assignments,
        ).toEqual(["lora.r=4", 'hub.localDir="~/.stacktune/models/local-demo-r4"']);
    });

    it("keeps stack names to Pulumi's characters and refuses two combinations with one name", () => {
        const stacks = planSweep("b", [{ key: "lora.targetModules", values: ["[q_proj, v_proj]", "all-linear"] }], {});
        expect(stacks.map((s) => s.stack)).toEqual(["b-targetModulesq_proj_v_proj", "b-targetModulesall-linear"]);
        expect(() => planSweep("b", [{ key: "lora.targetModules", values: ["[q_proj]", "q_proj"] }], {})).toThrow(
            "combination lora.targetModules=[q_proj] and combination lora.targetModules=q_proj would both be stack b-targetModulesq_proj: " +
                "spell one of the values so that it differs in letters, digits, '-', '_' or '.'",
        );
        expect(() => planSweep("b".repeat(97), [{ key: "lora.r", values: ["16"] }], {})).toThrow(
            "longer than Pulumi's 100 characters",
        );
    });

    it("writes a manifest: the command, the base, the grid, each stack with its values as typed", () => {
        expect(renderManifest("aws-g5", lrGrid, planSweep("aws-g5", lrGrid, {}).slice(0, 2))).toBe(
            [
                "# Made by: stacktune sweep aws-g5 --grid lora.r=8,16 --grid training.learningRate=1e-4,2e-4",
                "# Run it:  stacktune sweep aws-g5 --grid lora.r=8,16 --grid training.learningRate=1e-4,2e-4 --run   (writes nothing new; runs every stack below)",
                "# One stack per combination; each stacks/Pulumi.<stack>.yaml says how it differs from aws-g5.",
                "base: aws-g5",
                "grid:",
                "  lora.r: [ 8, 16 ]",
                "  training.learningRate: [ 1e-4, 2e-4 ]",
                "stacks:",
                "  - stack: aws-g5-r8-learningRate1e-4",
                "    lora.r: 8",
                "    training.learningRate: 1e-4",
                "  - stack: aws-g5-r8-learningRate2e-4",
                "    lora.r: 8",
                "    training.learningRate: 2e-4",
                "",
            ].join("\n"),
        );
    });
});

describe("writing a sweep", () => {
    let project: string;
    const stacksIn = (): string[] => fs.readdirSync(path.join(project, "stacks")).sort();
    beforeEach(() => {
        project = fs.mkdtempSync(path.join(temp, "project-"));
        fs.mkdirSync(path.join(project, "stacks"));
        fs.copyFileSync(
            path.join(repo, "stacks", "Pulumi.local-demo.yaml"),
            path.join(project, "stacks", "Pulumi.local-demo.yaml"),
        );
    });

    it("writes each stack as `stacktune new` would, rendered as `npm run render` would, and the manifest", () => {
        const written = writeSweep(project, "local-demo", lrGrid);
        expect(written.manifest).toBe("stacks/sweeps/local-demo-r-learningRate.yaml");
        expect(written.manifestState).toBe("written");
        expect(written.stacks.map((s) => [s.stack, s.state])).toEqual([
            ["local-demo-r8-learningRate1e-4", "written"],
            ["local-demo-r8-learningRate2e-4", "written"],
            ["local-demo-r16-learningRate1e-4", "written"],
            ["local-demo-r16-learningRate2e-4", "written"],
        ]);
        const file = path.join(project, "stacks", "Pulumi.local-demo-r16-learningRate2e-4.yaml");
        expect(fs.readFileSync(file, "utf8").split("\n").slice(0, 2)).toEqual([
            "# Made by: stacktune new local-demo-r16-learningRate2e-4 --from local-demo --set lora.r=16 --set training.learningRate=2e-4 " +
                '--set hub.localDir="~/.stacktune/models/local-demo-r16-learningRate2e-4"',
            "# Run it:  stacktune run local-demo-r16-learningRate2e-4",
        ]);
        const { settings } = loadSettingsFromStackFile(file);
        expect([settings.lora.r, settings.training.learningRate, settings.hub.localDir]).toEqual([
            16,
            0.0002,
            "~/.stacktune/models/local-demo-r16-learningRate2e-4",
        ]);
        expect(
            fs.readFileSync(path.join(project, "rendered", "local-demo-r16-learningRate2e-4", "training.yaml"), "utf8"),
        ).toMatch(/^learning_rate: 0.0002$/m);
        // `npm run render -- --check` finds every sweep stack's rendered files up to date (the base has none: it is missing).
        const { stacks } = renderStacks(project);
        expect(checkRendered(project, expectedRenderedFiles(stacks)).map((p) => `${p.kind} ${p.path}`)).toEqual([
            "missing rendered/local-demo/accelerate.yaml",
            "missing rendered/local-demo/launch.sh",
            "missing rendered/local-demo/training.yaml",
        ]);
        expect(
            fs.statSync(path.join(project, "rendered", "local-demo-r8-learningRate1e-4", "launch.sh")).mode & 0o777,
        ).toBe(0o755);
        expect(fs.readFileSync(path.join(project, written.manifest), "utf8")).toBe(
            renderManifest("local-demo", lrGrid, written.stacks),
        );
    });

    it("writes nothing when any combination is invalid, naming the combination and the key", () => {
        expect(() =>
            writeSweep(project, "local-demo", [
                { key: "lora.r", values: ["8", "0"] },
                { key: "training.learningRate", values: ["1e-4"] },
            ]),
        ).toThrow(
            "combination lora.r=0 training.learningRate=1e-4: Invalid stacktune settings in stacks/Pulumi.local-demo-r0-learningRate1e-4.yaml (1 problem):\n" +
                "  - stacktune:lora.r: must be greater than 0; change stacktune:lora.r\n" +
                "nothing written: 1 of 2 combination(s) are invalid; fix the --grid keys or values (or the base stack local-demo) and run the sweep again",
        );
        expect(() => writeSweep(project, "local-demo", [{ key: "lora.rank", values: ["8"] }])).toThrow(
            "combination lora.rank=8: Invalid stacktune settings in stacks/Pulumi.local-demo-rank8.yaml (1 problem):\n" +
                "  - stacktune:lora.rank: unknown key; did you mean `lora.r`? Rename it to stacktune:lora.r",
        );
        expect(stacksIn()).toEqual(["Pulumi.local-demo.yaml"]);
        expect(fs.existsSync(path.join(project, "rendered"))).toBe(false);
        expect(() => writeSweep(project, "nope", lrGrid)).toThrow(
            "no stack file stacks/Pulumi.nope.yaml: pick one of stacks/ as the base",
        );
    });

    it("is idempotent, extends a grid, and never overwrites a stack file that says something else", () => {
        writeSweep(project, "local-demo", lrGrid);
        const first = path.join(project, "stacks", "Pulumi.local-demo-r8-learningRate1e-4.yaml");
        // What `pulumi up` / `pulumi config set --secret` add to a stack file does not make it different.
        fs.writeFileSync(
            first,
            fs.readFileSync(first, "utf8").replace("config:\n", "config:\n  stacktune:hfToken:\n    secure: v1:abc\n"),
        );
        const again = writeSweep(project, "local-demo", lrGrid);
        expect([again.manifestState, ...again.stacks.map((s) => s.state)]).toEqual([
            "unchanged",
            "unchanged",
            "unchanged",
            "unchanged",
            "unchanged",
        ]);
        expect(fs.readFileSync(first, "utf8")).toContain("secure: v1:abc");

        const extended = writeSweep(project, "local-demo", [
            lrGrid[0] as GridAxis,
            { key: "training.learningRate", values: ["1e-4", "2e-4", "3e-4"] },
        ]);
        expect(extended.manifestState).toBe("updated");
        expect(extended.stacks.filter((s) => s.state === "written").map((s) => s.stack)).toEqual([
            "local-demo-r8-learningRate3e-4",
            "local-demo-r16-learningRate3e-4",
        ]);

        const edited = path.join(project, "stacks", "Pulumi.local-demo-r16-learningRate2e-4.yaml");
        fs.writeFileSync(edited, fs.readFileSync(edited, "utf8").replace("r: 16", "r: 32"));
        const before = stacksIn();
        expect(() =>
            writeSweep(project, "local-demo", [{ key: "lora.r", values: ["16", "64"] }, lrGrid[1] as GridAxis]),
        ).toThrow(
            "stacks/Pulumi.local-demo-r16-learningRate2e-4.yaml exists with other settings: a sweep never overwrites a stack file; " +
                "delete it (after `stacktune down local-demo-r16-learningRate2e-4` if it ran) or change the grid\nnothing written",
        );
        expect(stacksIn()).toEqual(before);
        expect(fs.readFileSync(edited, "utf8")).toContain("r: 32");
    });

    it("writes nothing when a sweep stack would share a model destination with another stack, naming both", () => {
        // A hand-made stack keeping its model where the sweep's lora.r=4 stack would.
        const demo = fs.readFileSync(path.join(project, "stacks", "Pulumi.local-demo.yaml"), "utf8");
        fs.writeFileSync(
            path.join(project, "stacks", "Pulumi.mine.yaml"),
            demo.replace("models/local-demo", "models/local-demo-r4"),
        );
        expect(() => writeSweep(project, "local-demo", [{ key: "lora.r", values: ["4", "8"] }])).toThrow(
            "stacks local-demo-r4 and mine both set stacktune:hub.localDir to ~/.stacktune/models/local-demo-r4",
        );
        expect(stacksIn()).toEqual(["Pulumi.local-demo.yaml", "Pulumi.mine.yaml"]);
        expect(fs.existsSync(path.join(project, "rendered"))).toBe(false);
        expect(fs.existsSync(path.join(project, "stacks", "sweeps"))).toBe(false);
    });

    it("compares stack files by what they configure", () => {
        const made = "# Made by: x\nconfig:\n  stacktune:lora:\n    r: 8\n";
        expect(sameStackFile("config:\n  stacktune:lora: {r: 8}\nencryptionsalt: v1:x\n", made)).toBe(true);
        expect(sameStackFile("config:\n  stacktune:lora:\n    r: 16\n", made)).toBe(false);
    });
});

describe("running a sweep", () => {
    it("runs GPU stacks of one ssh or local machine one at a time by default, and says why when asked for more", () => {
        // The host runs one GPU job at a time (run-job.sh's GPU lock): more would only wait there.
        expect(sweepConcurrency(undefined, { kind: "ssh", gpus: 4 })).toEqual({ concurrency: 1 });
        expect(sweepConcurrency(undefined, { kind: "local", gpus: 1 })).toEqual({ concurrency: 1 });
        expect(sweepConcurrency(3, { kind: "ssh", gpus: 4 })).toEqual({
            concurrency: 3,
            note: "note: the ssh machine runs one GPU job at a time; with --concurrency 3 the other runs wait on it for the GPUs (each prints whom it waits for), so they finish no sooner than one at a time",
        });
        // Each aws stack has its own instance; CPU runs share cores, not GPUs.
        expect(sweepConcurrency(undefined, { kind: "aws", gpus: 4 })).toEqual({ concurrency: 2 });
        expect(sweepConcurrency(undefined, { kind: "local", gpus: 0 })).toEqual({ concurrency: 2 });
        expect(sweepConcurrency(4, { kind: "local", gpus: 0 })).toEqual({ concurrency: 4 });
    });

    it("tells the runner how many GPUs the base's target gives each run", () => {
        const project = fs.mkdtempSync(path.join(temp, "project-"));
        fs.mkdirSync(path.join(project, "stacks"));
        fs.copyFileSync(
            path.join(repo, "stacks", "Pulumi.local-demo.yaml"),
            path.join(project, "stacks", "Pulumi.local-demo.yaml"),
        );
        expect(writeSweep(project, "local-demo", [{ key: "lora.r", values: ["4"] }])).toMatchObject({
            targetKind: "local",
            targetGpus: 0,
        });
    });

    const stacks = planSweep("local-demo", [{ key: "lora.r", values: ["4", "8", "16"] }], {});

    it("runs at most `concurrency` at a time, in order, and a failure does not stop the others", async () => {
        let running = 0;
        let most = 0;
        const lines: string[] = [];
        let clock = 0;
        const results = await runSweep(
            stacks,
            2,
            {
                run: async (stack, line) => {
                    running++;
                    most = Math.max(most, running);
                    line(`[train] step 1/4`, "stdout");
                    await new Promise((r) => setTimeout(r, 20));
                    clock += 61_000;
                    running--;
                    return stack.endsWith("r8") ? 1 : 0;
                },
                outputs: async (stack) =>
                    stack.endsWith("r16")
                        ? Promise.reject(new Error("no stack"))
                        : { status: stack.endsWith("r8") ? "failed" : "succeeded" },
            },
            (text) => lines.push(text),
            () => clock,
        );
        expect(most).toBe(2);
        expect(results.map((r) => [r.stack.stack, r.code, runSucceeded(r)])).toEqual([
            ["local-demo-r4", 0, true],
            ["local-demo-r8", 1, false],
            ["local-demo-r16", 0, false],
        ]);
        expect(lines).toContain("[local-demo-r16] stacktune run local-demo-r16 (3/3)");
        expect(lines).toContain("[local-demo-r8] [train] step 1/4");
        expect(lines).toContain("[local-demo-r16] could not read the stack's outputs: no stack");
        expect(await mapWithConcurrency([3, 1, 2], 5, (x) => Promise.resolve(x * 2))).toEqual([6, 2, 4]);
    });

    it("ends with one table: stack, grid values, status, losses, tokens/s, cost, wall time", () => {
        const axes: GridAxis[] = [
            { key: "lora.r", values: ["4", "8"] },
            { key: "training.learningRate", values: ["1e-4"] },
        ];
        const [a, b] = planSweep("aws-g5", axes, {});
        const results: SweepRunResult[] = [
            {
                stack: a!,
                code: 0,
                outputs: {
                    status: "succeeded",
                    metrics: { train_loss: 0.96712, eval_loss: 0.9641, tokens_per_s: 3301.26 },
                    estimatedCost: { hours: 23.19, usdPerHour: 5.672, usd: 131.5, basis: "b" },
                },
                wallSeconds: 84000,
            },
            { stack: b!, code: 1, outputs: { status: "failed", metrics: null }, wallSeconds: 75 },
        ];
        expect(formatSweepSummary("aws-g5", axes, results)).toBe(
            [
                "sweep aws-g5: 2 run(s), 1 succeeded, 1 failed",
                "  stack                       lora.r  training.learningRate  status           train loss  eval loss  tokens/s  cost USD  wall",
                "  aws-g5-r4-learningRate1e-4  4       1e-4                   succeeded        0.9671      0.9641     3301.3    131.50    23h20m",
                "  aws-g5-r8-learningRate1e-4  8       1e-4                   failed (exit 1)  -           -          -         -         1m15s",
            ].join("\n"),
        );
    });
});
