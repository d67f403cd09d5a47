/** One problem with a stack's settings: the config path and what to do about it. */
export interface SettingsIssue {
    /** Dotted path under the `stacktune` namespace, e.g. `lora.rank`. */
    path: string;
    /** What is wrong and what to do; never contains a configured value. */
    message: string;
}

/** Thrown when a stack's settings are invalid; the message lists every problem at once. */
export class SettingsError extends Error {
    override readonly name = "SettingsError";
    readonly issues: readonly SettingsIssue[];

    constructor(issues: readonly SettingsIssue[], source?: string) {
        const where = source === undefined ? "" : ` in ${source}`;
        const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
        super([`Invalid stacktune settings${where} (${count}):`, ...issues.map(formatIssue)].join("\n"));
        this.issues = issues;
    }
}

function formatIssue(issue: SettingsIssue): string {
    return issue.path === "" ? `  - ${issue.message}` : `  - stacktune:${issue.path}: ${issue.message}`;
}
