/**
 * A run's per-step history as the host writes it (python/stacktune_train/history.py):
 * `metrics-history.jsonl` beside the model, one JSON object a line. Pure apart from {@link readRunHistory}.
 */
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";

/** The file's name in the output store (and in the model's Hub repo). */
export const HISTORY_FILE = "metrics-history.jsonl";

const optionalNumber = z.number().nullable().optional();

/** One line: a training log (`loss`) or an evaluation (`eval_loss`); other keys are kept out. */
export const HistoryRecordSchema = z.object({
    step: z.number().int().nonnegative(),
    elapsed_s: z.number().nonnegative(),
    loss: optionalNumber,
    eval_loss: optionalNumber,
    tokens_per_s: optionalNumber,
    gpu_memory_gib: optionalNumber,
    cpu_memory_gib: optionalNumber,
});
export type HistoryRecord = z.infer<typeof HistoryRecordSchema>;

export class HistoryFileError extends Error {}

/** The records of a history file's text; a line that is not a record fails naming its line number. */
export function parseRunHistory(text: string, source: string): HistoryRecord[] {
    const records: HistoryRecord[] = [];
    text.split("\n").forEach((line, index) => {
        if (line.trim() === "") return;
        let value: unknown;
        try {
            value = JSON.parse(line);
        } catch {
            throw new HistoryFileError(
                `${source}:${index + 1} is not JSON: write the file with stacktune_train.history`,
            );
        }
        const parsed = HistoryRecordSchema.safeParse(value);
        if (!parsed.success) {
            const issue = parsed.error.issues[0];
            throw new HistoryFileError(
                `${source}:${index + 1}: ${issue?.path.join(".") || "record"}: ${issue?.message ?? "invalid"}`,
            );
        }
        records.push(parsed.data);
    });
    return records;
}

/** The history in `directory` (a model directory of the output store), or undefined when it has none. */
export function readRunHistory(directory: string): HistoryRecord[] | undefined {
    const file = path.join(directory, HISTORY_FILE);
    if (!fs.existsSync(file)) return undefined;
    return parseRunHistory(fs.readFileSync(file, "utf8"), file);
}

/** `[x, y]` points of one quantity, leaving out the records that lack it (a diverged loss is null). */
export function historySeries(
    records: readonly HistoryRecord[],
    y: "loss" | "eval_loss" | "tokens_per_s",
    x: "step" | "elapsed_s" = "step",
): [number, number][] {
    const points: [number, number][] = [];
    for (const record of records) {
        const value = record[y];
        if (typeof value === "number" && Number.isFinite(value)) points.push([record[x], value]);
    }
    return points;
}
