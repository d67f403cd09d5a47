// A stack holding a secret refuses the public demo passphrase: the pure check, the one home of the
// passphrase (shared with scripts/env.sh), and `stacktune run` / `stacktune new` refusing it.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main, pulumiEnvironment } from "../src/cli/stacktune";
import {
    DEMO_PASSPHRASE_FILE,
    demoPassphrase,
    demoPassphraseRefusal,
    passphraseInEffect,
    stackFileSecrets,
} from "../src/secrets-provider";
import { tempDir } from "./helpers/tempDir";

const repo = path.resolve(__dirname, "..");
const localDemo = fs.readFileSync(path.join(repo, "stacks", "Pulumi.local-demo.yaml"), "utf8");
const secureToken = "  stacktune:hfToken:\n    secure: v1:AAAAciphertextCANARY\n";

describe("the demo passphrase has one home", () => {
    it("scripts/env.sh points PULUMI_CONFIG_PASSPHRASE_FILE at the file the program reads, and sets no passphrase itself", () => {
        const out = execFileSync(
            "bash",
            [
                "-c",
                'source scripts/env.sh; printf "%s|%s" "${PULUMI_CONFIG_PASSPHRASE-unset}" "$PULUMI_CONFIG_PASSPHRASE_FILE"',
            ],
            {
                cwd: repo,
                env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("env-home") },
                encoding: "utf8",
            },
        );
        expect(out).toBe(`unset|${DEMO_PASSPHRASE_FILE}`);
        expect(DEMO_PASSPHRASE_FILE).toBe(path.join(repo, "src", "demo-passphrase.txt"));
        expect(demoPassphrase()).toBe(fs.readFileSync(DEMO_PASSPHRASE_FILE, "utf8").trim());
        // The committed local-demo salt belongs to it: changing the value breaks `bash scripts/demo.sh`.
        expect(demoPassphrase()).toBe("stacktune-demo-passphrase");
    });

    it("the stacktune CLI defaults to the same file, and a passphrase of the caller's wins", () => {
        expect(pulumiEnvironment(repo, {}).PULUMI_CONFIG_PASSPHRASE_FILE).toBe(DEMO_PASSPHRASE_FILE);
        expect(pulumiEnvironment(repo, {}).PULUMI_CONFIG_PASSPHRASE).toBeUndefined();
        expect(
            pulumiEnvironment(repo, { PULUMI_CONFIG_PASSPHRASE: "mine" }).PULUMI_CONFIG_PASSPHRASE_FILE,
        ).toBeUndefined();
        expect(pulumiEnvironment(repo, { PULUMI_CONFIG_PASSPHRASE_FILE: "/p" }).PULUMI_CONFIG_PASSPHRASE_FILE).toBe(
            "/p",
        );
    });
});

describe("passphraseInEffect (as Pulumi's passphrase manager picks it)", () => {
    it("PULUMI_CONFIG_PASSPHRASE wins, even empty; else the trimmed file; else none", () => {
        const file = path.join(tempDir("phrase"), "p");
        fs.writeFileSync(file, "  mine \n");
        expect(passphraseInEffect({ PULUMI_CONFIG_PASSPHRASE: "a", PULUMI_CONFIG_PASSPHRASE_FILE: file })).toBe("a");
        expect(passphraseInEffect({ PULUMI_CONFIG_PASSPHRASE: "", PULUMI_CONFIG_PASSPHRASE_FILE: file })).toBe("");
        expect(passphraseInEffect({ PULUMI_CONFIG_PASSPHRASE_FILE: file })).toBe("mine");
        expect(passphraseInEffect({ PULUMI_CONFIG_PASSPHRASE_FILE: "" })).toBeUndefined();
        expect(passphraseInEffect({})).toBeUndefined();
    });
});

describe("demoPassphraseRefusal", () => {
    const demo = { PULUMI_CONFIG_PASSPHRASE_FILE: DEMO_PASSPHRASE_FILE };
    it("refuses secrets under the demo passphrase, naming them and how to use your own", () => {
        const refusal = demoPassphraseRefusal({
            stack: "exp",
            secretKeys: ["stacktune:sshPrivateKey", "stacktune:hfToken"],
            passphraseProvider: true,
            env: demo,
        });
        expect(refusal).toBe(
            [
                "stack exp holds secrets (stacktune:hfToken, stacktune:sshPrivateKey) and its secrets passphrase is the demo one, which is public in this repository: anyone with stacks/Pulumi.exp.yaml could decrypt them. Use a secrets provider of your own:",
                "  - your own passphrase: export PULUMI_CONFIG_PASSPHRASE_FILE=~/.config/stacktune/passphrase (a file only you can read)",
                "  - or a cloud KMS: pulumi stack init exp --secrets-provider 'awskms://alias/<key>?region=<region>' (or gcpkms://, azurekeyvault://, hashivault://)",
                "For a stack that exists: pulumi stack change-secrets-provider --stack exp passphrase (or a KMS URL), then set each secret again with `pulumi config set --secret`, and revoke any token whose ciphertext was committed.",
            ].join("\n"),
        );
        expect(
            demoPassphraseRefusal({
                stack: "exp",
                secretKeys: ["aws:secretKey"],
                passphraseProvider: true,
                env: { PULUMI_CONFIG_PASSPHRASE: demoPassphrase() },
            }),
        ).toContain("(aws:secretKey)");
    });

    it("lets through: no secret, a KMS provider, another passphrase", () => {
        expect(
            demoPassphraseRefusal({ stack: "d", secretKeys: [], passphraseProvider: true, env: demo }),
        ).toBeUndefined();
        expect(
            demoPassphraseRefusal({
                stack: "d",
                secretKeys: ["stacktune:hfToken"],
                passphraseProvider: false,
                env: demo,
            }),
        ).toBeUndefined();
        expect(
            demoPassphraseRefusal({
                stack: "d",
                secretKeys: ["stacktune:hfToken"],
                passphraseProvider: true,
                env: { PULUMI_CONFIG_PASSPHRASE: "mine" },
            }),
        ).toBeUndefined();
    });

    it("reads a stack file's secure keys (any namespace) and its secrets provider", () => {
        const config = {
            "stacktune:hfToken": { secure: "v1:x" },
            "aws:secretKey": { secure: "v1:y" },
            "stacktune:target": { kind: "local" },
        };
        expect(stackFileSecrets({ encryptionsalt: "v1:s", config })).toEqual({
            secureKeys: ["stacktune:hfToken", "aws:secretKey"],
            passphrase: true,
        });
        expect(stackFileSecrets({ secretsprovider: "passphrase", config })).toMatchObject({ passphrase: true });
        expect(
            stackFileSecrets({ secretsprovider: "awskms://alias/k?region=us-east-1", encryptedkey: "x", config }),
        ).toMatchObject({ passphrase: false });
        expect(stackFileSecrets(null)).toEqual({ secureKeys: [], passphrase: true });
    });
});

describe("stacktune run / new refuse the demo passphrase for a stack holding a secret", () => {
    const project = tempDir("cli-project");
    fs.mkdirSync(path.join(project, "stacks"));
    fs.writeFileSync(
        path.join(project, "stacks", "Pulumi.held.yaml"),
        localDemo.replace("\nencryptionsalt:", `\n${secureToken}encryptionsalt:`),
    );
    const saved = { ...process.env };
    afterEach(() => {
        process.env = { ...saved };
        vi.restoreAllMocks();
    });

    function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
        process.env = {
            ...saved,
            STACKTUNE_PROJECT_DIR: project,
            PULUMI_BACKEND_URL: `file://${tempDir("cli-state")}`,
            ...env,
        };
        delete process.env.PULUMI_CONFIG_PASSPHRASE;
        delete process.env.PULUMI_CONFIG_PASSPHRASE_FILE;
        Object.assign(process.env, env);
        const errors: string[] = [];
        vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void errors.push(a.join(" ")));
        vi.spyOn(console, "log").mockImplementation(() => undefined);
        return main(args).then((code) => ({ code, stderr: errors.join("\n") }));
    }

    it("run, with nothing set (the demo default), stops before Pulumi runs", async () => {
        const r = await cli(["run", "held"], {});
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(
            "stacktune: stack held holds secrets (stacktune:hfToken) and its secrets passphrase is the demo one",
        );
        expect(r.stderr).toContain("export PULUMI_CONFIG_PASSPHRASE_FILE=");
        expect(r.stderr).not.toContain("CANARY");
    });

    it("new --from a stack holding a secret, under the demo passphrase, writes nothing", async () => {
        const r = await cli(["new", "copy", "--from", "held"], { PULUMI_CONFIG_PASSPHRASE: demoPassphrase() });
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(
            "stack copy holds secrets (stacktune:hfToken) and its secrets passphrase is the demo one",
        );
        expect(fs.existsSync(path.join(project, "stacks", "Pulumi.copy.yaml"))).toBe(false);
    });

    it("new with a passphrase of your own writes the stack", async () => {
        const r = await cli(["new", "mine", "--from", "held"], { PULUMI_CONFIG_PASSPHRASE: "a passphrase of my own" });
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(fs.readFileSync(path.join(project, "stacks", "Pulumi.mine.yaml"), "utf8")).toContain(secureToken);
    });
});

describe("the docs say it", () => {
    it("every stack file's header and the README's Secrets section name the demo passphrase's refusal and your own provider", () => {
        for (const file of fs.readdirSync(path.join(repo, "stacks")).filter((f) => /^Pulumi\..+\.yaml$/.test(f))) {
            const header = fs.readFileSync(path.join(repo, "stacks", file), "utf8").split("\nconfig:")[0] ?? "";
            expect(header, file).toMatch(/demo passphrase[^]*refused[^]*README "Secrets"/);
        }
        const readme = fs.readFileSync(path.join(repo, "README.md"), "utf8");
        const section = readme.split("### Secrets\n")[1]?.split("\n#")[0] ?? "";
        for (const phrase of [
            "PULUMI_CONFIG_PASSPHRASE_FILE",
            "--secrets-provider 'awskms://",
            "refuse a stack that holds a",
        ]) {
            expect(section).toContain(phrase);
        }
    });
});
