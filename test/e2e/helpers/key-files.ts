import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Files under the temp dirs (TMPDIR and /dev/shm) holding any line of a private key's base64 body,
 * skipping `except` (the sshd fixture's own copy of the key): where a leaked key file would be.
 */
export function keyFilesInTemp(privateKey: string, except: string[]): string[] {
    const lines = privateKey.split("\n").filter((l) => l !== "" && !l.startsWith("-----"));
    const found: string[] = [];
    const walk = (dir: string): void => {
        for (const name of existsSync(dir) ? readdirSync(dir) : []) {
            const p = join(dir, name);
            if (except.includes(p)) continue;
            const st = statSync(p, { throwIfNoEntry: false });
            if (st?.isDirectory()) walk(p);
            else if (st?.isFile() && st.size < 1_000_000 && lines.some((l) => readFileSync(p, "utf8").includes(l))) found.push(p);
        }
    };
    walk(tmpdir());
    walk("/dev/shm");
    return found;
}
