/**
 * The command provider's contract as stacktune meets it, through the real CLI and engine: a tiny
 * JavaScript program of @pulumi/command resources against a real OpenSSH server. Every assertion is
 * upstream pulumi-command v1.2.1 behaviour (provider/pkg/provider/remote/*.go), so the file passes on
 * the upstream provider and on the repo's stand-in alike (docs/TOOLCHAIN.md):
 * - stdout/stderr are plain in state even when stdin is a secret (only an output whose same-named
 *   input is secret is secret), while stdin and connection stay ciphertext;
 * - a failed command: `Process exited with status N: running "<cmd>":` and its whole output; locally
 *   `exit status N: running ...`; a connection lost mid-command: `wait: remote command exited
 *   without exit status or exit signal`;
 * - streamed output lines are ephemeral status lines, never diagnostics;
 * - an `environment` name sshd refuses fails the command;
 * - dial failures are retried dialErrorLimit times (`after N failed attempts: ...`), a wrong
 *   hostKey is one of them (`ssh: handshake failed: ssh: host key mismatch`);
 * - CopyToRemote (SFTP) copies a directory into a missing remotePath, keeps no file modes, and
 *   reads `~` as a plain directory name.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSshd, type Sshd } from "./fixtures/sshd";
import { copyProjectFiles, type PulumiProject } from "./helpers/project";

const REPO = resolve(__dirname, "..", "..");
const SIG = "4dabf18193072939515e22adb298388d";

/** One resource per scenario, chosen by the `scenario` config key (each `up` runs one). */
const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");
const config = new pulumi.Config();
const scenario = config.require("scenario");
const connection = {
    host: "127.0.0.1",
    port: config.requireNumber("port"),
    user: config.require("user"),
    privateKey: config.requireSecret("privateKey"),
    dialErrorLimit: config.getNumber("dialErrorLimit") ?? 2,
    perDialTimeout: 5,
    ...(config.get("hostKey") ? { hostKey: config.get("hostKey") } : {}),
};
const remote = (create, extra = {}) => new command.remote.Command(scenario, { connection, create, ...extra });
switch (scenario) {
    case "secret-stdin":
        remote("cat >/dev/null; echo plain-out; echo plain-err >&2", { stdin: pulumi.secret("stdin-canary") });
        break;
    case "fails":
        remote("seq 1 80; echo to-stderr >&2; exit 3");
        break;
    case "local-fails":
        new command.local.Command(scenario, { create: "echo local-out; exit 4" });
        break;
    case "lost":
        remote("echo before-loss; kill -KILL $PPID; sleep 5");
        break;
    case "streams":
        remote("echo streamed-line-1; echo streamed-line-2 >&2");
        break;
    case "env":
        remote("echo accepted=$STACKTUNE_ACCEPTED", { environment: { STACKTUNE_ACCEPTED: "yes" } });
        break;
    case "env-refused":
        remote("echo should-not-run", { environment: { STACKTUNE_REFUSED: "no" } });
        break;
    case "copy":
        new command.remote.CopyToRemote("dir", { connection, source: new pulumi.asset.FileArchive(config.require("payload")), remotePath: "copied/missing" });
        new command.remote.CopyToRemote("tilde", { connection, source: new pulumi.asset.StringAsset("tilde-text"), remotePath: "~/tilde.txt" });
        break;
    default:
        throw new Error("unknown scenario " + scenario);
}
`;

let sshd: Sshd;
let project: PulumiProject;
let hostKey: string;
let stackCount = 0;

/** `pulumi up` of one scenario in a fresh stack; returns the CLI result and the stack's exported resources. */
async function up(
    scenario: string,
    config: Record<string, string> = {},
): Promise<{ code: number; output: string; resources: Resource[]; events: EngineEvent[] }> {
    const stack = `s${++stackCount}`;
    expect((await project.pulumi(["stack", "init", stack])).code).toBe(0);
    const settings = { scenario, port: String(sshd.port), user: sshd.user, hostKey, ...config };
    for (const [key, value] of Object.entries(settings)) {
        expect((await project.pulumi(["config", "set", "--stack", stack, key, value])).code).toBe(0);
    }
    expect(
        (
            await project.pulumi(["config", "set", "--secret", "--stack", stack, "privateKey"], {
                input: sshd.privateKey,
            })
        ).code,
    ).toBe(0);
    const eventLog = join(project.cliTmp, `${stack}.events.jsonl`);
    // --event-log (the engine events as JSON lines, ephemeral flag included) is a debug command.
    const result = await project.pulumi(["up", "--yes", "--stack", stack, "--event-log", eventLog], {
        env: { PULUMI_DEBUG_COMMANDS: "true" },
    });
    const exported = JSON.parse((await project.pulumi(["stack", "export", "--stack", stack])).output) as {
        deployment: { resources?: Resource[] };
    };
    const events = readFileSync(eventLog, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as EngineEvent);
    return { code: result.code, output: result.output, resources: exported.deployment.resources ?? [], events };
}
interface Resource {
    type: string;
    outputs?: Record<string, unknown>;
}
interface EngineEvent {
    diagnosticEvent?: { message: string; ephemeral?: boolean; severity: string };
}
const isCiphertext = (v: unknown): boolean => typeof v === "object" && v !== null && SIG in v && "ciphertext" in v;
const commandOf = (resources: Resource[]): Record<string, unknown> =>
    resources.find((r) => r.type.startsWith("command:"))?.outputs ?? {};

beforeAll(async () => {
    sshd = await startSshd({ acceptEnv: ["STACKTUNE_ACCEPTED"] });
    hostKey = sshd.knownHostsLine.split(" ").slice(1).join(" ");
    project = copyProjectFiles(REPO, "command-provider", {
        "Pulumi.yaml": "name: command-contract\nruntime: nodejs\nmain: index.js\n",
        "index.js": PROGRAM,
        "package.json": JSON.stringify({ name: "command-contract", main: "index.js" }),
    });
});
afterAll(async () => {
    await sshd?.stop();
});

describe("command provider contract (real engine, real sshd; upstream behaviour)", () => {
    it("stdout and stderr stay plain in state when stdin is a secret; stdin and connection are ciphertext", async () => {
        const r = await up("secret-stdin");
        expect(r.code, r.output).toBe(0);
        const outputs = commandOf(r.resources);
        expect(outputs.stdout).toBe("plain-out");
        expect(outputs.stderr).toBe("plain-err");
        expect(isCiphertext(outputs.stdin)).toBe(true);
        expect(isCiphertext(outputs.connection)).toBe(true);
        expect(JSON.stringify(r.resources)).not.toContain("stdin-canary");
    });

    it("a failed remote command: Process exited with status N, the command, and its whole output", async () => {
        const r = await up("fails");
        expect(r.code, r.output).not.toBe(0);
        expect(r.output).toContain('Process exited with status 3: running "seq 1 80; echo to-stderr >&2; exit 3":\n');
        // The whole output, first line included (not a tail of it). stdout and stderr are two SSH
        // streams, so the stderr line may come anywhere among stdout's (upstream put it first at load 14).
        expect(r.output.replace(/^\s*to-stderr\n/gm, "")).toMatch(/exit 3":\n\s*1\n\s*2\n\s*3\n/);
        expect(r.output).toContain("80");
        expect(r.output).toContain("to-stderr");
        expect(r.output).not.toContain(`${sshd.user}@127.0.0.1`);
    });

    it("a failed local command: exit status N", async () => {
        const r = await up("local-fails");
        expect(r.code, r.output).not.toBe(0);
        expect(r.output).toContain('exit status 4: running "echo local-out; exit 4":\n');
        expect(r.output).toContain("local-out");
    });

    it("a connection lost mid-command: wait: remote command exited without exit status or exit signal", async () => {
        const r = await up("lost");
        expect(r.code, r.output).not.toBe(0);
        expect(r.output).toContain(
            'wait: remote command exited without exit status or exit signal: running "echo before-loss; kill -KILL $PPID; sleep 5":',
        );
    });

    it("output lines stream as ephemeral status lines, none of them a diagnostic", async () => {
        const r = await up("streams");
        expect(r.code, r.output).toBe(0);
        const shown = r.events
            .map((e) => e.diagnosticEvent)
            .filter((d) => d !== undefined && d.severity !== "debug" && /streamed-line-/.test(d.message));
        expect(shown.length).toBeGreaterThanOrEqual(2);
        expect(shown.filter((d) => d?.ephemeral !== true)).toEqual([]);
        const diagnostics = r.output.includes("Diagnostics:") ? r.output.slice(r.output.indexOf("Diagnostics:")) : "";
        expect(diagnostics).not.toContain("streamed-line-");
    });

    it("environment reaches the command when sshd accepts the name; a refused name fails the command", async () => {
        const ok = await up("env");
        expect(ok.code, ok.output).toBe(0);
        expect(commandOf(ok.resources).stdout).toBe("accepted=yes");
        const refused = await up("env-refused");
        expect(refused.code, refused.output).not.toBe(0);
        expect(refused.output).toContain('could not set environment variable "STACKTUNE_REFUSED"');
    });

    it("dial failures are retried dialErrorLimit times; a wrong hostKey is one (host key mismatch), nothing logged in", async () => {
        // A privileged port nothing here listens on. A freed ephemeral port is no closed port: the
        // engine's own gRPC server once took it, and upstream's dial then waited on its handshake for ever.
        const port = 1;
        const refused = await up("streams", { port: String(port), dialErrorLimit: "2" });
        expect(refused.code, refused.output).not.toBe(0);
        expect(refused.output).toContain(
            `after 2 failed attempts: dial tcp 127.0.0.1:${port}: connect: connection refused`,
        );

        const logins = (): number =>
            readFileSync(sshd.logPath, "utf8")
                .split("\n")
                .filter((l) => l.includes("Accepted publickey")).length;
        const before = logins();
        const d = mkdtempSync(join(tmpdir(), "stacktune-otherkey-"));
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(d, "k")]);
        const other = readFileSync(join(d, "k.pub"), "utf8").trim();
        const mismatch = await up("streams", { hostKey: other, dialErrorLimit: "1" });
        expect(mismatch.code, mismatch.output).not.toBe(0);
        expect(mismatch.output).toContain("after 1 failed attempts: ssh: handshake failed: ssh: host key mismatch");
        expect(logins()).toBe(before);
    });

    it("CopyToRemote: a directory lands inside a missing remotePath, modes are not kept, ~ is a plain name", async () => {
        const payload = join(mkdtempSync(join(tmpdir(), "stacktune-payload-")), "payload");
        mkdirSync(payload);
        writeFileSync(join(payload, "run.sh"), "#!/bin/sh\necho hi\n");
        chmodSync(join(payload, "run.sh"), 0o755);
        const r = await up("copy", { payload });
        expect(r.code, r.output).toBe(0);
        const stat = (p: string): string => spawnSync("stat", ["-c", "%a %F", p], { encoding: "utf8" }).stdout.trim();
        expect(stat(join(sshd.home, "copied/missing/payload/run.sh"))).toBe("644 regular file");
        expect(readFileSync(join(sshd.home, "copied/missing/payload/run.sh"), "utf8")).toBe("#!/bin/sh\necho hi\n");
        expect(readFileSync(join(sshd.home, "~/tilde.txt"), "utf8")).toBe("tilde-text");
    });
});
