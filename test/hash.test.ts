// The experiment hash changes when, and only when, something that changes the trained model changes.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import { planExperiment } from "../src/experiment";
import { canonicalJson, experimentHash, filesDigest } from "../src/hash";
import { loadSettingsFromStackFile, type Settings } from "../src/settings";

const repoRoot = path.join(__dirname, "..");
const base = loadSettingsFromStackFile(path.join(repoRoot, "stacks", "Pulumi.local-demo.yaml")).settings;
const hashOf = (settings: Settings, stack = "local-demo", root = repoRoot): string =>
    planExperiment(settings, stack, root).experimentHash;
const baseHash = hashOf(base);

const copies: string[] = [];
afterAll(() => copies.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/** A throwaway copy of the inputs the hash reads from the repo (python/, images/). */
function repoCopy(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-repo-"));
    copies.push(dir);
    fs.cpSync(path.join(repoRoot, "python"), path.join(dir, "python"), { recursive: true });
    fs.cpSync(path.join(repoRoot, "images"), path.join(dir, "images"), { recursive: true });
    return dir;
}

describe("experiment hash: unchanged by what does not change the model", () => {
    it("is 64 hex characters and stable across calls", () => {
        expect(baseHash).toMatch(/^[0-9a-f]{64}$/);
        expect(hashOf(base)).toBe(baseHash);
    });

    it("ignores the stack name, even where it is rendered (run_name, default output dir, headers)", () => {
        const noLocalDir: Settings = { ...base, hub: { ...base.hub, localDir: undefined } };
        expect(hashOf(noLocalDir, "alpha")).toBe(hashOf(noLocalDir, "beta"));
        expect(hashOf(base, "another-stack")).toBe(baseHash);
    });

    it("ignores the host: ssh address, port, user, host key and key path", () => {
        const ssh = (host: string, port: number, user: string): Settings => ({
            ...base,
            target: {
                kind: "ssh",
                host,
                port,
                user,
                hostKey: `ssh-ed25519 AAAA${user}`,
                privateKeyPath: `/keys/${user}`,
                gpus: 0,
                gpuMemoryGb: 24,
                minFreeDiskGb: 100,
            },
        });
        expect(hashOf(ssh("10.0.0.1", 22, "a"))).toBe(hashOf(ssh("box.example.com", 2222, "b")));
    });

    it("ignores the budget and teardown policy", () => {
        expect(hashOf({ ...base, budget: { ...base.budget, maxHours: 3, keepRunDir: true, teardown: "keep" } })).toBe(
            baseHash,
        );
    });

    it("ignores python tests and caches, and the image inputs when the runtime is venv", () => {
        const root = repoCopy();
        const before = hashOf(base, "local-demo", root);
        fs.writeFileSync(path.join(root, "python", "tests", "test_extra.py"), "def test_x(): pass\n");
        fs.mkdirSync(path.join(root, "python", "stacktune_train", "__pycache__"), { recursive: true });
        fs.writeFileSync(path.join(root, "python", "stacktune_train", "__pycache__", "x.cpython-311.pyc"), "junk");
        fs.appendFileSync(path.join(root, "images", "train.Dockerfile"), "# a comment\n");
        expect(hashOf(base, "local-demo", root)).toBe(before);
    });
});

describe("experiment hash: changed by what changes the model", () => {
    it.each([
        ["learning rate", { training: { ...base.training, learningRate: 2e-4 } }],
        ["max steps", { training: { ...base.training, maxSteps: 11 } }],
        ["LoRA rank", { lora: { ...base.lora, r: 4 } }],
        ["base model", { model: { ...base.model, id: "other/model" } }],
        ["test split", { dataset: { ...base.dataset, testSize: 0.5 } }],
        ["dataset source", { dataset: { ...base.dataset, source: "other/dataset" } }],
        ["split seed", { dataset: { ...base.dataset, splitSeed: 7 } }],
        ["runtime", { runtime: { kind: "docker" } }],
    ] as [string, Partial<Settings>][])("%s", (_what, change) => {
        expect(hashOf({ ...base, ...change })).not.toBe(baseHash);
    });

    it("changes with the training code", () => {
        const root = repoCopy();
        const before = hashOf(base, "local-demo", root);
        fs.appendFileSync(path.join(root, "python", "stacktune_train", "chat.py"), "\n# changed\n");
        expect(hashOf(base, "local-demo", root)).not.toBe(before);
    });

    it("changes with the pinned requirements", () => {
        const root = repoCopy();
        const before = hashOf(base, "local-demo", root);
        fs.appendFileSync(path.join(root, "python", "requirements.txt"), "extra-package==1.0\n");
        expect(hashOf(base, "local-demo", root)).not.toBe(before);
    });

    it("changes with the pinned set's install script and manifests (images/) when the venv runtime creates the environment from them", () => {
        const created: Settings = { ...base, runtime: { kind: "venv", python: "python3" } };
        const root = repoCopy();
        const before = hashOf(created, "local-demo", root);
        const provided = hashOf(base, "local-demo", root);
        fs.appendFileSync(path.join(root, "images", "requirements-gpu.txt"), "extra-package==1.0\n");
        expect(hashOf(created, "local-demo", root)).not.toBe(before);
        // runtime.path: the user's own environment, which the pins do not build
        expect(hashOf(base, "local-demo", root)).toBe(provided);
    });

    it("changes with the image inputs when the runtime is docker", () => {
        const docker: Settings = { ...base, runtime: { kind: "docker" } };
        const root = repoCopy();
        const before = hashOf(docker, "local-demo", root);
        fs.appendFileSync(path.join(root, "images", "requirements-gpu.txt"), "extra-package==1.0\n");
        expect(hashOf(docker, "local-demo", root)).not.toBe(before);
    });
});

describe("hash building blocks", () => {
    it("canonicalJson sorts keys at every level and drops undefined", () => {
        expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
            '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
        );
    });

    it("filesDigest is independent of insertion order and separates name from content", () => {
        const a = new Map([
            ["x", "1"],
            ["y", "2"],
        ]);
        const b = new Map([
            ["y", "2"],
            ["x", "1"],
        ]);
        expect(filesDigest(a)).toBe(filesDigest(b));
        expect(filesDigest(new Map([["ab", "c"]]))).not.toBe(filesDigest(new Map([["a", "bc"]])));
    });

    it("leaves cloud-init (host-specific) out of the hash", () => {
        const inputs = {
            renderedFiles: new Map([["training.yaml", "a: 1\n"]]),
            pythonSources: new Map<string, string>(),
            runtime: { kind: "venv" as const },
            dataSpec: { source: "x" },
        };
        const withCloudInit = {
            ...inputs,
            renderedFiles: new Map([...inputs.renderedFiles, ["cloud-init.yaml", "#cloud-config\n"]]),
        };
        expect(experimentHash(withCloudInit)).toBe(experimentHash(inputs));
    });
});
