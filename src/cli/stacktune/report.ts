/**
 * What `stacktune` prints at the end of a run: its summary (the host words the progress lines, lib.sh).
 * Pure: strings in, strings out.
 */
import { type CostEstimate, formatCostMoney } from "../../cost";
import { launchPhases } from "../../render";

/** `42s`, `3m05s`, `2h07m`: wall times in summaries (lib.sh's human_duration writes progress lines alike). */
export function formatDuration(seconds: number): string {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
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
    row(
        "status",
        o.model?.completedBefore === true
            ? `${o.status} (the model already existed: nothing trained)`
            : (o.status ?? "unknown"),
    );
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
        const lastWindow =
            typeof m.train_loss_last_window === "number"
                ? `; last logging window ${formatMetric(m.train_loss_last_window, 4)}`
                : "";
        row("train loss", formatMetric(m.train_loss, 4) + (lastWindow !== "" ? ` (run mean)${lastWindow}` : ""));
        row("eval loss", formatMetric(m.eval_loss, 4));
        row("tokens/s", formatMetric(m.tokens_per_s, 1));
        if (typeof m.train_tokens === "number") row("train tokens", String(m.train_tokens));
        // The evaluation gate after the merge (python/stacktune_train/gate.py), when the run measured it.
        if (typeof m.gate_merged_loss === "number") {
            row(
                "eval gate",
                `${m.gate_passed === 1 ? "passed" : "FAILED"}: merged model loss ${formatMetric(m.gate_merged_loss, 4)} vs adapter ` +
                    `${formatMetric(m.gate_adapter_loss, 4)} on ${m.gate_samples ?? "-"} held-out samples (tolerance ${m.gate_tolerance ?? "-"})`,
            );
        }
    }
    const rank = (phase: string): number =>
        PHASE_ORDER.includes(phase) ? PHASE_ORDER.indexOf(phase) : PHASE_ORDER.length;
    const phases = Object.entries(o.phases ?? {}).sort(([a], [b]) => rank(a) - rank(b));
    if (phases.length > 0) row("wall time/phase", phases.map(([k, v]) => `${k} ${formatDuration(v)}`).join(", "));
    if (extra.wallSeconds !== undefined) row("this command", formatDuration(extra.wallSeconds));
    if (o.estimatedCost !== undefined) {
        const c = o.estimatedCost;
        row("cost", `estimated ${formatCostMoney(c)}${c.summary !== undefined ? `: ${c.summary}` : ""}`);
    }
    return lines.join("\n");
}
