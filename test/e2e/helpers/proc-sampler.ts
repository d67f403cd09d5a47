/**
 * Samples the command line of every process on this machine (the e2e "host" is this machine too)
 * while `pulumi up` runs: a secret passed as an argument to ssh, bash, python or the provider would
 * show up in /proc/<pid>/cmdline for at least a few polls.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface ProcSampler {
    /** Distinct command lines seen so far (NULs shown as spaces). */
    commandLines: Set<string>;
    /** How many polls ran. */
    polls(): number;
    stop(): void;
}

export function sampleCommandLines(intervalMs = 100, onPoll?: () => void): ProcSampler {
    const commandLines = new Set<string>();
    let polls = 0;
    const poll = () => {
        polls++;
        for (const pid of readdirSync("/proc")) {
            if (!/^\d+$/.test(pid)) continue;
            try {
                const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
                if (cmdline) commandLines.add(cmdline);
            } catch {
                // the process ended between readdir and read
            }
        }
        onPoll?.();
    };
    const timer = setInterval(poll, intervalMs);
    return { commandLines, polls: () => polls, stop: () => clearInterval(timer) };
}
