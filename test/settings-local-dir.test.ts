import { describe, expect, it } from "vitest";
import { parseSettings } from "../src/settings";
import { allSecrets, cpuRun, merge, settingsErrorOf, sshTarget } from "./settings/fixtures";

type Raw = Record<string, unknown>;

const local: Raw = cpuRun;
const ssh: Raw = { target: sshTarget };

/** hub.localDir values the output store must never be pointed at, and what the message says. */
const refused: [string, string, string][] = [
    [
        "~",
        "the home directory itself",
        "set stacktune:hub.localDir to a directory of its own, e.g. ~/.stacktune/models/<stack>",
    ],
    ["~/", "the home directory itself", "set stacktune:hub.localDir to a directory of its own"],
    ["/", "the root directory", "set stacktune:hub.localDir to a directory of its own"],
    ["/etc/x", "under the system directory /etc", "e.g. ~/.stacktune/models/<stack>"],
    ["/usr/local/models", "under the system directory /usr", "e.g. ~/.stacktune/models/<stack>"],
    ["/var", "under the system directory /var", "e.g. ~/.stacktune/models/<stack>"],
    ["/root/models", "under the system directory /root", "e.g. ~/.stacktune/models/<stack>"],
    ["/home/me", "a home directory itself", "a directory of its own"],
    ["/home/me/", "a home directory itself", "a directory of its own"],
    ["/home", "a home directory itself", "a directory of its own"],
    ["models/x", "a relative path", "an absolute path or one under ~/"],
    ["./models", "a relative path", "an absolute path or one under ~/"],
    ["~other/models", "a relative path", "an absolute path or one under ~/"],
    ["~/models/../..", "'..'", "a directory of its own"],
    ["~/models\nx", "a control character", "remove it"],
    ["~/models\tx", "a control character", "remove it"],
];

describe("hub.localDir: the output store names a directory of its own", () => {
    for (const [value, why, advice] of refused) {
        for (const [kind, base] of [
            ["local", local],
            ["ssh", ssh],
        ] as const) {
            it(`${JSON.stringify(value)} is refused on a ${kind} target: ${why}`, () => {
                const error = settingsErrorOf(() =>
                    parseSettings(merge(base, { hub: { localDir: value } }), allSecrets),
                );
                const issue = error.issues.find((i) => i.path === "hub.localDir");
                expect(issue, JSON.stringify(error.issues)).toBeDefined();
                expect(issue?.message).toContain(why);
                expect(issue?.message).toContain(advice);
                expect(error.message).toContain("stacktune:hub.localDir: ");
            });
        }
    }

    for (const value of [
        "~/.stacktune/models/x",
        "~/models/x/",
        "/srv/models/mh",
        "/tmp/stb/store",
        "/home/me/models",
        "/data/models",
        "/m",
    ]) {
        it(`${value} is accepted`, () => {
            expect(parseSettings(merge(ssh, { hub: { localDir: value } }), allSecrets).hub.localDir).toBe(value);
        });
    }
});
