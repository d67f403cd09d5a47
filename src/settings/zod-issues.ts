/** Translates zod issues into settings issues that say what to do, without quoting any value. */
import type { z } from "zod";
import type { SettingsIssue } from "./errors";
import { allowedKeysAt, suggestKeyAt, wholeNumberAt } from "./keys";

function joinPath(path: readonly PropertyKey[]): string {
    return path
        .map((p) => (typeof p === "number" ? `[${p}]` : String(p)))
        .join(".")
        .replace(/\.\[/g, "[");
}

/** Per-path advice for values a user must supply themselves. */
const requiredAdvice: Record<string, string> = {
    target: "set stacktune:target with kind local, ssh or aws (see stacks/ for examples)",
    "target.kind": "set stacktune:target.kind to local, ssh or aws",
    "target.host": "set stacktune:target.host to the machine’s host name or IP address",
    "target.user": "set stacktune:target.user to the login user on that machine",
    "target.sshCidr": "set stacktune:target.sshCidr to your IP/32 (e.g. 203.0.113.7/32)",
    "target.publicKey":
        "set stacktune:target.publicKey to your OpenSSH public key (the contents of ~/.ssh/id_ed25519.pub)",
};

const formatAdvice: Record<string, string> = {
    cidrv4: "an IPv4 CIDR such as 203.0.113.7/32",
    regex: "text in the expected form",
};

const typeNames: Record<string, string> = {
    object: "a mapping",
    array: "a list",
    int: "a whole number",
    number: "a number",
    string: "a string",
    boolean: "true or false",
};

function describeType(t: string): string {
    return typeNames[t] ?? `a ${t}`;
}

function typeOfValue(value: unknown): string {
    if (value === null) return "null";
    if (Array.isArray(value)) return "a list";
    if (typeof value === "object") return "a mapping";
    return `a ${typeof value}`;
}

/**
 * A whole number above its bound also fails zod's safe-integer maximum: keep only the tightest
 * maximum of each path, the one that tells the user the real limit.
 */
function withoutLooserMaximums(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
    const tightest = new Map<string, number>();
    for (const issue of issues) {
        if (issue.code !== "too_big") continue;
        const key = joinPath(issue.path);
        tightest.set(key, Math.min(tightest.get(key) ?? Infinity, Number(issue.maximum)));
    }
    return issues.filter(
        (issue) => issue.code !== "too_big" || Number(issue.maximum) === tightest.get(joinPath(issue.path)),
    );
}

/** A number the schema refused by type, named as YAML writes it; finite values are not quoted. */
function describeNumber(value: number): string {
    if (Number.isNaN(value)) return ".nan (not a number)";
    if (!Number.isFinite(value)) return `${value > 0 ? "" : "-"}.inf (infinity)`;
    return "a fraction";
}

function valueAt(root: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
    let node: unknown = root;
    for (const key of path) {
        if (node === null || typeof node !== "object" || !(key in node)) return { found: false, value: undefined };
        node = (node as Record<PropertyKey, unknown>)[key];
    }
    return { found: true, value: node };
}

function listOptions(values: readonly unknown[]): string {
    return values.map((v) => String(v)).join(", ");
}

/**
 * Turns zod issues into settings issues. Messages describe expectations and the *type* of what
 * was found, never the value itself: a secret pasted into the wrong key must not be echoed.
 */
export function issuesFromZod(error: z.core.$ZodError, raw: unknown, schema: z.core.$ZodType): SettingsIssue[] {
    const out: SettingsIssue[] = [];
    for (const issue of withoutLooserMaximums(error.issues)) {
        const path = joinPath(issue.path);
        switch (issue.code) {
            case "unrecognized_keys": {
                for (const key of issue.keys) {
                    const full = joinPath([...issue.path, key]);
                    const suggestion = suggestKeyAt(schema, issue.path, key, raw);
                    const allowed = allowedKeysAt(schema, issue.path, raw);
                    const where = issue.path.length === 0 ? "the stacktune namespace" : `stacktune:${path}`;
                    out.push({
                        path: full,
                        message:
                            suggestion === undefined
                                ? `unknown key; remove it (keys allowed in ${where}: ${allowed.join(", ")})`
                                : `unknown key; did you mean \`${suggestion}\`? Rename it to stacktune:${suggestion}`,
                    });
                }
                break;
            }
            case "invalid_type": {
                const found = valueAt(raw, issue.path);
                if (!found.found || found.value === undefined) {
                    out.push({ path, message: `missing; ${requiredAdvice[path] ?? `set stacktune:${path}`}` });
                } else if (typeof found.value === "number") {
                    // NaN, ±Infinity (YAML .nan / .inf) or a fraction where a whole number belongs: say which,
                    // and show the form to write.
                    const whole = issue.expected === "int" || wholeNumberAt(schema, issue.path, raw);
                    const expected = describeType(whole ? "int" : "number");
                    out.push({
                        path,
                        message: `expected ${expected}, found ${describeNumber(found.value)}; set stacktune:${path} to ${expected} such as ${whole ? 4 : 0.5}`,
                    });
                } else {
                    out.push({
                        path,
                        message: `expected ${describeType(issue.expected)}, found ${typeOfValue(found.value)}; set stacktune:${path} to ${describeType(issue.expected)}`,
                    });
                }
                break;
            }
            case "invalid_union": {
                if ("discriminator" in issue && issue.discriminator !== undefined) {
                    const options = (issue as { options?: unknown[] }).options ?? [];
                    const found = valueAt(raw, issue.path);
                    out.push({
                        path,
                        message: found.found
                            ? `must be one of ${listOptions(options)}; set stacktune:${path} to one of them`
                            : `missing; ${requiredAdvice[path] ?? `set stacktune:${path} to one of ${listOptions(options)}`}`,
                    });
                } else {
                    const custom = issue.message.startsWith("Invalid") ? undefined : issue.message;
                    out.push({
                        path,
                        message: `${custom ?? "does not match any accepted form (see docs/contracts.md §1)"}; change stacktune:${path}`,
                    });
                }
                break;
            }
            case "invalid_value":
                out.push({
                    path,
                    message: `must be one of ${listOptions(issue.values)}; set stacktune:${path} to one of them`,
                });
                break;
            case "too_small":
                out.push({
                    path,
                    message: `must be ${issue.inclusive === false ? "greater than" : "at least"} ${String(issue.minimum)}${issue.origin === "array" ? " item(s)" : issue.origin === "string" ? " character(s)" : ""}; change stacktune:${path}`,
                });
                break;
            case "too_big":
                out.push({
                    path,
                    message: `must be ${issue.inclusive === false ? "less than" : "at most"} ${String(issue.maximum)}${issue.origin === "array" ? " item(s)" : issue.origin === "string" ? " character(s)" : ""}; change stacktune:${path}`,
                });
                break;
            case "invalid_format": {
                const custom =
                    issue.format === "regex" && !issue.message.startsWith("Invalid") ? issue.message : undefined;
                out.push({
                    path,
                    message: `${custom ?? `must be ${formatAdvice[issue.format] ?? `a valid ${issue.format}`}`}; change stacktune:${path}`,
                });
                break;
            }
            case "not_multiple_of":
                out.push({ path, message: `must be a multiple of ${String(issue.divisor)}; change stacktune:${path}` });
                break;
            case "custom":
                // A schema's own refinement may already say what to do (params.complete).
                out.push({
                    path,
                    message:
                        issue.params?.complete === true ? issue.message : `${issue.message}; change stacktune:${path}`,
                });
                break;
            default:
                out.push({ path, message: `${issue.message}; change stacktune:${path}` });
        }
    }
    return out;
}
