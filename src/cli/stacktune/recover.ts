/**
 * Recovery of a stack whose `pulumi up` was killed (operator's laptop closed, SIGKILL): the file
 * backend keeps the dead process's lock, and the state keeps the operations it had begun as
 * `pending_operations` (a started job's command, typically). The job itself runs on detached on
 * the host; after recovery the next `up` creates the command again, and start-or-attach.sh
 * re-attaches to the running job instead of starting a second one.
 *
 * Only stacktune's own commands are cleared that way. An operation on any other resource (an
 * instance being created, a bucket being deleted) may have happened without the state knowing: an
 * `up` would create a second instance beside one that bills unseen, and a `destroy` would report
 * the stack gone while it runs. Pulumi itself only warns and proceeds, and `pulumi stack import`
 * (how recovery writes the state) drops every pending operation, so recovery then changes nothing
 * and stops, saying what to check and which `pulumi refresh` resolves it.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { shellQuote } from "../../render/shell";

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

/**
 * Resource types whose pending operations recovery clears: stacktune's own commands. Running one
 * again is safe by design (start-or-attach re-attaches to a started job; the clean-up commands are
 * idempotent), so an interrupted one is simply run again by the next `up`.
 */
export const clearableResourceTypes: readonly string[] = ["command:remote:Command", "command:local:Command"];

/** The resource type of a URN (`urn:pulumi:<stack>::<project>::<parent types$>type::<name>`). */
export function urnResourceType(urn: string): string | undefined {
    const qualified = urn.split("::")[2];
    return qualified === undefined || qualified === "" ? undefined : qualified.split("$").pop();
}

export interface PendingOperation {
    /** `creating`, `updating`, `deleting`, `reading` or `importing`. */
    type: string;
    urn: string;
    /** From the URN. */
    resourceType: string;
    /** The resource's `tags` input, where it has one: what to look for in the provider's console. */
    tags?: Record<string, string>;
}

type ExportedState = { version: number; deployment: Record<string, unknown> };

/**
 * `stack export` output (version 3) without the pending operations of stacktune's commands
 * (`cleared`), unless an operation on another resource is pending (`unresolved`): then nothing is
 * cleared and the state is returned as it is, since importing any state drops that one too.
 */
export function clearPendingOperations(exported: ExportedState): {
    state: ExportedState;
    cleared: PendingOperation[];
    unresolved: PendingOperation[];
} {
    const pending = (exported.deployment.pending_operations ?? []) as {
        type?: string;
        resource?: { urn?: string; inputs?: { tags?: unknown } };
    }[];
    const operations = pending.map((op): PendingOperation => {
        const urn = op.resource?.urn ?? "?";
        const tags = op.resource?.inputs?.tags;
        return {
            type: op.type ?? "unknown",
            urn,
            resourceType: urnResourceType(urn) ?? "unknown",
            ...(tags !== null && typeof tags === "object" ? { tags: tags as Record<string, string> } : {}),
        };
    });
    const unresolved = operations.filter((op) => !clearableResourceTypes.includes(op.resourceType));
    if (unresolved.length > 0) return { state: exported, cleared: [], unresolved };
    const { pending_operations: _dropped, ...deployment } = exported.deployment;
    return { state: { ...exported, deployment }, cleared: operations, unresolved: [] };
}

/** Why recovery stops on `unresolved` operations, each with its URN, and the commands that resolve them. */
export function unresolvedOperationsAdvice(stack: string, unresolved: readonly PendingOperation[]): string {
    const lines = [
        `recovery stops: the killed update left ${unresolved.length} operation(s) on resources other than stacktune's commands, ` +
            "and whether they happened is unknown; the state is left as it is (clearing them would hide what they made):",
        ...unresolved.map((op) => {
            const tags =
                op.tags === undefined
                    ? ""
                    : `; tagged ${Object.entries(op.tags)
                          .map(([k, v]) => `${k}=${v}`)
                          .join(", ")}`;
            return `  ${op.urn} (${op.resourceType}), interrupted while ${op.type}${tags}`;
        }),
    ];
    const creates = unresolved.filter((op) => op.type === "creating");
    if (creates.length > 0) {
        const instance = creates.some((op) => op.resourceType === "aws:ec2/instance:Instance")
            ? ` (an aws:ec2/instance:Instance: the EC2 console, or \`aws ec2 describe-instances --filters Name=tag:stacktune:stack,Values=${stack}\`)`
            : " (its console or command line)";
        lines.push(
            `Interrupted while creating: it may exist, and bill, without being in the state. Look for it with its provider${instance}; ` +
                `then, with scripts/env.sh sourced${creates.length > 1 ? " (import those that exist first, then clear the rest)" : ""}:`,
            ...creates.map(
                (op) =>
                    `  it exists:         pulumi refresh --stack ${stack} --import-pending-creates ${shellQuote(op.urn)} --import-pending-creates <its id>`,
            ),
            `  it does not exist: pulumi refresh --stack ${stack} --clear-pending-creates`,
        );
    }
    if (unresolved.some((op) => op.type !== "creating")) {
        lines.push(
            `Interrupted while updating, deleting, reading or importing: pulumi refresh --stack ${stack} (with scripts/env.sh sourced) ` +
                "reads the real state from the provider and clears the operation.",
        );
    }
    lines.push(
        `Then \`stacktune run ${stack}\` again: it clears what is left of stacktune's own commands and re-attaches to a job still running.`,
    );
    return lines.join("\n");
}
