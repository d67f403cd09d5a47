// The one shell module (src/render/shell.ts): every quoted value, host path and heredoc is run by
// real bash here, and what bash receives must be exactly what was meant.
import { spawnSync } from "child_process";
import { describe, expect, it } from "vitest";
import { bashHeredoc, hostPath, shellQuote } from "../../src/render/shell";

// stdin is /dev/null: on a socket (node's default pipes) bash takes itself for an sshd session and reads ~/.bashrc.
const quiet = { stdio: ["ignore", "pipe", "pipe"] as ("ignore" | "pipe")[], encoding: "utf8" as const };

/** The words bash passes to a command after parsing `text`, NUL-separated so newlines survive. */
function wordsBashSees(text: string, env: NodeJS.ProcessEnv = {}): string[] {
    const r = spawnSync("bash", ["-c", `printf '%s\\0' ${text}`], {
        ...quiet,
        env: { PATH: process.env.PATH, ...env },
    });
    expect(r.stderr).toBe("");
    return r.stdout.split("\0").slice(0, -1);
}

const hostile = [
    "",
    "plain-word_1.0",
    "it's",
    "'",
    "''",
    `"double" and 'single'`,
    "a\nb\n",
    "\n",
    "$(touch /tmp/stacktune-shell-canary)",
    "`id`",
    "${HOME}",
    "$HOME",
    "-rf",
    "--config=$(id)",
    "-",
    "a b\tc",
    "*",
    "[a-z]?",
    "~",
    "~/x",
    "a;b|c&d>e<f",
    "\\",
    "'\\''",
    "!",
    "#comment",
    "x=1",
    "{a,b}",
    "é中\u{1F600}",
    "\r\n",
    "\u0001\u007f",
];

describe("shellQuote", () => {
    it.each(hostile.map((v) => [JSON.stringify(v), v]))(
        "passes %s to bash as exactly one word, unchanged",
        (_, value) => {
            expect(wordsBashSees(shellQuote(value))).toEqual([value]);
        },
    );

    it("leaves plain words bare, so rendered files read naturally", () => {
        expect(shellQuote("meta-llama/Meta-Llama-3-8B-Instruct")).toBe("meta-llama/Meta-Llama-3-8B-Instruct");
        expect(shellQuote("it's")).toBe(`'it'\\''s'`);
        expect(shellQuote("")).toBe("''");
    });

    it("refuses a NUL character rather than letting bash cut the value short", () => {
        expect(() => shellQuote("a\0b")).toThrow("a value holding a NUL character cannot be passed to a shell");
    });
});

describe("hostPath", () => {
    it("expands a leading ~/ for the host's user and quotes the rest", () => {
        expect(hostPath("~/.stacktune/runs")).toBe(`"$HOME"/.stacktune/runs`);
        expect(wordsBashSees(hostPath("~/a b/$(id)"), { HOME: "/home/o'k" })).toEqual(["/home/o'k/a b/$(id)"]);
        expect(wordsBashSees(hostPath("~"), { HOME: "/h" })).toEqual(["/h"]);
    });

    it("keeps any other ~ literal (a ~user form is never expanded)", () => {
        expect(wordsBashSees(hostPath("~root/x"), { HOME: "/h" })).toEqual(["~root/x"]);
        expect(wordsBashSees(hostPath("/srv/~/x"), { HOME: "/h" })).toEqual(["/srv/~/x"]);
    });
});

describe("bashHeredoc", () => {
    const run = (text: string) => spawnSync("bash", ["-c", text], quiet);

    it("runs the script with its arguments, none of them interpreted", () => {
        const args = ["it's", "$(id)", "a\nb", "-x"];
        const r = run(bashHeredoc(`printf '[%s]' "$@"\necho "$HOME-unexpanded" >/dev/null\n`, args.map(shellQuote)));
        expect(r.stdout).toBe(args.map((a) => `[${a}]`).join(""));
        expect(r.status).toBe(0);
    });

    it("ships the script text as it is: no expansion of $, backticks or backslashes inside", () => {
        const r = run(bashHeredoc("cat <<'EOF'\n$(id) `id` \\n\nEOF", []));
        expect(r.stdout).toBe("$(id) `id` \\n\n");
    });

    it.each([
        ["in the middle", "echo one\nSTACKTUNE_SCRIPT\necho two\n"],
        ["as its first line", "STACKTUNE_SCRIPT\necho two\n"],
        ["as its last line without a newline", "echo one\nSTACKTUNE_SCRIPT"],
        ["as the whole script", "STACKTUNE_SCRIPT"],
    ])("refuses a script holding its marker line %s (the heredoc would end there)", (_, script) => {
        expect(() => bashHeredoc(script, [])).toThrow("script contains its heredoc marker STACKTUNE_SCRIPT");
    });

    it("accepts the marker inside a longer line (only a whole line ends a heredoc)", () => {
        expect(run(bashHeredoc("echo STACKTUNE_SCRIPT_x", [])).stdout).toBe("STACKTUNE_SCRIPT_x\n");
    });
});
