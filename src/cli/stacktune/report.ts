/**
 * What `stacktune` prints: progress lines a person can read, and the final summary of a run.
 * Pure: strings in, strings out.
 */
import { type CostEstimate, formatCostEstimate } from "../../cost";
import { launchPhases } from "../../render";

const PROGRESS = "STACKTUNE_PROGRESS ";
const PHASE = "STACKTUNE_PHASE ";

/** `42s`, `3m05s`, `2h07m`: wall times in progress lines and summaries. */
export function formatDuration(seconds: number): string {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * One line of engine output as the operator sees it: job progress and phase events rewritten for
 * reading, everything else as is. The engine prefixes command output with spaces; it is trimmed.
 */
export function formatOutputLine(line: string): string {
    const trimmed = line.trim();
    const at = trimmed.indexOf(PROGRESS);
    if (at >= 0) {
        try {
            const p = JSON.parse(trimmed.slice(at + PROGRESS.length)) as Record<string, number | string>;
            const parts = [`[${p.phase ?? "train"}] step ${p.step}/${p.total}`];
            if (typeof p.loss === "number") parts.push(`loss ${p.loss.toFixed(4)}`);
            if (typeof p.tokens_per_s === "number") parts.push(`${Math.round(p.tokens_per_s)} tokens/s`);
            if (typeof p.eta_s === "number") parts.push(`eta ${formatDuration(p.eta_s)}`);
            return parts.join("  ");
        } catch {
            return line;
        }
    }
    const phaseAt = trimmed.indexOf(PHASE);
    if (phaseAt >= 0) {
        try {
            const p = JSON.parse(trimmed.slice(phaseAt + PHASE.length)) as Record<string, string | number>;
            if (p.detail !== undefined) return `[${p.phase}] ${p.detail}`;
            const took = p.event === "end" || p.event === "fail" ? ` after ${formatDuration(Number(p.elapsed_s))}` : "";
            return `[${p.phase}] ${p.event}${took}${p.exit_code !== undefined && p.exit_code !== 0 ? ` (exit ${p.exit_code})` : ""}`;
        } catch {
            return line;
        }
    }
    return line;
}

/** The stack outputs the summary reads (index.ts exports them). */
export interface StackOutputs {
    status?: string;
    experimentHash?: string;
    hostAddress?: string;
    model?: { adapterRepo?: string; mergedRepo?: string; localDir?: string; completedBefore?: boolean };
    metrics?: Record<string, number | null> | null;
    phases?: Record<string, number> | null;
    estimatedCost?: CostEstimate;
    /** Several machines: each one's address and job status, in machine-rank order. */
    machines?: { rank: number; address: string; status: string }[];
}

const PHASE_ORDER: string[] = launchPhases.map((p) => p.phase);

/** A metric rounded to `digits` places (trailing zeros dropped), `-` when the run did not report it. */
export function formatMetric(value: number | null | undefined, digits: number): string {
    return typeof value === "number" ? String(Number(value.toFixed(digits))) : "-";
}

/** The final summary of `stacktune run` / `stacktune status`. */
export function formatSummary(stack: string, o: StackOutputs, extra: { wallSeconds?: number } = {}): string {
    const lines: string[] = [];
    const row = (key: string, value: string): void => {
        lines.push(`  ${key.padEnd(18)}${value}`);
    };
    lines.push(`stacktune ${stack}`);
    row("status", o.model?.completedBefore === true ? `${o.status} (the model already existed: nothing trained)` : (o.status ?? "unknown"));
    if (o.experimentHash !== undefined) row("experiment", o.experimentHash);
    if (o.hostAddress !== undefined) row("host", o.hostAddress);
    for (const machine of o.machines ?? []) row(`machine ${machine.rank}`, `${machine.address}  ${machine.status}`);
    const model = o.model ?? {};
    if (model.mergedRepo !== undefined) row("merged model", `https://huggingface.co/${model.mergedRepo}`);
    if (model.adapterRepo !== undefined) row("adapter", `https://huggingface.co/${model.adapterRepo}`);
    if (model.localDir !== undefined) row("model directory", model.localDir);
    const m = o.metrics ?? undefined;
    if (m) {
        // The mean over every step, and the last logging window's (what W&B shows as train/loss).
        const lastWindow = typeof m.train_loss_last_window === "number" ? `; last logging window ${formatMetric(m.train_loss_last_window, 4)}` : "";
        row("train loss", formatMetric(m.train_loss, 4) + (lastWindow !== "" ? ` (run mean)${lastWindow}` : ""));
        row("eval loss", formatMetric(m.eval_loss, 4));
        row("tokens/s", formatMetric(m.tokens_per_s, 1));
        if (typeof m.train_tokens === "number") row("train tokens", String(m.train_tokens));
    }
    const rank = (phase: string): number => (PHASE_ORDER.includes(phase) ? PHASE_ORDER.indexOf(phase) : PHASE_ORDER.length);
    const phases = Object.entries(o.phases ?? {}).sort(([a], [b]) => rank(a) - rank(b));
    if (phases.length > 0) row("wall time/phase", phases.map(([k, v]) => `${k} ${formatDuration(v)}`).join(", "));
    if (extra.wallSeconds !== undefined) row("this command", formatDuration(extra.wallSeconds));
    if (o.estimatedCost !== undefined) row("cost", formatCostEstimate(o.estimatedCost).replace(/^estimated cost: /, "estimated "));
    return lines.join("\n");
}
