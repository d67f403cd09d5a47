import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { tempDir } from "./tempDir";

/** Unpacks a base64 tar.gz (a command's stdin) with the system tar, as the host does; returns the directory. */
export function extractBundle(base64: string): string {
    const dir = tempDir("bundle");
    execFileSync("tar", ["-xzmf", "-", "-C", dir], { input: Buffer.from(base64, "base64") });
    return dir;
}

/** Relative paths of every file under a directory, sorted. */
export function listFiles(dir: string): string[] {
    const out: string[] = [];
    const walk = (d: string, rel: string): void => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const r = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory()) walk(path.join(d, e.name), r);
            else out.push(r);
        }
    };
    walk(dir, "");
    return out.sort();
}
