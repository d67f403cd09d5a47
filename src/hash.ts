import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/**
 * The experiment's identity: a sha256 over everything that changes the trained artifact.
 *
 * Deliberately left out: the stack name, the host (address, user, key), secrets (HF token, W&B key)
 * and host-specific rendered files (cloud-init user-data). Changing any of those must not retrain.
 */
export interface ExperimentHashInputs {
    /** Rendered files that reach the trainer, by file name (accelerate.yaml, training.yaml, launch.sh). */
    renderedFiles: ReadonlyMap<string, string>;
    /** Sources of the training package, by repo-relative path (see {@link readSourceTree}). */
    pythonSources: ReadonlyMap<string, string>;
    /**
     * The runtime that executes the job: its kind; for docker the image inputs by path; for a venv
     * that the job creates, the pinned set's install script and manifests it is built from.
     */
    runtime: {
        kind: "docker" | "venv";
        imageInputs?: ReadonlyMap<string, string>;
        pythonSet?: ReadonlyMap<string, string>;
    };
    /** The data spec (source, format, split, sample caps) as plain data. */
    dataSpec: unknown;
}

/** Rendered files that describe the host, not the training run; never part of the hash. */
export const HOST_SPECIFIC_RENDERED_FILES: ReadonlySet<string> = new Set(["cloud-init.yaml"]);

/** JSON with object keys sorted at every level, so key order never changes a digest. */
export function canonicalJson(value: unknown): string {
    if (Array.isArray(value)) {
        return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(",")}]`;
    }
    if (value !== null && typeof value === "object") {
        const entries = Object.entries(value as Record<string, unknown>)
            .filter(([, v]) => v !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
    }
    return JSON.stringify(value);
}

function sha256Hex(data: string): string {
    return createHash("sha256").update(data, "utf8").digest("hex");
}

/** A digest of named files: names sorted, each entry length-prefixed so no two file sets collide. */
export function filesDigest(files: ReadonlyMap<string, string>, exclude: ReadonlySet<string> = new Set()): string {
    const hash = createHash("sha256");
    for (const name of [...files.keys()].filter((n) => !exclude.has(n)).sort()) {
        const content = files.get(name) ?? "";
        hash.update(`${name.length}:${name}\n${Buffer.byteLength(content, "utf8")}:`);
        hash.update(content, "utf8");
        hash.update("\n");
    }
    return hash.digest("hex");
}

/** Digest of the rendered configs a pull request reviews (a stack output; host-specific files excluded). */
export function renderedDigest(renderedFiles: ReadonlyMap<string, string>): string {
    return filesDigest(renderedFiles, HOST_SPECIFIC_RENDERED_FILES);
}

/** The experiment hash (64 hex chars). */
export function experimentHash(inputs: ExperimentHashInputs): string {
    const parts = {
        version: 1,
        rendered: renderedDigest(inputs.renderedFiles),
        python: filesDigest(inputs.pythonSources),
        runtime: {
            kind: inputs.runtime.kind,
            image: inputs.runtime.kind === "docker" ? filesDigest(inputs.runtime.imageInputs ?? new Map()) : null,
            // Only when present, so the hash of every other experiment stays what it was.
            ...(inputs.runtime.pythonSet !== undefined ? { pythonSet: filesDigest(inputs.runtime.pythonSet) } : {}),
        },
        data: inputs.dataSpec ?? null,
    };
    return sha256Hex(canonicalJson(parts));
}

/** Files that are build or editor leftovers, never inputs. */
function isLeftover(relativePath: string): boolean {
    return relativePath
        .split("/")
        .some(
            (part) =>
                part === "__pycache__" ||
                part === ".pytest_cache" ||
                part.endsWith(".egg-info") ||
                part.endsWith(".pyc") ||
                part === ".DS_Store",
        );
}

/**
 * Reads a directory tree into a map of `<prefix>/<relative path>` → content, sorted, skipping
 * caches and build leftovers. `skipDirs` names top-level folders (e.g. `tests`) that do not affect
 * what runs.
 */
export function readSourceTree(root: string, prefix: string, skipDirs: readonly string[] = []): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (dir: string, rel: string): void => {
        if (!fs.existsSync(dir)) {
            return;
        }
        for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
            const relPath = rel ? `${rel}/${entry.name}` : entry.name;
            if (isLeftover(relPath) || (rel === "" && skipDirs.includes(entry.name))) {
                continue;
            }
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) {
                walk(full, relPath);
            } else if (entry.isFile()) {
                out.set(`${prefix}/${relPath}`, fs.readFileSync(full, "utf8"));
            }
        }
    };
    walk(root, "");
    return out;
}
