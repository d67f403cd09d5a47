import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const created: string[] = [];
process.on("exit", () => {
    for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the system temp dir, removed when the test process exits. */
export function tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stacktune-${prefix}-`));
    created.push(dir);
    return dir;
}
