import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TrainingKey, trainingKeys, trainingKeysFile } from "../../src/contract/training-keys";
import { contractsDocFile, withTrainingKeysTable } from "../../src/contract/training-keys-doc";
import { renderTrainingConfig, trainingConfig } from "../../src/render";
import { cpuLocalSettings } from "../render/fixtures";

const python = ".venv/bin/python";

/**
 * What the trainer's Python (this checkout's package first on the path) makes of the tables and
 * the YAML below, in one process (importing TRL takes seconds): its allow-list, `training.yaml`
 * parsed with the extended table and refused by the package's own, and a table naming a TRL
 * argument that does not exist.
 */
const trainerVerdicts = `
import json, sys
from stacktune_train.config import allowed_yaml_keys, load_contract, parse_config
def attempt(run):
    try:
        return run()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
extended, yaml_path, bogus = sys.argv[1:]
def parsed():
    cfg = parse_config(yaml_path, [], contract=load_contract(extended))
    return {"neftune_noise_alpha": cfg.training.neftune_noise_alpha, "smoke_do_sample": cfg.publish.smoke_do_sample}
print(json.dumps({
    "allowed": sorted(allowed_yaml_keys()),
    "parsed": attempt(parsed),
    "refused": attempt(lambda: parse_config(yaml_path, []) and "accepted"),
    "bogus": attempt(lambda: load_contract(bogus) and "accepted"),
}))
`;

interface TrainerVerdicts {
    allowed: string[];
    parsed: unknown;
    refused: string;
    bogus: string;
}

/** Two new hyperparameters, one row each: a TRL argument mapped from a setting, a stacktune one fixed. */
const newRows: TrainingKey[] = [
    {
        key: "neftune_noise_alpha",
        trainer: "SFTConfig",
        type: "float",
        setting: "training.maxGradNorm",
        doc: "NEFTune noise on the embeddings.",
    },
    {
        key: "smoke_do_sample",
        trainer: "PublishArguments",
        type: "bool",
        value: true,
        default: false,
        doc: "Sample in the smoke test instead of greedy decoding.",
    },
];

/** A CPU run whose max_grad_norm the new TRL row reuses. */
const settings = cpuLocalSettings({ training: { bf16: false, gradientCheckpointing: false, maxGradNorm: 5 } });
const extendedTable = [...trainingKeys, ...newRows];

describe("the training.yaml key table (one trainer contract)", () => {
    let dir = "";
    let trainer: TrainerVerdicts;
    beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), "stacktune-keys-"));
        const paths = ["extended.json", "training.yaml", "bogus.json"].map((name) => join(dir, name));
        const [extended = "", yamlPath = "", bogus = ""] = paths;
        writeFileSync(extended, JSON.stringify({ rows: extendedTable }));
        writeFileSync(yamlPath, renderTrainingConfig(settings, "cpu", extendedTable));
        const noSuchArgument = { key: "neftune_alpha", trainer: "SFTConfig", type: "float", value: 1.0, doc: "x" };
        writeFileSync(bogus, JSON.stringify({ rows: [...trainingKeys, noSuchArgument] }));
        const out = execFileSync(python, ["-c", trainerVerdicts, ...paths], {
            encoding: "utf8",
            env: { ...process.env, PYTHONPATH: join(process.cwd(), "python") },
        });
        trainer = JSON.parse(out) as TrainerVerdicts;
    }, 300_000);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("is what the docs list and what the trainer accepts, key for key", () => {
        const doc = readFileSync(contractsDocFile, "utf8");
        expect(withTrainingKeysTable(doc, trainingKeys)).toBe(doc);
        for (const { key } of trainingKeys) expect(doc).toContain(`| \`${key}\` |`);
        expect(trainer.allowed).toEqual(trainingKeys.map(({ key }) => key).sort());
    });

    it("adding a row alone makes a key render, the trainer accept it and the docs list it", () => {
        const text = renderTrainingConfig(settings, "cpu", extendedTable);
        expect(text.split("\n")).toEqual(expect.arrayContaining(["neftune_noise_alpha: 5.0", "smoke_do_sample: true"]));
        expect(Object.keys(parse(text) as Record<string, unknown>).slice(-2)).toEqual([
            "neftune_noise_alpha",
            "smoke_do_sample",
        ]);

        expect(readFileSync(join(dir, "training.yaml"), "utf8")).toBe(text);
        expect(trainer.parsed).toEqual({ neftune_noise_alpha: 5, smoke_do_sample: true });
        // Without the rows (the package's own table) the same file is refused, naming both keys.
        expect(trainer.refused).toContain("ConfigError: ");
        expect(trainer.refused).toContain("unknown keys 'neftune_noise_alpha', 'smoke_do_sample'");

        const doc = withTrainingKeysTable(readFileSync(contractsDocFile, "utf8"), extendedTable);
        expect(doc).toContain("| `neftune_noise_alpha` | `SFTConfig` | `stacktune:training.maxGradNorm` | float |");
        expect(doc).toContain("| `smoke_do_sample` | `PublishArguments` | fixed: `true` | bool |");
    });

    it("refuses a key the renderer derives that the table does not list, and a derived row it cannot compute", () => {
        const withoutBf16 = trainingKeys.filter(({ key }) => key !== "bf16");
        expect(() => trainingConfig(cpuLocalSettings(), "cpu", withoutBf16)).toThrow(
            `src/render/training.ts derives bf16, which ${trainingKeysFile} does not list: add its row there`,
        );
        const unknownDerived: TrainingKey = {
            key: "neftune_noise_alpha",
            trainer: "SFTConfig",
            type: "float",
            derived: "noise",
            doc: "x",
        };
        expect(() => trainingConfig(cpuLocalSettings(), "cpu", [...trainingKeys, unknownDerived])).toThrow(
            `${trainingKeysFile}: neftune_noise_alpha is derived, but src/render/training.ts has no derivation for it`,
        );
    });

    it("refuses a row mapping a setting stacktune does not have", () => {
        const typo: TrainingKey = {
            key: "neftune_noise_alpha",
            trainer: "SFTConfig",
            type: "float",
            setting: "training.neftune",
            doc: "x",
        };
        expect(() => trainingConfig(cpuLocalSettings(), "cpu", [...trainingKeys, typo])).toThrow(
            `${trainingKeysFile}: neftune_noise_alpha maps setting training.neftune, which the stacktune settings (src/settings/) do not have`,
        );
    });

    it("the trainer refuses a row naming an SFTConfig argument TRL does not have", () => {
        expect(trainer.bogus).toContain(
            "ConfigError: bogus.json: neftune_alpha is listed as an SFTConfig argument, but TRL's SFTConfig has no such field",
        );
    });

    it("render --check fails on a docs table edited by hand, and render rewrites it from the table", () => {
        const root = join(dir, "root");
        for (const path of ["stacks", "rendered", "docs"]) cpSync(path, join(root, path), { recursive: true });
        const docPath = join(root, contractsDocFile);
        const committed = readFileSync(docPath, "utf8");
        writeFileSync(docPath, committed.replace("| `lora_r` |", "| `lora_rank` |"));
        const render = (...args: string[]) =>
            spawnSync("npx", ["tsx", "src/cli/render.ts", ...args, "--root", root], { encoding: "utf8" });
        const check = render("--check");
        expect(check.status).toBe(1);
        expect(check.stdout).toContain("-| `lora_rank` |");
        expect(check.stderr).toContain(
            `render --check: ${contractsDocFile} is out of date: its training.yaml key table differs from ${trainingKeysFile}. Run \`npm run render\` and commit ${contractsDocFile}.`,
        );
        expect(render().status).toBe(0);
        expect(readFileSync(docPath, "utf8")).toBe(committed);
    }, 120_000);

    it("reads back every rendered key with the type the table gives it (PyYAML)", () => {
        const text = renderTrainingConfig(cpuLocalSettings({ evaluation: { strategy: "steps", steps: 5 } }), "cpu");
        const out = execFileSync(
            python,
            [
                "-c",
                "import json, sys, yaml; print(json.dumps({k: type(v).__name__ for k, v in yaml.safe_load(sys.stdin).items()}))",
            ],
            { input: text, encoding: "utf8" },
        );
        const pythonType = { str: "str", int: "int", float: "float", bool: "bool", mapping: "dict" } as const;
        const types = JSON.parse(out) as Record<string, string>;
        for (const [key, type] of Object.entries(types)) {
            expect([key, type]).toEqual([key, pythonType[trainingKeys.find((row) => row.key === key)?.type ?? "str"]]);
        }
    });
});
