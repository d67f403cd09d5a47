// The command provider stand-in's SSH connection (scripts/lib/command-ssh.js) against a real OpenSSH
// server: `connection.hostKey` is verified as the upstream provider verifies it (a mismatch fails
// before authentication, in upstream's words; unset = not verified), the private key never lies in
// a file, not even while ssh runs, and a destination is never read as an ssh option. What a program
// sees of the provider is in command-provider.e2e.test.ts, which passes on upstream's binary too.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSshd, type Sshd } from "./fixtures/sshd";
import { keyFilesInTemp } from "./helpers/key-files";

interface SshRun {
    code: number;
    stdout: string;
    stderr: string;
    combined: string[];
}
type Spawner = (argv: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string }) => Promise<SshRun>;
interface Session {
    /** Runs the tool with the connection's options, then `flags`, then `--`, then `operands`. */
    run(
        tool: "ssh" | "scp",
        flags: string[],
        operands: string[],
        opts: { env?: NodeJS.ProcessEnv; stdin?: string },
    ): Promise<SshRun>;
    user: string;
    host: string;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const commandSsh = require("../../scripts/lib/command-ssh.js") as {
    withSsh<T>(conn: Record<string, unknown>, spawner: Spawner, fn: (ssh: Session) => Promise<T>): Promise<T>;
};

/** Runs argv to completion, the way the stand-in's spawner does, but without the engine. */
const spawner: Spawner = (argv, opts) =>
    new Promise((resolve, reject) => {
        const child = spawn(argv[0]!, argv.slice(1), { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (b: Buffer) => (stdout += b.toString("utf8")));
        child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
        child.on("error", reject);
        child.on("close", (code) =>
            resolve({ code: code ?? 1, stdout, stderr, combined: `${stdout}${stderr}`.split("\n") }),
        );
        child.stdin.end(opts.stdin ?? "");
    });

let sshd: Sshd;
let hostKey: string;
let keyDir: string;
const wrongHostKey = (): string => {
    const dir = mkdtempSync(join(tmpdir(), "stacktune-wrong-"));
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "k")]);
    const line = readFileSync(join(dir, "k.pub"), "utf8").trim();
    rmSync(dir, { recursive: true, force: true });
    return line;
};
const connection = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    privateKey: sshd.privateKey,
    dialErrorLimit: 2,
    perDialTimeout: 5,
    ...extra,
});
const remote = (conn: Record<string, unknown>, command: string): Promise<SshRun> =>
    commandSsh.withSsh(conn, spawner, (ssh) => ssh.run("ssh", [], [`${ssh.user}@${ssh.host}`, command], {}));
const keyFilesNow = (): string[] => keyFilesInTemp(sshd.privateKey, [keyDir]);

beforeAll(async () => {
    sshd = await startSshd();
    hostKey = sshd.knownHostsLine.split(" ").slice(1).join(" ");
    // The fixture keeps its own key files in its temp dir: those are the server's, not the stand-in's.
    keyDir = sshd.privateKeyPath.slice(0, sshd.privateKeyPath.lastIndexOf("/"));
});
afterAll(async () => {
    await sshd?.stop();
});

describe("command provider stand-in: SSH connection", () => {
    it("connects when connection.hostKey is the server's key", async () => {
        const result = await remote(connection({ hostKey }), "echo connected");
        expect(result.stdout).toBe("connected\n");
        // As upstream's ssh.ParseAuthorizedKey: a comment and a trailing newline (a pasted .pub file) are fine.
        const pasted = await remote(connection({ hostKey: `${hostKey} root@gpu-box\n` }), "echo pasted");
        expect(pasted.stdout).toBe("pasted\n");
    });

    it("a wrong connection.hostKey fails before authentication, retried and worded as upstream's dial error", async () => {
        const before = readFileSync(sshd.logPath, "utf8")
            .split("\n")
            .filter((l) => l.includes("Accepted publickey")).length;
        const error = await remote(connection({ hostKey: wrongHostKey() }), "echo should-not-run").then(
            () => undefined,
            (e: Error) => e,
        );
        expect(error?.message).toBe("after 2 failed attempts: ssh: handshake failed: ssh: host key mismatch");
        const after = readFileSync(sshd.logPath, "utf8")
            .split("\n")
            .filter((l) => l.includes("Accepted publickey")).length;
        expect(after).toBe(before);
    });

    it("a host key that is no OpenSSH public key line fails as upstream does (failed to parse host key)", async () => {
        await expect(remote(connection({ hostKey: "ssh-ed25519 not-base64!" }), "true")).rejects.toThrow(
            /^failed to parse host key/,
        );
    });

    it("without connection.hostKey the server is not verified, as upstream", async () => {
        const result = await remote(connection(), "echo unverified");
        expect(result.stdout).toBe("unverified\n");
    });

    it("the private key is in no file while ssh runs, nor after", async () => {
        let during: string[] = [];
        await commandSsh.withSsh(connection({ hostKey }), spawner, async (ssh) => {
            const running = ssh.run("ssh", [], [`${ssh.user}@${ssh.host}`, "sleep 2"], {});
            await new Promise((r) => setTimeout(r, 1000));
            during = keyFilesNow();
            return running;
        });
        expect(during).toEqual([]);
        expect(keyFilesNow()).toEqual([]);
    });

    it("a SIGKILLed process mid-connection leaves no key file and no stacktune-ssh directory", async () => {
        const script = [
            `const s = require(${JSON.stringify(join(__dirname, "../../scripts/lib/command-ssh.js"))});`,
            `const cp = require("node:child_process");`,
            `const conn = JSON.parse(process.argv[1]);`,
            `s.withSsh(conn, (argv) => new Promise((r) => { cp.spawn(argv[0], argv.slice(1), { stdio: "inherit" }).on("close", r); }),`,
            `  (ssh) => ssh.run("ssh", [], [ssh.user + "@" + ssh.host, "echo connected; sleep 5"], {}));`,
        ].join("\n");
        const before = readdirSync(tmpdir()).filter((n) => n.startsWith("stacktune-ssh-"));
        const child = spawn(process.execPath, ["-e", script, JSON.stringify(connection({ hostKey }))], {
            stdio: ["ignore", "pipe", "inherit"],
        });
        await new Promise<void>((resolve) =>
            child.stdout.on("data", (b: Buffer) => b.toString().includes("connected") && resolve()),
        );
        expect(keyFilesNow()).toEqual([]);
        child.kill("SIGKILL");
        // "exit", not "close": the orphaned ssh still holds the inherited stdout.
        await new Promise((r) => child.once("exit", r));
        expect(keyFilesNow()).toEqual([]);
        expect(readdirSync(tmpdir()).filter((n) => n.startsWith("stacktune-ssh-"))).toEqual(before);
    });

    it("scp reads an operand starting with - as a file name, never as an option", async () => {
        const marker = join(tmpdir(), `stacktune-injected-${process.pid}`);
        const local = join(keyDir, "client_ed25519.pub");
        await commandSsh.withSsh(connection({ hostKey }), spawner, (ssh) =>
            ssh.run("scp", ["-q"], [local, `-oProxyCommand=touch ${marker}`, `${ssh.user}@${ssh.host}:`], {}),
        );
        expect(existsSync(marker)).toBe(false);
        rmSync(marker, { force: true });
    });
});
