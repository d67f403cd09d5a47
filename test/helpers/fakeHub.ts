import * as http from "http";
import { AddressInfo } from "net";

/** One request the fake Hub received. */
export interface HubRequest {
    method: string;
    path: string;
    authorization?: string;
    range?: string;
}

/**
 * A Hugging Face Hub stand-in on 127.0.0.1 that serves `/{repo}/resolve/{revision}/{file}` the way
 * @huggingface/hub reads it: a `Range: bytes=0-0` probe answered 206 with Content-Range and ETag,
 * then ranged or full reads; 404 + `X-Error-Code: EntryNotFound` for a missing file,
 * `RepoNotFound` for a missing repo, 401 for a wrong token on a private repo.
 */
export class FakeHub {
    public readonly requests: HubRequest[] = [];
    /** repo id → file path → content */
    public readonly repos = new Map<string, Map<string, string>>();
    /** When set, every request must carry `Bearer <token>` or gets 401. */
    public requiredToken?: string;
    private server?: http.Server;

    get url(): string {
        const address = this.server?.address() as AddressInfo;
        return `http://127.0.0.1:${address.port}`;
    }

    async start(): Promise<void> {
        this.server = http.createServer((req, res) => this.handle(req, res));
        await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    }

    async stop(): Promise<void> {
        await new Promise<void>((resolve) => this.server?.close(() => resolve()));
    }

    private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
        const path = decodeURIComponent((req.url ?? "").split("?")[0] ?? "");
        this.requests.push({
            method: req.method ?? "",
            path,
            ...(req.headers.authorization !== undefined ? { authorization: req.headers.authorization } : {}),
            ...(req.headers.range !== undefined ? { range: req.headers.range } : {}),
        });
        if (this.requiredToken !== undefined && req.headers.authorization !== `Bearer ${this.requiredToken}`) {
            res.writeHead(401, { "Content-Type": "application/json", "X-Error-Code": "GatedRepo" });
            res.end(JSON.stringify({ error: "Invalid credentials in Authorization header" }));
            return;
        }
        const match = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
        const repo = match ? this.repos.get(match[1] ?? "") : undefined;
        if (!match || repo === undefined) {
            res.writeHead(404, { "Content-Type": "application/json", "X-Error-Code": "RepoNotFound" });
            res.end(JSON.stringify({ error: "Repository not found" }));
            return;
        }
        const content = repo.get(match[3] ?? "");
        if (content === undefined) {
            res.writeHead(404, { "Content-Type": "application/json", "X-Error-Code": "EntryNotFound" });
            res.end(JSON.stringify({ error: "Entry not found" }));
            return;
        }
        const body = Buffer.from(content, "utf8");
        const etag = `"${body.length}-stacktune"`;
        const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
        if (range) {
            const start = Number(range[1]);
            const end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
            res.writeHead(206, {
                "Content-Type": "application/octet-stream",
                "Content-Range": `bytes ${start}-${end}/${body.length}`,
                "Content-Length": String(end - start + 1),
                "Accept-Ranges": "bytes",
                ETag: etag,
            });
            res.end(body.subarray(start, end + 1));
            return;
        }
        res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": String(body.length), ETag: etag });
        res.end(body);
    }
}
