import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { experimentReport, parseReportArgs, resolveReportStacks } from "../src/cli/stacktune/comparisonReport";
import { comparisonCharts, renderComparisonPage } from "../src/report/comparisonPage";
import { HistoryFileError, parseRunHistory } from "../src/report/history";
import { lineChartSvg, niceTicks, tickLabels } from "../src/report/svgChart";
import { differingSettings } from "../src/render/settingsDiff";

const REPO = resolve(__dirname, "..");
const project = mkdtempSync(join(tmpdir(), "stacktune-report-args-"));
mkdirSync(join(project, "stacks", "sweeps"), { recursive: true });
for (const stack of ["base", "base-r8", "base-r16"])
    writeFileSync(join(project, "stacks", `Pulumi.${stack}.yaml`), "config: {}\n");
writeFileSync(
    join(project, "stacks", "sweeps", "base-r.yaml"),
    "base: base\ngrid:\n  lora.r: [8, 16]\nstacks:\n  - stack: base-r8\n    lora.r: 8\n  - stack: base-r16\n    lora.r: 16\n",
);

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe("stacktune report: which stacks", () => {
    it("a sweep stands for its stacks, in the manifest's order; a stack for itself; each once", () => {
        expect(resolveReportStacks(project, ["base-r"])).toEqual({
            stacks: ["base-r8", "base-r16"],
            title: "stacktune sweep base-r",
        });
        expect(resolveReportStacks(project, ["base", "base-r", "base-r8"]).stacks).toEqual([
            "base",
            "base-r8",
            "base-r16",
        ]);
    });

    it("no name: the one sweep; several sweeps or none: says to name one", () => {
        expect(resolveReportStacks(project, []).stacks).toEqual(["base-r8", "base-r16"]);
        writeFileSync(join(project, "stacks", "sweeps", "base-lr.yaml"), "stacks:\n  - stack: base\n");
        expect(() => resolveReportStacks(project, [])).toThrow(
            "2 sweeps in stacks/sweeps/ (base-lr, base-r): name one, or the stacks to compare",
        );
        rmSync(join(project, "stacks", "sweeps", "base-lr.yaml"));
        expect(() => resolveReportStacks(join(project, "stacks"), [])).toThrow(
            "no sweep in stacks/sweeps/: name the stacks to compare",
        );
    });

    it("an unknown name says where it looked; a bad option is refused", () => {
        expect(() => resolveReportStacks(project, ["nope"])).toThrow(
            "nope is neither a stack (stacks/Pulumi.nope.yaml) nor a sweep (stacks/sweeps/nope.yaml)",
        );
        expect(parseReportArgs(["a", "--out", "x.html", "b"])).toEqual({ names: ["a", "b"], out: "x.html" });
        expect(() => parseReportArgs(["--open"])).toThrow("unknown option --open");
        expect(() => parseReportArgs(["--out"])).toThrow("--out needs a file name");
    });
});

describe("stacktune report: what it shows", () => {
    it("says why a stack has no history", () => {
        expect(experimentReport(REPO, "local-demo", {}).historyNote).toBe("not run yet");
        expect(
            experimentReport(REPO, "aws-g5", { status: "succeeded", model: { mergedRepo: "me/m" } }).historyNote,
        ).toBe("its model is not in a local output store; metrics-history.jsonl is in its model repo");
        expect(
            experimentReport(REPO, "local-demo", { status: "succeeded", model: { localDir: project } }).historyNote,
        ).toBe(`no metrics-history.jsonl in ${project}`);
    });

    it("lists the settings that differ anywhere, with each stack's value", () => {
        expect(
            differingSettings([{ lora: { r: 8, alpha: 16 } }, { lora: { r: 16, alpha: 16 } }, { lora: { alpha: 16 } }]),
        ).toEqual([{ key: "lora.r", values: [8, 16, undefined] }]);
    });

    it("escapes what it prints: a setting's text cannot become markup", () => {
        const page = renderComparisonPage(
            "t",
            [
                { stack: "a", settings: { smoke: { prompt: "<script>x</script>" } }, outputs: {} },
                { stack: "b", settings: {}, outputs: {} },
            ],
            "now",
        );
        expect(page).toContain("&lt;script&gt;x&lt;/script&gt;");
        expect(page).not.toContain("<script>");
    });

    it("one series per stack in every chart; a diverged (null) loss is left out", () => {
        const history = parseRunHistory(
            '{"step":1,"elapsed_s":1,"loss":2}\n{"step":2,"elapsed_s":2,"loss":null}\n{"step":2,"elapsed_s":2.5,"eval_loss":1.5}\n',
            "h",
        );
        const charts = comparisonCharts([
            { stack: "a", settings: {}, outputs: {}, history },
            { stack: "b", settings: {}, outputs: {} },
        ]);
        expect(charts.map((c) => c.series.map((s) => [s.name, s.points.length]))).toEqual([
            [
                ["a", 1],
                ["b (no history)", 0],
            ],
            [
                ["a", 1],
                ["b (no history)", 0],
            ],
            [
                ["a", 0],
                ["b (no history)", 0],
            ],
        ]);
    });

    it("a history line that is not a record fails naming the file and line", () => {
        expect(() => parseRunHistory('{"step":1,"elapsed_s":1}\nnot json\n', "m/metrics-history.jsonl")).toThrow(
            HistoryFileError,
        );
        expect(() => parseRunHistory('{"step":-1,"elapsed_s":1}\n', "m/h.jsonl")).toThrow(/^m\/h\.jsonl:1: step: /);
    });

    it("a chart without any data still has one (empty) series per stack, and says it has no data", () => {
        const svg = lineChartSvg({
            id: "c",
            title: "t",
            xLabel: "x",
            yLabel: "y",
            series: [
                { name: "a", points: [] },
                { name: "b", points: [] },
            ],
        });
        expect(svg.match(/<path class="series" data-series="[ab]" d=""/g)).toHaveLength(2);
        expect(svg).toContain("no data: no run here has this history");
    });

    it("ticks are round numbers covering the range", () => {
        expect(niceTicks(0, 10)).toEqual([0, 2, 4, 6, 8, 10]);
        expect(niceTicks(0.93, 6.4)).toEqual([2, 4, 6]);
        expect(niceTicks(0.0004, 0.0011)).toEqual([0.0004, 0.0006, 0.0008, 0.001]);
        expect(niceTicks(3, 3)).toEqual([3]);
        // Labels keep the decimals their step needs (a nearly flat eval loss, as the demo's).
        expect(tickLabels(niceTicks(6.4864, 6.4876))).toEqual(["6.4865", "6.487", "6.4875"]);
        expect(tickLabels([0, 200, 400])).toEqual(["0", "200", "400"]);
    });
});
