import { readFileSync } from "node:fs";
import { basename } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type YAMLError } from "yaml";
import { SettingsError, type SettingsIssue } from "./errors";
import { type ParseSettingsOptions, parseSettings } from "./parse";
import { type SecretKey, type SecretsPresent, type Settings, secretKeys, settingsKeys } from "./schema";

const namespace = "stacktune";

/** Settings plus the secrets as Pulumi secret outputs (values never leave Pulumi's secret handling). */
export interface PulumiSettings {
    settings: Settings;
    secrets: Partial<Record<SecretKey, pulumi.Output<string>>>;
}

/**
 * Reads the current stack's `stacktune:*` config. Values are JSON-parsed here rather than with
 * `Config.getObject`, whose error message quotes the raw value.
 */
export function loadSettingsFromPulumiConfig(): PulumiSettings {
    const config = new pulumi.Config(namespace);
    const raw: Record<string, unknown> = {};
    for (const key of settingsKeys) {
        const text = config.get(key);
        if (text !== undefined) raw[key] = parseConfigValue(text);
    }
    const known = new Set<string>([...settingsKeys, ...secretKeys]);
    for (const fullKey of Object.keys(pulumi.runtime.allConfig())) {
        const key = stacktuneKey(fullKey);
        if (key !== undefined && !known.has(key)) raw[key] = null;
    }
    const secrets: PulumiSettings["secrets"] = {};
    const present: SecretsPresent = {};
    const secretConfig = new Set(secretConfigKeys());
    const plainSecrets: SecretKey[] = [];
    for (const key of secretKeys) {
        const value = config.getSecret(key);
        if (value === undefined) continue;
        // `pulumi config set` without --secret: the value sits in the stack file in plain text.
        if (!secretConfig.has(`${namespace}:${key}`)) plainSecrets.push(key);
        secrets[key] = value;
        present[key] = true;
    }
    const source = `stack ${pulumi.getStack()}`;
    if (plainSecrets.length > 0) throw new SettingsError(plainSecrets.map(plainSecretIssue), source);
    return { settings: parseSettings(raw, present, { source }), secrets };
}

/**
 * Config keys the engine passed as secrets. The SDK's `isConfigSecret` is marked internal (absent
 * from its typings) but is how the SDK itself reads PULUMI_CONFIG_SECRET_KEYS; the SDK is pinned.
 */
export function secretConfigKeys(): string[] {
    const isConfigSecret = (runtimeConfig as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
    if (isConfigSecret === undefined) {
        throw new Error("this @pulumi/pulumi has no runtime isConfigSecret: use the version package.json pins");
    }
    return Object.keys(pulumi.runtime.allConfig()).filter((key) => isConfigSecret(key));
}

/** A secret key holding a plain-text value: named, its value never read into the message. */
function plainSecretIssue(key: SecretKey): SettingsIssue {
    return {
        path: key,
        message: `stored in plain text; remove it (pulumi config rm ${namespace}:${key}) and run \`pulumi config set --secret ${namespace}:${key}\``,
    };
}

function parseConfigValue(text: string): unknown {
    try {
        return JSON.parse(text) as unknown;
    } catch {
        return text;
    }
}

/** A stack file's settings, for tools that run without Pulumi (render, diff). */
export interface StackFileSettings {
    /** Stack name from `Pulumi.<stack>.yaml`. */
    stack: string;
    settings: Settings;
    /** Which secrets the file sets (as `secure:` values); their values are not read. */
    secrets: SecretsPresent;
}

/**
 * Parses `stacks/Pulumi.<stack>.yaml`. Secrets count as set when present as `{secure: …}`; a
 * secret in plain text is an error. By default the rules that need secrets are skipped (a
 * committed stack file carries no secret; `pulumi up` checks them).
 */
export function loadSettingsFromStackFile(
    path: string,
    options: Pick<ParseSettingsOptions, "checkSecrets"> = { checkSecrets: false },
): StackFileSettings {
    const file = basename(path);
    const match = /^Pulumi\.(.+)\.ya?ml$/.exec(file);
    if (!match?.[1]) {
        throw new SettingsError([{ path: "", message: `not a stack file; name it Pulumi.<stack>.yaml` }], path);
    }
    const document = readStackFileDocument(path);
    const config: unknown =
        document !== null && typeof document === "object" && "config" in document ? document.config : undefined;
    const raw: Record<string, unknown> = {};
    const secrets: SecretsPresent = {};
    const plainSecrets: SecretKey[] = [];
    if (config !== null && typeof config === "object") {
        for (const [fullKey, value] of Object.entries(config)) {
            const key = stacktuneKey(fullKey);
            if (key === undefined) continue;
            if ((secretKeys as readonly string[]).includes(key)) {
                if (isSecure(value)) secrets[key as SecretKey] = true;
                else plainSecrets.push(key as SecretKey);
            } else {
                raw[key] = value;
            }
        }
    }
    if (plainSecrets.length > 0) throw new SettingsError(plainSecrets.map(plainSecretIssue), path);
    const settings = parseSettings(raw, secrets, { source: path, checkSecrets: options.checkSecrets ?? false });
    return { stack: match[1], settings, secrets };
}

/**
 * A stack file's YAML, parsed. A syntax error names the file, line, column and key path, never the
 * line's text: the broken line may be the one holding a pasted token.
 */
export function readStackFileDocument(path: string): unknown {
    const lineCounter = new LineCounter();
    const doc = parseDocument(readFileSync(path, "utf8"), { lineCounter });
    if (doc.errors.length > 0) {
        throw new SettingsError(
            doc.errors.map((error) => yamlIssue(doc.contents, error, lineCounter)),
            path,
        );
    }
    return doc.toJS() as unknown;
}

/** What a YAML error means, in words that quote nothing of the file. */
function yamlProblem(error: YAMLError): string {
    switch (error.code) {
        case "MISSING_CHAR":
            return error.message.startsWith("Missing closing")
                ? "a quote, bracket or brace is not closed"
                : "a line that is not `key: value` (a value pasted on a line of its own?)";
        case "MULTILINE_IMPLICIT_KEY":
            return "a line that is not `key: value` (a value pasted on a line of its own?)";
        case "TAB_AS_INDENT":
            return "a tab indents the line; indent with spaces";
        case "BAD_INDENT":
            return "the line is not indented as its mapping or list needs";
        case "BLOCK_AS_IMPLICIT_KEY":
            return "a value holding `: ` must be quoted";
        case "DUPLICATE_KEY":
            return "a key is set twice";
        default:
            return `a YAML syntax error (${error.code})`;
    }
}

function yamlIssue(root: unknown, error: YAMLError, lines: LineCounter): SettingsIssue {
    const { keys, node } = keyPathAt(root, error.pos[0], error.code === "DUPLICATE_KEY");
    // An unclosed quote is reported where the file ends; the value it opens is where to look.
    const start =
        error.code === "MISSING_CHAR" && isScalar(node) && node.range && node.range[0] < error.pos[0]
            ? node.range[0]
            : error.pos[0];
    const at = lines.linePos(start);
    const message = `not valid YAML at line ${at.line}, column ${at.col}: ${yamlProblem(error)}; fix the YAML there (the line is not shown: it may hold a secret)`;
    // config.<namespace:key>.<nested>…: the settings path; elsewhere in the file, the raw key path.
    const key = keys[0] === "config" && keys[1] !== undefined ? stacktuneKey(keys[1]) : undefined;
    if (key !== undefined) return { path: [key, ...keys.slice(2)].join(".").replace(/\.\[/g, "["), message };
    return { path: "", message: keys.length > 0 ? `${keys.join(".")}: ${message}` : message };
}

/**
 * The keys leading to `offset` in a (partly) parsed document, and the node reached: at each
 * mapping the last key that starts before it, entered while `offset` is inside its value. A key
 * that itself spans `offset` is the broken text and is not named (unless it is a duplicate: then it
 * is a well-formed key).
 */
function keyPathAt(root: unknown, offset: number, nameKeyAtOffset: boolean): { keys: string[]; node: unknown } {
    const keys: string[] = [];
    let node = root;
    const inside = (value: unknown): boolean => {
        if (!isNode(value) || !value.range) return false;
        // A collection's range runs to its last line's end; a scalar's value ends before the newline.
        const end = isMap(value) || isSeq(value) ? value.range[2] : value.range[1];
        return value.range[0] <= offset && offset <= end;
    };
    for (;;) {
        if (isMap(node)) {
            const pair = node.items.filter((p) => isNode(p.key) && (p.key.range?.[0] ?? Infinity) <= offset).pop();
            const key = pair?.key;
            if (pair === undefined || !isScalar(key)) return { keys, node };
            if (offset < (key.range?.[1] ?? 0))
                return { keys: nameKeyAtOffset ? [...keys, String(key.value)] : keys, node };
            if (!inside(pair.value)) return { keys, node };
            keys.push(String(key.value));
            node = pair.value;
        } else if (isSeq(node)) {
            const index = node.items.findIndex(inside);
            if (index < 0) return { keys, node };
            keys.push(`[${index}]`);
            node = node.items[index];
        } else {
            return { keys, node };
        }
    }
}

/**
 * The key under `stacktune`, or undefined for another namespace (e.g. `aws:region`). A key without
 * a namespace belongs to the project, which is named stacktune (Pulumi.yaml).
 */
function stacktuneKey(fullKey: string): string | undefined {
    if (!fullKey.includes(":")) return fullKey;
    return fullKey.startsWith(`${namespace}:`) ? fullKey.slice(namespace.length + 1) : undefined;
}

function isSecure(value: unknown): boolean {
    return value !== null && typeof value === "object" && typeof (value as { secure?: unknown }).secure === "string";
}
