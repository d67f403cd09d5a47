import { z } from "zod";

/**
 * Directories the output store must never be, nor lie under: the publish step renames a staged
 * model onto `hub.localDir` (python/stacktune_train/store.py), so pointing it at one of these would
 * at best fail and at worst sit inside what the system needs.
 */
export const systemDirectories = [
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var",
] as const;

/** Output store on the host when the merged model goes to no Hub repo (contracts §1 `hub`). */
export function defaultOutputStoreDir(stackName: string): string {
    return `~/.stacktune/models/${stackName}`;
}

/** What the error suggests instead. */
const ADVICE = `set stacktune:hub.localDir to a directory of its own, e.g. ${defaultOutputStoreDir("<stack>")}`;

/**
 * Why `value` cannot be the output store, or undefined. A path is absolute or under `~/` (the host
 * user's home, expanded on the host); relative paths would land in the run directory, which the
 * success clean-up removes. Checked on the path's text: the host's home is unknown here.
 */
export function localDirProblem(value: string): string | undefined {
    // eslint-disable-next-line no-control-regex -- exactly what is refused: a newline or tab breaks every shell line and log that names the path
    if (/[\u0000-\u001f\u007f]/.test(value)) return "contains a control character (a newline or tab); remove it";
    const underHome = value === "~" || value.startsWith("~/");
    if (!underHome && !value.startsWith("/")) {
        return `is a relative path, which would land inside the run directory that is removed after the run; use an absolute path or one under ~/ (${ADVICE})`;
    }
    const parts = (underHome ? value.slice(1) : value).split("/").filter((p) => p !== "" && p !== ".");
    if (parts.includes("..")) return `contains '..'; ${ADVICE}`;
    if (underHome) return parts.length === 0 ? `is the home directory itself; ${ADVICE}` : undefined;
    if (parts.length === 0) return `is the root directory; ${ADVICE}`;
    const top = `/${parts[0]}`;
    if ((systemDirectories as readonly string[]).includes(top))
        return `is under the system directory ${top}; ${ADVICE}`;
    if ((top === "/home" || top === "/Users") && parts.length <= 2)
        return `is a home directory itself (or their parent); ${ADVICE}`;
    return undefined;
}

/** `hub.localDir`: a directory that only this stack's model lives in. */
export const LocalDirSchema = z.string().superRefine((value, ctx) => {
    const problem = localDirProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem, params: { complete: true } });
});
