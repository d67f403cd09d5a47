/**
 * The page `stacktune report` writes: several experiments side by side, in one self-contained
 * HTML file (inline CSS and SVG, no script, nothing fetched; its Content-Security-Policy forbids
 * every request). Pure: the experiments in, the page's text out.
 *
 * Sections: a table of results (status, losses, tokens/s, cost, wall time, links to the models),
 * the settings that differ, and three charts with one series per experiment: train loss and eval
 * loss by step, tokens/s by elapsed time.
 */
import { pathToFileURL } from "url";
import { formatCostMoney } from "../cost";
import { formatDuration, formatMetric, type StackOutputs } from "../cli/stacktune/report";
import { differingSettings, formatSettingValue } from "../render/settingsDiff";
import { historySeries, type HistoryRecord } from "./history";
import { escapeMarkup } from "./markup";
import { lineChartSvg, SERIES_COLOURS, type LineChart } from "./svgChart";

export interface ExperimentReport {
    stack: string;
    /** Its parsed settings (defaults applied; secrets are never part of them). */
    settings: unknown;
    /** Its stack outputs; empty for a stack that never ran. */
    outputs: StackOutputs;
    /** Its metrics-history.jsonl, when the report found one. */
    history?: HistoryRecord[];
    /** Why there is no history, for the page (e.g. `not run yet`, `model on the Hub`). */
    historyNote?: string;
}

/** The charts' ids, in page order. */
export const CHART_IDS = ["chart-train-loss", "chart-eval-loss", "chart-tokens-per-s"] as const;

/** The three charts, each with one series per experiment (in the given order). */
export function comparisonCharts(experiments: readonly ExperimentReport[]): LineChart[] {
    const series = (y: "loss" | "eval_loss" | "tokens_per_s", x: "step" | "elapsed_s") =>
        experiments.map((e) => ({
            name: e.history === undefined ? `${e.stack} (no history)` : e.stack,
            points: historySeries(e.history ?? [], y, x),
        }));
    return [
        { id: CHART_IDS[0], title: "Train loss", xLabel: "step", yLabel: "loss", series: series("loss", "step") },
        {
            id: CHART_IDS[1],
            title: "Eval loss",
            xLabel: "step",
            yLabel: "eval loss",
            series: series("eval_loss", "step"),
        },
        {
            id: CHART_IDS[2],
            title: "Throughput",
            xLabel: "elapsed (s)",
            yLabel: "tokens/s",
            series: series("tokens_per_s", "elapsed_s"),
        },
    ];
}

function link(href: string, text: string): string {
    return `<a href="${escapeMarkup(href)}">${escapeMarkup(text)}</a>`;
}

/** Links to the experiment's models: the merged and adapter repos on the Hub, or the output store. */
function modelLinks(o: StackOutputs): string {
    const m = o.model ?? {};
    const links = [
        ...(m.mergedRepo !== undefined
            ? [`merged ${link(`https://huggingface.co/${m.mergedRepo}`, m.mergedRepo)}`]
            : []),
        ...(m.adapterRepo !== undefined
            ? [`adapter ${link(`https://huggingface.co/${m.adapterRepo}`, m.adapterRepo)}`]
            : []),
        ...(m.localDir !== undefined ? [link(pathToFileURL(m.localDir).href, m.localDir)] : []),
    ];
    return links.length > 0 ? links.join("<br>") : "-";
}

/** The run's wall time: the sum of its phases' (prepare, train, merge, smoke, publish). */
function wallTime(o: StackOutputs): string {
    const phases = Object.values(o.phases ?? {});
    return phases.length > 0 ? formatDuration(phases.reduce((a, b) => a + b, 0)) : "-";
}

function resultsTable(experiments: readonly ExperimentReport[]): string {
    const head = ["stack", "status", "train loss", "eval loss", "tokens/s", "cost", "wall time", "model"];
    const rows = experiments.map((e, i) => {
        const m = e.outputs.metrics ?? {};
        const colour = SERIES_COLOURS[i % SERIES_COLOURS.length] as string;
        const cost =
            e.outputs.estimatedCost !== undefined ? `estimated ${formatCostMoney(e.outputs.estimatedCost)}` : "-";
        const cells = [
            `<span class="swatch" style="background:${colour}"></span>${escapeMarkup(e.stack)}`,
            escapeMarkup(e.outputs.status ?? "not run"),
            formatMetric(m.train_loss, 4),
            formatMetric(m.eval_loss, 4),
            formatMetric(m.tokens_per_s, 1),
            escapeMarkup(cost),
            wallTime(e.outputs),
            modelLinks(e.outputs),
        ];
        return `<tr data-stack="${escapeMarkup(e.stack)}">${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`;
    });
    return `<table id="results"><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
}

function settingsTable(experiments: readonly ExperimentReport[]): string {
    const spread = differingSettings(experiments.map((e) => e.settings));
    if (spread.length === 0) return `<p id="settings">Every setting is the same in these stacks.</p>`;
    const head = ["setting", ...experiments.map((e) => escapeMarkup(e.stack))];
    const rows = spread.map(
        ({ key, values }) =>
            `<tr><th scope="row"><code>${escapeMarkup(key)}</code></th>${values.map((v) => `<td>${escapeMarkup(formatSettingValue(v))}</td>`).join("")}</tr>`,
    );
    return `<table id="settings"><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
}

function historyNotes(experiments: readonly ExperimentReport[]): string {
    const missing = experiments.filter((e) => e.history === undefined);
    if (missing.length === 0) return "";
    return `<ul class="notes">${missing.map((e) => `<li>${escapeMarkup(e.stack)}: no history (${escapeMarkup(e.historyNote ?? "none found")})</li>`).join("")}</ul>`;
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:8px 0 24px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f4f4f4}.swatch{display:inline-block;width:10px;height:10px;margin-right:6px}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{border:1px solid #ddd;background:#fff}
.chart text{font-size:12px}.chart .title{font-size:14px;font-weight:600}.notes{color:#666}`;

/** The whole page. `generated` is the time it names (given, so the same inputs give the same page). */
export function renderComparisonPage(
    title: string,
    experiments: readonly ExperimentReport[],
    generated: string,
): string {
    const charts = comparisonCharts(experiments).map(lineChartSvg);
    return [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        // No request of any kind: the page is one file, readable offline and in CI's screenshot.
        `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
        `<title>${escapeMarkup(title)}</title>`,
        `<style>${STYLE}</style>`,
        "</head>",
        "<body>",
        `<h1>${escapeMarkup(title)}</h1>`,
        `<p>${experiments.length} experiment(s), generated ${escapeMarkup(generated)} by <code>stacktune report</code>.</p>`,
        "<h2>Results</h2>",
        resultsTable(experiments),
        "<h2>Settings that differ</h2>",
        settingsTable(experiments),
        "<h2>Curves</h2>",
        historyNotes(experiments),
        `<div class="charts">\n${charts.join("\n")}\n</div>`,
        "</body>",
        "</html>",
        "",
    ].join("\n");
}
