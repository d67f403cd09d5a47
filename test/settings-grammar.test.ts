import { describe, expect, it } from "vitest";
import { parseSettings } from "../src/settings";
import { allSecrets, issuesOf, merge, sshTarget } from "./settings/fixtures";

type Raw = Record<string, unknown>;

const gpu: Raw = { target: sshTarget };
/** Two machines of one run; machine 0's host is where the workers find the rendezvous. */
const cluster = (hosts: Raw[]): Raw => ({
    target: { kind: "ssh", user: "stacktune", hosts: hosts.map((h) => ({ hostKey: sshTarget.hostKey, ...h })) },
    distributed: { strategy: "ddp" },
    hub: { localDir: "/srv/models/mh" },
});
const twoMachines = (first: Raw = {}, second: Raw = {}): Raw =>
    cluster([
        { host: "10.0.0.11", ...first },
        { host: "10.0.0.12", ...second },
    ]);

const HOST = "must be a host name (RFC 1123, such as gpu-box.example.com) or an IP address (such as 10.0.0.11)";
const USER = "must be a POSIX user name such as ubuntu: lower-case letters, digits, _ and -, at most 32 characters";
const IFACE =
    "must be Linux interface names such as eth0 or ens5,ens6 (comma-separated; each at most 15 letters, digits, _, . or -)";
const CONTROL = "must not contain control characters (newline, tab, NUL, escape)";
const WANDB = "must be a W&B project name: at most 128 characters, none of / \\ # ? % :";

/** [what, settings, the key the error names, what it says]. */
const refused: [string, Raw, string, string][] = [
    // The issue's injection: machine 0's host went unquoted into every worker's launch.sh.
    [
        "a command substitution as machine 0’s host",
        twoMachines({ host: "gpu0$(touch /tmp/x)" }),
        "target.hosts[0].host",
        HOST,
    ],
    [
        "a command substitution as the host",
        merge(gpu, { target: { host: "gpu0$(touch /tmp/x)" } }),
        "target.host",
        HOST,
    ],
    ["an ssh option as the host", merge(gpu, { target: { host: "-oProxyCommand=touch /tmp/x" } }), "target.host", HOST],
    ["a host with an empty label", merge(gpu, { target: { host: "gpu..example.com" } }), "target.host", HOST],
    [
        "a host label over 63 characters",
        merge(gpu, { target: { host: `${"a".repeat(64)}.example.com` } }),
        "target.host",
        HOST,
    ],
    [
        "a host name over 253 characters",
        merge(gpu, { target: { host: Array.from({ length: 64 }, () => "abc").join(".") } }),
        "target.host",
        HOST,
    ],
    [
        "a newline in a cluster address",
        twoMachines({ clusterAddress: "10.0.0.1\nreboot" }),
        "target.hosts[0].clusterAddress",
        HOST,
    ],
    ["a backtick in a worker’s host", twoMachines({}, { host: "gpu1`id`" }), "target.hosts[1].host", HOST],
    ["a user with a semicolon", merge(gpu, { target: { user: "root;id" } }), "target.user", USER],
    ["an ssh option as the user", merge(gpu, { target: { user: "-oProxyCommand=x" } }), "target.user", USER],
    ["an upper-case user", merge(gpu, { target: { user: "Admin" } }), "target.user", USER],
    ["a user over 32 characters", merge(gpu, { target: { user: "u".repeat(33) } }), "target.user", USER],
    ["a command substitution as a machine’s user", twoMachines({}, { user: "$(id)" }), "target.hosts[1].user", USER],
    [
        "an interface with a semicolon",
        merge(twoMachines(), { distributed: { socketInterface: "eth0;id" } }),
        "distributed.socketInterface",
        IFACE,
    ],
    [
        "an interface with a space",
        merge(twoMachines(), { distributed: { socketInterface: "eth0 eth1" } }),
        "distributed.socketInterface",
        IFACE,
    ],
    [
        "an interface name over 15 characters",
        merge(twoMachines(), { distributed: { socketInterface: "averyverylongif0" } }),
        "distributed.socketInterface",
        IFACE,
    ],
    // GLOO_SOCKET_IFNAME takes exact names: NCCL's ^/= prefixes would break gloo.
    [
        "an NCCL exclusion prefix",
        merge(twoMachines(), { distributed: { socketInterface: "^docker" } }),
        "distributed.socketInterface",
        IFACE,
    ],
    [
        "a newline in the private key path",
        merge(gpu, { target: { privateKeyPath: "~/.ssh/id\ntouch /tmp/x" } }),
        "target.privateKeyPath",
        CONTROL,
    ],
    [
        "a NUL in the venv path",
        merge(gpu, { runtime: { kind: "venv", path: "/opt/venv\u0000x" } }),
        "runtime.path",
        CONTROL,
    ],
    [
        "a carriage return in the python",
        merge(gpu, { runtime: { kind: "venv", python: "python3\r" } }),
        "runtime.python",
        CONTROL,
    ],
    ["an escape sequence in the model id", merge(gpu, { model: { id: "me/model\u001b[2J" } }), "model.id", CONTROL],
    ["a newline in the model revision", merge(gpu, { model: { revision: "main\nx" } }), "model.revision", CONTROL],
    ["a tab in the dataset source", merge(gpu, { dataset: { source: "data\t.jsonl" } }), "dataset.source", CONTROL],
    [
        "a DEL in the conversations field",
        merge(gpu, { dataset: { conversationsField: "conv\u007f" } }),
        "dataset.conversationsField",
        CONTROL,
    ],
    [
        "a newline in the W&B project",
        merge(gpu, { tracking: { kind: "wandb", project: "p\nx" } }),
        "tracking.project",
        WANDB,
    ],
    [
        "a slash in the W&B project",
        merge(gpu, { tracking: { kind: "wandb", project: "team/project" } }),
        "tracking.project",
        WANDB,
    ],
    [
        "a W&B project over 128 characters",
        merge(gpu, { tracking: { kind: "wandb", project: "p".repeat(129) } }),
        "tracking.project",
        WANDB,
    ],
    [
        "a path longer than PATH_MAX",
        merge(gpu, { runtime: { kind: "venv", path: `/${"a".repeat(4096)}` } }),
        "runtime.path",
        "must be at most 4096 character(s)",
    ],
    [
        "a target module with a newline",
        merge(gpu, { lora: { targetModules: ["q_proj\nx"] } }),
        "lora.targetModules[0]",
        "must be a module name such as q_proj or model.layers.0.mlp",
    ],
];

describe("host names, users, interfaces and paths follow their real grammar", () => {
    it.each(refused)("%s is refused naming the key", (_, raw, key, says) => {
        expect(issuesOf(raw)).toEqual([{ path: key, message: `${says}; change stacktune:${key}` }]);
    });

    it.each(["gpu-box.example.internal", "GPU-Box", "localhost", "10.0.0.11", "::1", "fe80::1", "2001:db8::7"])(
        "host %j is accepted",
        (host) => {
            expect(parseSettings(merge(gpu, { target: { host } }), allSecrets).target).toMatchObject({ host });
        },
    );

    it.each(["ubuntu", "_svc", "build-bot$", "a_1", "u".repeat(32)])("user %j is accepted", (user) => {
        expect(parseSettings(merge(gpu, { target: { user } }), allSecrets).target).toMatchObject({ user });
    });

    it.each(["ens5", "lo", "eth0,eth1", "enp3s0f1.100", "br-1a2b3c"])("interface %j is accepted", (socketInterface) => {
        expect(
            parseSettings(merge(twoMachines(), { distributed: { socketInterface } }), allSecrets).distributed
                .socketInterface,
        ).toBe(socketInterface);
    });

    it("paths, revisions and names with spaces, quotes and unicode are accepted (they reach shells only quoted)", () => {
        const settings = parseSettings(
            merge(gpu, {
                runtime: { kind: "venv", path: "/opt/my venvs/it's", python: "/usr/bin/python3.11" },
                model: { id: "/models/Llama 3 (8B)", revision: "v1.0" },
                dataset: { source: "/data/中文 $HOME.jsonl" },
                tracking: { kind: "wandb", project: "my project ✓" },
            }),
            allSecrets,
        );
        expect(settings.runtime).toEqual({ kind: "venv", path: "/opt/my venvs/it's", python: "/usr/bin/python3.11" });
        expect(settings.dataset.source).toBe("/data/中文 $HOME.jsonl");
    });
});
