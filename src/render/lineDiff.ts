/** One line of a line diff: kept (` `), removed from the old text (`-`) or added in the new (`+`). */
export interface DiffLine {
    op: " " | "-" | "+";
    text: string;
}

function splitLines(text: string): string[] {
    if (text === "") return [];
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    return lines;
}

/**
 * Line diff by longest common subsequence. Rendered files are a few hundred lines, so the
 * quadratic table is cheap and the result is the minimal, stable diff a reviewer expects.
 */
export function diffLines(oldText: string, newText: string): DiffLine[] {
    const a = splitLines(oldText);
    const b = splitLines(newText);
    const width = b.length + 1;
    const lcs = new Uint32Array((a.length + 1) * width);
    for (let i = a.length - 1; i >= 0; i--) {
        for (let j = b.length - 1; j >= 0; j--) {
            lcs[i * width + j] =
                a[i] === b[j]
                    ? (lcs[(i + 1) * width + j + 1] ?? 0) + 1
                    : Math.max(lcs[(i + 1) * width + j] ?? 0, lcs[i * width + j + 1] ?? 0);
        }
    }
    const out: DiffLine[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length && j < b.length) {
        if (a[i] === b[j]) {
            out.push({ op: " ", text: a[i] ?? "" });
            i++;
            j++;
        } else if ((lcs[(i + 1) * width + j] ?? 0) >= (lcs[i * width + j + 1] ?? 0)) {
            out.push({ op: "-", text: a[i++] ?? "" });
        } else {
            out.push({ op: "+", text: b[j++] ?? "" });
        }
    }
    while (i < a.length) out.push({ op: "-", text: a[i++] ?? "" });
    while (j < b.length) out.push({ op: "+", text: b[j++] ?? "" });
    return out;
}

export interface UnifiedDiffOptions {
    /** Label of the old text (`--- label`). */
    from: string;
    /** Label of the new text (`+++ label`). */
    to: string;
    /** Unchanged lines shown around each change. @default 3 */
    context?: number;
}

/** A unified diff (`---`/`+++`/`@@` hunks) of two texts; empty when they are equal. */
export function unifiedDiff(oldText: string, newText: string, options: UnifiedDiffOptions): string {
    const lines = diffLines(oldText, newText);
    if (lines.every((l) => l.op === " ")) return "";
    const context = options.context ?? 3;
    const out = [`--- ${options.from}`, `+++ ${options.to}`];
    // Index ranges of `lines` to show: each change plus its context, merged where they touch.
    const ranges: [number, number][] = [];
    lines.forEach((line, index) => {
        if (line.op === " ") return;
        const start = Math.max(0, index - context);
        const end = Math.min(lines.length, index + context + 1);
        const last = ranges[ranges.length - 1];
        if (last && start <= last[1]) last[1] = Math.max(last[1], end);
        else ranges.push([start, end]);
    });
    // Line numbers at each index of `lines`, for the hunk headers.
    const oldAt: number[] = [];
    const newAt: number[] = [];
    let oldLine = 1;
    let newLine = 1;
    for (const line of lines) {
        oldAt.push(oldLine);
        newAt.push(newLine);
        if (line.op !== "+") oldLine++;
        if (line.op !== "-") newLine++;
    }
    for (const [start, end] of ranges) {
        const hunk = lines.slice(start, end);
        const oldCount = hunk.filter((l) => l.op !== "+").length;
        const newCount = hunk.filter((l) => l.op !== "-").length;
        const oldStart = oldCount === 0 ? (oldAt[start] ?? 1) - 1 : (oldAt[start] ?? 1);
        const newStart = newCount === 0 ? (newAt[start] ?? 1) - 1 : (newAt[start] ?? 1);
        out.push(`@@ -${oldStart},${oldCount} +${newStart},${newCount} @@`);
        for (const line of hunk) out.push(`${line.op}${line.text}`);
    }
    return `${out.join("\n")}\n`;
}
