import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Kills the process group of every run's runner under runRoot (a test's clean-up: nothing outlives it). */
export function killRunners(runRoot: string): void {
    for (const dir of existsSync(runRoot) ? readdirSync(runRoot) : []) {
        const pidFile = join(runRoot, dir, "runner.pid");
        const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : 0;
        if (pid > 0) {
            try {
                process.kill(-pid, "SIGKILL");
            } catch {
                // finished
            }
        }
    }
}
