// ssh targets pin each machine's SSH host key: without it, whoever answers on the host's address
// would receive the job's secrets. The error says how to get the key and where to put it.
import { describe, expect, it } from "vitest";
import { parseSettings } from "../src/settings";
import { allSecrets, issuesOf } from "./settings/fixtures";

const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb";
const KEY_B = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBExample= gpu-b";
const one = { kind: "ssh", host: "gpu-box.example.internal", user: "stacktune" };
const two = {
    kind: "ssh",
    user: "stacktune",
    hosts: [{ host: "gpu-a.example.internal" }, { host: "gpu-b.example.internal" }],
};
const HOW =
    "run `ssh-keyscan -t ed25519 <host>`, check that `ssh-keygen -lf` of its output shows the fingerprint the machine itself shows (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on it), and set";

describe("ssh host keys", () => {
    it("one machine: target.hostKey is kept as written (comment included)", () => {
        const settings = parseSettings({ target: { ...one, hostKey: `${KEY_A} gpu-box` } }, allSecrets);
        expect(settings.target).toMatchObject({ kind: "ssh", hostKey: `${KEY_A} gpu-box` });
    });

    it("one machine without target.hostKey fails, saying how to get the key", () => {
        const issue = issuesOf({ target: one }).find((i) => i.path === "target.hostKey");
        expect(issue?.message).toBe(`missing; ${HOW} stacktune:target.hostKey to its \`ssh-ed25519 AAAA…\` line`);
    });

    it("several machines: each entry of target.hosts has its own hostKey", () => {
        const settings = parseSettings(
            {
                target: {
                    ...two,
                    hosts: [
                        { host: "gpu-a.example.internal", hostKey: KEY_A },
                        { host: "gpu-b.example.internal", hostKey: KEY_B },
                    ],
                },
            },
            allSecrets,
        );
        expect(settings.target.kind === "ssh" && settings.target.hosts?.map((h) => h.hostKey)).toEqual([KEY_A, KEY_B]);
    });

    it("a machine of target.hosts without hostKey fails naming its entry", () => {
        const issues = issuesOf({
            target: {
                ...two,
                hosts: [{ host: "gpu-a.example.internal", hostKey: KEY_A }, { host: "gpu-b.example.internal" }],
            },
        });
        expect(issues.map((i) => i.path)).toEqual(["target.hosts[1].hostKey"]);
        expect(issues[0]?.message).toBe(
            `missing; ${HOW} stacktune:target.hosts[1].hostKey to its \`ssh-ed25519 AAAA…\` line`,
        );
    });

    it("target.hostKey next to target.hosts fails: every machine has its own key", () => {
        const issues = issuesOf({
            target: { ...two, hostKey: KEY_A, hosts: two.hosts.map((h) => ({ ...h, hostKey: KEY_A })) },
        });
        expect(issues.map((i) => [i.path, i.message])).toEqual([
            [
                "target.hostKey",
                "every machine has its own host key: set it on each entry as stacktune:target.hosts[N].hostKey and remove target.hostKey",
            ],
        ]);
    });

    it("a host key that is not an OpenSSH public key line fails", () => {
        for (const bad of [
            "SHA256:INt+FIkUwf31W7oJWun/1Rl1QMJpbrttTwSHtKWJS+Q",
            "[gpu-box]:22 ssh-ed25519 AAAAC3Nz",
            "ssh-ed25519",
            "ssh-ed25519 AAAA\nssh-rsa AAAA",
        ]) {
            const issue = issuesOf({ target: { ...one, hostKey: bad } }).find((i) => i.path === "target.hostKey");
            expect(issue?.message, bad).toBe(
                "must be one OpenSSH public key line such as `ssh-ed25519 AAAA…` (ssh-keyscan prints it after the host name; leave the host name out); change stacktune:target.hostKey",
            );
        }
    });
});
