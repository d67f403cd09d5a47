// The program's own bound on every SSH wait (src/hosts/reach.ts), run for real with bash and node
// against local TCP servers: one that accepts and never speaks, one that speaks SSH and then hangs
// up (a host refusing logins while it shuts down), and a closed port (a host that is gone).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { sshProbeCommand, teardownCommand } from "../src/hosts/reach";
import { shellQuote } from "../src/render/shell";

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of servers.splice(0)) s.close();
});

/** A TCP server on 127.0.0.1 that does `onConnection` with each connection; resolves with its port. */
async function server(onConnection: (s: Socket) => void): Promise<number> {
    const srv = createServer((s) => {
        sockets.push(s);
        onConnection(s);
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    return (srv.address() as { port: number }).port;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
    const port = await server(() => undefined);
    await new Promise<void>((r) => servers.pop()?.close(() => r()));
    return port;
}

function bash(text: string, input = ""): Promise<{ code: number; stdout: string; stderr: string; seconds: number }> {
    const t0 = Date.now();
    return new Promise((resolve) => {
        const child = spawn("bash", ["-c", text], { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, seconds: (Date.now() - t0) / 1000 }));
        child.stdin.end(input);
    });
}

const probe = (port: number, deadlineSeconds = 3) =>
    sshProbeCommand({
        host: "127.0.0.1",
        port,
        user: "trainer",
        deadlineSeconds,
        attemptSeconds: 1,
        hint: "that sshd listens there",
    });

describe("the reachability probe before a host's first remote command", () => {
    it("fails within its deadline on a port that accepts TCP but never speaks SSH, naming user@host:port and what to check", async () => {
        const port = await server(() => undefined);
        const r = await bash(probe(port));
        expect(r.code).toBe(1);
        expect(r.seconds).toBeLessThan(6);
        expect(r.stderr).toContain(`stacktune: cannot reach SSH on trainer@127.0.0.1:${port} within 3 s`);
        expect(r.stderr).toContain("it accepted the TCP connection but sent no SSH identification line within 1 s");
        expect(r.stderr).toContain("Check that sshd listens there");
    });

    it("says the connection was refused when nothing listens", async () => {
        const port = await closedPort();
        const r = await bash(probe(port));
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`cannot reach SSH on trainer@127.0.0.1:${port} within 3 s`);
        expect(r.stderr).toContain("connection refused (nothing listens on that port)");
    });

    it("passes as soon as the server sends its SSH identification line, after any lines before it", async () => {
        const port = await server((s) => s.write("a banner line\r\nSSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"));
        const r = await bash(probe(port, 30));
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.trim()).toBe(
            `stacktune: trainer@127.0.0.1:${port} answers SSH (SSH-2.0-OpenSSH_9.2p1 Debian-2)`,
        );
        expect(r.seconds).toBeLessThan(5);
    });

    it("runs the probe from its file in the checkout, so a failure's error (which quotes the command) stays a few lines", async () => {
        const port = await closedPort();
        const text = probe(port);
        const file = resolve(__dirname, "..", "src", "hosts", "ssh-probe.js");
        expect(text.startsWith(`node ${shellQuote(file)} `), text).toBe(true);
        expect(text).not.toContain(
            readFileSync(file, "utf8")
                .split("\n")
                .find((l) => l.includes("require(")),
        );
        const r = await bash(text);
        expect(r.code).toBe(1);
        // The command provider's error for a failed local command: `exit status N: running "<cmd>":` and its output.
        const error = `exit status ${r.code}: running ${JSON.stringify(text)}:\n${r.stdout}${r.stderr}`;
        expect(error).toContain(`cannot reach SSH on trainer@127.0.0.1:${port} within 3 s`);
        expect(error.length).toBeLessThan(800);
    });

    it("refuses a deadline that is not a whole number of seconds", () => {
        expect(() =>
            sshProbeCommand({ host: "h", port: 22, user: "u", deadlineSeconds: 0, attemptSeconds: 1, hint: "" }),
        ).toThrow("ssh probe deadlineSeconds must be a whole number >= 1 (got 0)");
    });
});

describe("host-side clean-up on teardown", () => {
    const connection = (port: number) => ({
        host: "127.0.0.1",
        port,
        user: "trainer",
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeHostKeyOnlyForTheseTestsAAAAAAAAAAAAAAAA",
        dialErrorLimit: 3,
        perDialTimeout: 1,
    });
    const left = "If that machine is still in use, remove ~/.stacktune/runs/x there by hand.";

    it("skips a host that is gone (nothing listens) within its bound, saying so and what may stay, and exits 0", async () => {
        const port = await closedPort();
        const r = await bash(teardownCommand(connection(port), "touch /tmp/never", left), "KEY-CANARY\n");
        expect(r.code, r.stderr).toBe(0);
        expect(r.seconds).toBeLessThan(8);
        expect(r.stdout).toContain(
            `stacktune: skipped the clean-up on trainer@127.0.0.1:${port}: it does not answer SSH (cannot reach SSH on trainer@127.0.0.1:${port} within 2 s`,
        );
        expect(r.stdout).toContain(left);
        expect(`${r.stdout}${r.stderr}`).not.toContain("KEY-CANARY");
    });

    it("skips a host that speaks SSH but ends the session before the login (shutting down), and exits 0", async () => {
        const port = await server((s) => {
            s.write("SSH-2.0-OpenSSH_9.2p1\r\n");
            s.on("data", () => s.destroy());
        });
        const r = await bash(teardownCommand(connection(port), "touch /tmp/never", left), "KEY-CANARY\n");
        expect(r.code, r.stderr).toBe(0);
        expect(r.seconds).toBeLessThan(15);
        expect(r.stdout).toContain(
            `stacktune: skipped the clean-up on trainer@127.0.0.1:${port}: it refuses SSH logins, as a host that is shutting down does`,
        );
        expect(r.stdout).toContain(left);
    });
});
