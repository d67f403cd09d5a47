// One validation layer (issue 18 item 2): `render`, `stacktune new`, `stacktune sweep` and `pulumi up`
// (the program under the Pulumi mocks) accept and refuse exactly the same stacks, with the same error
// naming the key. Each bad stack below is one stack file, run through all four.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { createStackFile } from "../src/cli/stacktune/stackFile";
import { writeSweep } from "../src/cli/stacktune/sweep";
import { renderStackFile } from "../src/render/stacks";
import { FakeHub } from "./helpers/fakeHub";
import { installProgramMocks, runProgram } from "./helpers/pulumiMocks";
import { TEST_PUBLIC_KEY } from "./helpers/keys";

const temp = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-entry-points-"));
// The base stack's completion lookup asks a Hub stand-in (nothing is published there yet).
const hub = new FakeHub();
beforeAll(async () => {
    await hub.start();
    process.env.HF_ENDPOINT = hub.url;
});
afterAll(async () => {
    delete process.env.HF_ENDPOINT;
    await hub.stop();
    fs.rmSync(temp, { recursive: true, force: true });
});

type Config = Record<string, unknown>;

/** A deployable aws stack (its secrets set): every case below changes one thing of it. */
const awsStack: Config = {
    "stacktune:target": { kind: "aws", sshCidr: "203.0.113.7/32", publicKey: TEST_PUBLIC_KEY },
    "stacktune:runtime": { kind: "docker" },
    // Commit ids: the program pins nothing over the network.
    "stacktune:model": { revision: "a".repeat(40) },
    "stacktune:dataset": { revision: "b".repeat(40) },
    "stacktune:distributed": { strategy: "ddp" },
    "stacktune:training": { useReentrant: false, useLigerKernel: true },
    "stacktune:hub": { adapterRepo: "me/adapter", mergedRepo: "me/merged" },
    "stacktune:budget": { maxHours: 24, teardown: "release-after-push" },
};
const secrets = ["stacktune:hfToken", "stacktune:sshPrivateKey"];

interface BadStack {
    what: string;
    config: Config;
    /** The error line every entry point must show, naming the key. */
    line: RegExp;
}

const badStacks: BadStack[] = [
    {
        what: "aws publishing only the adapter: the merged model and its marker would die with the instance",
        config: { ...awsStack, "stacktune:hub": { adapterRepo: "me/adapter" } },
        line: /- stacktune:hub\.mergedRepo: .*set stacktune:hub\.mergedRepo, or budget\.teardown to keep/,
    },
    {
        what: "an estimate over budget.maxUsd",
        config: { ...awsStack, "stacktune:budget": { maxHours: 24, teardown: "release-after-push", maxUsd: 10 } },
        line: /- stacktune:budget\.maxUsd: the run is estimated at \d+(\.\d+)? USD .*over budget\.maxUsd 10: raise stacktune:budget\.maxUsd/,
    },
    {
        what: "an evaluation step interval with strategy no",
        config: { ...awsStack, "stacktune:evaluation": { strategy: "no", steps: 100 } },
        line: /- stacktune:evaluation\.steps: steps is ignored with strategy no/,
    },
];

/** A project holding one stack file `Pulumi.<stack>.yaml` with `config`, its secrets as ciphertext. */
function projectWith(stack: string, config: Config): string {
    const project = fs.mkdtempSync(path.join(temp, "project-"));
    fs.mkdirSync(path.join(project, "stacks"));
    const file = {
        config: { ...config, ...Object.fromEntries(secrets.map((key) => [key, { secure: "v1:c2VjcmV0" }])) },
    };
    fs.writeFileSync(path.join(project, "stacks", `Pulumi.${stack}.yaml`), stringifyYaml(file));
    return project;
}

function errorOf(run: () => unknown): string {
    try {
        run();
    } catch (error) {
        return (error as Error).message;
    }
    return "no error";
}

/** `pulumi up` of the stack file's config: the program under the mocks, its secrets set. */
async function upError(project: string, stack: string): Promise<{ error: string; registered: number }> {
    const { config } = parseYaml(fs.readFileSync(path.join(project, "stacks", `Pulumi.${stack}.yaml`), "utf8")) as {
        config: Config;
    };
    const plainConfig = Object.fromEntries(
        Object.entries(config).map(([key, value]) => [
            key,
            key === "stacktune:hfToken" ? "hf_entry_points" : key === "stacktune:sshPrivateKey" ? "key" : value,
        ]),
    );
    const mocks = await installProgramMocks({ stack, config: plainConfig, secretKeys: secrets });
    const error = await runProgram().then(
        () => "no error",
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    return { error, registered: mocks.resources.length };
}

describe("render, new, sweep and up refuse the same stacks with the same error", () => {
    it("the base stack is accepted by all four", async () => {
        const project = projectWith("base", awsStack);
        expect(errorOf(() => renderStackFile(path.join(project, "stacks", "Pulumi.base.yaml")))).toBe("no error");
        expect(errorOf(() => createStackFile(project, "derived", "base", ["lora.r=16"]))).toBe("no error");
        expect(errorOf(() => writeSweep(project, "base", [{ key: "lora.alpha", values: ["16", "32"] }]))).toBe(
            "no error",
        );
        const up = await upError(project, "base");
        expect(up.error).toBe("no error");
        expect(up.registered).toBeGreaterThan(0);
    });

    for (const bad of badStacks) {
        describe(bad.what, () => {
            const project = projectWith("bad", bad.config);
            it("render", () => {
                expect(errorOf(() => renderStackFile(path.join(project, "stacks", "Pulumi.bad.yaml")))).toMatch(
                    bad.line,
                );
            });
            it("stacktune new", () => {
                expect(errorOf(() => createStackFile(project, "bad-new", "bad", ["lora.r=16"]))).toMatch(bad.line);
                expect(fs.existsSync(path.join(project, "stacks", "Pulumi.bad-new.yaml"))).toBe(false);
            });
            it("stacktune sweep", () => {
                expect(
                    errorOf(() => writeSweep(project, "bad", [{ key: "lora.alpha", values: ["16", "32"] }])),
                ).toMatch(bad.line);
                expect(fs.readdirSync(path.join(project, "stacks"))).toEqual(["Pulumi.bad.yaml"]);
            });
            it("pulumi up (before any resource)", async () => {
                const up = await upError(project, "bad");
                expect(up.error).toMatch(bad.line);
                expect(up.registered).toBe(0);
            });
        });
    }
});
