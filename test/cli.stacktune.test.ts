// The `stacktune` command's pure parts: output formatting, the summary, recovery of a killed
// update (locks, pending operations), `new` (derived stack file), `logs --machine`, and the
// environment it applies.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import { jobReportScript, logsScript, machineArgument, pulumiEnvironment } from "../src/cli/stacktune";
import {
    clearPendingOperations,
    findStackLocks,
    lockIsStale,
    unresolvedOperationsAdvice,
} from "../src/cli/stacktune/recover";
import { formatSummary } from "../src/cli/stacktune/report";
import { createStackFile, deriveStackFile, parseAssignment } from "../src/cli/stacktune/stackFile";
import { loadSettingsFromStackFile } from "../src/settings";

const repo = path.resolve(__dirname, "..");
const temp = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-cli-"));
afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));

describe("logs and status on the host", () => {
    it("logs shows each progress and phase event as the line a person reads, every other log line as is", () => {
        const runDir = fs.mkdtempSync(path.join(temp, "run dir '"));
        fs.writeFileSync(
            path.join(runDir, "job.log"),
            [
                'STACKTUNE_PHASE {"phase":"train","event":"start","elapsed_s":0}',
                "{'loss': 1.5, 'grad_norm': 0.3}",
                'STACKTUNE_PROGRESS {"phase":"train","step":5,"total":100,"loss":1.234567,"tokens_per_s":456.7,"elapsed_s":62,"eta_s":3725}',
                "",
            ].join("\n"),
        );
        const out = execFileSync("bash", ["-c", logsScript(runDir, false)], { encoding: "utf8" });
        expect(out).toBe(
            [
                "[train] started",
                "{'loss': 1.5, 'grad_norm': 0.3}",
                "[train] step 5/100 (5%)  loss 1.2346  457 tokens/s  elapsed 1m02s  eta 1h02m",
                "",
            ].join("\n"),
        );
        const report = execFileSync("bash", ["-c", jobReportScript(runDir, "job", "demo")], { encoding: "utf8" });
        expect(report.split("\n")[1]).toBe(
            "[train] step 5/100 (5%)  loss 1.2346  457 tokens/s  elapsed 1m02s  eta 1h02m",
        );
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
                metrics: {
                    train_loss: 0.96712,
                    train_loss_last_window: 0.96741,
                    eval_loss: 0.9641,
                    tokens_per_s: 3301.26,
                    train_tokens: 263537851,
                },
                phases: { publish: 95, smoke: 27, train: 80000, prepare: 600, merge: 61 },
                estimatedCost: {
                    hours: 23.19,
                    usdPerHour: 5.672,
                    usd: 131.53,
                    basis: "b2 on g5, every figure",
                    summary: "b2 on g5",
                },
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
                "  train loss        0.9671 (run mean); last logging window 0.9674",
                "  eval loss         0.9641",
                "  tokens/s          3301.3",
                "  train tokens      263537851",
                "  wall time/phase   prepare 10m00s, train 22h13m, merge 1m01s, smoke 27s, publish 1m35s",
                "  this command      23h20m",
                "  cost              estimated 131.53 USD (23.19 h x 5.672 USD/h): b2 on g5",
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

    it("shows the evaluation gate's verdict and both losses, passed or failed", () => {
        const gate = { gate_adapter_loss: 0.96412, gate_merged_loss: 0.96498, gate_samples: 32, gate_tolerance: 0.05 };
        expect(formatSummary("g", { status: "succeeded", metrics: { ...gate, gate_passed: 1 } })).toContain(
            "\n  eval gate         passed: merged model loss 0.965 vs adapter 0.9641 on 32 held-out samples (tolerance 0.05)",
        );
        expect(
            formatSummary("g", { status: "failed", metrics: { ...gate, gate_merged_loss: 7.5, gate_passed: 0 } }),
        ).toContain(
            "\n  eval gate         FAILED: merged model loss 7.5 vs adapter 0.9641 on 32 held-out samples (tolerance 0.05)",
        );
    });

    it("says when the model already existed", () => {
        expect(
            formatSummary("s", { status: "already-complete", model: { localDir: "/m", completedBefore: true } }),
        ).toContain(
            "  status            already-complete (the model already existed: nothing trained)\n  model directory   /m",
        );
    });
});

describe("recovery of a killed update", () => {
    it("finds the stack's locks in a file backend and judges them by their process", () => {
        const dir = path.join(temp, "state", ".pulumi", "locks", "organization", "stacktune", "slow");
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(
            path.join(dir, "x.json"),
            JSON.stringify({ pid: 4242, username: "root", hostname: "box", timestamp: "2026-11-27T22:00:00Z" }),
        );
        const other = path.join(temp, "state", ".pulumi", "locks", "organization", "stacktune", "other");
        fs.mkdirSync(other, { recursive: true });
        fs.writeFileSync(path.join(other, "y.json"), "{}");
        const locks = findStackLocks(path.join(temp, "state"), "slow");
        expect(locks).toEqual([
            {
                file: path.join(dir, "x.json"),
                pid: 4242,
                username: "root",
                hostname: "box",
                timestamp: "2026-11-27T22:00:00Z",
            },
        ]);
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
                    {
                        type: "creating",
                        resource: {
                            urn: "urn:pulumi:s::stacktune::stacktune:job:TrainingJob$command:local:Command::experiment-job-run",
                        },
                    },
                ],
            },
        };
        const { state, cleared } = clearPendingOperations(exported);
        expect(cleared).toEqual([
            {
                type: "creating",
                urn: exported.deployment.pending_operations[0]!.resource.urn,
                resourceType: "command:local:Command",
            },
        ]);
        expect(state).toEqual({
            version: 3,
            deployment: { manifest: { time: "t" }, resources: exported.deployment.resources },
        });
        expect(clearPendingOperations(state).cleared).toEqual([]);
    });

    it("clears stacktune's own commands only: a pending create of an instance stops recovery, named with its URN and what to check", () => {
        const exported = killedAwsUpdate();
        const instanceUrn =
            "urn:pulumi:aws-g5::stacktune::stacktune:index:Experiment$stacktune:aws:GpuHost$aws:ec2/instance:Instance::experiment-host-instance";
        const { state, cleared, unresolved } = clearPendingOperations(exported);
        // `pulumi stack import` drops every pending operation: while one must stay, nothing is cleared.
        expect(cleared).toEqual([]);
        expect(state).toEqual(killedAwsUpdate());
        expect(unresolved).toEqual([
            {
                type: "creating",
                urn: instanceUrn,
                resourceType: "aws:ec2/instance:Instance",
                tags: {
                    Name: "experiment-host",
                    "stacktune:stack": "aws-g5",
                    "stacktune:experiment": "0123456789abcdef",
                },
            },
        ]);
        expect(unresolvedOperationsAdvice("aws-g5", unresolved).split("\n")).toEqual([
            "recovery stops: the killed update left 1 operation(s) on resources other than stacktune's commands, and whether they happened is unknown; " +
                "the state is left as it is (clearing them would hide what they made):",
            `  ${instanceUrn} (aws:ec2/instance:Instance), interrupted while creating; tagged Name=experiment-host, stacktune:stack=aws-g5, stacktune:experiment=0123456789abcdef`,
            "Interrupted while creating: it may exist, and bill, without being in the state. Look for it with its provider " +
                "(an aws:ec2/instance:Instance: the EC2 console, or `aws ec2 describe-instances --filters Name=tag:stacktune:stack,Values=aws-g5`); then, with scripts/env.sh sourced:",
            `  it exists:         pulumi refresh --stack aws-g5 --import-pending-creates '${instanceUrn}' --import-pending-creates <its id>`,
            "  it does not exist: pulumi refresh --stack aws-g5 --clear-pending-creates",
            "Then `stacktune run aws-g5` again: it clears what is left of stacktune's own commands and re-attaches to a job still running.",
        ]);

        // With the instance resolved (the refresh removed its operation), the job's command is cleared.
        const resolved = killedAwsUpdate();
        resolved.deployment.pending_operations = (resolved.deployment.pending_operations as unknown[]).slice(0, 1);
        const after = clearPendingOperations(resolved);
        expect(after.unresolved).toEqual([]);
        expect(after.cleared).toEqual([
            {
                type: "creating",
                urn: "urn:pulumi:aws-g5::stacktune::stacktune:index:Experiment$stacktune:job:TrainingJob$command:remote:Command::experiment-job-run",
                resourceType: "command:remote:Command",
            },
        ]);
        const { pending_operations: _gone, ...rest } = resolved.deployment;
        expect(after.state).toEqual({ version: 3, deployment: rest });
    });

    it("leaves any other operation on a cloud resource to `pulumi refresh`, by URN type", () => {
        const exported = killedAwsUpdate();
        const ops = exported.deployment.pending_operations as {
            type: string;
            resource: { urn: string; type: string };
        }[];
        const groupUrn =
            "urn:pulumi:aws-g5::stacktune::stacktune:index:Experiment$stacktune:aws:GpuHost$aws:ec2/securityGroup:SecurityGroup::experiment-host-sg";
        exported.deployment.pending_operations = [
            ops[0],
            {
                type: "deleting",
                resource: { urn: groupUrn, custom: true, type: "aws:ec2/securityGroup:SecurityGroup" },
            },
        ];
        const { cleared, unresolved } = clearPendingOperations(exported);
        expect(cleared).toEqual([]);
        expect(unresolved).toEqual([
            { type: "deleting", urn: groupUrn, resourceType: "aws:ec2/securityGroup:SecurityGroup" },
        ]);
        const advice = unresolvedOperationsAdvice("aws-g5", unresolved).split("\n");
        expect(advice.slice(1)).toEqual([
            `  ${groupUrn} (aws:ec2/securityGroup:SecurityGroup), interrupted while deleting`,
            "Interrupted while updating, deleting, reading or importing: pulumi refresh --stack aws-g5 (with scripts/env.sh sourced) reads the real state from the provider and clears the operation.",
            "Then `stacktune run aws-g5` again: it clears what is left of stacktune's own commands and re-attaches to a job still running.",
        ]);
    });
});

/**
 * What `pulumi stack export` shows after an aws-g5 `up` was killed while the engine created the
 * instance and the job's command: the shape of a real export (pulumi 3.248, a `command:local`
 * create killed mid-flight), with the URNs and inputs an aws stack has.
 */
function killedAwsUpdate(): { version: number; deployment: Record<string, unknown> } {
    const urn = (type: string, name: string) => `urn:pulumi:aws-g5::stacktune::${type}::${name}`;
    const stack = urn("pulumi:pulumi:Stack", "stacktune-aws-g5");
    const experiment = urn("stacktune:index:Experiment", "experiment");
    const commandProvider = `${urn("pulumi:providers:command", "default_1_2_1")}::b452421d-b273-441c-9e69-4653685aa768`;
    return {
        version: 3,
        deployment: {
            manifest: {
                time: "2026-12-01T11:38:44.738703767Z",
                magic: "1c72415da0837d6b54e4fd59aa49d86e7a984759e60a944fc9ff1c8042addcfe",
                version: "v3.248.0",
            },
            secrets_providers: {
                type: "passphrase",
                state: { salt: "v1:kRnAkjW8IUw=:v1:2fcysmj6JkcDpkv0:ZjV5MEibPrb38cu708GzuJTU7VAqDQ==" },
            },
            resources: [
                {
                    urn: stack,
                    custom: false,
                    type: "pulumi:pulumi:Stack",
                    created: "2026-12-01T11:38:36.487986451Z",
                    modified: "2026-12-01T11:38:36.487986451Z",
                },
                { urn: experiment, custom: false, type: "stacktune:index:Experiment", parent: stack },
                {
                    urn: urn("pulumi:providers:command", "default_1_2_1"),
                    custom: true,
                    id: "b452421d-b273-441c-9e69-4653685aa768",
                    type: "pulumi:providers:command",
                    inputs: { __internal: {}, version: "1.2.1" },
                    outputs: { version: "1.2.1" },
                },
            ],
            pending_operations: [
                {
                    resource: {
                        urn: urn(
                            "stacktune:index:Experiment$stacktune:job:TrainingJob$command:remote:Command",
                            "experiment-job-run",
                        ),
                        custom: true,
                        type: "command:remote:Command",
                        inputs: { create: "bash start-or-attach.sh" },
                        parent: urn("stacktune:index:Experiment$stacktune:job:TrainingJob", "experiment-job"),
                        provider: commandProvider,
                        propertyDependencies: { create: [] },
                        replaceOnChanges: ["triggers[*]"],
                    },
                    type: "creating",
                },
                {
                    resource: {
                        urn: urn(
                            "stacktune:index:Experiment$stacktune:aws:GpuHost$aws:ec2/instance:Instance",
                            "experiment-host-instance",
                        ),
                        custom: true,
                        type: "aws:ec2/instance:Instance",
                        inputs: {
                            instanceType: "g5.12xlarge",
                            tags: {
                                Name: "experiment-host",
                                "stacktune:stack": "aws-g5",
                                "stacktune:experiment": "0123456789abcdef",
                            },
                        },
                        parent: urn("stacktune:index:Experiment$stacktune:aws:GpuHost", "experiment-host"),
                        provider: `${urn("pulumi:providers:aws", "default_7_48_0")}::0b0ff54c-4dd4-4d41-8a63-7a8e4e3a1c11`,
                    },
                    type: "creating",
                },
            ],
            metadata: {},
        },
    };
}

describe("stacktune new", () => {
    it("parses key=value as YAML scalars; an empty value removes the key; bad keys are refused", () => {
        expect(parseAssignment("training.learningRate=2e-4")).toEqual({
            path: ["stacktune:training", "learningRate"],
            value: 0.0002,
            remove: false,
        });
        expect(parseAssignment("hub.private=false")).toMatchObject({ value: false });
        expect(parseAssignment("lora.targetModules=[q_proj, v_proj]")).toMatchObject({ value: ["q_proj", "v_proj"] });
        expect(parseAssignment("evaluation.steps=")).toMatchObject({ remove: true });
        expect(() => parseAssignment("learningRate")).toThrow(
            "--set takes key=value with a dotted key, e.g. training.learningRate=2e-4",
        );
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
        const source =
            "# about the source\nconfig:\n  stacktune:training:\n    maxSteps: 10 # short\n    bf16: false\nencryptionsalt: v1:abc\n";
        expect(
            deriveStackFile(source, "src", "new1", ["training.maxSteps=500", "training.bf16=", "budget.maxHours=0.5"]),
        ).toBe(
            "# Made by: stacktune new new1 --from src --set training.maxSteps=500 --set training.bf16= --set budget.maxHours=0.5\n" +
                "# Run it:  stacktune run new1\n" +
                "config:\n  stacktune:training:\n    maxSteps: 500 # short\n  stacktune:budget:\n    maxHours: 0.5\nencryptionsalt: v1:abc\n",
        );
    });

    it("writes a valid stack file and its rendered files; an invalid one writes nothing and names the key", () => {
        const project = path.join(temp, "project");
        fs.mkdirSync(path.join(project, "stacks"), { recursive: true });
        fs.copyFileSync(
            path.join(repo, "stacks", "Pulumi.local-demo.yaml"),
            path.join(project, "stacks", "Pulumi.local-demo.yaml"),
        );
        const made = createStackFile(project, "lr2", "local-demo", ["training.learningRate=2e-4"]);
        expect(made).toEqual({
            stackFile: "stacks/Pulumi.lr2.yaml",
            rendered: ["rendered/lr2/accelerate.yaml", "rendered/lr2/training.yaml", "rendered/lr2/launch.sh"],
        });
        expect(fs.readFileSync(path.join(project, "rendered", "lr2", "training.yaml"), "utf8")).toMatch(
            /^learning_rate: 0.0002$/m,
        );
        expect(fs.statSync(path.join(project, "rendered", "lr2", "launch.sh")).mode & 0o777).toBe(0o755);

        expect(() => createStackFile(project, "bad", "local-demo", ["evaluation.strategy=no"])).toThrow(
            /Invalid stacktune settings in stacks\/Pulumi\.bad\.yaml \(1 problem\):\n {2}- stacktune:evaluation\.steps: steps is ignored with strategy no/,
        );
        expect(fs.existsSync(path.join(project, "stacks", "Pulumi.bad.yaml"))).toBe(false);
        expect(fs.readdirSync(path.join(project, "stacks")).sort()).toEqual([
            "Pulumi.local-demo.yaml",
            "Pulumi.lr2.yaml",
        ]);
        expect(() => createStackFile(project, "lr2", "local-demo", [])).toThrow(
            "stacks/Pulumi.lr2.yaml exists already: choose another name",
        );
        expect(() => createStackFile(project, "x", "nope", [])).toThrow(
            "no stack file stacks/Pulumi.nope.yaml: pick one of stacks/",
        );
    });

    it("gives the new stack its own model destinations (the README's `new x --from aws-g5`); a --set one must not be taken", () => {
        const project = path.join(temp, "own-destinations");
        fs.mkdirSync(path.join(project, "stacks"), { recursive: true });
        for (const stack of ["aws-g5", "local-demo"]) {
            fs.copyFileSync(
                path.join(repo, "stacks", `Pulumi.${stack}.yaml`),
                path.join(project, "stacks", `Pulumi.${stack}.yaml`),
            );
        }
        createStackFile(project, "x", "aws-g5", []);
        const x = path.join(project, "stacks", "Pulumi.x.yaml");
        expect(fs.readFileSync(x, "utf8").split("\n")[0]).toBe(
            "# Made by: stacktune new x --from aws-g5 " +
                '--set hub.adapterRepo="your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-adapter-g5-x" ' +
                '--set hub.mergedRepo="your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-g5-x"',
        );
        expect(loadSettingsFromStackFile(x).settings.hub).toMatchObject({
            adapterRepo: "your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-adapter-g5-x",
            mergedRepo: "your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-g5-x",
        });
        const training = fs.readFileSync(path.join(project, "rendered", "x", "training.yaml"), "utf8");
        expect(training).toMatch(/^merged_repo_id: your-hf-user\/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-g5-x$/m);
        expect(training).toMatch(
            /^hub_model_id: your-hf-user\/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-adapter-g5-x$/m,
        );

        // A name that extends the source's gets only the new part, as a sweep stack of that name would.
        createStackFile(project, "aws-g5-lr2", "aws-g5", ["training.learningRate=2e-4"]);
        expect(
            loadSettingsFromStackFile(path.join(project, "stacks", "Pulumi.aws-g5-lr2.yaml")).settings.hub.mergedRepo,
        ).toBe("your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-g5-lr2");
        // The output store directory too, where the source sets one.
        createStackFile(project, "demo2", "local-demo", []);
        expect(loadSettingsFromStackFile(path.join(project, "stacks", "Pulumi.demo2.yaml")).settings.hub.localDir).toBe(
            "~/.stacktune/models/local-demo-demo2",
        );

        // A destination given with --set is the user's, but never one another stack uses: nothing written.
        expect(() =>
            createStackFile(project, "y", "aws-g5", [
                "hub.mergedRepo=your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-g5-x",
            ]),
        ).toThrow(
            "stacks x and y both set stacktune:hub.mergedRepo to your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-g5-x",
        );
        expect(() =>
            createStackFile(project, "z", "local-demo", ["hub.localDir=~/.stacktune/models/local-demo"]),
        ).toThrow("stacks local-demo and z both set stacktune:hub.localDir to ~/.stacktune/models/local-demo");
        // A derived one that another stack has already is refused the same way: aws-g5-x would get x's repos.
        expect(() => createStackFile(project, "aws-g5-x", "aws-g5", [])).toThrow(
            "stacks aws-g5-x and x both set stacktune:hub.adapterRepo to your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-adapter-g5-x",
        );
        expect(fs.readdirSync(path.join(project, "stacks")).sort()).toEqual([
            "Pulumi.aws-g5-lr2.yaml",
            "Pulumi.aws-g5.yaml",
            "Pulumi.demo2.yaml",
            "Pulumi.local-demo.yaml",
            "Pulumi.x.yaml",
        ]);
        expect(fs.readdirSync(path.join(project, "rendered")).sort()).toEqual(["aws-g5-lr2", "demo2", "x"]);
    });
});

describe("stacktune logs --machine", () => {
    it("reads a machine rank, 0 when absent, and refuses anything but a whole number", () => {
        expect(machineArgument(["mh"])).toBe(0);
        expect(machineArgument(["mh", "--follow", "--machine", "1"])).toBe(1);
        expect(machineArgument(["mh", "--machine", "12", "-f"])).toBe(12);
        for (const bad of [
            ["mh", "--machine"],
            ["mh", "--machine", "-1"],
            ["mh", "--machine", "one"],
            ["mh", "--machine", "1.5"],
        ]) {
            expect(() => machineArgument(bad)).toThrow(
                /^--machine needs a machine rank, a whole number \(0 is the main machine\), got /,
            );
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
        expect(
            pulumiEnvironment("/r", { PULUMI_CONFIG_PASSPHRASE_FILE: "/p" }).PULUMI_CONFIG_PASSPHRASE,
        ).toBeUndefined();
    });
});
