/**
 * The job protocol, defined once: the lines a run prints while it works (progress and phase
 * events), the summary it ends with, and the files of its run directory. Producers: the trainer
 * (python/stacktune_train/progress.py), the rendered launch.sh (src/render/launch.ts), the host
 * scripts (src/job/remote/*.sh) and the worker's answer (src/job.ts); tests check each against these
 * schemas. Parsers read only through {@link parseJobSummary}, never through a cast.
 */
import { z } from "zod";

/** Prefix of a trainer progress line: `STACKTUNE_PROGRESS {json}`. */
export const PROGRESS_PREFIX = "STACKTUNE_PROGRESS ";
/** Prefix of a phase event line: `STACKTUNE_PHASE {json}`. */
export const PHASE_PREFIX = "STACKTUNE_PHASE ";

const phaseName = z.string().regex(/^[a-z_]+$/, "a phase name is lowercase letters and _");
const seconds = z.int().nonnegative();

/** One trainer logging step (progress.py's ProgressCallback). */
export const ProgressRecordSchema = z.strictObject({
    phase: phaseName,
    step: z.int().nonnegative(),
    total: z.int().nonnegative(),
    /** null when the loss was not finite. */
    loss: z.number().nullable(),
    tokens_per_s: z.number().nonnegative(),
    elapsed_s: seconds,
    eta_s: seconds,
});
export type ProgressRecord = z.infer<typeof ProgressRecordSchema>;

/**
 * A phase event: launch.sh's start/end/fail/skip of each phase (with its wall time and exit code),
 * or a host script's note on a step of its own (lib.sh `phase`: a phase and a detail only).
 */
export const PhaseEventSchema = z.strictObject({
    phase: phaseName,
    event: z.enum(["start", "end", "fail", "skip"]).optional(),
    elapsed_s: seconds.optional(),
    exit_code: z.int().optional(),
    detail: z.string().optional(),
});
export type PhaseEvent = z.infer<typeof PhaseEventSchema>;

/** How a run ended (run-job.sh), as job.status and the summary's `status` say it. */
export const JOB_STATUSES = ["succeeded", "failed", "budget_exceeded", "preempted", "gpus_busy"] as const;

/**
 * The job's summary: summary.json on the host and the last line of the job command's stdout.
 * Written by run-job.sh (a finished attempt), start-or-attach.sh (a model already in the output
 * store) and workerRunCommand (src/job.ts: the main machine already holds the model).
 */
export const JobSummarySchema = z.strictObject({
    experiment_hash: z.string().regex(/^[0-9a-f]{64}$/, "64 hex characters"),
    status: z.enum(JOB_STATUSES),
    exit_code: z.int(),
    /** Attempts started so far (0: answered without training). */
    starts: z.int().nonnegative(),
    /** Wall time of the attempt that wrote the summary; absent when no attempt ran. */
    attempt_seconds: seconds.optional(),
    /** The trainer's metrics.json (a metric it could not compute is null), or null when there is none. */
    metrics: z.record(z.string(), z.number().nullable()).nullable(),
    /** Wall time of each finished phase (prepare, train, merge, smoke, publish); null when unknown. */
    phases: z.record(phaseName, seconds).nullable().optional(),
    output_store: z.string(),
    run_dir: z.string(),
});
export type JobSummary = z.infer<typeof JobSummarySchema>;

/** The marker the publish step writes last next to a finished model, in the output store and the merged repo (contracts §3). */
export const COMPLETION_MARKER = "stacktune.json";

/**
 * The completion marker as the program reads it: the experiment it completes (another experiment's
 * marker means "not done"), the stack, and the run's metrics and phases when the publish step put
 * them there, by the summary's own field rules. Other keys pass through untouched.
 */
export const CompletionMarkerSchema = z.looseObject({
    experiment_hash: z.string(),
    stack: z.string().optional(),
    metrics: z.unknown().optional(),
    phases: z.unknown().optional(),
});
export type CompletionMarker = z.infer<typeof CompletionMarkerSchema>;

/** The marker's metrics, by the summary's rule; null when it has none (or none that follow the protocol). */
export function markerMetrics(marker: CompletionMarker): JobSummary["metrics"] {
    const parsed = JobSummarySchema.shape.metrics.safeParse(marker.metrics);
    return parsed.success ? parsed.data : null;
}

/** The marker's phase wall times, by the summary's rule; null when it has none (or none that follow the protocol). */
export function markerPhases(marker: CompletionMarker): NonNullable<JobSummary["phases"]> | null {
    const parsed = JobSummarySchema.shape.phases.safeParse(marker.phases);
    return parsed.success ? (parsed.data ?? null) : null;
}

/** The run directory's protocol files, by role (contracts §2). */
export const RUN_FILES = {
    /** One word: running, then a {@link JOB_STATUSES} value. */
    status: "job.status",
    exitCode: "exit_code",
    summary: "summary.json",
    /** The attempt counter. */
    starts: "starts",
    /** "<pid> <start time> <boot id>" of the detached runner (lib.sh process_identity). */
    runnerPid: "runner.pid",
    log: "job.log",
} as const;

/** Thrown when a line that should follow the protocol does not: says which line and which field. */
export class JobProtocolError extends Error {}

function describeIssues(error: z.ZodError): string {
    return error.issues
        .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(the line)"}: ${issue.message}`)
        .join("; ");
}

/**
 * The job's summary from the job command's stdout: its last line that starts with `{`. Undefined
 * when there is none (the command printed no summary); a line that is not a valid summary is a
 * {@link JobProtocolError} naming every bad field, never a half-read result.
 */
export function parseJobSummary(stdout: string): JobSummary | undefined {
    const line = stdout
        .split("\n")
        .map((l) => l.trim())
        .reverse()
        .find((l) => l.startsWith("{"));
    if (line === undefined) return undefined;
    let value: unknown;
    try {
        value = JSON.parse(line);
    } catch (error) {
        throw new JobProtocolError(
            `the job's summary line is not JSON (${(error as Error).message}); the whole output is in the run directory's ${RUN_FILES.log}`,
        );
    }
    const parsed = JobSummarySchema.safeParse(value);
    if (!parsed.success) {
        throw new JobProtocolError(
            `the job's summary line is not a job summary: ${describeIssues(parsed.error)}; the whole output is in the run directory's ${RUN_FILES.log}`,
        );
    }
    return parsed.data;
}
