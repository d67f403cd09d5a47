// Every declared runtime package is used: each dependency in package.json is imported by the
// program (index.ts, src/) or by the repo's own toolchain scripts. An unused resource package is not
// harmless: the language host reports every installed one as a required plugin of each `pulumi up`.
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const repoRoot = path.resolve(__dirname, "..");
const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
};

function sourceFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) return sourceFiles(full);
        return /\.(ts|js|mjs)$/.test(e.name) ? [full] : [];
    });
}

const importers = [
    path.join(repoRoot, "index.ts"),
    ...sourceFiles(path.join(repoRoot, "src")),
    ...sourceFiles(path.join(repoRoot, "scripts", "lib")),
];
const sources = importers.map((file) => ({ file, text: fs.readFileSync(file, "utf8") }));

/** Whether `text` imports `name` (or one of its subpaths) as ES import, import type or require. */
function imports(text: string, name: string): boolean {
    const quoted = `["']${name.replace(/[/.]/g, "\\$&")}(/[^"']*)?["']`;
    return new RegExp(`(\\bfrom\\s+${quoted}|\\brequire\\(\\s*${quoted}\\s*\\)|\\bimport\\(\\s*${quoted}\\s*\\))`).test(
        text,
    );
}

describe("package.json dependencies", () => {
    it.each(Object.keys(manifest.dependencies))("%s is imported by the program or the toolchain", (name) => {
        expect(sources.filter((s) => imports(s.text, name)).map((s) => path.relative(repoRoot, s.file))).not.toEqual(
            [],
        );
    });
});
