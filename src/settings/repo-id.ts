import { z } from "zod";

/**
 * The Hub's repo id rules, as huggingface_hub 1.33 checks them before any request
 * (`huggingface_hub/utils/_validators.py`: `REPO_ID_REGEX` and `validate_repo_id`, which mirror the
 * Hub's own `moon-landing/server/lib/Names.ts`): ASCII letters, digits, `-`, `_`, `.`; each part
 * starts and ends with a word character (the regex's `\b…\b`); at most 96 characters; no `--` or
 * `..`; no `.git` suffix. stacktune also needs the owner (`owner/name`): it publishes into a namespace.
 */
const HUB_REPO_ID_MAX_LENGTH = 96;
const hubRepoPart = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/** What is wrong with `id` by the Hub's rules, or undefined; never quotes the id. */
function hubRepoIdProblem(id: string): string | undefined {
    const parts = id.split("/");
    if (parts.length !== 2 || parts.some((part) => part === ""))
        return "must be a Hub repo id like your-name/model-name";
    if (!/^[A-Za-z0-9_./-]+$/.test(id)) return "may hold only letters, digits, -, _ and . (the Hub’s rule)";
    if (!parts.every((part) => hubRepoPart.test(part)))
        return "owner and name must each start and end with a letter, digit or _ (the Hub’s rule)";
    if (id.includes("--") || id.includes("..")) return "must not contain '--' or '..' (the Hub refuses them)";
    if (id.endsWith(".git")) return "must not end in .git (the Hub refuses it)";
    if (id.length > HUB_REPO_ID_MAX_LENGTH) return `is longer than the Hub’s ${HUB_REPO_ID_MAX_LENGTH} characters`;
    return undefined;
}

/** A Hugging Face Hub repo id, `owner/name`, valid by the Hub's own rules. */
export const RepoIdSchema = z.string().superRefine((id, ctx) => {
    const problem = hubRepoIdProblem(id);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});
