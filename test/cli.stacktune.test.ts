// The `stacktune` command's pure parts: output formatting, the summary, recovery of a killed
// update (locks, pending operations), `new` (derived stack file), `logs --machine`, and the
// environment it applies.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import { machineArgument, pulumiEnvironment } from "../src/cli/stacktune";
import { clearPendingOperations, findStackLocks, lockIsStale } from "../src/cli/stacktune/recover";
import { formatOutputLine, formatSummary } from "../src/cli/stacktune/report";
import { createStackFile, deriveStackFile, parseAssignment } from "../src/cli/stacktune/stackFile";

const repo = path.resolve(__dirname, "..");
const temp = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-cli-"));
afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));

describe("output lines", () => {
    it("rewrites progress and phase lines for reading, leaves the rest", () => {
        expect(formatOutputLine('    STACKTUNE_PROGRESS {"phase":"train","step":5,"total":100,"loss":1.234567,"tokens_per_s":456.7,"eta_s":3725}')).toBe(
            "[train] step 5/100  loss 1.2346  457 tokens/s  eta 1h02m",
        );
        expect(formatOutputLine('STACKTUNE_PHASE {"phase":"merge","event":"end","elapsed_s":75,"exit_code":0}')).toBe("[merge] end after 1m15s");
        expect(formatOutputLine('STACKTUNE_PHASE {"phase":"train","event":"fail","elapsed_s":9,"exit_code":3}')).toBe("[train] fail after 9s (exit 3)");
        expect(formatOutputLine('STACKTUNE_PHASE {"phase":"attach","detail":"re-attaching to the running job (pid 7), start #1"}')).toBe(
            "[attach] re-attaching to the running job (pid 7), start #1",
        );
        expect(formatOutputLine(" +  command:local:Command experiment-job-run creating (0s) ")).toBe(" +  command:local:Command experiment-job-run creating (0s) ");
    });
});

describe("summary", () => {
    it("names the model, losses, tokens/s, wall time per phase in order, and the cost", () => {
        const text = formatSummary(
            "aws-g5",
            {
                status: "succeeded",
                experimentHash: "ab".repeat(32),
                hostAddress: "ubuntu@198.51.100.7",
                model: { adapterRepo: "me/a", mergedRepo: "me/m", completedBefore: false },
                metrics: { train_loss: 0.96712, eval_loss: 0.9641, tokens_per_s: 3301.26, train_tokens: 263537851 },
                phases: { smoke: 27, train: 80000, prepare: 600, merge: 61 },
                estimatedCost: { hours: 23.19, usdPerHour: 5.672, usd: 131.53, basis: "b2 on g5" },
            },
            { wallSeconds: 84000 },
        );
        expect(text).toBe(
            [
                "stacktune aws-g5",
                "  status            succeeded",
                `  experiment        ${"ab".repeat(32)}`,
                "  host              ubuntu@198.51.100.7",
                "  merged model      https://huggingface.co/me/m",
                "  adapter           https://huggingface.co/me/a",
                "  train loss        0.9671",
                "  eval loss         0.9641",
                "  tokens/s          3301.3",
                "  train tokens      263537851",
                "  wall time/phase   prepare 10m00s, train 22h13m, merge 1m01s, smoke 27s",
                "  this command      23h20m",
                "  cost              estimated 131.53 USD (23.19 h x 5.672 USD/h). Basis: b2 on g5.",
            ].join("\n"),
        );
    });

    it("lists every machine of a multi-host run with its job status, in rank order", () => {
        const text = formatSummary("mh", {
            status: "failed",
            hostAddress: "a@10.0.0.1:22",
            machines: [
                { rank: 0, address: "a@10.0.0.1:22", status: "failed" },
                { rank: 1, address: "b@10.0.0.2:22", status: "succeeded" },
            ],
        });
        expect(text.split("\n")).toEqual([
            "stacktune mh",
            "  status            failed",
            "  host              a@10.0.0.1:22",
            "  machine 0         a@10.0.0.1:22  failed",
            "  machine 1         b@10.0.0.2:22  succeeded",
        ]);
    });

    it("says when the model already existed", () => {
        expect(formatSummary("s", { status: "already-complete", model: { localDir: "/m", completedBefore: true } })).toContain(
            "  status            already-complete (the model already existed: nothing trained)\n  model directory   /m",
        );
    });
});

describe("recovery of a killed update", () => {
    it("finds the stack's locks in a file backend and judges them by their process", () => {
        const dir = path.join(temp, "state", ".pulumi", "locks", "organization", "stacktune", "slow");
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "x.json"), JSON.stringify({ pid: 4242, username: "root", hostname: "box", timestamp: "2026-11-27T22:00:00Z" }));
        const other = path.join(temp, "state", ".pulumi", "locks", "organization", "stacktune", "other");
        fs.mkdirSync(other, { recursive: true });
        fs.writeFileSync(path.join(other, "y.json"), "{}");
        const locks = findStackLocks(path.join(temp, "state"), "slow");
        expect(locks).toEqual([{ file: path.join(dir, "x.json"), pid: 4242, username: "root", hostname: "box", timestamp: "2026-11-27T22:00:00Z" }]);
        const lock = locks[0]!;
        expect(lockIsStale(lock, () => false, "box")).toBe(true);
        expect(lockIsStale(lock, () => true, "box")).toBe(false);
        // Another machine's lock cannot be judged from here: never removed.
        expect(lockIsStale(lock, () => false, "laptop")).toBe(false);
    });

    it("drops pending operations and keeps everything else of the state", () => {
        const exported = {
            version: 3,
            deployment: {
                manifest: { time: "t" },
                resources: [{ urn: "urn:pulumi:s::stacktune::pulumi:pulumi:Stack::stacktune-s" }],
                pending_operations: [
                    { type: "creating", resource: { urn: "urn:pulumi:s::stacktune::stacktune:job:TrainingJob$command:local:Command::experiment-job-run" } },
                ],
            },
        };
        const { state, cleared } = clearPendingOperations(exported);
        expect(cleared).toEqual([{ type: "creating", urn: exported.deployment.pending_operations[0]!.resource.urn }]);
        expect(state).toEqual({ version: 3, deployment: { manifest: { time: "t" }, resources: exported.deployment.resources } });
        expect(clearPendingOperations(state).cleared).toEqual([]);
    });
});

describe("stacktune new", () => {
    it("parses key=value as YAML scalars; an empty value removes the key; bad keys are refused", () => {
        expect(parseAssignment("training.learningRate=2e-4")).toEqual({ path: ["stacktune:training", "learningRate"], value: 0.0002, remove: false });
        expect(parseAssignment("hub.private=false")).toMatchObject({ value: false });
        expect(parseAssignment("lora.targetModules=[q_proj, v_proj]")).toMatchObject({ value: ["q_proj", "v_proj"] });
        expect(parseAssignment("evaluation.steps=")).toMatchObject({ remove: true });
        expect(() => parseAssignment("learningRate")).toThrow("--set takes key=value with a dotted key, e.g. training.learningRate=2e-4");
        expect(() => parseAssignment("training..lr=1")).toThrow('--set key "training..lr" must be a dotted path');
    });

    it("keeps a long value on one line, as the source stack file has it (a public key is not folded)", () => {
        const source = fs.readFileSync(path.join(repo, "stacks", "Pulumi.aws-g5.yaml"), "utf8");
        const keyLine = source.split("\n").find((l) => l.trim().startsWith("publicKey: "));
        expect(keyLine).toBeDefined();
        const derived = deriveStackFile(source, "aws-g5", "aws-g5-lr2", ["training.learningRate=2e-4"]);
        expect(derived.split("\n")).toContain(keyLine);
    });

    it("derives the file: assignments applied, comments of the keys kept, the source's header replaced", () => {
        const source = "# about the source\nconfig:\n  stacktune:training:\n    maxSteps: 10 # short\n    bf16: false\nencryptionsalt: v1:abc\n";
        expect(deriveStackFile(source, "src", "new1", ["training.maxSteps=500", "training.bf16=", "budget.maxHours=0.5"])).toBe(
            "# Made by: stacktune new new1 --from src --set training.maxSteps=500 --set training.bf16= --set budget.maxHours=0.5\n" +
                "# Run it:  stacktune run new1\n" +
                "config:\n  stacktune:training:\n    maxSteps: 500 # short\n  stacktune:budget:\n    maxHours: 0.5\nencryptionsalt: v1:abc\n",
        );
    });

    it("writes a valid stack file and its rendered files; an invalid one writes nothing and names the key", () => {
        const project = path.join(temp, "project");
        fs.mkdirSync(path.join(project, "stacks"), { recursive: true });
        fs.copyFileSync(path.join(repo, "stacks", "Pulumi.local-demo.yaml"), path.join(project, "stacks", "Pulumi.local-demo.yaml"));
        const made = createStackFile(project, "lr2", "local-demo", ["training.learningRate=2e-4"]);
        expect(made).toEqual({
            stackFile: "stacks/Pulumi.lr2.yaml",
            rendered: ["rendered/lr2/accelerate.yaml", "rendered/lr2/training.yaml", "rendered/lr2/launch.sh"],
        });
        expect(fs.readFileSync(path.join(project, "rendered", "lr2", "training.yaml"), "utf8")).toMatch(/^learning_rate: 0.0002$/m);
        expect(fs.statSync(path.join(project, "rendered", "lr2", "launch.sh")).mode & 0o777).toBe(0o755);

        expect(() => createStackFile(project, "bad", "local-demo", ["evaluation.strategy=no"])).toThrow(
            /Invalid stacktune settings in stacks\/Pulumi\.bad\.yaml \(1 problem\):\n {2}- stacktune:evaluation\.steps: steps is ignored with strategy no/,
        );
        expect(fs.existsSync(path.join(project, "stacks", "Pulumi.bad.yaml"))).toBe(false);
        expect(fs.readdirSync(path.join(project, "stacks")).sort()).toEqual(["Pulumi.local-demo.yaml", "Pulumi.lr2.yaml"]);
        expect(() => createStackFile(project, "lr2", "local-demo", [])).toThrow("stacks/Pulumi.lr2.yaml exists already: choose another name");
        expect(() => createStackFile(project, "x", "nope", [])).toThrow("no stack file stacks/Pulumi.nope.yaml: pick one of stacks/");
    });
});

describe("stacktune logs --machine", () => {
    it("reads a machine rank, 0 when absent, and refuses anything but a whole number", () => {
        expect(machineArgument(["mh"])).toBe(0);
        expect(machineArgument(["mh", "--follow", "--machine", "1"])).toBe(1);
        expect(machineArgument(["mh", "--machine", "12", "-f"])).toBe(12);
        for (const bad of [["mh", "--machine"], ["mh", "--machine", "-1"], ["mh", "--machine", "one"], ["mh", "--machine", "1.5"]]) {
            expect(() => machineArgument(bad)).toThrow(/^--machine needs a machine rank, a whole number \(0 is the main machine\), got /);
        }
        expect(() => machineArgument(["mh", "--machine"])).toThrow("got nothing");
    });
});

describe("environment", () => {
    it("applies scripts/env.sh's defaults only where the caller set nothing", () => {
        const env = pulumiEnvironment("/r", { PATH: "/usr/bin", PULUMI_BACKEND_URL: "file:///s" });
        expect(env).toMatchObject({
            PATH: "/r/.tools/bin:/usr/bin",
            PULUMI_HOME: "/r/.tools/pulumi-home",
            PULUMI_BACKEND_URL: "file:///s",
            PULUMI_CONFIG_PASSPHRASE_FILE: "/r/src/demo-passphrase.txt",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        });
        expect(pulumiEnvironment("/r", { PULUMI_CONFIG_PASSPHRASE_FILE: "/p" }).PULUMI_CONFIG_PASSPHRASE).toBeUndefined();
    });
});
