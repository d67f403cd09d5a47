/**
 * The real engine refuses the public demo passphrase for a stack holding a secret: following a stack
 * file's own instructions (`pulumi config set --secret stacktune:hfToken`) under scripts/env.sh's
 * default writes ciphertext anyone could decrypt, so `pulumi preview` fails saying how to use your
 * own provider. The secret-free local demo keeps previewing under the demo passphrase, and the same
 * secret under a passphrase of one's own previews.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { copyProject, writeStackConfig, type PulumiProject } from "./helpers/project";

const REPO = resolve(__dirname, "..", "..");
const CANARY = "hf_CANARY_e2e_demo_passphrase_51b7";
const DEMO_FILE = join(REPO, "src", "demo-passphrase.txt");
// The local demo's settings without its committed salt (each stack here gets its own).
const settings = readFileSync(join(REPO, "stacks", "Pulumi.local-demo.yaml"), "utf8").replace(
    /^encryptionsalt: .*$/m,
    "",
);
let project: PulumiProject;

/** The passphrase for Pulumi: the demo one (what scripts/env.sh's default file holds), or `own`. */
function passphraseEnv(own?: string): Record<string, string> {
    // The project's CLI env sets PULUMI_CONFIG_PASSPHRASE, which wins over a file (as in Pulumi): the
    // file's content is given the same way. test/secrets-provider.test.ts covers the file itself.
    return { PULUMI_CONFIG_PASSPHRASE: own ?? readFileSync(DEMO_FILE, "utf8").trim() };
}

async function stackWithToken(stack: string, env: Record<string, string>): Promise<void> {
    writeStackConfig(project.stackFile(stack), settings);
    expect((await project.pulumi(["stack", "init", stack], { env })).code).toBe(0);
    const set = await project.pulumi(["config", "set", "--secret", "--stack", stack, "stacktune:hfToken"], {
        env,
        input: CANARY,
    });
    expect(set.code, set.output).toBe(0);
}

beforeAll(() => {
    project = copyProject(REPO, "secrets-provider");
});

describe("secrets provider of a stack (real pulumi preview)", () => {
    it("a stack whose hfToken is set under the demo passphrase fails to preview, saying how to use your own", async () => {
        // What a user gets after `source scripts/env.sh` with nothing exported.
        const env = passphraseEnv();
        await stackWithToken("held", env);
        const preview = await project.pulumi(["preview", "--stack", "held"], { env });
        expect(preview.code).not.toBe(0);
        expect(preview.output).toContain(
            "stack held holds secrets (stacktune:hfToken) and its secrets passphrase is the demo one, which is public",
        );
        expect(preview.output).toContain("export PULUMI_CONFIG_PASSPHRASE_FILE=~/.config/stacktune/passphrase");
        expect(preview.output).toContain(
            "pulumi stack init held --secrets-provider 'awskms://alias/<key>?region=<region>'",
        );
        expect(preview.output).not.toContain(CANARY);
        // Refused before the experiment is declared: only the stack itself shows in the plan.
        expect(preview.output).not.toContain("stacktune:index:Experiment");
    });

    it("the same secret under a passphrase of one's own previews", async () => {
        const env = passphraseEnv("a passphrase only I know");
        await stackWithToken("own", env);
        const preview = await project.pulumi(["preview", "--stack", "own"], { env });
        expect(preview.code, preview.output.slice(-3000)).toBe(0);
        expect(preview.output).not.toContain("demo one");
    });

    it("the secret-free local demo previews under the demo passphrase", async () => {
        const env = passphraseEnv();
        writeStackConfig(project.stackFile("local-demo"), settings);
        expect((await project.pulumi(["stack", "init", "local-demo"], { env })).code).toBe(0);
        const preview = await project.pulumi(["preview", "--stack", "local-demo"], { env });
        expect(preview.code, preview.output.slice(-3000)).toBe(0);
    });
});
