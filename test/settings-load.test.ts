import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadSettingsFromPulumiConfig, loadSettingsFromStackFile } from "../src/settings";
import { canary, settingsErrorOf } from "./settings/fixtures";

const dir = mkdtempSync(join(tmpdir(), "stacktune-settings-"));

function stackFile(name: string, body: string): string {
    const path = join(dir, `Pulumi.${name}.yaml`);
    writeFileSync(path, body);
    return path;
}

const sshTargetYaml = `  stacktune:target:
    kind: ssh
    host: gpu-box.example.internal
    user: stacktune
    hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb
`;

describe("loadSettingsFromStackFile", () => {
    it("counts a secure value as a set secret without reading it", () => {
        const path = stackFile(
            "secure",
            `encryptionsalt: v1:abc
config:
${sshTargetYaml}  stacktune:hub:
    mergedRepo: me/model
  stacktune:hfToken:
    secure: v1:AAAAencrypted
  stacktune:sshPrivateKey:
    secure: v1:BBBBencrypted
`,
        );
        const loaded = loadSettingsFromStackFile(path, { checkSecrets: true });
        expect(loaded.stack).toBe("secure");
        expect(loaded.secrets).toEqual({ hfToken: true, sshPrivateKey: true });
        expect(loaded.settings.hub.mergedRepo).toBe("me/model");
    });

    it("refuses a secret in plain text, naming it and never echoing it", () => {
        const path = stackFile("plain", `config:\n${sshTargetYaml}  stacktune:hfToken: ${canary}\n`);
        const error = settingsErrorOf(() => loadSettingsFromStackFile(path));
        expect(error.issues.map((i) => i.path)).toEqual(["hfToken"]);
        expect(error.message).toContain("pulumi config set --secret stacktune:hfToken");
        expect(error.message).not.toContain(canary);
    });

    it("a stack with lora: {rank: 8} fails naming lora.rank, with or without the namespace", () => {
        for (const key of ["stacktune:lora", "lora"]) {
            const path = stackFile("rank", `config:\n${sshTargetYaml}  ${key}:\n    rank: 8\n`);
            const error = settingsErrorOf(() => loadSettingsFromStackFile(path));
            expect(error.issues.map((i) => i.path)).toEqual(["lora.rank"]);
            expect(error.message).toContain(`in ${path}`);
            expect(error.message).toContain("did you mean `lora.r`?");
        }
    });

    it("ignores other namespaces (provider config such as aws:region)", () => {
        const path = stackFile("other", `config:\n${sshTargetYaml}  aws:region: eu-west-1\n`);
        expect(loadSettingsFromStackFile(path).settings.target.kind).toBe("ssh");
    });

    it("an empty stack file asks for a target", () => {
        const error = settingsErrorOf(() => loadSettingsFromStackFile(stackFile("empty", "")));
        expect(error.issues).toEqual([
            {
                path: "target",
                message: "missing; set stacktune:target with kind local, ssh or aws (see stacks/ for examples)",
            },
        ]);
    });

    it("refuses a file not named Pulumi.<stack>.yaml", () => {
        const path = join(dir, "settings.yaml");
        writeFileSync(path, "config: {}\n");
        expect(settingsErrorOf(() => loadSettingsFromStackFile(path)).message).toContain("name it Pulumi.<stack>.yaml");
    });
});

describe("loadSettingsFromPulumiConfig", () => {
    beforeAll(async () => {
        await pulumi.runtime.setMocks(
            { newResource: (args) => ({ id: `${args.name}-id`, state: {} }), call: () => ({}) },
            "stacktune",
            "unit",
        );
    });

    afterEach(() => {
        pulumi.runtime.setAllConfig({});
    });

    const target = JSON.stringify({
        kind: "ssh",
        host: "gpu-box.example.internal",
        user: "stacktune",
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb",
    });

    it("reads structured settings and returns secrets as Pulumi secret outputs", async () => {
        pulumi.runtime.setAllConfig(
            {
                "stacktune:target": target,
                "stacktune:lora": JSON.stringify({ r: 16, alpha: 32 }),
                "stacktune:hub": JSON.stringify({ mergedRepo: "me/model" }),
                "stacktune:hfToken": canary,
                "stacktune:sshPrivateKey": "key",
            },
            ["stacktune:hfToken", "stacktune:sshPrivateKey"],
        );
        const { settings, secrets } = loadSettingsFromPulumiConfig();
        expect(settings.lora).toEqual({ r: 16, alpha: 32, dropout: 0.1, targetModules: "all-linear" });
        expect(Object.keys(secrets).sort()).toEqual(["hfToken", "sshPrivateKey"]);
        const token = secrets.hfToken;
        expect(token).toBeDefined();
        if (token === undefined) return;
        expect(await pulumi.isSecret(token)).toBe(true);
        expect(await new Promise((resolve) => token.apply(resolve))).toBe(canary);
    });

    it("names unknown keys of the namespace and misspelled nested keys at once, naming the stack", () => {
        pulumi.runtime.setAllConfig({
            "stacktune:target": target,
            "stacktune:lora": JSON.stringify({ rank: 8 }),
            "stacktune:trainingArgs": JSON.stringify({ lr: 1 }),
        });
        const error = settingsErrorOf(() => loadSettingsFromPulumiConfig());
        expect(error.issues.map((i) => i.path)).toEqual(["lora.rank", "trainingArgs"]);
        expect(error.message.split("\n")[0]).toBe("Invalid stacktune settings in stack unit (2 problems):");
    });

    it("a non-mapping value is reported by type, without quoting it", () => {
        pulumi.runtime.setAllConfig(
            { "stacktune:target": target, "stacktune:training": canary, "stacktune:sshPrivateKey": "k" },
            ["stacktune:sshPrivateKey"],
        );
        const error = settingsErrorOf(() => loadSettingsFromPulumiConfig());
        expect(error.issues).toEqual([
            { path: "training", message: "expected a mapping, found a string; set stacktune:training to a mapping" },
        ]);
        expect(error.message).not.toContain(canary);
    });
});
