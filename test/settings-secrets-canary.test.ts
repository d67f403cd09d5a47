// Errors never echo a value that could be secret: a canary pasted into a stack file reaches no
// output through YAML syntax errors, rule messages or unknown keys; a plaintext value under a
// secret key is refused by the program too, naming the key.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadSettingsFromPulumiConfig, loadSettingsFromStackFile, parseSettings } from "../src/settings";
import { readStackFileSecrets } from "../src/secrets-provider";
import { canary, merge, settingsErrorOf, sshTarget } from "./settings/fixtures";

const dir = mkdtempSync(join(tmpdir(), "stacktune-canary-"));
let files = 0;
function stackFile(body: string): string {
    const path = join(dir, `Pulumi.canary${files++}.yaml`);
    writeFileSync(path, body);
    return path;
}

const head = `config:
  stacktune:target:
    kind: ssh
    host: gpu-box.example.internal
    hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb
    user: stacktune
`;

describe("YAML syntax errors name file, line and key path, never the line", () => {
    const cases: [string, string, string][] = [
        [
            "an unclosed quote around a pasted token",
            `${head}  stacktune:hub:\n    mergedRepo: "${canary}\n  stacktune:budget:\n    maxHours: 2\n`,
            "stacktune:hub.mergedRepo: not valid YAML at line 8, column 17: a quote, bracket or brace is not closed; fix the YAML there (the line is not shown: it may hold a secret)",
        ],
        [
            "a token pasted on a line of its own",
            `${head}    ${canary}\n  stacktune:budget:\n    maxHours: 2\n`,
            "stacktune:target: not valid YAML at line 7, column 5: a line that is not `key: value` (a value pasted on a line of its own?); fix the YAML there (the line is not shown: it may hold a secret)",
        ],
        [
            "a tab indenting the line with the token",
            `${head}\tprivateKeyPath: ${canary}\n`,
            "stacktune:target: not valid YAML at line 7, column 1: a tab indents the line; indent with spaces; fix the YAML there (the line is not shown: it may hold a secret)",
        ],
        [
            'a value holding ": " unquoted',
            `${head}  stacktune:tracking:\n    project: a: ${canary}\n`,
            "stacktune:tracking.project: not valid YAML at line 8, column 14: a value holding `: ` must be quoted; fix the YAML there (the line is not shown: it may hold a secret)",
        ],
        [
            "a key set twice, the second with the token",
            `${head}  stacktune:tracking:\n    project: a\n    project: ${canary}\n`,
            "stacktune:tracking.project: not valid YAML at line 9, column 5: a key is set twice; fix the YAML there (the line is not shown: it may hold a secret)",
        ],
    ];
    for (const [what, body, issue] of cases) {
        it(what, () => {
            const path = stackFile(body);
            const error = settingsErrorOf(() => loadSettingsFromStackFile(path));
            expect(error.message).toBe(`Invalid stacktune settings in ${path} (1 problem):\n  - ${issue}`);
            expect(error.message).not.toContain("CANARY");
            // The secrets-provider check reads the same file the same way.
            expect(() => readStackFileSecrets(path)).toThrow(error.message);
        });
    }
});

describe("rule messages name keys, not host or user values", () => {
    const hostKey = sshTarget.hostKey;
    const host = "canary-7f3a9c0d.example";
    const user = "canary7f3a9c0d";
    it("two machines with one account", () => {
        const raw = merge(
            { target: sshTarget },
            {
                target: {
                    host: undefined,
                    hostKey: undefined,
                    user,
                    hosts: [
                        { host, hostKey },
                        { host: "b.example", hostKey },
                        { host, port: 22, hostKey },
                    ],
                },
            },
        );
        const error = settingsErrorOf(() => parseSettings(raw, {}, { checkSecrets: false }));
        expect(error.issues).toEqual([
            {
                path: "target.hosts[2]",
                message:
                    "has the same host, port and user as target.hosts[0], so they would share one run directory; give each machine its own host, port or user",
            },
        ]);
        expect(error.message).not.toContain("canary");
    });

    it("a loopback cluster address the other machines cannot reach", () => {
        const raw = merge(
            { target: sshTarget },
            {
                target: {
                    host: undefined,
                    hostKey: undefined,
                    hosts: [
                        { host: "a.example", clusterAddress: "127.0.0.1", hostKey },
                        { host, hostKey },
                    ],
                },
            },
        );
        const error = settingsErrorOf(() => parseSettings(raw, {}, { checkSecrets: false }));
        expect(error.issues).toEqual([
            {
                path: "target.hosts[0].clusterAddress",
                message:
                    "the main machine's cluster address is a loopback address, which target.hosts[1].host cannot reach; set stacktune:target.hosts[0].clusterAddress to an address the other machines can reach",
            },
        ]);
        expect(error.message).not.toContain("canary");
    });
});

describe("unknown keys never echo their value", () => {
    it("in a stack file: a misspelled secret key in plain text, and an unknown nested key", () => {
        const path = stackFile(`${head}  stacktune:hfTokn: ${canary}\n  stacktune:hub:\n    token: ${canary}\n`);
        const error = settingsErrorOf(() => loadSettingsFromStackFile(path));
        expect(error.issues.map((i) => i.path)).toEqual(["hub.token", "hfTokn"]);
        expect(error.message).not.toContain("CANARY");
    });
});

describe("loadSettingsFromPulumiConfig (the program)", () => {
    beforeAll(async () => {
        await pulumi.runtime.setMocks(
            { newResource: (args) => ({ id: `${args.name}-id`, state: {} }), call: () => ({}) },
            "stacktune",
            "unit",
        );
    });
    afterEach(() => pulumi.runtime.setAllConfig({}));
    const target = JSON.stringify(sshTarget);

    it("refuses a secret key set without --secret, naming it and never echoing it", () => {
        pulumi.runtime.setAllConfig(
            {
                "stacktune:target": target,
                "stacktune:hfToken": canary,
                "stacktune:wandbApiKey": canary,
                "stacktune:sshPrivateKey": "k",
            },
            ["stacktune:sshPrivateKey"],
        );
        const error = settingsErrorOf(() => loadSettingsFromPulumiConfig());
        expect(error.issues).toEqual(
            ["hfToken", "wandbApiKey"].map((key) => ({
                path: key,
                message: `stored in plain text; remove it (pulumi config rm stacktune:${key}) and run \`pulumi config set --secret stacktune:${key}\``,
            })),
        );
        expect(error.message).not.toContain("CANARY");
    });

    it("an unknown key with a token as its value is named, the value never read", () => {
        pulumi.runtime.setAllConfig(
            { "stacktune:target": target, "stacktune:hfTokn": canary, "stacktune:sshPrivateKey": "k" },
            ["stacktune:sshPrivateKey"],
        );
        const error = settingsErrorOf(() => loadSettingsFromPulumiConfig());
        expect(error.issues.map((i) => i.path)).toEqual(["hfTokn"]);
        expect(error.message).not.toContain("CANARY");
    });
});
