// stacktune: is there an SSH server at host:port? Run on the operator's machine by `node` (the
// command text of src/hosts/reach.ts), before any remote command and before any host-side clean-up.
// Usage: node <this file> <user@host:port> <host> <port> <deadline s> <attempt s> <what to check>
// Exit 0: the server sent its SSH identification line ("SSH-2.0-…") within the deadline.
// Exit 1: it did not; stderr names the address, the last reason and what to check.
// Why a program of its own: the command provider bounds only the TCP connect (perDialTimeout); its
// SSH handshake has no deadline, so a port that accepts TCP and never speaks SSH hangs it forever.
// Every attempt here is bounded (connect and identification line) and so is the whole wait.
"use strict";
const net = require("node:net");

const [label, host, portText, deadlineText, attemptText, hint] = process.argv.slice(2);
const port = Number(portText);
const deadlineMs = Number(deadlineText) * 1000;
const attemptMs = Number(attemptText) * 1000;
const RETRY_PAUSE_MS = 2000;

/** One attempt: resolves with the server's identification line, rejects with a reason a person reads. */
function attempt(timeoutMs) {
    return new Promise((resolve, reject) => {
        let received = "";
        let connected = false;
        const socket = net.createConnection({ host, port });
        const timer = setTimeout(() => {
            socket.destroy();
            reject(
                new Error(
                    connected
                        ? `it accepted the TCP connection but sent no SSH identification line within ${timeoutMs / 1000} s (not an SSH server, or one that hangs)`
                        : `no TCP connection within ${timeoutMs / 1000} s (the machine is down, or a firewall drops the packets)`,
                ),
            );
        }, timeoutMs);
        socket.once("connect", () => {
            connected = true;
        });
        socket.on("data", (chunk) => {
            received += chunk.toString("latin1");
            // RFC 4253 4.2: the server may send other lines before its "SSH-" version line.
            const lines = received.split("\n");
            const version = lines.slice(0, -1).find((l) => l.startsWith("SSH-"));
            if (version !== undefined) {
                clearTimeout(timer);
                socket.destroy();
                resolve(version.trim());
            } else if (received.length > 8192) {
                clearTimeout(timer);
                socket.destroy();
                reject(new Error(`it answered, but not with SSH (it sent ${JSON.stringify(received.slice(0, 60))})`));
            }
        });
        socket.once("error", (err) => {
            clearTimeout(timer);
            reject(
                new Error(
                    err.code === "ECONNREFUSED"
                        ? "connection refused (nothing listens on that port)"
                        : `${err.code ?? err.message}`,
                ),
            );
        });
        socket.once("close", () => {
            clearTimeout(timer);
            reject(new Error("it closed the connection before sending an SSH identification line"));
        });
    });
}

async function main() {
    const start = Date.now();
    let attempts = 0;
    let reason = "";
    for (;;) {
        const left = deadlineMs - (Date.now() - start);
        if (left <= 0) break;
        attempts += 1;
        try {
            const version = await attempt(Math.max(1000, Math.min(attemptMs, left)));
            console.log(`stacktune: ${label} answers SSH (${version})`);
            return 0;
        } catch (err) {
            reason = err.message;
        }
        if (deadlineMs - (Date.now() - start) <= RETRY_PAUSE_MS) break;
        await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
    }
    console.error(
        `stacktune: cannot reach SSH on ${label} within ${deadlineMs / 1000} s (${attempts} attempt(s)): ${reason}. ` +
            `Check ${hint}`,
    );
    return 1;
}

main().then((code) => process.exit(code));
