import { generatedHeader } from "./header";
import { unifiedDiff } from "./lineDiff";
import { type SettingChange, diffSettings, formatSettingValue } from "./settingsDiff";
import type { RenderedStack } from "./stacks";

/** What differs between two experiments: their settings and each rendered file. */
export interface StackDiff {
    from: { label: string; stack: string };
    to: { label: string; stack: string };
    settings: SettingChange[];
    /** One entry per file either side renders, in rendering order; `diff` is empty when identical. */
    files: { name: string; diff: string; added: number; removed: number }[];
}

/**
 * The "generated from stacks/Pulumi.<stack>.yaml" lines differ between any two stacks; leaving
 * them out keeps the diff to what the runs do differently.
 */
function withoutHeader(content: string, stack: string): string {
    const header = new Set(generatedHeader(stack).map((line) => `# ${line}`));
    return content
        .split("\n")
        .filter((line) => !header.has(line))
        .join("\n");
}

export function diffStacks(
    a: Pick<RenderedStack, "stack" | "settings" | "files"> & { label: string },
    b: Pick<RenderedStack, "stack" | "settings" | "files"> & { label: string },
): StackDiff {
    const names = [...new Set([...a.files.keys(), ...b.files.keys()])];
    return {
        from: { label: a.label, stack: a.stack },
        to: { label: b.label, stack: b.stack },
        settings: diffSettings(a.settings, b.settings),
        files: names.map((name) => {
            const left = a.files.get(name);
            const right = b.files.get(name);
            const diff = unifiedDiff(
                left === undefined ? "" : withoutHeader(left, a.stack),
                right === undefined ? "" : withoutHeader(right, b.stack),
                {
                    from: left === undefined ? "/dev/null" : `${a.label}/${name}`,
                    to: right === undefined ? "/dev/null" : `${b.label}/${name}`,
                },
            );
            const lines = diff.split("\n").slice(2);
            return {
                name,
                diff,
                added: lines.filter((l) => l.startsWith("+")).length,
                removed: lines.filter((l) => l.startsWith("-")).length,
            };
        }),
    };
}

function plural(n: number, word: string): string {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Plain-text report for a terminal. */
export function formatStackDiffText(d: StackDiff): string {
    const out = [`Settings: ${d.from.label} → ${d.to.label} (${plural(d.settings.length, "difference")})`];
    for (const c of d.settings) out.push(`  ${c.key}: ${formatSettingValue(c.from)} → ${formatSettingValue(c.to)}`);
    out.push("", "Rendered files:");
    for (const f of d.files) {
        out.push(f.diff === "" ? `  ${f.name}: identical` : `  ${f.name}: +${f.added} -${f.removed}`);
    }
    for (const f of d.files.filter((x) => x.diff !== "")) out.push("", f.diff.trimEnd());
    return `${out.join("\n")}\n`;
}

function cell(text: string): string {
    return `\`${text.replace(/\|/g, "\\|").replace(/`/g, "'")}\``;
}

/** Markdown report for a pull request's job summary: a settings table and a collapsible diff per file. */
export function formatStackDiffMarkdown(d: StackDiff): string {
    const title = d.from.label === d.to.label ? `\`${d.to.label}\`` : `\`${d.from.label}\` → \`${d.to.label}\``;
    const out = [`### ${title}`, ""];
    if (d.settings.length === 0) {
        out.push("No setting differs.");
    } else {
        out.push(`**Settings** (${plural(d.settings.length, "difference")})`, "");
        out.push(`| setting | ${d.from.label} | ${d.to.label} |`, "| --- | --- | --- |");
        for (const c of d.settings) {
            out.push(`| \`${c.key}\` | ${cell(formatSettingValue(c.from))} | ${cell(formatSettingValue(c.to))} |`);
        }
    }
    out.push("", "**Rendered files**", "");
    for (const f of d.files) {
        if (f.diff === "") {
            out.push(`- \`${f.name}\`: identical`);
            continue;
        }
        out.push(
            `<details><summary><code>${f.name}</code>: +${f.added} −${f.removed}</summary>`,
            "",
            "```diff",
            f.diff.trimEnd(),
            "```",
            "",
            "</details>",
        );
    }
    return `${out.join("\n")}\n`;
}
