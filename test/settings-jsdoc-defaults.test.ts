// Every `@default` in the settings layer's JSDoc says what the settings really default to (issue 18
// item 7): a key whose schema takes its default from src/settings/defaults.ts must name that value,
// and one whose default is derived must say what the code derives. The host components' arguments
// that carry a setting say the setting's default too.
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
    clusterMachines,
    defaultOutputStoreDir,
    parseSettings,
    SettingsError,
    settingsDefaults,
} from "../src/settings";
import { allSecrets, awsTarget, sshTarget } from "./settings/fixtures";

const srcDir = path.join(__dirname, "..", "src");
const settingsDir = path.join(srcDir, "settings");

/** One `@default` of a JSDoc comment and the property it documents. */
interface DocumentedDefault {
    /** `aws/settings.ts:rootVolumeGb` */
    where: string;
    /** What the comment says, up to a parenthesis or a colon of explanation. */
    says: string;
    /** The property's definition, up to the next documented property. */
    definition: string;
    file: string;
}

/** The `.ts` files of `dir`, named relative to it. */
function filesIn(
    dir: string,
    names = fs.readdirSync(dir).filter((f) => f.endsWith(".ts")),
): { name: string; file: string }[] {
    return names.map((name) => ({ name, file: path.join(dir, name) }));
}

/** The settings layer: src/settings and each target's settings schema (src/targets/<kind>/settings.ts). */
function settingsFiles(): { name: string; file: string }[] {
    const targetsDir = path.join(srcDir, "targets");
    const kinds = fs.readdirSync(targetsDir, { withFileTypes: true }).filter((d) => d.isDirectory());
    const targetSettings = kinds
        .map((d) => `${d.name}/settings.ts`)
        .filter((f) => fs.existsSync(path.join(targetsDir, f)));
    return [...filesIn(settingsDir), ...filesIn(targetsDir, targetSettings)];
}

function documentedDefaults(files = settingsFiles()): DocumentedDefault[] {
    const found: DocumentedDefault[] = [];
    for (const { name: file, file: filePath } of files) {
        const text = fs.readFileSync(filePath, "utf8");
        const comment =
            /\/\*\*((?:(?!\*\/)[\s\S])*@default(?:(?!\*\/)[\s\S])*)\*\/\s*\n\s*(?:export const )?(\w+)\??\s*[:=]/g;
        for (const m of text.matchAll(comment)) {
            const body = (m[1] ?? "").replace(/^\s*\* ?/gm, " ");
            const says = (/@default\s+([^\n]*?)(?:\s+\(|:\s|\s*$)/m.exec(body)?.[1] ?? "").trim();
            const start = (m.index ?? 0) + m[0].length;
            const next = text.slice(start).search(/\n\s*\/\*\*|\n\}\)|\n\}/);
            found.push({
                where: `${file}:${m[2]}`,
                says,
                definition: text.slice(start, next < 0 ? undefined : start + next),
                file: text,
            });
        }
    }
    return found;
}

/**
 * The settingsDefaults value a definition's `.default(…)` (or a union's `.prefault({ kind: … })`)
 * reads, through the file's `defaults` alias.
 */
function schemaDefault(d: DocumentedDefault): { path: string; value: unknown } | undefined {
    const expression =
        /\.(?:default|prefault)\(\s*(?:\{\s*kind:\s*)?((?:settingsDefaults|defaults)(?:\.\w+)+)\s*\}?\s*\)/.exec(
            d.definition,
        )?.[1];
    if (expression === undefined) return undefined;
    const alias = /const defaults = (settingsDefaults(?:\.\w+)*);/.exec(d.file)?.[1] ?? "settingsDefaults";
    const full = expression.startsWith("defaults.") ? `${alias}${expression.slice("defaults".length)}` : expression;
    const keys = full.split(".").slice(1);
    const value = keys.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], settingsDefaults);
    return { path: keys.join("."), value };
}

/** What the comment's value means as a setting: `1e-4` is a number, `true` a boolean, `main` a string. */
const asValue = (says: string): unknown => parseYaml(says) as unknown;

const aws = { target: awsTarget, hub: { mergedRepo: "me/model" } };

/**
 * Defaults the code derives rather than reads from settingsDefaults: each documented default is
 * checked against what the code does.
 */
const derived: Record<string, { says: string; check: () => void }> = {
    "hub.ts:localDir": {
        says: "~/.stacktune/models/<stack>",
        check: () => expect(defaultOutputStoreDir("<stack>")).toBe("~/.stacktune/models/<stack>"),
    },
    "ssh/settings.ts:clusterAddress": {
        says: "host",
        check: () => {
            const target = parseSettings(
                {
                    target: {
                        ...sshTarget,
                        host: undefined,
                        hostKey: undefined,
                        hosts: [{ host: "a.example", hostKey: sshTarget.hostKey }],
                    },
                },
                allSecrets,
            ).target;
            expect(clusterMachines(target)[0]?.clusterAddress).toBe("a.example");
        },
    },
    "aws/settings.ts:availabilityZone": {
        says: "the first zone",
        // Chosen by the aws host from the zones that offer the type: test/program.aws.cluster.test.ts.
        check: () => expect(parseSettings(aws, allSecrets).target).not.toHaveProperty("availabilityZone"),
    },
    "aws/settings.ts:checkpointBucket": {
        says: "spot.enabled",
        check: () => {
            expect(parseSettings(aws, allSecrets).target).toMatchObject({
                spot: { enabled: true },
                checkpointBucket: true,
            });
            expect(
                parseSettings({ ...aws, target: { ...awsTarget, spot: { enabled: false } } }, allSecrets).target,
            ).toMatchObject({ checkpointBucket: false });
        },
    },
    "parse.ts:checkSecrets": {
        says: "true",
        check: () => expect(() => parseSettings({ target: sshTarget }, {})).toThrow(SettingsError),
    },
};

describe("JSDoc @default in src/settings and the target settings", () => {
    const all = documentedDefaults();

    it("finds the documented defaults (the scan works)", () => {
        expect(all.length).toBeGreaterThan(50);
        expect(all.map((d) => d.where)).toContain("aws/settings.ts:rootVolumeGb");
    });

    for (const d of all) {
        it(`${d.where}: @default ${d.says}`, () => {
            const real = schemaDefault(d);
            if (real !== undefined) {
                expect({ key: real.path, default: asValue(d.says) }).toEqual({ key: real.path, default: real.value });
                return;
            }
            const known = derived[d.where];
            expect(
                known,
                `${d.where} documents a default that is neither read from settingsDefaults nor listed in this test's derived defaults`,
            ).toBeDefined();
            expect(d.says).toBe(known?.says);
            known?.check();
        });
    }

    it("every key with a default in settingsDefaults documents it", () => {
        const documented = new Set(all.flatMap((d) => schemaDefault(d)?.path ?? []));
        const leaves = (node: unknown, prefix: string[]): string[] =>
            node !== null && typeof node === "object" && !Array.isArray(node)
                ? Object.entries(node).flatMap(([k, v]) => leaves(v, [...prefix, k]))
                : [prefix.join(".")];
        expect(leaves(settingsDefaults, []).filter((key) => !documented.has(key))).toEqual([]);
    });
});

/**
 * Host-component arguments that carry one setting each: their `@default` is the setting's, or they
 * have none and are required (the program always passes the setting).
 */
const componentArgs: Record<string, string> = {
    "aws.ts:instanceType": "target.aws.instanceType",
    "aws.ts:spot": "target.aws.spot",
    "aws.ts:rootVolumeGb": "target.aws.rootVolumeGb",
    "aws.ts:allowOpenSsh": "target.aws.allowOpenSsh",
    "aws.ts:hosts": "target.aws.hosts",
    "aws.ts:rendezvousPort": "distributed.rendezvousPort",
    "ssh.ts:port": "target.ssh.port",
    "ssh.ts:gpuMemoryGb": "target.ssh.gpuMemoryGb",
    "ssh.ts:minFreeDiskGb": "target.ssh.minFreeDiskGb",
    "local.ts:gpus": "target.local.gpus",
};

describe("JSDoc @default of the host components' settings arguments", () => {
    const documented = new Map(documentedDefaults(filesIn(path.join(srcDir, "hosts"))).map((d) => [d.where, d.says]));
    for (const [where, key] of Object.entries(componentArgs)) {
        it(`${where} says the default of ${key}, or is required`, () => {
            const says = documented.get(where);
            if (says === undefined) {
                const [file = "", name = ""] = where.split(":");
                expect(fs.readFileSync(path.join(srcDir, "hosts", file), "utf8")).toMatch(
                    new RegExp(`\\n\\s+${name}: `),
                );
                return;
            }
            const real = key
                .split(".")
                .reduce<unknown>((node, k) => (node as Record<string, unknown>)[k], settingsDefaults);
            // `"g5.12xlarge"`, `{ enabled: true }`: TypeScript literals, read as YAML flow values.
            expect({ where, default: asValue(says) }).toEqual({ where, default: real });
        });
    }
});
