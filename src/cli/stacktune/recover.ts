/**
 * Recovery of a stack whose `pulumi up` was killed (operator's laptop closed, SIGKILL): the file
 * backend keeps the dead process's lock, and the state keeps the operations it had begun as
 * `pending_operations` (a started job's command, typically). The job itself runs on detached on
 * the host; after recovery the next `up` creates the command again, and start-or-attach.sh
 * re-attaches to the running job instead of starting a second one.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** A lock file of the file backend (`.pulumi/locks/<org>/<project>/<stack>/<id>.json`). */
export interface BackendLock {
    file: string;
    pid?: number;
    hostname?: string;
    username?: string;
    timestamp?: string;
}

/** The lock files of one stack under a `file://` backend directory. */
export function findStackLocks(backendDir: string, stack: string): BackendLock[] {
    const locksRoot = path.join(backendDir, ".pulumi", "locks");
    const found: BackendLock[] = [];
    const walk = (dir: string): void => {
        if (!fs.existsSync(dir)) return;
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) walk(full);
            else if (entry.name.endsWith(".json") && path.basename(dir) === stack) {
                found.push({ file: full, ...parseLock(fs.readFileSync(full, "utf8")) });
            }
        }
    };
    walk(locksRoot);
    return found;
}

function parseLock(text: string): Omit<BackendLock, "file"> {
    try {
        const raw = JSON.parse(text) as Record<string, unknown>;
        const pick = (key: string): unknown => raw[key] ?? raw[key.charAt(0).toUpperCase() + key.slice(1)];
        const pid = pick("pid");
        return {
            ...(typeof pid === "number" ? { pid } : {}),
            ...(typeof pick("hostname") === "string" ? { hostname: pick("hostname") as string } : {}),
            ...(typeof pick("username") === "string" ? { username: pick("username") as string } : {}),
            ...(typeof pick("timestamp") === "string" ? { timestamp: pick("timestamp") as string } : {}),
        };
    } catch {
        return {};
    }
}

/** Whether the process holding a lock is gone: only a lock of this host can be judged. */
export function lockIsStale(lock: BackendLock, isAlive: (pid: number) => boolean, hostname = os.hostname()): boolean {
    if (lock.hostname !== undefined && lock.hostname !== hostname) return false;
    return lock.pid === undefined || !isAlive(lock.pid);
}

export function processIsAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}

export interface PendingOperation {
    type: string;
    urn: string;
}

/** `stack export` output (version 3) without its pending operations, and what was dropped. */
export function clearPendingOperations(exported: { version: number; deployment: Record<string, unknown> }): {
    state: { version: number; deployment: Record<string, unknown> };
    cleared: PendingOperation[];
} {
    const pending = (exported.deployment.pending_operations ?? []) as { type?: string; resource?: { urn?: string } }[];
    const cleared = pending.map((op) => ({ type: op.type ?? "unknown", urn: op.resource?.urn ?? "?" }));
    const { pending_operations: _dropped, ...deployment } = exported.deployment;
    return { state: { ...exported, deployment }, cleared };
}
