import { z } from "zod";
import table from "../../python/stacktune_train/training_keys.json";

/**
 * The one table of `training.yaml` keys (docs/contracts.md §4). It lives in the Python package
 * (package data) so the trainer finds it in a wheel install in the image; the renderer
 * (src/render/training.ts), the docs section (./training-keys-doc.ts) and the trainer's parser
 * (python/stacktune_train/config.py) all read this one file.
 */
export const trainingKeysFile = "python/stacktune_train/training_keys.json";

/** The argument class a key becomes in the trainer: stacktune's own dataclasses or TRL's SFTConfig. */
export const trainerClasses = [
    "ModelArguments",
    "DataArguments",
    "PublishArguments",
    "ScheduleArguments",
    "SFTConfig",
] as const;

/** YAML kinds; `float` values are always written with a fraction digit (PyYAML reads `1` as an int). */
export const trainingKeyTypes = ["str", "int", "float", "bool", "mapping"] as const;

const JsonValueSchema: z.ZodType<unknown> = z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.record(z.string(), z.string()),
]);

export const TrainingKeySchema = z
    .strictObject({
        key: z.string().regex(/^[a-z][a-z0-9_]*$/),
        trainer: z.enum(trainerClasses),
        type: z.enum(trainingKeyTypes),
        /** The settings path whose value the key takes, e.g. `training.learningRate`. */
        setting: z
            .string()
            .regex(/^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)+$/)
            .optional(),
        /** A fixed value, the same for every stack. */
        value: JsonValueSchema.optional(),
        /** Computed by a derivation in src/render/training.ts; the text says from what. */
        derived: z.string().min(1).optional(),
        /** stacktune classes: the trainer's value when the key is absent (ad-hoc runs, tests). */
        default: JsonValueSchema.optional(),
        required: z.literal(true).optional(),
        doc: z.string().min(1),
    })
    .refine((row) => [row.setting, row.value, row.derived].filter((source) => source !== undefined).length === 1, {
        message: "needs exactly one of setting, value or derived",
    });

export type TrainingKey = z.infer<typeof TrainingKeySchema>;

const TrainingKeyTableSchema = z.object({ rows: z.array(TrainingKeySchema) });

/** Validates a table (the committed one, or a test's copy); an error names the row and the file. */
export function parseTrainingKeyTable(json: unknown): TrainingKey[] {
    const result = TrainingKeyTableSchema.safeParse(json);
    if (!result.success) {
        const issues = result.error.issues.map((issue) => `rows.${issue.path.join(".")}: ${issue.message}`);
        throw new Error(`${trainingKeysFile}: ${issues.join("; ")}`);
    }
    const seen = new Set<string>();
    for (const { key } of result.data.rows) {
        if (seen.has(key)) throw new Error(`${trainingKeysFile}: ${key} is listed twice`);
        seen.add(key);
    }
    return result.data.rows;
}

/** The committed table, in rendering order. */
export const trainingKeys: readonly TrainingKey[] = parseTrainingKeyTable(table);

/** A fixed value of the committed table (run-directory paths, the smoke prompt): named once, there. */
export function fixedTrainingValue(key: string): unknown {
    const row = trainingKeys.find((candidate) => candidate.key === key);
    if (row?.value === undefined) throw new Error(`${trainingKeysFile}: ${key} has no fixed value`);
    return row.value;
}
