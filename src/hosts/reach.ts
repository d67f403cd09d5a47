import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { JobHost, shellQuote } from "./command";

/**
 * The reachability probe, run with `node` on the operator's machine: node is there wherever this
 * Node.js program runs, and a program of its own bounds the wait whatever the command provider does
 * (upstream bounds only the TCP connect, not the SSH handshake). The probe's command runs the file
 * by its path in the checkout: a failed command's error quotes the command text, and the probe's
 * 4 KB source inlined there would fill every "cannot reach" error.
 */
const SSH_PROBE_FILE = path.join(__dirname, "ssh-probe.js");
const SSH_PROBE = fs.readFileSync(SSH_PROBE_FILE, "utf8");
const TEARDOWN_SCRIPT = fs.readFileSync(path.join(__dirname, "teardown.sh"), "utf8");

/** Where a probe looks and how long it may take. */
export interface SshProbe {
    host: string;
    port: number;
    user: string;
    /** The whole wait, in seconds: a fresh cloud instance needs minutes before sshd answers. */
    deadlineSeconds: number;
    /** One attempt (TCP connect, then the server's SSH identification line), in seconds. */
    attemptSeconds: number;
    /** What the person should check when it fails ("that the machine is up, …"). */
    hint: string;
}

/** `user@host:port`, as every message about a connection names it. */
export function sshLabel(p: Pick<SshProbe, "host" | "port" | "user">): string {
    return `${p.user}@${p.host}:${p.port}`;
}

/** `file`, checked to be a plain absolute path (it goes into a command text, quoted) of an existing file. */
function probeFile(file: string): string {
    if (
        !path.isAbsolute(file) ||
        // eslint-disable-next-line no-control-regex
        /[\u0000-\u001f\u007f]/.test(file) ||
        !fs.statSync(file, { throwIfNoEntry: false })?.isFile()
    ) {
        throw new Error(
            `the SSH probe ${JSON.stringify(file)} is not a readable file of the checkout; reinstall stacktune (npm ci) or run it from its checkout`,
        );
    }
    return file;
}

/** The command text of the probe: exits 0 once the server speaks SSH, else 1 naming host:port and {@link SshProbe.hint}. */
export function sshProbeCommand(p: SshProbe): string {
    for (const [key, value] of Object.entries({
        deadlineSeconds: p.deadlineSeconds,
        attemptSeconds: p.attemptSeconds,
        port: p.port,
    })) {
        if (!Number.isInteger(value) || value < 1)
            throw new Error(`ssh probe ${key} must be a whole number >= 1 (got ${value})`);
    }
    return [
        "node",
        probeFile(SSH_PROBE_FILE),
        sshLabel(p),
        p.host,
        String(p.port),
        String(p.deadlineSeconds),
        String(p.attemptSeconds),
        p.hint,
    ]
        .map(shellQuote)
        .join(" ");
}

/**
 * How long the probe before a host's first remote command waits: the connection's own attempt
 * budget (dialErrorLimit × perDialTimeout), one home for "how long may this host take to answer".
 */
export function reachDeadlineSeconds(connection: { dialErrorLimit: number; perDialTimeout: number }): number {
    return connection.dialErrorLimit * connection.perDialTimeout;
}

/**
 * The probe before a teardown: two attempts. A host that is gone does not come back while we wait,
 * and teardown must finish in seconds, not in a first boot's minutes.
 */
export const TEARDOWN_PROBE_ATTEMPTS = 2;

/** The connection fields a probe and a teardown need, resolved. */
export interface ResolvedConnection {
    host: string;
    port: number;
    user: string;
    hostKey: string;
    dialErrorLimit: number;
    perDialTimeout: number;
}

export function resolvedConnection(
    connection: command.types.input.remote.ConnectionArgs,
): pulumi.Output<ResolvedConnection> {
    return pulumi
        .all([
            connection.host,
            connection.port,
            connection.user,
            connection.hostKey,
            connection.dialErrorLimit,
            connection.perDialTimeout,
        ])
        .apply(([host, port, user, hostKey, dialErrorLimit, perDialTimeout]) => {
            if (hostKey === undefined)
                throw new Error(`the connection to ${host} has no host key: every stacktune connection verifies one`);
            return {
                host,
                port: port ?? 22,
                user: user ?? "root",
                hostKey,
                dialErrorLimit: dialErrorLimit ?? 10,
                perDialTimeout: perDialTimeout ?? 15,
            };
        });
}

/**
 * The reachability step of a host: a local command that runs {@link sshProbeCommand} before the
 * host's first remote command (make that command depend on it), so an unreachable host or a port
 * that never speaks SSH fails `pulumi up` within the connection's own bound, naming host:port.
 * The command text holds no secret: the host key is public (unsecret even when derived from one).
 */
export function sshReachability(
    name: string,
    connection: command.types.input.remote.ConnectionArgs,
    hint: string,
    opts: pulumi.CustomResourceOptions,
): command.local.Command {
    const create = pulumi.unsecret(
        resolvedConnection(connection).apply((c) =>
            sshProbeCommand({ ...c, deadlineSeconds: reachDeadlineSeconds(c), attemptSeconds: c.perDialTimeout, hint }),
        ),
    );
    return new command.local.Command(
        name,
        { create, interpreter: ["/bin/bash", "-c"], addPreviousOutputInEnv: false },
        opts,
    );
}

/**
 * The local command text that runs `script` on the host over SSH (the key on stdin) after a probe
 * of {@link TEARDOWN_PROBE_ATTEMPTS} attempts, and skips it, saying so and what stays
 * (`leftBehind`), when the host does not answer SSH or refuses the login (teardown.sh).
 */
// The probe's source is inlined here, unlike in sshProbeCommand: a delete runs with the inputs stored
// when the resource was last created or updated, possibly from a checkout that has moved since.
export function teardownCommand(c: ResolvedConnection, script: string, leftBehind: string): string {
    return [
        "bash",
        "-c",
        TEARDOWN_SCRIPT,
        "stacktune-teardown",
        sshLabel(c),
        c.host,
        String(c.port),
        c.user,
        c.hostKey,
        String(TEARDOWN_PROBE_ATTEMPTS * c.perDialTimeout),
        String(c.perDialTimeout),
        leftBehind,
        SSH_PROBE,
        script,
    ]
        .map(shellQuote)
        .join(" ");
}

export interface HostCleanupArgs {
    /** The clean-up, run on the host (over SSH, or here for the local target) when Pulumi deletes this. */
    script: string;
    /** What stays behind on a machine that is skipped but still exists, said to the person. */
    leftBehind: string;
    /** Replace (and so clean up, then probe again) when these change. */
    triggers: unknown[];
}

/**
 * Host-side clean-up that always lets teardown finish. The command provider runs a delete with the
 * resource's stored inputs, and a remote delete dials the host first: against a host that is gone
 * (terminated after a successful run, spot-interrupted, powered off by the watchdog) or refusing
 * logins (/run/nologin), the dial fails or hangs and `up`, `stacktune down` and `pulumi destroy`
 * leave everything behind. So the clean-up is a local command: its delete probes the host with a
 * bound (teardown.sh) and skips, with a line saying so, a clean-up that is moot; its create is the
 * host's reachability step for what depends on it. The SSH key reaches it only on stdin.
 */
export function hostCleanup(
    name: string,
    host: JobHost,
    args: HostCleanupArgs,
    opts: pulumi.CustomResourceOptions,
): command.local.Command {
    const common = { interpreter: ["/bin/bash", "-c"], addPreviousOutputInEnv: false, triggers: args.triggers };
    if (host.connection === undefined) {
        return new command.local.Command(name, { ...common, delete: args.script }, opts);
    }
    const connection = resolvedConnection(host.connection);
    const create = pulumi.unsecret(
        connection.apply((c) =>
            sshProbeCommand({
                ...c,
                deadlineSeconds: reachDeadlineSeconds(c),
                attemptSeconds: c.perDialTimeout,
                hint: `that the machine is up and its sshd listens on port ${c.port}`,
            }),
        ),
    );
    const del = pulumi.unsecret(connection.apply((c) => teardownCommand(c, args.script, args.leftBehind)));
    return new command.local.Command(
        name,
        { ...common, create, delete: del, stdin: pulumi.secret(pulumi.output(host.connection.privateKey ?? "")) },
        { ...opts, additionalSecretOutputs: ["stdin"] },
    );
}
