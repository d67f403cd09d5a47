import * as os from "os";
import * as path from "path";
import { datasetInfo, downloadFile, HubApiError, modelInfo } from "@huggingface/hub";
import { COMPLETION_MARKER, CompletionMarkerSchema, type CompletionMarker } from "./contract/job-protocol";

/** Where a finished experiment's model lives; what the stack outputs point at. */
export interface CompletedExperiment {
    experimentHash: string;
    /** Where it was found: the merged-model repo (an output store is checked on the host by the job). */
    store: "hub";
    /** Repo id (`org/name`). */
    location: string;
    /** The marker's content, as written by the publish step (checked by the job protocol's schema). */
    marker: CompletionMarker;
}

export interface HubLookupArgs {
    /** The merged-model repo: the merge step writes its marker there, last. */
    repo: string;
    experimentHash: string;
    /** Needed for private or gated repos; never logged. */
    accessToken?: string;
    /** @default "https://huggingface.co" */
    hubUrl?: string;
    /** @default "main" */
    revision?: string;
}

/** The JSON value of `text`, or undefined when it is not JSON. */
function parseJson(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return undefined;
    }
}

/**
 * Asks the Hub whether `repo` holds a model tagged with `experimentHash`. A missing repo or marker
 * means "not done yet"; an auth failure is an error telling the user which setting to fix (the
 * token itself is never part of any message).
 */
export async function findHubCompletion(args: HubLookupArgs): Promise<CompletedExperiment | undefined> {
    const parsed = CompletionMarkerSchema.safeParse(parseJson((await readHubFile(args, COMPLETION_MARKER)) ?? ""));
    if (!parsed.success || parsed.data.experiment_hash !== args.experimentHash) {
        return undefined;
    }
    const marker = parsed.data;
    // The merge step publishes the run's metrics.json with the model.
    if (marker.metrics === undefined) {
        const metrics = parseJson((await readHubFile(args, "metrics.json")) ?? "");
        if (metrics !== null && typeof metrics === "object") {
            marker.metrics = metrics;
        }
    }
    return { experimentHash: args.experimentHash, store: "hub", location: args.repo, marker };
}

/** One file of the repo's revision as text; undefined when the repo or the file does not exist. */
async function readHubFile(args: HubLookupArgs, file: string): Promise<string | undefined> {
    let blob: Blob | null;
    try {
        blob = await downloadFile({
            repo: { type: "model", name: args.repo },
            path: file,
            revision: args.revision ?? "main",
            ...(args.hubUrl !== undefined ? { hubUrl: args.hubUrl } : {}),
            ...(args.accessToken !== undefined ? { accessToken: args.accessToken } : {}),
            xet: false,
        });
    } catch (err) {
        if (err instanceof HubApiError && err.statusCode === 404) {
            return undefined;
        }
        if (err instanceof HubApiError && (err.statusCode === 401 || err.statusCode === 403)) {
            throw new Error(
                `the Hub refused to read ${args.repo} (HTTP ${err.statusCode}): set stacktune:hfToken ` +
                    "(pulumi config set --secret stacktune:hfToken <token>) to a token with read access to it",
            );
        }
        const reason = err instanceof Error ? err.message : String(err);
        throw new Error(`could not check ${args.repo} on the Hub for a finished run: ${reason}`);
    }
    return blob === null ? undefined : blob.text();
}

/** A git commit id, as the Hub names revisions: 40 lowercase hex digits. */
export function isCommitId(revision: string): boolean {
    return /^[0-9a-f]{40}$/.test(revision);
}

export interface RevisionLookupArgs {
    kind: "model" | "dataset";
    /** Repo id on the Hub. */
    id: string;
    /** Branch, tag or commit. */
    revision: string;
    /** The settings key the revision came from, for errors (`stacktune:model.revision`). */
    settingsKey: string;
    accessToken?: string;
    /** @default "https://huggingface.co" */
    hubUrl?: string;
}

/**
 * The commit a model's or dataset's revision names now, through the Hub's
 * `/api/{models,datasets}/{id}/revision/{revision}` (what @huggingface/hub's modelInfo / datasetInfo
 * read). Errors name the settings key and what to write; the token is never part of a message.
 */
export async function resolveRevision(args: RevisionLookupArgs): Promise<string> {
    const params = {
        name: args.id,
        revision: args.revision,
        ...(args.hubUrl !== undefined ? { hubUrl: args.hubUrl } : {}),
        ...(args.accessToken !== undefined ? { accessToken: args.accessToken } : {}),
    };
    let sha: unknown;
    try {
        sha =
            args.kind === "model"
                ? (await modelInfo({ ...params, additionalFields: ["sha"] })).sha
                : (await datasetInfo({ ...params, additionalFields: ["sha"] })).sha;
    } catch (err) {
        if (err instanceof HubApiError && err.statusCode === 404) {
            throw new Error(
                `${args.settingsKey}: the Hub has no revision ${args.revision} of ${args.id} (HTTP 404): ` +
                    "set it to a branch, tag or 40-character commit id of that repo",
            );
        }
        if (err instanceof HubApiError && (err.statusCode === 401 || err.statusCode === 403)) {
            throw new Error(
                `${args.settingsKey}: the Hub refused to show ${args.id} (HTTP ${err.statusCode}): set stacktune:hfToken ` +
                    "to a token with access to it (accept the model's licence on its Hub page first if it is gated)",
            );
        }
        const reason = err instanceof Error ? err.message : String(err);
        throw new Error(
            `${args.settingsKey}: could not resolve revision ${args.revision} of ${args.id} on the Hub (${reason}): ` +
                "check the connection, or set it to a 40-character commit id",
        );
    }
    if (typeof sha !== "string" || !isCommitId(sha)) {
        throw new Error(`${args.settingsKey}: the Hub answered no commit id for ${args.id} at ${args.revision}`);
    }
    return sha;
}

/** Expands a leading `~/` to the home directory of the user running the program. */
export function expandHome(dir: string, home: string = os.homedir()): string {
    return dir === "~" ? home : dir.startsWith("~/") ? path.join(home, dir.slice(2)) : dir;
}
