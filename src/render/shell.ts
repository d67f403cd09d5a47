/**
 * The one shell module: every value that reaches a shell script or command text (rendered
 * launch.sh, run.env, the job's and the hosts' commands, the CLI's host scripts, a sweep's command
 * line) passes through {@link shellQuote} or {@link hostPath}, whatever the settings' grammar
 * already allowed; every shipped script reaches `bash -s` through {@link bashHeredoc}.
 */

/** Characters that need no quoting as (part of) a bash word outside quotes. */
const bareWord = /^[A-Za-z0-9_./:=@%+,-]+$/;

/**
 * Quotes a value as one bash word: safe for any text, including quotes, `$`, backticks, newlines
 * and globs. Plain words stay as they are, so rendered files read naturally. NUL cannot be part of
 * any shell word (C strings end there), so a value holding one is refused rather than cut short.
 */
export function shellQuote(value: string): string {
    if (value.includes("\0")) throw new Error("a value holding a NUL character cannot be passed to a shell");
    if (bareWord.test(value)) return value;
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * A host path for shell text: a leading `~/` becomes `"$HOME"/` (expanded by the host's shell, for
 * the host's user); the rest is quoted.
 */
export function hostPath(dir: string): string {
    if (dir === "~") return '"$HOME"';
    if (dir.startsWith("~/")) return `"$HOME"/${shellQuote(dir.slice(2))}`;
    return shellQuote(dir);
}

/**
 * Runs a shell script through `bash -s` with arguments, without any quoting hazard in the script.
 * `args` are shell words already: each value passed through {@link shellQuote} or {@link hostPath}.
 */
export function bashHeredoc(script: string, args: readonly string[], marker = "STACKTUNE_SCRIPT"): string {
    // Any whole line equal to the marker ends the heredoc, the first and the last line included.
    if (script.split("\n").includes(marker)) {
        throw new Error(`script contains its heredoc marker ${marker}`);
    }
    const body = script.endsWith("\n") ? script : `${script}\n`;
    return `bash -s -- ${args.join(" ")} <<'${marker}'\n${body}${marker}\n`;
}
