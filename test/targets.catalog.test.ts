// The AWS instance catalog (src/targets/aws/instance-types.json) is the one home of the instance types:
// the settings, the host, the cost estimate and bench/project.py all read it, and a row without a
// price fails when the catalog is loaded (render, CI), not at a preview.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { ON_DEMAND_USD_PER_HOUR } from "../src/cost";
import { MEASURED_THROUGHPUT } from "../src/cost/measured";
import { parseSettings } from "../src/settings";
import { awsTarget } from "./settings/fixtures";
import catalogFile from "../src/targets/aws/instance-types.json";
import { awsInstanceTypeNames, awsInstanceTypes, parseAwsCatalog } from "../src/targets/aws/catalog";

const repo = path.resolve(__dirname, "..");

describe("the AWS instance catalog", () => {
    it("is what the settings accept, the estimate prices and the time scales the estimate uses", () => {
        expect(awsInstanceTypeNames).toEqual(["g5.12xlarge", "g6.12xlarge"]);
        const settings = (instanceType: string) => () =>
            parseSettings(
                { target: { ...awsTarget, instanceType }, hub: { mergedRepo: "me/m" } },
                {},
                { checkSecrets: false },
            );
        expect(settings("g6.12xlarge")().target).toMatchObject({ instanceType: "g6.12xlarge" });
        expect(settings("p4d.24xlarge")).toThrow(/stacktune:target\.instanceType: .*g5\.12xlarge.*g6\.12xlarge/);
        expect(ON_DEMAND_USD_PER_HOUR).toEqual({ "g5.12xlarge": 5.672, "g6.12xlarge": 4.6016 });
        expect(MEASURED_THROUGHPUT.timeScale).toEqual({ "4x RTX 4090": 1, "g5.12xlarge": 2.36, "g6.12xlarge": 1.365 });
        expect(awsInstanceTypes["g6.12xlarge"]).toEqual({
            gpus: 4,
            gpuMemoryGb: 24,
            gpuModel: "NVIDIA L4",
            vcpus: 48,
            onDemandUsdPerHour: 4.6016,
            peakBf16Tflops: 121,
            timeScaleVs4090: 1.365,
        });
    });

    it("refuses a row without a price, naming it", () => {
        const { onDemandUsdPerHour: _price, ...noPrice } = catalogFile.instanceTypes["g5.12xlarge"];
        const broken = { ...catalogFile, instanceTypes: { ...catalogFile.instanceTypes, "g7.12xlarge": noPrice } };
        expect(() => parseAwsCatalog(broken)).toThrow(
            /^src\/targets\/aws\/instance-types\.json is not a valid instance catalog: instanceTypes\.g7\.12xlarge\.onDemandUsdPerHour: /,
        );
        expect(
            parseAwsCatalog({
                ...catalogFile,
                instanceTypes: { "x1.large": { ...noPrice, onDemandUsdPerHour: 1, timeScaleVs4090: "unmeasured" } },
            }),
        ).toBeDefined();
    });

    it("bench/project.py reads it: the committed projection comes out again from the committed recipe figures", () => {
        const results = JSON.parse(
            fs.readFileSync(path.join(repo, "bench", "results", "2026-11-27-gpu-recipes.json"), "utf8"),
        ) as {
            recipes: Record<string, unknown>;
            projection: Record<
                string,
                { reference: string; candidate: string; hosts: unknown; assumptions: Record<string, unknown> }
            >;
        };
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-project-"));
        try {
            for (const projection of Object.values(results.projection)) {
                const summary = path.join(dir, "summary.json");
                fs.writeFileSync(summary, JSON.stringify({ recipes: results.recipes }));
                const out = JSON.parse(
                    execFileSync(
                        "python3",
                        [path.join(repo, "bench", "project.py"), summary, projection.reference, projection.candidate],
                        { encoding: "utf8" },
                    ),
                ) as { hosts: unknown; assumptions: Record<string, unknown> };
                expect(out.hosts).toEqual(projection.hosts);
                expect(out.assumptions.peak_dense_bf16_tflops).toEqual(projection.assumptions.peak_dense_bf16_tflops);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
