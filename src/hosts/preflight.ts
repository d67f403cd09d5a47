import * as fs from "fs";
import * as path from "path";
import { bashHeredoc, hostPath, shellQuote } from "../render/shell";

/** What the preflight requires of a host. */
export interface PreflightRequirements {
    /** GPUs the job needs; 0 skips every GPU check (CPU / test hosts). */
    gpus: number;
    /** Nominal memory per GPU in GB (a card must report at least 92% of it). */
    gpuMemoryGb: number;
    /** Free disk under the run root, in GB. */
    minFreeDiskGb: number;
    runtime: "docker" | "venv";
    /** Where runs live on the host; `~/` is the SSH user's home. */
    runRoot: string;
    /**
     * venv runtime: the interpreter that creates the environment (`runtime.python`), checked
     * against {@link SUPPORTED_PYTHON}. Unset when stacktune creates none (docker, `runtime.path`).
     * @default undefined
     */
    python?: string;
}

/**
 * The oldest NVIDIA driver the GPU path runs on: the pinned torch 2.11 wheels (python/requirements.txt,
 * cuda-toolkit 13.0.x) and the image's CUDA 13 base need a driver of the 580 branch or newer (CUDA
 * 13.x minor-version compatibility starts at 580; CUDA 13.0 GA shipped 580.65.06). PyPI has no
 * CUDA 12 build of torch newer than 2.10, and the 535 and 570 branches reached end of life in 2026
 * (NVIDIA's datacenter driver matrix), so CUDA 13 covers the drivers GPU hosts are supported on.
 */
export const MIN_NVIDIA_DRIVER = "580.65.06";
/** The CUDA major {@link MIN_NVIDIA_DRIVER} is the minimum for (the pinned torch's and the image's). */
export const GPU_CUDA_MAJOR = 13;

/** CPython `major.minor` range, both ends included. */
export interface PythonRange {
    min: string;
    max: string;
}

/** Reads `requires-python = ">=3.A,<3.B"` (pyproject.toml) as the range 3.A to 3.(B-1). */
export function pythonRangeOf(pyproject: string): PythonRange {
    const m = /^requires-python\s*=\s*">=(\d+)\.(\d+)\s*,\s*<(\d+)\.(\d+)"/m.exec(pyproject);
    if (!m)
        throw new Error(
            'python/pyproject.toml must state requires-python = ">=3.A,<3.B" (the pinned set\'s CPython range)',
        );
    const [, minMajor, minMinor, endMajor, endMinor] = m.map(Number);
    if (minMajor !== endMajor || endMinor! <= minMinor!)
        throw new Error(`python/pyproject.toml's requires-python ${m[0]} is not a range of 3.x minors`);
    return { min: `${minMajor}.${minMinor}`, max: `${endMajor}.${endMinor! - 1}` };
}

/** The CPython versions the pinned set supports: one home, python/pyproject.toml's requires-python. */
export const SUPPORTED_PYTHON: PythonRange = pythonRangeOf(
    fs.readFileSync(path.join(__dirname, "..", "..", "python", "pyproject.toml"), "utf8"),
);

const PREFLIGHT_SCRIPT = fs.readFileSync(path.join(__dirname, "preflight.sh"), "utf8");

/** The command text of the preflight: the shipped script fed to `bash -s` with its arguments. */
export function preflightCommand(req: PreflightRequirements): string {
    for (const [key, value] of Object.entries({
        gpus: req.gpus,
        gpuMemoryGb: req.gpuMemoryGb,
        minFreeDiskGb: req.minFreeDiskGb,
    })) {
        if (!Number.isInteger(value) || value < 0) {
            throw new Error(`preflight ${key} must be a whole number >= 0 (got ${value})`);
        }
    }
    return bashHeredoc(PREFLIGHT_SCRIPT, [
        String(req.gpus),
        String(req.gpuMemoryGb),
        String(req.minFreeDiskGb),
        shellQuote(req.runtime),
        hostPath(req.runRoot),
        MIN_NVIDIA_DRIVER,
        String(GPU_CUDA_MAJOR),
        shellQuote(req.python ?? ""),
        SUPPORTED_PYTHON.min,
        SUPPORTED_PYTHON.max,
    ]);
}
