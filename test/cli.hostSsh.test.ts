// The ssh invocation of `stacktune status|logs`: the host key from the settings is verified (no
// trust on first use, no known_hosts written), and no setting can become an ssh option.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { hostSshArgs } from "../src/cli/stacktune/hostSsh";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb";

describe("stacktune's ssh to a host", () => {
    it("pins the settings' host key and writes no known_hosts", () => {
        const args = hostSshArgs(
            { user: "trainer", host: "192.0.2.10", port: 2222, keyPath: "/keys/id", hostKey: `${HOST_KEY} gpu-box` },
            "uptime",
        );
        expect(args).toEqual([
            "-i",
            "/keys/id",
            "-p",
            "2222",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "CheckHostIP=no",
            "-o",
            `KnownHostsCommand=/bin/echo * ${HOST_KEY}`,
            "-o",
            "HostKeyAlgorithms=ssh-ed25519",
            "-o",
            "LogLevel=ERROR",
            "--",
            "trainer@192.0.2.10",
            "uptime",
        ]);
    });

    it("a user starting with - is a user name, never an ssh option (-oProxyCommand)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-dash-"));
        const marker = path.join(dir, "injected");
        const args = hostSshArgs(
            {
                user: `-oProxyCommand=touch ${marker}`,
                host: "127.0.0.1",
                port: 1,
                keyPath: "/nonexistent",
                hostKey: HOST_KEY,
            },
            "true",
        );
        const run = spawnSync("ssh", args, { encoding: "utf8", timeout: 10_000 });
        expect(run.status).toBe(255);
        // As an option, `touch` would have run (creating `injected@127.0.0.1`).
        expect(fs.readdirSync(dir)).toEqual([]);
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
