/** One setting that differs between two experiments. */
export interface SettingChange {
    /** Dotted path under the `stacktune` namespace, e.g. `lora.r`. */
    key: string;
    /** `undefined` when the setting is unset on that side. */
    from: unknown;
    to: unknown;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Leaves of a settings object by dotted path; lists are leaves (they are compared whole). */
export function flattenSettings(value: unknown, prefix = ""): Map<string, unknown> {
    const out = new Map<string, unknown>();
    if (!isPlainObject(value)) {
        out.set(prefix, value);
        return out;
    }
    for (const [key, child] of Object.entries(value)) {
        const path = prefix === "" ? key : `${prefix}.${key}`;
        for (const [leafPath, leaf] of flattenSettings(child, path)) out.set(leafPath, leaf);
    }
    return out;
}

/**
 * The settings (after defaults) that differ, sorted by key. Comparing the parsed settings rather
 * than the stack files means a default written out and a default left implicit are the same.
 */
export function diffSettings(a: unknown, b: unknown): SettingChange[] {
    const left = flattenSettings(a);
    const right = flattenSettings(b);
    const keys = [...new Set([...left.keys(), ...right.keys()])].sort();
    return keys
        .filter((key) => JSON.stringify(left.get(key)) !== JSON.stringify(right.get(key)))
        .map((key) => ({ key, from: left.get(key), to: right.get(key) }));
}

/** A setting's value as a reviewer reads it: `16`, `cosine`, `[q_proj, v_proj]`, `(unset)`. */
export function formatSettingValue(value: unknown): string {
    if (value === undefined) return "(unset)";
    if (typeof value === "string") return value;
    if (Array.isArray(value)) return `[${value.map(formatSettingValue).join(", ")}]`;
    return JSON.stringify(value);
}

/** A setting that is not the same in every experiment compared: its value in each, in order. */
export interface SettingSpread {
    key: string;
    /** One per experiment; `undefined` where the setting is unset. */
    values: unknown[];
}

/** The settings (after defaults) that differ anywhere among several experiments, sorted by key. */
export function differingSettings(settings: readonly unknown[]): SettingSpread[] {
    const flat = settings.map((s) => flattenSettings(s));
    const keys = [...new Set(flat.flatMap((f) => [...f.keys()]))].sort();
    return keys
        .map((key) => ({ key, values: flat.map((f) => f.get(key)) }))
        .filter(({ values }) => new Set(values.map((v) => JSON.stringify(v))).size > 1);
}
