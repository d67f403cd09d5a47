/**
 * `stacktune report`'s page in a real browser: Debian's headless Chromium (scripts/setup.sh --only
 * browser) driven by playwright-core, launched with the flags this machine needs (no sandbox as
 * root; no background networking, which the closed network would refuse). The page is written by
 * the command's own code from three real stack files and history files of the shape the host writes
 * (python/stacktune_train/history.py); the screenshot is kept for CI in test-artifacts/report.png.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type BrowserContext, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeComparisonReport } from "../../src/cli/stacktune/comparisonReport";
import { CHART_IDS } from "../../src/report/comparisonPage";
import { HISTORY_FILE } from "../../src/report/history";
import type { StackOutputs } from "../../src/cli/stacktune/report";

const REPO = resolve(__dirname, "..", "..");
const SCREENSHOT = join(REPO, "test-artifacts", "report.png");
/** scripts/setup.sh --only browser installs it; STACKTUNE_CHROMIUM names another (CI's Chrome). */
const CHROMIUM = process.env.STACKTUNE_CHROMIUM ?? "/usr/bin/chromium";
const FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

const dir = mkdtempSync(join(tmpdir(), "stacktune-report-"));
const STACKS = ["local-demo", "aws-g5", "aws-g6-r16"];

/** A history of `steps` training logs and an evaluation every `evalEvery` steps, loss falling from `start`. */
function history(steps: number, start: number, evalEvery: number, tokensPerS: number): string {
    const lines: object[] = [];
    for (let step = 1; step <= steps; step++) {
        const loss = start * 0.85 ** step;
        lines.push({
            step,
            elapsed_s: step * 2,
            loss,
            num_tokens: step * 512,
            tokens_per_s: tokensPerS + step,
            gpu_memory_gib: null,
            cpu_memory_gib: 1.2,
        });
        if (step % evalEvery === 0)
            lines.push({
                step,
                elapsed_s: step * 2 + 1,
                eval_loss: loss * 1.05,
                gpu_memory_gib: null,
                cpu_memory_gib: 1.2,
            });
    }
    return lines.map((l) => JSON.stringify(l)).join("\n") + "\n";
}

function store(name: string, text: string): string {
    const model = join(dir, "models", name);
    mkdirSync(model, { recursive: true });
    writeFileSync(join(model, HISTORY_FILE), text);
    return model;
}

const OUTPUTS: Record<string, StackOutputs> = {
    "local-demo": {
        status: "succeeded",
        model: { localDir: store("local-demo", history(12, 6.5, 4, 300)) },
        metrics: { train_loss: 3.1, eval_loss: 3.3, tokens_per_s: 305.2 },
        phases: { prepare: 3, train: 40, merge: 5, smoke: 2, publish: 1 },
    },
    "aws-g5": {
        status: "succeeded",
        model: {
            mergedRepo: "me/aws-g5-merged",
            adapterRepo: "me/aws-g5-adapter",
            localDir: store("aws-g5", history(8, 2.2, 4, 4800)),
        },
        metrics: { train_loss: 0.97, eval_loss: 0.96, tokens_per_s: 4804 },
        phases: { prepare: 600, train: 50_000, merge: 900, smoke: 60, publish: 300 },
        estimatedCost: { hours: 15, usdPerHour: 5.67, usd: 85.05, basis: "measured" },
    },
    "aws-g6-r16": {},
};

let context: BrowserContext;
let page: Page;
let file: string;
const requests: string[] = [];
const consoleErrors: string[] = [];

/** An attribute of every element the locator finds, in page order. */
async function attributes(locator: Locator, name: string): Promise<(string | null)[]> {
    return Promise.all((await locator.all()).map((element) => element.getAttribute(name)));
}

beforeAll(async () => {
    ({ file } = await writeComparisonReport(
        REPO,
        { names: STACKS, out: join(dir, "report.html") },
        (stack) => Promise.resolve(OUTPUTS[stack] ?? {}),
        new Date("2026-12-01T12:00:00Z"),
    ));
    context = await chromium.launchPersistentContext(join(dir, "chromium-profile"), {
        executablePath: CHROMIUM,
        headless: true,
        args: FLAGS,
    });
    page = await context.newPage();
    page.on("request", (request) => requests.push(request.url()));
    page.on("console", (message) => {
        if (message.type() === "error") consoleErrors.push(message.text());
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
});

afterAll(async () => {
    await context?.close();
    rmSync(dir, { recursive: true, force: true });
});

describe("stacktune report: the comparison page in headless Chromium", () => {
    it("renders the title, one results row per stack and the settings that differ", async () => {
        expect(await page.title()).toBe(`stacktune: ${STACKS.join(", ")}`);
        expect(await attributes(page.locator("#results tbody tr"), "data-stack")).toEqual(STACKS);
        const demo = await page.locator('#results tr[data-stack="aws-g5"] td').allInnerTexts();
        expect(demo.slice(1, 7)).toEqual([
            "succeeded",
            "0.97",
            "0.96",
            "4804",
            "estimated 85.05 USD (15 h x 5.67 USD/h)",
            "14h24m",
        ]);
        expect(await attributes(page.locator('#results tr[data-stack="aws-g5"] a'), "href")).toEqual([
            "https://huggingface.co/me/aws-g5-merged",
            "https://huggingface.co/me/aws-g5-adapter",
            pathToFileURL(OUTPUTS["aws-g5"]?.model?.localDir ?? "").href,
        ]);
        expect(await page.locator('#results tr[data-stack="aws-g6-r16"] td').nth(1).innerText()).toBe("not run");
        const settingKeys = await page.locator("#settings tbody th").allInnerTexts();
        expect(settingKeys).toContain("target.kind");
        expect(await page.locator("#settings thead th").allInnerTexts()).toEqual(["setting", ...STACKS]);
    });

    it("draws each chart with one series per stack, the curves of the runs with a history", async () => {
        expect(await attributes(page.locator("svg.chart"), "id")).toEqual([...CHART_IDS]);
        for (const id of CHART_IDS) {
            expect(await attributes(page.locator(`#${id} path.series`), "data-series"), id).toEqual([
                "local-demo",
                "aws-g5",
                "aws-g6-r16 (no history)",
            ]);
            const box = await page.locator(`#${id}`).boundingBox();
            expect(box?.width, id).toBeGreaterThan(300);
        }
        // Points per curve, as the browser parsed the path: 12 and 8 train steps, 3 and 2 evaluations.
        const points = async (id: string) =>
            (await attributes(page.locator(`#${id} path.series`), "d")).map((d) => (d?.match(/[ML]/g) ?? []).length);
        expect(await points("chart-train-loss")).toEqual([12, 8, 0]);
        expect(await points("chart-eval-loss")).toEqual([3, 2, 0]);
        expect(await points("chart-tokens-per-s")).toEqual([12, 8, 0]);
        // The curves are drawn: each series path the browser lays out has a real length.
        const lengths = await Promise.all(
            (await page.locator("#chart-train-loss path.series").all()).map((path) =>
                path.evaluate((p: { getTotalLength(): number }) => Math.round(p.getTotalLength())),
            ),
        );
        expect(lengths[0]).toBeGreaterThan(100);
        expect(lengths[1]).toBeGreaterThan(100);
    });

    it("makes no request beyond its own file and logs no error; the screenshot is kept", async () => {
        expect(requests).toEqual([pathToFileURL(file).href]);
        expect(consoleErrors).toEqual([]);
        mkdirSync(join(REPO, "test-artifacts"), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        console.log(`[browser] screenshot of the report page: ${SCREENSHOT}`);
    });
});
