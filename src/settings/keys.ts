import type { z } from "zod";

/**
 * Names users carry over from PEFT / TRL / HF TrainingArguments / Axolotl configs, mapped to
 * stacktune's keys. Checked before the edit-distance match, which misses renames such as rank → r.
 */
const knownAliases: Record<string, string> = {
    rank: "r",
    lora_r: "r",
    lora_rank: "r",
    lora_alpha: "alpha",
    lora_dropout: "dropout",
    target_modules: "targetModules",
    lora_target_modules: "targetModules",
    lr: "learningRate",
    num_train_epochs: "epochs",
    numTrainEpochs: "epochs",
    num_epochs: "epochs",
    lr_scheduler_type: "lrScheduler",
    lrSchedulerType: "lrScheduler",
    warmup: "warmupRatio",
    max_seq_length: "maxLength",
    maxSeqLength: "maxLength",
    max_seq_len: "maxLength",
    maxSeqLen: "maxLength",
    batch_size: "perDeviceTrainBatchSize",
    batchSize: "perDeviceTrainBatchSize",
    micro_batch_size: "perDeviceTrainBatchSize",
    grad_accum: "gradientAccumulationSteps",
    gradAccum: "gradientAccumulationSteps",
    load_in_4bit: "load4bit",
    loadIn4bit: "load4bit",
    bnb_4bit_quant_type: "quantType",
    bnb_4bit_use_double_quant: "doubleQuant",
    bnb_4bit_compute_dtype: "computeDtype",
    bnb_4bit_quant_storage: "storageDtype",
    attn_implementation: "implementation",
    model_name_or_path: "id",
    name: "id",
    instance_type: "instanceType",
    ssh_cidr: "sshCidr",
    test_size: "testSize",
    eval_steps: "steps",
    save_steps: "steps",
    save_total_limit: "totalLimit",
    hub_model_id: "adapterRepo",
    hub_strategy: "strategy",
    report_to: "kind",
    type: "kind",
};

type AnySchema = z.core.$ZodType;

function unwrap(schema: AnySchema): AnySchema {
    let s = schema;
    for (;;) {
        const def = s._zod.def as { type: string; innerType?: AnySchema; in?: AnySchema };
        if (
            (def.type === "default" || def.type === "prefault" || def.type === "optional" || def.type === "nullable") &&
            def.innerType
        ) {
            s = def.innerType;
        } else if (def.type === "pipe" && def.in) {
            s = def.in;
        } else {
            return s;
        }
    }
}

/** The object schema at `path` (following the `kind` of discriminated unions in `raw`). */
function objectShapeAt(
    root: AnySchema,
    path: readonly PropertyKey[],
    raw: unknown,
): Record<string, AnySchema> | undefined {
    let schema = unwrap(root);
    let value: unknown = raw;
    let depth = 0;
    for (;;) {
        const def = schema._zod.def as {
            type: string;
            shape?: Record<string, AnySchema>;
            options?: AnySchema[];
            discriminator?: string;
        };
        if (def.type === "union" && def.options && def.discriminator !== undefined) {
            const discriminator = def.discriminator;
            const kind =
                value !== null && typeof value === "object"
                    ? (value as Record<string, unknown>)[discriminator]
                    : undefined;
            const match = def.options.find((o) => {
                const shape = (unwrap(o)._zod.def as { shape?: Record<string, AnySchema> }).shape;
                const lit = shape?.[discriminator]?._zod.def as { values?: unknown[] } | undefined;
                return lit?.values?.includes(kind) ?? false;
            });
            if (!match) return undefined;
            schema = unwrap(match);
            continue;
        }
        if (def.type === "array" && typeof path[depth] === "number") {
            // A list of mappings (target.hosts): step into the item schema and the item's value.
            const element = (def as { element?: AnySchema }).element;
            if (!element) return undefined;
            const index = path[depth] as number;
            depth += 1;
            schema = unwrap(element);
            value = Array.isArray(value) ? value[index] : undefined;
            continue;
        }
        if (def.type !== "object" || !def.shape) return undefined;
        if (depth === path.length) return def.shape;
        const key = String(path[depth]);
        depth += 1;
        const next = def.shape[key];
        if (!next) return undefined;
        schema = unwrap(next);
        value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
    }
}

/** Whether the value at `path` must be a whole number (`z.number().int()`). */
export function wholeNumberAt(root: AnySchema, path: readonly PropertyKey[], raw: unknown): boolean {
    const last = path.at(-1);
    const leaf = last === undefined ? undefined : objectShapeAt(root, path.slice(0, -1), raw)?.[String(last)];
    if (leaf === undefined) return false;
    const checks = (unwrap(leaf)._zod.def as { checks?: { _zod: { def: { format?: string } } }[] }).checks ?? [];
    return checks.some((check) => check._zod.def.format === "safeint");
}

/** Keys allowed in the mapping at `path`. */
export function allowedKeysAt(root: AnySchema, path: readonly PropertyKey[], raw: unknown): string[] {
    return Object.keys(objectShapeAt(root, path, raw) ?? {});
}

function editDistance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let diagonal = row[0] ?? 0;
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const above = row[j] ?? 0;
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + cost);
            diagonal = above;
        }
    }
    return row[b.length] ?? 0;
}

function camelCase(key: string): string {
    return key.replace(/[_-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The full dotted path the user probably meant for an unknown `key` at `path`, if any. */
export function suggestKeyAt(
    root: AnySchema,
    path: readonly PropertyKey[],
    key: string,
    raw: unknown,
): string | undefined {
    const prefix =
        path.length === 0
            ? ""
            : `${path
                  .map((p) => (typeof p === "number" ? `[${p}]` : String(p)))
                  .join(".")
                  .replace(/\.\[/g, "[")}.`;
    const here = closestKey(key, allowedKeysAt(root, path, raw));
    if (here !== undefined) return prefix + here;
    if (path.length > 0) return undefined;
    // A concern's key written at the top of the namespace (stacktune:learningRate): point into it.
    for (const concern of allowedKeysAt(root, [], raw)) {
        const nested = namedKey(key, allowedKeysAt(root, [concern], raw));
        if (nested !== undefined) return `${concern}.${nested}`;
    }
    return undefined;
}

/** `key` under its stacktune name: an alias from PEFT/TRL/HF, or its camelCase form. */
function namedKey(key: string, allowed: readonly string[]): string | undefined {
    const candidates = [
        key,
        knownAliases[key],
        camelCase(key),
        camelCase(key.replace(/^(lora|bnb_4bit|hub|eval|save)_/, "")),
    ];
    return candidates.find((c): c is string => c !== undefined && allowed.includes(c));
}

/** {@link namedKey}, else the allowed key within a small edit distance (typos). */
function closestKey(key: string, allowed: readonly string[]): string | undefined {
    const named = namedKey(key, allowed);
    if (named !== undefined) return named;
    const lower = key.toLowerCase();
    let best: { key: string; distance: number } | undefined;
    for (const option of allowed) {
        const distance = editDistance(lower, option.toLowerCase());
        if (best === undefined || distance < best.distance) best = { key: option, distance };
    }
    return best !== undefined && best.distance <= Math.max(1, Math.floor(key.length / 3)) ? best.key : undefined;
}
