import { createHash } from "crypto";
import * as http from "http";
import { AddressInfo } from "net";
import { settingsDefaults } from "../../src/settings";

/** One request the fake Hub received. */
export interface HubRequest {
    method: string;
    path: string;
    authorization?: string;
    range?: string;
}

/** A `POST /api/repos/create` body, as huggingface_hub's `HfApi.create_repo` sends it. */
export interface CreateRepoRequest {
    name: string;
    organization?: string | null;
    type?: string;
    visibility?: string;
    private?: boolean;
}

/** One commit made through `POST /api/{type}s/{repo}/commit/{revision}` (NDJSON). */
export interface HubCommit {
    /** `model:owner/name` or `dataset:owner/name` */
    repo: string;
    revision: string;
    oid: string;
    summary: string;
    /** The operation lines after the header, in the order the client sent them. */
    operations: { key: string; path: string }[];
}

type Files = Map<string, string | Buffer>;

/**
 * A Hugging Face Hub stand-in on 127.0.0.1 speaking the endpoints stacktune's two Hub clients use,
 * in the shapes their sources send and parse (huggingface_hub 1.33: `hf_api.py` create_repo,
 * `_commit_api.py` _fetch_upload_modes / _prepare_commit_payload / _send_commit, validate-yaml;
 * @huggingface/hub 2.17: downloadFile, modelInfo, datasetInfo):
 *
 * - `POST /api/repos/create` `{name, organization, type, visibility}` → `{url}`; 409 when it exists.
 * - `POST /api/validate-yaml` → `{errors: [], warnings: []}` (create_commit checks a README's metadata).
 * - `POST /api/{type}s/{repo}/preupload/{rev}` `{files: [{path, sample, size}]}` → every file
 *   `uploadMode: "regular"`, so commits carry base64 content (the LFS / Xet transfer of large files
 *   on the real Hub is not covered here), with `oid` (git blob sha1) of a file already there.
 * - `POST /api/{type}s/{repo}/commit/{rev}`, `application/x-ndjson`: a `header` line, then `file`
 *   (base64) and `deletedFile` lines; applied all at once as a new commit → `{commitUrl, commitOid}`.
 * - `GET /api/{type}s/{repo}/revision/{rev}` → `{_id, id, sha, private, siblings}`.
 * - `/{repo}/resolve/{rev}/{file}` (datasets under `/datasets/`): a `Range: bytes=0-0` probe answered
 *   206 with Content-Range and ETag, then ranged or full reads; 404 + `X-Error-Code: EntryNotFound`
 *   for a missing file, `RepoNotFound` for a missing repo, `RevisionNotFound` for an unknown revision.
 *
 * `rev` is a branch (`main`) or a commit id of the repo. A private repo, and every repo while
 * {@link requiredToken} is set, needs `Authorization: Bearer <token>` or answers 401.
 */
export class FakeHub {
    public readonly requests: HubRequest[] = [];
    /** Model repo id → file path → content of its `main`. Tests may set files directly. */
    public readonly repos = new Map<string, Files>();
    /** Dataset repo id → file path → content of its `main`. */
    public readonly datasets = new Map<string, Files>();
    /** Repos created with visibility private (`model:` / `dataset:` + id). */
    public readonly privateRepos = new Set<string>();
    public readonly createRequests: CreateRepoRequest[] = [];
    public readonly commits: HubCommit[] = [];
    /** When set, every request must carry `Bearer <token>` or gets 401. */
    public requiredToken?: string;
    /** Past commits: repo key → commit id → files. */
    private readonly history = new Map<string, Map<string, Files>>();
    private server?: http.Server;

    constructor() {
        // The public inputs of the default settings: a stack on them resolves their revisions here.
        this.repos.set(settingsDefaults.model.id, new Map([["config.json", '{"model_type": "llama"}']]));
        this.datasets.set(settingsDefaults.dataset.source, new Map([["README.md", "# OpenHermes 2.5\n"]]));
    }

    get url(): string {
        const address = this.server?.address() as AddressInfo;
        return `http://127.0.0.1:${address.port}`;
    }

    async start(): Promise<void> {
        this.server = http.createServer((req, res) => {
            const chunks: Buffer[] = [];
            req.on("data", (chunk: Buffer) => chunks.push(chunk));
            req.on("end", () => this.handle(req, Buffer.concat(chunks), res));
        });
        await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    }

    async stop(): Promise<void> {
        await new Promise<void>((resolve) => this.server?.close(() => resolve()));
    }

    /** The commit id `main` of a repo points at: its last commit, or a digest of files a test set. */
    headOf(kind: "model" | "dataset", id: string): string | undefined {
        const files = this.filesOf(kind, id);
        if (files === undefined) return undefined;
        const known = [...(this.history.get(`${kind}:${id}`) ?? new Map<string, Files>())].find(([, f]) => f === files);
        if (known !== undefined) return known[0];
        const digest = createHash("sha1");
        for (const [name, content] of [...files].sort(([a], [b]) => a.localeCompare(b)))
            digest.update(name).update("\0").update(content);
        return digest.digest("hex");
    }

    private filesOf(kind: "model" | "dataset", id: string): Files | undefined {
        return (kind === "model" ? this.repos : this.datasets).get(id);
    }

    /** The files of `revision` (a branch name resolves to main, a commit id to that commit). */
    private filesAt(kind: "model" | "dataset", id: string, revision: string): Files | undefined {
        if (revision === "main" || revision === "HEAD") return this.filesOf(kind, id);
        const past = this.history.get(`${kind}:${id}`)?.get(revision);
        if (past !== undefined) return past;
        return this.headOf(kind, id) === revision ? this.filesOf(kind, id) : undefined;
    }

    private handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
        const path = decodeURIComponent((req.url ?? "").split("?")[0] ?? "");
        this.requests.push({
            method: req.method ?? "",
            path,
            ...(req.headers.authorization !== undefined ? { authorization: req.headers.authorization } : {}),
            ...(req.headers.range !== undefined ? { range: req.headers.range } : {}),
        });
        const authorized =
            this.requiredToken === undefined || req.headers.authorization === `Bearer ${this.requiredToken}`;
        if (!authorized) {
            this.error(res, 401, "GatedRepo", "Invalid credentials in Authorization header");
            return;
        }
        const api = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/(preupload|commit|revision)\/(.+)$/.exec(path);
        if (req.method === "POST" && path === "/api/repos/create") return this.createRepo(body, res);
        if (req.method === "POST" && path === "/api/validate-yaml")
            return this.json(res, 200, { errors: [], warnings: [] });
        if (api !== null) {
            const kind = api[1] === "models" ? "model" : "dataset";
            const [id, action, revision] = [api[2] ?? "", api[3], api[4] ?? ""];
            if (this.filesOf(kind, id) === undefined)
                return this.error(res, 404, "RepoNotFound", "Repository not found");
            if (this.privateRepos.has(`${kind}:${id}`) && req.headers.authorization === undefined) {
                return this.error(res, 401, "RepoNotFound", "Repository not found");
            }
            if (req.method === "POST" && action === "preupload") return this.preupload(kind, id, body, res);
            if (req.method === "POST" && action === "commit") return this.commit(kind, id, revision, body, res);
            if (req.method === "GET" && action === "revision") return this.revisionInfo(kind, id, revision, res);
        }
        const resolve = /^\/(datasets\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
        if ((req.method === "GET" || req.method === "HEAD") && resolve !== null) {
            return this.resolveFile(
                req,
                resolve[1] !== undefined ? "dataset" : "model",
                resolve[2] ?? "",
                resolve[3] ?? "",
                resolve[4] ?? "",
                res,
            );
        }
        this.error(res, 404, "RepoNotFound", "Repository not found");
    }

    private createRepo(body: Buffer, res: http.ServerResponse): void {
        const request = JSON.parse(body.toString("utf8")) as CreateRepoRequest;
        this.createRequests.push(request);
        const kind = request.type === "dataset" ? "dataset" : "model";
        const id = request.organization ? `${request.organization}/${request.name}` : request.name;
        const url = `${this.url}/${kind === "dataset" ? "datasets/" : ""}${id}`;
        if (this.filesOf(kind, id) !== undefined) {
            this.json(res, 409, { error: "You already created this model repo", url });
            return;
        }
        (kind === "model" ? this.repos : this.datasets).set(id, new Map());
        if (request.visibility === "private" || request.private === true) this.privateRepos.add(`${kind}:${id}`);
        this.json(res, 200, { url, name: id });
    }

    private preupload(kind: "model" | "dataset", id: string, body: Buffer, res: http.ServerResponse): void {
        const files = this.filesOf(kind, id) ?? new Map<string, string | Buffer>();
        const request = JSON.parse(body.toString("utf8")) as {
            files: { path: string; size: number; sample: string }[];
        };
        this.json(res, 200, {
            files: request.files.map((f) => {
                const existing = files.get(f.path);
                return {
                    path: f.path,
                    uploadMode: "regular",
                    shouldIgnore: false,
                    ...(existing !== undefined ? { oid: gitBlobSha(existing) } : {}),
                };
            }),
        });
    }

    private commit(
        kind: "model" | "dataset",
        id: string,
        revision: string,
        body: Buffer,
        res: http.ServerResponse,
    ): void {
        const lines = body
            .toString("utf8")
            .split("\n")
            .filter((l) => l.trim() !== "")
            .map((l) => JSON.parse(l) as { key: string; value: Record<string, string> });
        const [header, ...operations] = lines;
        if (header?.key !== "header" || revision !== "main") {
            this.error(res, 400, "BadRequest", "a commit starts with a header line and goes to main");
            return;
        }
        const files = new Map(this.filesOf(kind, id));
        for (const op of operations) {
            const target = op.value.path ?? "";
            if (op.key === "file" && op.value.encoding === "base64")
                files.set(target, Buffer.from(op.value.content ?? "", "base64"));
            else if (op.key === "deletedFile") files.delete(target);
            else {
                this.error(res, 400, "BadRequest", `unsupported commit operation ${op.key}`);
                return;
            }
        }
        const parent = this.headOf(kind, id) ?? "";
        const oid = createHash("sha1").update(parent).update(body).digest("hex");
        const key = `${kind}:${id}`;
        if (!this.history.has(key)) this.history.set(key, new Map());
        this.history.get(key)!.set(oid, files);
        (kind === "model" ? this.repos : this.datasets).set(id, files);
        this.commits.push({
            repo: key,
            revision,
            oid,
            summary: header.value.summary ?? "",
            operations: operations.map((op) => ({ key: op.key, path: op.value.path ?? "" })),
        });
        this.json(res, 200, {
            success: true,
            commitOid: oid,
            commitUrl: `${this.url}/${kind === "dataset" ? "datasets/" : ""}${id}/commit/${oid}`,
        });
    }

    private revisionInfo(kind: "model" | "dataset", id: string, revision: string, res: http.ServerResponse): void {
        const files = this.filesAt(kind, id, revision);
        if (files === undefined) {
            this.error(res, 404, "RevisionNotFound", `Invalid rev id: ${revision}`);
            return;
        }
        const sha = revision === "main" || revision === "HEAD" ? this.headOf(kind, id) : revision;
        this.json(res, 200, {
            _id: createHash("sha1").update(`${kind}:${id}`).digest("hex").slice(0, 24),
            id,
            sha,
            private: this.privateRepos.has(`${kind}:${id}`),
            siblings: [...files.keys()].sort().map((rfilename) => ({ rfilename })),
        });
    }

    private resolveFile(
        req: http.IncomingMessage,
        kind: "model" | "dataset",
        id: string,
        revision: string,
        file: string,
        res: http.ServerResponse,
    ): void {
        if (this.filesOf(kind, id) === undefined) return this.error(res, 404, "RepoNotFound", "Repository not found");
        if (this.privateRepos.has(`${kind}:${id}`) && req.headers.authorization === undefined) {
            return this.error(res, 401, "RepoNotFound", "Repository not found");
        }
        const files = this.filesAt(kind, id, revision);
        if (files === undefined) return this.error(res, 404, "RevisionNotFound", "Invalid rev id");
        const content = files.get(file);
        if (content === undefined) return this.error(res, 404, "EntryNotFound", "Entry not found");
        const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
        const etag = `"${gitBlobSha(bytes)}"`;
        const commit = revision === "main" || revision === "HEAD" ? (this.headOf(kind, id) ?? "") : revision;
        const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
        const payload = req.method === "HEAD" ? Buffer.alloc(0) : undefined;
        if (range) {
            const start = Number(range[1]);
            const end = range[2] ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
            res.writeHead(206, {
                "Content-Type": "application/octet-stream",
                "Content-Range": `bytes ${start}-${end}/${bytes.length}`,
                "Content-Length": String(end - start + 1),
                "Accept-Ranges": "bytes",
                ETag: etag,
                "X-Repo-Commit": commit,
            });
            res.end(payload ?? bytes.subarray(start, end + 1));
            return;
        }
        res.writeHead(200, {
            "Content-Type": "application/octet-stream",
            "Content-Length": String(bytes.length),
            ETag: etag,
            "X-Repo-Commit": commit,
        });
        res.end(payload ?? bytes);
    }

    private json(res: http.ServerResponse, status: number, body: unknown): void {
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(JSON.stringify(body));
    }

    private error(res: http.ServerResponse, status: number, code: string, message: string): void {
        res.writeHead(status, { "Content-Type": "application/json", "X-Error-Code": code });
        res.end(JSON.stringify({ error: message }));
    }
}

/** Git's blob id of a file (what the Hub reports as a regular file's oid). */
function gitBlobSha(content: string | Buffer): string {
    const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}
