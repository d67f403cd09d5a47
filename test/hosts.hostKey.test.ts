// The host key stacktune generates for an AWS instance: a real OpenSSH ed25519 key (OpenSSH reads
// it and derives the same public key), stable across `pulumi up` runs so the user-data never
// changes, and distinct per stack and machine; cloud-init receives it as `ssh_keys`.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { generatedHostKey, withHostKey } from "../src/hosts/hostKey";

const OPERATOR_KEY =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ-test\n-----END OPENSSH PRIVATE KEY-----\n";

function openSsh(args: string[], privateKey: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-hostkey-"));
    try {
        fs.writeFileSync(path.join(dir, "key"), privateKey, { mode: 0o600 });
        return execFileSync("ssh-keygen", [...args, "-f", path.join(dir, "key")], { encoding: "utf8" }).trim();
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("generated host key", () => {
    const key = generatedHostKey(OPERATOR_KEY, "aws-g5/experiment-host/0");

    it("is an OpenSSH ed25519 private key whose public key OpenSSH derives as the one pinned", () => {
        expect(key.privateKey).toMatch(
            /^-----BEGIN OPENSSH PRIVATE KEY-----\n([A-Za-z0-9+/=]{1,70}\n)+-----END OPENSSH PRIVATE KEY-----\n$/,
        );
        expect(key.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$/);
        expect(openSsh(["-y"], key.privateKey)).toBe(key.publicKey);
        expect(openSsh(["-l"], key.privateKey)).toMatch(/^256 SHA256:\S+ .*\(ED25519\)$/);
    });

    it("is the same on every run and differs per machine and per operator key", () => {
        expect(generatedHostKey(OPERATOR_KEY, "aws-g5/experiment-host/0")).toEqual(key);
        expect(generatedHostKey(`${OPERATOR_KEY}\n`, "aws-g5/experiment-host/0")).toEqual(key);
        expect(generatedHostKey(OPERATOR_KEY, "aws-g5/experiment-host/1").publicKey).not.toBe(key.publicKey);
        expect(generatedHostKey(OPERATOR_KEY.replace("test", "other"), "aws-g5/experiment-host/0").publicKey).not.toBe(
            key.publicKey,
        );
    });

    it("reaches cloud-init as ssh_keys appended to the rendered user-data", () => {
        const rendered = "#cloud-config\n# rendered\nruncmd:\n  - [true]\n";
        const userData = withHostKey(rendered, key);
        expect(userData.startsWith(rendered)).toBe(true);
        expect(YAML.parse(userData)).toEqual({
            runcmd: [[true]],
            ssh_keys: { ed25519_private: key.privateKey, ed25519_public: key.publicKey },
        });
        expect(() => withHostKey("#cloud-config\nssh_keys: {}\n", key)).toThrow(
            "the rendered user-data already sets ssh_keys",
        );
    });
});
