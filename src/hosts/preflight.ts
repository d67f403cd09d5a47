import * as fs from "fs";
import * as path from "path";
import { bashHeredoc, hostPath, shellQuote } from "./command";

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
}

const PREFLIGHT_SCRIPT = fs.readFileSync(path.join(__dirname, "preflight.sh"), "utf8");

/** The command text of the preflight: the shipped script fed to `bash -s` with its arguments. */
export function preflightCommand(req: PreflightRequirements): string {
    for (const [key, value] of Object.entries({ gpus: req.gpus, gpuMemoryGb: req.gpuMemoryGb, minFreeDiskGb: req.minFreeDiskGb })) {
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
    ]);
}
