// Hostile strings in every string setting: each is either refused with an error naming its key, or
// accepted, rendered and built into command texts that are then EXECUTED by bash with stub tools on
// PATH. Every payload tries to touch its own canary file; none may exist afterwards. A second pass
// forces every payload into every string field of already-parsed settings (as if a validator were
// loosened): the quoting alone must still hold.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { localTargetPaths } from "../src/experiment";
import { preflightCommand } from "../src/hosts/preflight";
import { DEFAULT_RUN_ROOT } from "../src/hosts/ssh";
import { renderRunEnv, runDirectory, stageCommand, storeStateCommand } from "../src/job";
import { renderAll, trainingConfig } from "../src/render";
import {
    type Settings,
    SettingsError,
    SettingsSchema,
    clusterMachines,
    defaultOutputStoreDir,
    parseSettings,
    targetGpuCount,
} from "../src/settings";
import { tempDir } from "./helpers/tempDir";

type Raw = Record<string, unknown>;
type Path = (string | number)[];

const root = tempDir("fuzz");
const canaryDir = path.join(root, "canaries");
const stubDir = path.join(root, "stubs");
const casesDir = path.join(root, "cases");
for (const dir of [canaryDir, stubDir, casesDir]) fs.mkdirSync(dir);

// ---- the corpus: injection attempts × decorations, each touching its own canary file ----

const injections: ((cmd: string) => string)[] = [
    (c) => `$(${c})`,
    (c) => `\`${c}\``,
    (c) => `;${c};`,
    (c) => `; ${c} #`,
    (c) => `'; ${c}; '`,
    (c) => `"; ${c}; "`,
    (c) => `'"$(${c})"'`,
    (c) => `\n${c}\n`,
    (c) => `\r\n${c}`,
    (c) => `|${c}`,
    (c) => `||${c}`,
    (c) => `&${c}&`,
    (c) => `&&${c}`,
    (c) => `-oProxyCommand=${c}`,
    (c) => `--config=$(${c})`,
    (c) => `\${IFS}$(${c})`,
    (c) => `\\$(${c})`,
    (c) => `}$(${c})\${x:-`,
    (c) => `\u0000$(${c})`,
    (c) => `>(${c})`,
    (c) => `$((1))$(${c})`,
    (c) => `'\\''; ${c}; echo '`,
];

const decorations: ((s: string) => string)[] = [
    (s) => s,
    (s) => `-${s}`,
    (s) => `*${s}?`,
    (s) => `[a-z]${s}`,
    (s) => `~/${s}`,
    (s) => `gpu0${s}`,
    (s) => `10.0.0.1${s}`,
    (s) => `me/model${s}`,
    (s) => `/opt/venv${s}`,
    (s) => `é中🙂${s}`,
    (s) => `\u202e${s}`,
    (s) => `${s}${"a".repeat(100_000)}`,
    (s) => `${s}\t`,
    (s) => `"${s}"`,
    (s) => `'${s}'`,
];

interface Payload {
    id: string;
    value: string;
}

const corpus: Payload[] = injections.flatMap((inject, i) =>
    decorations.map((decorate, d) => {
        const id = `c${i}-${d}`;
        return { id, value: decorate(inject(`touch ${path.join(canaryDir, id)}`)) };
    }),
);

// ---- stacks that reach every renderer and command builder ----

const bases: Record<string, Raw> = {
    // Two machines: machine 0's host is the rendezvous address (no clusterAddress), W&B, a venv path.
    "ssh-multi": {
        target: {
            kind: "ssh",
            user: "stacktune",
            privateKeyPath: "~/.ssh/id_ed25519",
            hosts: [
                {
                    host: "10.0.0.11",
                    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb",
                },
                {
                    host: "10.0.0.12",
                    user: "worker",
                    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb",
                },
            ],
        },
        runtime: { kind: "venv", path: "/opt/venv", python: "python3" },
        distributed: { strategy: "ddp", socketInterface: "ens5" },
        tracking: { kind: "wandb", project: "proj" },
        lora: { targetModules: ["q_proj"] },
        hub: { adapterRepo: "me/adapter", mergedRepo: "me/merged" },
        dataset: { preparedRepo: "me/prepared" },
    },
    "aws-cluster": {
        target: {
            kind: "aws",
            sshCidr: "203.0.113.7/32",
            publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKey you@example.com",
            amiId: "ami-0123456789abcdef0",
            availabilityZone: "us-east-1a",
            hosts: 2,
        },
        runtime: { kind: "docker" },
        distributed: { socketInterface: "ens5" },
        hub: { mergedRepo: "me/merged" },
    },
    local: {
        target: { kind: "local", gpus: 0 },
        runtime: { kind: "venv", path: ".venv" },
        model: { id: "models/tiny" },
        hub: { localDir: "~/models/fuzz" },
        distributed: { strategy: "ddp" },
        training: { bf16: false },
        attention: { implementation: "sdpa" },
        quantization: { load4bit: false },
    },
};

// ---- the string settings, enumerated from the zod schemas ----

type AnySchema = z.core.$ZodType;
interface Def {
    type: string;
    innerType?: AnySchema;
    in?: AnySchema;
    shape?: Record<string, AnySchema>;
    options?: AnySchema[];
    discriminator?: string;
    element?: AnySchema;
    values?: unknown[];
}
const defOf = (s: AnySchema): Def => s._zod.def;

function unwrap(schema: AnySchema): AnySchema {
    let s = schema;
    for (let def = defOf(s); ; def = defOf(s)) {
        if (["default", "prefault", "optional", "nullable"].includes(def.type) && def.innerType) s = def.innerType;
        else if (def.type === "pipe" && def.in) s = def.in;
        else return s;
    }
}

/** Every path of a string value under `schema`, following the discriminators of `value`. */
function stringPaths(schema: AnySchema, value: unknown, at: Path = []): Path[] {
    const s = unwrap(schema);
    const def = defOf(s);
    const field = (key: string | number): unknown =>
        value !== null && typeof value === "object" ? (value as Record<string | number, unknown>)[key] : undefined;
    switch (def.type) {
        case "string":
            return [at];
        case "object":
            return Object.entries(def.shape ?? {}).flatMap(([key, child]) =>
                stringPaths(child, field(key), [...at, key]),
            );
        case "array": {
            const count = Array.isArray(value) && value.length > 0 ? value.length : 1;
            return Array.from({ length: count }, (_, i) =>
                stringPaths(def.element as AnySchema, field(i), [...at, i]),
            ).flat();
        }
        case "union": {
            if (def.discriminator !== undefined) {
                const kind = field(def.discriminator);
                const match = (def.options ?? []).find((o) =>
                    defOf(unwrap(defOf(unwrap(o)).shape?.[def.discriminator ?? ""] as AnySchema)).values?.includes(
                        kind,
                    ),
                );
                return match === undefined ? [] : stringPaths(match, value, at);
            }
            const seen = new Map<string, Path>();
            for (const option of def.options ?? [])
                for (const p of stringPaths(option, value, at)) seen.set(keyOf(p), p);
            return [...seen.values()];
        }
        default:
            return [];
    }
}

function keyOf(p: Path): string {
    return p
        .map((k) => (typeof k === "number" ? `[${k}]` : String(k)))
        .join(".")
        .replace(/\.\[/g, "[");
}

/** A deep copy of `base` with `value` at `p` (lists and mappings created as needed). */
function withValue<T>(base: T, p: Path, value: string): T {
    const copy = structuredClone(base) as unknown as Record<string | number, unknown>;
    let node = copy;
    p.forEach((key, i) => {
        if (i === p.length - 1) {
            node[key] = value;
            return;
        }
        const next = p[i + 1];
        const current = node[key];
        const fits =
            typeof next === "number"
                ? Array.isArray(current)
                : current !== null && typeof current === "object" && !Array.isArray(current);
        if (!fits) node[key] = typeof next === "number" ? [] : {};
        node = node[key] as Record<string | number, unknown>;
    });
    return copy as unknown as T;
}

// ---- what the program builds from the settings, as text a shell runs ----

const HASH = "ab".repeat(32);
const STACK = "fuzz";
const repoRoot = path.join(root, "repo");
fs.mkdirSync(path.join(repoRoot, "models", "tiny"), { recursive: true });

interface Built {
    files: Map<string, string>;
    /** Command texts, run as `bash <file>` the way the command provider runs them. */
    commands: Map<string, string>;
    multiHost: boolean;
}

/**
 * The renderers' files plus the command texts of src/job.ts and src/hosts/*.ts, fed from the
 * settings as src/experiment.ts feeds them.
 */
function build(settings: Settings): Built {
    const files = renderAll(settings, STACK);
    const local = localTargetPaths(settings, repoRoot);
    const runtime = settings.runtime;
    const outputStore =
        (trainingConfig(settings, STACK).output_store_dir as string | undefined) ?? defaultOutputStoreDir(STACK);
    const multiHost = clusterMachines(settings.target).length > 1;
    files.set(
        "run.env",
        renderRunEnv({
            experimentHash: HASH,
            stack: STACK,
            runtime: runtime.kind,
            ...(runtime.kind === "venv" && runtime.path !== undefined
                ? { venvPath: local?.venvPath ?? runtime.path }
                : {}),
            python: runtime.kind === "venv" ? runtime.python : "python3",
            venvRoot: "~/.stacktune/venvs",
            gpus: targetGpuCount(settings.target),
            outputStoreDir: outputStore,
            checkOutputStore: true,
            metricsFile: "checkpoints/metrics.json",
            maxSeconds: settings.budget.maxHours * 3600,
            keepRunDir: settings.budget.keepRunDir,
            release: "none",
            ...(multiHost ? { machineRank: 1 } : {}),
        }),
    );
    const runDir = runDirectory(DEFAULT_RUN_ROOT, HASH);
    // The local target links a project-relative model into the run directory (when it exists there).
    const modelId = settings.model.id;
    const links =
        local?.links ??
        (settings.target.kind === "local" &&
        !modelId.startsWith("/") &&
        !modelId.startsWith("~") &&
        !modelId.split("/").includes("..")
            ? new Map([[modelId, path.join(repoRoot, modelId)]])
            : undefined);
    const commands = new Map([["stage.sh", `${stageCommand(runDir, links)}; ${storeStateCommand(outputStore, HASH)}`]]);
    return { files, commands, multiHost };
}

/** The preflight's command text: it takes only numbers and the runtime kind from the settings. */
function preflightOf(settings: Settings): Built {
    const preflight = preflightCommand({
        gpus: targetGpuCount(settings.target),
        gpuMemoryGb: settings.target.kind === "ssh" ? settings.target.gpuMemoryGb : 24,
        minFreeDiskGb: settings.target.kind === "ssh" ? settings.target.minFreeDiskGb : 1,
        runtime: settings.runtime.kind,
        runRoot: DEFAULT_RUN_ROOT,
    });
    return { files: new Map(), commands: new Map([["preflight.sh", preflight]]), multiHost: false };
}

// ---- stub tools and the executor ----

const stubs: Record<string, string> = {
    // Record the call, do nothing: the phases' python and accelerate, the bundle's tar and base64.
    python: 'echo "python $*" >> "$HOME/calls"',
    python3: 'echo "python3 $*" >> "$HOME/calls"',
    accelerate: 'echo "accelerate $*" >> "$HOME/calls"',
    tar: "cat >/dev/null",
    base64: "cat",
    "nvidia-smi": "exit 1",
    docker: "exit 1",
    // The rendezvous probe: really run it (it fails fast: nothing listens), or report success.
    timeout: 'shift; if [ -n "${STUB_TIMEOUT_OK:-}" ]; then exit 0; fi; exec "$@"',
};
for (const [name, body] of Object.entries(stubs)) {
    fs.writeFileSync(path.join(stubDir, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
}

let caseCount = 0;
const runLines: string[] = [];
/** Texts already executed: a value that reaches no script (training.yaml only) changes none of them. */
const executed = new Set<string>();

/** Writes a case's files and queues its runs: launch.sh (twice on a worker of a multi-host run) and every command text. */
function queue(built: Built): void {
    for (const [name, content] of built.files) {
        if (name.endsWith(".yaml")) expect(parseYaml(content)).toBeTypeOf("object");
    }
    const texts = [built.files.get("launch.sh"), built.files.get("run.env"), ...built.commands.values()].join("\0");
    if (executed.has(texts)) return;
    executed.add(texts);
    const dir = path.join(casesDir, String(caseCount++));
    fs.mkdirSync(path.join(dir, "home"), { recursive: true });
    for (const [name, content] of [...built.files, ...built.commands])
        fs.writeFileSync(path.join(dir, name), content, { mode: 0o755 });
    const env = `env -i HOME=${dir}/home PATH=${stubDir}:/usr/bin:/bin STACKTUNE_RENDEZVOUS_WAIT_S=0`;
    if (built.files.has("launch.sh")) runLines.push(`cd ${dir} && ${env} bash launch.sh`);
    if (built.multiHost) runLines.push(`cd ${dir} && ${env} STUB_TIMEOUT_OK=1 bash launch.sh`);
    for (const name of built.commands.keys()) runLines.push(`cd ${dir} && ${env} bash ${name}`);
}

function executeQueued(): void {
    const list = path.join(root, "runs.txt");
    fs.writeFileSync(list, `${runLines.splice(0).join("\n")}\n`);
    const result = spawnSync(
        "bash",
        ["-c", `xargs -d '\\n' -P 4 -I{} /usr/bin/timeout 20 bash -c {} < ${list} >/dev/null 2>&1; exit 0`],
        { stdio: "ignore", timeout: 550_000 },
    );
    expect(result.error).toBeUndefined();
}

/** The keys the settings refuse in `raw`, or undefined when they accept it. */
function issuesOf(raw: Raw): string[] | undefined {
    try {
        parseSettings(raw, {}, { checkSecrets: false });
        return undefined;
    } catch (error) {
        if (!(error instanceof SettingsError)) throw error;
        return error.issues.map((issue) => issue.path);
    }
}

/** Builds the case, or says which builder refused the values (a thrown error, never a run). */
function tryBuild(settings: Settings): Built | undefined {
    try {
        return build(settings);
    } catch {
        return undefined;
    }
}

describe("hostile strings in every string setting", () => {
    it("are refused naming the key, or accepted and executed without running any injected command; the quoting holds even with the settings bypassed", () => {
        expect(corpus.length).toBeGreaterThanOrEqual(300);
        let rejected = 0;
        let acceptedCount = 0;
        let bypassRefused = 0;
        let bypassRun = 0;
        const unnamed: string[] = [];
        /** Accepted by the settings, then refused by a renderer or builder: a late failure. */
        const unbuildable = new Set<string>();
        const keys = new Set<string>();
        for (const [name, base] of Object.entries(bases)) {
            const baseSettings = parseSettings(base, {}, { checkSecrets: false });
            queue(preflightOf(baseSettings));
            const paths = stringPaths(SettingsSchema, base);
            for (const p of paths) keys.add(`${name}:${keyOf(p)}`);
            for (const payload of corpus) {
                // Through the settings: refused naming the key, or accepted.
                const accepted: Path[] = [];
                for (const p of paths) {
                    const key = keyOf(p);
                    try {
                        parseSettings(withValue(base, p, payload.value), {}, { checkSecrets: false });
                        accepted.push(p);
                        acceptedCount += 1;
                    } catch (error) {
                        if (!(error instanceof SettingsError)) throw error;
                        rejected += 1;
                        if (!error.issues.some((issue) => issue.path === key || key.startsWith(`${issue.path}[`)))
                            unnamed.push(`${name}:${key}`);
                    }
                }
                // Everything accepted, together; the keys a cross-field rule refuses together, one by one.
                const groups: Raw[] = [];
                let together = accepted;
                while (together.length > 0) {
                    const raw = together.reduce<Raw>((r, p) => withValue(r, p, payload.value), base);
                    const named = issuesOf(raw);
                    if (named === undefined) {
                        groups.push(raw);
                        break;
                    }
                    const clash = together.filter((p) =>
                        named.some(
                            (n) => keyOf(p) === n || keyOf(p).startsWith(`${n}[`) || n.startsWith(`${keyOf(p)}`),
                        ),
                    );
                    const alone = clash.length > 0 ? clash : together;
                    groups.push(...alone.map((p) => withValue(base, p, payload.value)));
                    together = together.filter((p) => !alone.includes(p));
                }
                for (const raw of groups) {
                    const built = tryBuild(parseSettings(raw, {}, { checkSecrets: false }));
                    if (built === undefined) unbuildable.add(`${name}:${accepted.map(keyOf).join(",")}`);
                    else queue(built);
                }
                // Bypassing the settings: every string field holds the payload.
                let forced = baseSettings;
                for (const p of paths) forced = withValue(forced, p, payload.value);
                const built = tryBuild(forced);
                if (built === undefined) bypassRefused += 1;
                else {
                    bypassRun += 1;
                    queue(built);
                }
            }
            executeQueued();
            fs.rmSync(casesDir, { recursive: true, force: true });
            fs.mkdirSync(casesDir);
        }
        const injected = fs.readdirSync(canaryDir);
        console.log(
            `security fuzz: ${corpus.length} hostile values x ${keys.size} string settings over ${Object.keys(bases).length} stacks: ` +
                `${rejected} rejected naming the key, ${acceptedCount} accepted and safe; settings bypassed: ` +
                `${bypassRun} rendered and executed, ${bypassRefused} refused by a builder; ${caseCount} cases executed; ` +
                `accepted but refused by a builder: ${[...unbuildable].join(" ") || "none"}; ` +
                `injections: ${injected.length}`,
        );
        expect(unnamed).toEqual([]);
        expect([...unbuildable]).toEqual([]);
        expect(rejected + acceptedCount).toBe(corpus.length * [...keys].length);
        expect(injected).toEqual([]);
    }, 600_000);
});
