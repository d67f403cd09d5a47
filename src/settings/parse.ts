import { SettingsError, type SettingsIssue } from "./errors";
import { checkSettingsRules } from "./rules";
import { type SecretsPresent, type Settings, SettingsSchema, secretKeys } from "./schema";
import { issuesFromZod } from "./zod-issues";

export interface ParseSettingsOptions {
    /**
     * Check the rules that need secrets (hub token, W&B key, SSH key). `render` turns this off:
     * rendering needs no secret, and committed stack files carry none. @default true
     */
    checkSecrets?: boolean;
    /** Named in the error header, e.g. `stacks/Pulumi.aws-g5.yaml`. */
    source?: string;
}

/**
 * Validates the `stacktune` config namespace (without secrets) and applies the defaults.
 * Throws one {@link SettingsError} listing every failing path; no configured value is echoed.
 */
export function parseSettings(
    raw: Record<string, unknown>,
    secrets: SecretsPresent,
    options: ParseSettingsOptions = {},
): Settings {
    const issues: SettingsIssue[] = [];
    const rest: Record<string, unknown> = { ...raw };
    for (const key of secretKeys) {
        if (key in rest) {
            delete rest[key];
            issues.push({
                path: key,
                message: `a secret must not be in the settings; remove it and run \`pulumi config set --secret stacktune:${key}\``,
            });
        }
    }
    const parsed = SettingsSchema.safeParse(rest);
    if (!parsed.success) {
        issues.push(...issuesFromZod(parsed.error, rest, SettingsSchema));
        throw new SettingsError(issues, options.source);
    }
    issues.push(...checkSettingsRules(parsed.data, options.checkSecrets === false ? undefined : secrets));
    if (issues.length > 0) throw new SettingsError(issues, options.source);
    return parsed.data;
}
