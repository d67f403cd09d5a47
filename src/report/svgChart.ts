/**
 * Line charts as inline SVG text, for the comparison report (`stacktune report`): no library, no
 * script, nothing fetched, so the page is one self-contained file. Pure: data in, markup out.
 *
 * Every series is one `<path class="series" data-series="<name>">` (a one-point series is also
 * drawn as a dot), so a reader of the page (or a test) finds one element per series.
 */
import { escapeMarkup } from "./markup";

export interface ChartSeries {
    name: string;
    points: readonly (readonly [number, number])[];
}

export interface LineChart {
    /** The chart's element id in the page. */
    id: string;
    title: string;
    xLabel: string;
    yLabel: string;
    series: readonly ChartSeries[];
}

/** Colour of the i-th series: the same stack gets the same colour in every chart of a page. */
export const SERIES_COLOURS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
];

const WIDTH = 640;
const HEIGHT = 320;
const MARGIN = { top: 32, right: 16, bottom: 44, left: 64 };
const LEGEND_LINE = 16;

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / count;
    const power = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
    const ticks: number[] = [];
    // The 1e-9 slack absorbs float error (0.0004 / 0.0002 is 2.0000000000000004).
    for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
        ticks.push(Number(t.toPrecision(12)));
    return ticks;
}

function extent(values: number[]): [number, number] {
    let lo = Math.min(...values);
    let hi = Math.max(...values);
    if (lo === hi) {
        // One value: give it room so the line sits mid-chart rather than on an edge.
        const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
        lo -= pad;
        hi += pad;
    }
    return [lo, hi];
}

/** Tick labels with as many decimals as their step needs: 6.4865, 6.487 and 6.4875, not 6.487 thrice. */
export function tickLabels(ticks: readonly number[]): string[] {
    const step = ticks.length > 1 ? Math.abs((ticks[1] as number) - (ticks[0] as number)) : 1;
    const decimals = Math.min(12, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
    return ticks.map((t) => String(Number(t.toFixed(decimals))));
}

/** The chart as an `<svg>` element (with a legend naming each series). */
export function lineChartSvg(chart: LineChart): string {
    const points = chart.series.flatMap((s) => s.points);
    const plotW = WIDTH - MARGIN.left - MARGIN.right;
    const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
    // The legend sits under the chart, one line per series, so it never covers a curve.
    const height = HEIGHT + LEGEND_LINE * chart.series.length + 8;
    const parts: string[] = [
        `<svg xmlns="http://www.w3.org/2000/svg" id="${escapeMarkup(chart.id)}" class="chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${escapeMarkup(chart.title)}">`,
        `<text class="title" x="${WIDTH / 2}" y="20" text-anchor="middle">${escapeMarkup(chart.title)}</text>`,
    ];
    // No points at all: empty axes and a note, but still one (empty) element per series.
    const [x0, x1] = points.length > 0 ? extent(points.map(([x]) => x)) : [0, 1];
    const [y0, y1] = points.length > 0 ? extent(points.map(([, y]) => y)) : [0, 1];
    if (points.length === 0)
        parts.push(
            `<text class="no-data" x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle">no data: no run here has this history</text>`,
        );
    const sx = (x: number): number => MARGIN.left + ((x - x0) / (x1 - x0)) * plotW;
    const sy = (y: number): number => MARGIN.top + plotH - ((y - y0) / (y1 - y0)) * plotH;
    const f = (n: number): string => n.toFixed(1);
    parts.push(
        `<g class="axes" stroke="#999" fill="none"><rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}"/></g>`,
    );
    const xTicks = niceTicks(x0, x1);
    tickLabels(xTicks).forEach((label, i) => {
        const x = f(sx(xTicks[i] as number));
        parts.push(
            `<line class="grid" x1="${x}" x2="${x}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`,
        );
        parts.push(`<text class="tick" x="${x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${label}</text>`);
    });
    const yTicks = niceTicks(y0, y1);
    tickLabels(yTicks).forEach((label, i) => {
        const y = sy(yTicks[i] as number);
        parts.push(
            `<line class="grid" x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${f(y)}" y2="${f(y)}" stroke="#eee"/>`,
        );
        parts.push(`<text class="tick" x="${MARGIN.left - 6}" y="${f(y + 4)}" text-anchor="end">${label}</text>`);
    });
    parts.push(
        `<text class="label" x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 8}" text-anchor="middle">${escapeMarkup(chart.xLabel)}</text>`,
    );
    parts.push(
        `<text class="label" transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeMarkup(chart.yLabel)}</text>`,
    );
    chart.series.forEach((series, i) => {
        const colour = SERIES_COLOURS[i % SERIES_COLOURS.length] as string;
        const d = series.points.map(([x, y], j) => `${j === 0 ? "M" : "L"}${f(sx(x))} ${f(sy(y))}`).join(" ");
        const name = escapeMarkup(series.name);
        parts.push(
            `<path class="series" data-series="${name}" d="${d}" fill="none" stroke="${colour}" stroke-width="2"><title>${name}</title></path>`,
        );
        if (series.points.length === 1) {
            const [x, y] = series.points[0] as readonly [number, number];
            parts.push(`<circle class="point" cx="${f(sx(x))}" cy="${f(sy(y))}" r="4" fill="${colour}"/>`);
        }
        const ly = HEIGHT + 4 + i * LEGEND_LINE;
        parts.push(
            `<g class="legend-entry"><line x1="${MARGIN.left}" x2="${MARGIN.left + 20}" y1="${ly - 4}" y2="${ly - 4}" stroke="${colour}" stroke-width="3"/>` +
                `<text x="${MARGIN.left + 26}" y="${ly}">${name}</text></g>`,
        );
    });
    parts.push("</svg>");
    return parts.join("\n");
}
