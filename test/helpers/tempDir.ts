import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll } from "vitest";

const created: string[] = [];
// Registered while the importing test file is collected: runs after that file's tests.
afterAll(() => {
    for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the system temp dir, removed after the test file's tests. */
export function tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stacktune-${prefix}-`));
    created.push(dir);
    return dir;
}
