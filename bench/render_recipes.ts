/**
 * Renders every benchmark recipe with the project's own renderers (src/render), the same code that
 * writes rendered/<stack>/ for real stacks: bench/recipes/base.yaml deep-merged with one overlay
 * per recipe (a JSON merge patch, RFC 7396: mappings merge, anything else replaces, and `null`
 * removes the base's key — e.g. `target.host` when an overlay lists `target.hosts`), validated by
 * parseSettings (secret-free, as `render` does), written to bench/rendered/<recipe>/: every
 * accelerate config the renderer returns (`accelerate.yaml` for one machine,
 * `accelerate.machine-<rank>.yaml` for each of several) and `training.yaml`; a file of an earlier
 * render that the recipe no longer produces is removed. Run here (node_modules does not travel to
 * the device): `npx tsx bench/render_recipes.ts`; `--check` fails when a committed file is stale,
 * missing or left over.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { renderAccelerateConfigs } from "../src/render/accelerate";
import { renderTrainingConfig } from "../src/render/training";
import { parseSettings } from "../src/settings";

const benchDir = __dirname;
const recipesDir = join(benchDir, "recipes");
const outDir = join(benchDir, "rendered");

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

function deepMerge(base: Tree, overlay: Tree): Tree {
    const out: Tree = { ...base };
    for (const [key, value] of Object.entries(overlay)) {
        const current = out[key];
        if (value === null) delete out[key];
        else out[key] = isTree(current) && isTree(value) ? deepMerge(current, value) : value;
    }
    return out;
}

function readTree(path: string): Tree {
    const value: unknown = parseYaml(readFileSync(path, "utf8"));
    if (value === null || value === undefined) return {};
    if (!isTree(value)) throw new Error(`${path}: expected a mapping`);
    return value;
}

function main(): void {
    const check = process.argv.includes("--check");
    const base = readTree(join(recipesDir, "base.yaml"));
    const recipes = readdirSync(recipesDir)
        .filter((f) => f.endsWith(".yaml") && f !== "base.yaml")
        .map((f) => f.replace(/\.yaml$/, ""))
        .sort();
    const stale: string[] = [];
    for (const recipe of recipes) {
        const raw = deepMerge(base, readTree(join(recipesDir, `${recipe}.yaml`)));
        const settings = parseSettings(raw, {}, { checkSecrets: false, source: `bench/recipes/${recipe}.yaml` });
        const stack = `bench-${recipe}`;
        const files = new Map(renderAccelerateConfigs(settings, stack));
        files.set("training.yaml", renderTrainingConfig(settings, stack));
        const dir = join(outDir, recipe);
        for (const [name, text] of files) {
            const path = join(dir, name);
            if (check) {
                if (!existsSync(path) || readFileSync(path, "utf8") !== text) stale.push(path);
            } else {
                mkdirSync(dir, { recursive: true });
                writeFileSync(path, text);
            }
        }
        // e.g. accelerate.yaml of a recipe that now names two machines: the driver would launch it
        const leftOver = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".yaml") && !files.has(f)) : [];
        for (const name of leftOver) {
            if (check) stale.push(`${join(dir, name)} (no longer rendered)`);
            else rmSync(join(dir, name));
        }
    }
    if (stale.length > 0) {
        console.error(`stale rendered recipe files (run npx tsx bench/render_recipes.ts):\n  ${stale.join("\n  ")}`);
        process.exit(1);
    }
    console.log(`${check ? "checked" : "rendered"} ${recipes.length} recipes: ${recipes.join(", ")}`);
}

main();
