import { describe, expect, it } from "vitest";
import { diffLines, unifiedDiff } from "../../src/render/lineDiff";
import { diffSettings, flattenSettings, formatSettingValue } from "../../src/render/settingsDiff";

describe("unifiedDiff", () => {
    const old = `${Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join("\n")}\n`;

    it("is empty for equal texts", () => {
        expect(unifiedDiff(old, old, { from: "a", to: "b" })).toBe("");
    });

    it("writes hunks with GNU diff -u headers and three lines of context", () => {
        const changed = old.replace("line 2\n", "line two\n").replace("line 12\n", "line 12\nline 13\n");
        expect(unifiedDiff(old, changed, { from: "a/x", to: "b/x" })).toBe(
            [
                "--- a/x",
                "+++ b/x",
                "@@ -1,5 +1,5 @@",
                " line 1",
                "-line 2",
                "+line two",
                " line 3",
                " line 4",
                " line 5",
                "@@ -10,3 +10,4 @@",
                " line 10",
                " line 11",
                " line 12",
                "+line 13",
                "",
            ].join("\n"),
        );
    });

    it("diffs against an empty text as one hunk of additions", () => {
        expect(unifiedDiff("", "a\nb\n", { from: "/dev/null", to: "new" })).toBe(
            "--- /dev/null\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n",
        );
    });

    it("finds the minimal line diff", () => {
        expect(diffLines("a\nb\nc\n", "a\nc\nd\n")).toEqual([
            { op: " ", text: "a" },
            { op: "-", text: "b" },
            { op: " ", text: "c" },
            { op: "+", text: "d" },
        ]);
    });
});

describe("diffSettings", () => {
    it("lists each differing leaf by dotted key, lists compared whole, unset on one side", () => {
        const a = { lora: { r: 8, targetModules: "all-linear" }, hub: { private: true } };
        const b = { lora: { r: 16, targetModules: ["q_proj", "v_proj"] }, hub: { private: true, adapterRepo: "me/a" } };
        expect(diffSettings(a, b)).toEqual([
            { key: "hub.adapterRepo", from: undefined, to: "me/a" },
            { key: "lora.r", from: 8, to: 16 },
            { key: "lora.targetModules", from: "all-linear", to: ["q_proj", "v_proj"] },
        ]);
        expect(flattenSettings(a).get("hub.private")).toBe(true);
    });

    it("formats values for a reader", () => {
        expect(["x", 0.0001, true, null, undefined, ["a", "b"]].map(formatSettingValue)).toEqual([
            "x",
            "0.0001",
            "true",
            "null",
            "(unset)",
            "[a, b]",
        ]);
    });
});
