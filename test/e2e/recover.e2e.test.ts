/**
 * Recovery on the real engine when a killed `up` left a pending create of a cloud instance: the
 * file backend's checkpoint holds what a killed engine leaves (the Stack, the command provider, a
 * `command:local:Command` and an `aws:ec2/instance:Instance` both interrupted while creating).
 * `stacktune recover` refuses (exit 1) naming the instance's URN and the refresh commands, and the
 * state still holds both operations; the advised `pulumi refresh --clear-pending-creates` resolves
 * them, after which recovery has nothing left to do. A pending operation of stacktune's own command
 * alone is cleared.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyProject, type PulumiProject } from "./helpers/project";
import { stacktuneRunner } from "./helpers/stacktune";

const REPO = resolve(__dirname, "..", "..");
const PASSPHRASE = "stacktune-demo-passphrase"; // the committed local-demo salt's
const home = mkdtempSync(join(tmpdir(), "stacktune-recover-home-"));
let project: PulumiProject;
const stacktune = stacktuneRunner(() => project, PASSPHRASE, { HOME: home });
const pulumi = (args: string[]) => project.pulumi(args, { env: { PULUMI_CONFIG_PASSPHRASE: PASSPHRASE } });

const urn = (type: string, name: string) => `urn:pulumi:local-demo::stacktune::${type}::${name}`;
const instanceUrn = urn(
    "stacktune:index:Experiment$stacktune:aws:GpuHost$aws:ec2/instance:Instance",
    "experiment-host-instance",
);
const commandUrn = urn(
    "stacktune:index:Experiment$stacktune:job:TrainingJob$command:local:Command",
    "experiment-job-run",
);

async function pendingOperations(): Promise<string[]> {
    const exported = await pulumi(["stack", "export", "--stack", "local-demo"]);
    expect(exported.code, exported.output).toBe(0);
    const state = JSON.parse(exported.output) as {
        deployment: { pending_operations?: { type: string; resource: { urn: string } }[] };
    };
    return (state.deployment.pending_operations ?? []).map((op) => `${op.type} ${op.resource.urn}`);
}

const commandProvider = urn("pulumi:providers:command", "default_1_2_1");
const commandOperation = {
    resource: {
        urn: commandUrn,
        custom: true,
        type: "command:local:Command",
        inputs: { create: "bash start-or-attach.sh" },
        provider: `${commandProvider}::b452421d-b273-441c-9e69-4653685aa768`,
    },
    type: "creating",
};
const instanceOperation = {
    resource: {
        urn: instanceUrn,
        custom: true,
        type: "aws:ec2/instance:Instance",
        inputs: { instanceType: "g5.12xlarge", tags: { Name: "experiment-host", "stacktune:stack": "local-demo" } },
        provider: `${urn("pulumi:providers:aws", "default_7_48_0")}::0b0ff54c-4dd4-4d41-8a63-7a8e4e3a1c11`,
    },
    type: "creating",
};

/** What the engine's journal holds when the process dies between "begin" and "end" of `pending`. */
function writeKilledCheckpoint(pending: unknown[]): void {
    const file = join(project.stateDir, ".pulumi", "stacks", "stacktune", "local-demo.json");
    const checkpoint = JSON.parse(readFileSync(file, "utf8")) as { checkpoint: { latest: Record<string, unknown> } };
    checkpoint.checkpoint.latest.resources = [
        { urn: urn("pulumi:pulumi:Stack", "stacktune-local-demo"), custom: false, type: "pulumi:pulumi:Stack" },
        {
            urn: commandProvider,
            custom: true,
            id: "b452421d-b273-441c-9e69-4653685aa768",
            type: "pulumi:providers:command",
            inputs: { __internal: {}, version: "1.2.1" },
            outputs: { version: "1.2.1" },
        },
    ];
    checkpoint.checkpoint.latest.pending_operations = pending;
    writeFileSync(file, JSON.stringify(checkpoint));
}

beforeAll(async () => {
    project = copyProject(REPO, "recover");
    copyFileSync(join(REPO, "stacks", "Pulumi.local-demo.yaml"), project.stackFile("local-demo"));
    const init = await pulumi(["stack", "init", "local-demo"]);
    expect(init.code, init.output).toBe(0);
    writeKilledCheckpoint([commandOperation, instanceOperation]);
});

afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(join(project.dir, ".."), { recursive: true, force: true });
});

describe("stacktune recover after a killed up with a pending instance create (real engine)", () => {
    it("refuses naming the instance and the refresh commands, changes nothing; the advised refresh resolves it", async () => {
        expect(await pendingOperations()).toEqual([`creating ${commandUrn}`, `creating ${instanceUrn}`]);

        const refused = await stacktune(["recover", "local-demo"]);
        expect(refused.code, refused.output).toBe(1);
        expect(refused.output).toContain(
            "stacktune: recovery stops: the killed update left 1 operation(s) on resources other than stacktune's commands",
        );
        expect(refused.output).toContain(
            `  ${instanceUrn} (aws:ec2/instance:Instance), interrupted while creating; tagged Name=experiment-host, stacktune:stack=local-demo`,
        );
        expect(refused.output).toContain(
            `  it exists:         pulumi refresh --stack local-demo --import-pending-creates '${instanceUrn}' --import-pending-creates <its id>`,
        );
        expect(refused.output).toContain(
            "  it does not exist: pulumi refresh --stack local-demo --clear-pending-creates",
        );
        // Nothing dropped, the job's command included: one import would have dropped both.
        expect(await pendingOperations()).toEqual([`creating ${commandUrn}`, `creating ${instanceUrn}`]);
        // `run` and `down` stop in the same place, before any up or destroy.
        const run = await stacktune(["run", "local-demo"]);
        expect(run.code, run.output).toBe(1);
        expect(run.output).not.toContain("[up] pulumi up");
        expect(run.output).toContain(instanceUrn);

        // The operator checked: no such instance. The advised command, as printed.
        const refresh = await pulumi(["refresh", "--stack", "local-demo", "--clear-pending-creates", "--yes"]);
        expect(refresh.code, refresh.output).toBe(0);
        expect(await pendingOperations()).toEqual([]);
        const again = await stacktune(["recover", "local-demo"]);
        expect(again.code, again.output).toBe(0);
        expect(again.output).toContain("[recover] nothing to recover");
    });

    it("clears a pending operation of stacktune's own command through the real stack import", async () => {
        writeKilledCheckpoint([commandOperation]);
        const r = await stacktune(["recover", "local-demo"]);
        expect(r.code, r.output).toBe(0);
        expect(r.output).toContain(
            "[recover] dropped 1 pending operation(s) of the interrupted update: creating experiment-job-run",
        );
        expect(await pendingOperations()).toEqual([]);
    });
});
