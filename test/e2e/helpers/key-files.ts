import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Files in the temp dirs (TMPDIR and /dev/shm, and one level of directories below them, where a
 * private temp dir's key file would be) holding a private key: any line of its base64 body but
 * the first (which every OpenSSH key of a type shares). Skips `except` (the sshd fixture's own copy).
 */
export function keyFilesInTemp(privateKey: string, except: string[]): string[] {
    const lines = privateKey
        .split("\n")
        .filter((l) => l !== "" && !l.startsWith("-----"))
        .slice(1);
    const found: string[] = [];
    const walk = (dir: string, depth: number): void => {
        for (const name of existsSync(dir) ? readdirSync(dir) : []) {
            const p = join(dir, name);
            if (except.includes(p)) continue;
            const st = statSync(p, { throwIfNoEntry: false });
            if (st?.isDirectory() && depth > 0) walk(p, depth - 1);
            else if (st?.isFile() && st.size < 100_000 && lines.some((l) => readFileSync(p, "utf8").includes(l)))
                found.push(p);
        }
    };
    walk(tmpdir(), 1);
    walk("/dev/shm", 1);
    return found;
}
