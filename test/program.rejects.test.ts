// Bad combinations stop `pulumi up` before any resource exists, with a message that says what to set.
import * as fs from "fs";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";
import { installProgramMocks, runProgram } from "./helpers/pulumiMocks";
import { TEST_PUBLIC_KEY } from "./helpers/keys";

const awsTarget = {
    kind: "aws",
    sshCidr: "203.0.113.7/32",
    publicKey: TEST_PUBLIC_KEY,
    spot: { enabled: false },
};
const hubRepo = { mergedRepo: "me/model" };

async function attempt(
    config: Record<string, unknown>,
    secretKeys: string[] = [],
    stack = "rejects",
): Promise<{ error: string; registered: number }> {
    const mocks = await installProgramMocks({ stack, config, secretKeys });
    const error = await runProgram().then(
        () => "no error",
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    return { error, registered: mocks.resources.length };
}

describe("rejected before any resource", () => {
    it("an estimate over budget.maxUsd, giving the estimate and what to change", async () => {
        const r = await attempt(
            {
                "stacktune:target": awsTarget,
                "stacktune:hub": hubRepo,
                "stacktune:budget": { maxHours: 24, maxUsd: 10 },
                "stacktune:hfToken": "hf_x",
                "stacktune:sshPrivateKey": "key",
            },
            ["stacktune:hfToken", "stacktune:sshPrivateKey"],
        );
        expect(r.error).toMatch(
            /- stacktune:budget\.maxUsd: the run is estimated at 136\.13 USD \(.*g5\.12xlarge on-demand 5\.672 USD\/h.*\), over budget\.maxUsd 10: raise stacktune:budget\.maxUsd, lower budget\.maxHours, or use spot with a maxPrice$/,
        );
        expect(r.registered).toBe(0);
    });

    it("an SSH key path that cannot be read", async () => {
        const r = await attempt({
            "stacktune:target": {
                kind: "ssh",
                host: "192.0.2.10",
                user: "u",
                hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb",
                gpus: 0,
                privateKeyPath: "/nonexistent/id_ed25519",
            },
            "stacktune:quantization": { load4bit: false },
            "stacktune:training": { bf16: false },
            "stacktune:distributed": { strategy: "ddp" },
            "stacktune:attention": { implementation: "sdpa" },
        });
        expect(r.error).toContain(
            "cannot read the SSH private key /nonexistent/id_ed25519 (stacktune:target.privateKeyPath)",
        );
        expect(r.registered).toBe(0);
    });

    it("aws publishing only the adapter: the merged model and its marker would die with the instance", async () => {
        const r = await attempt(
            {
                "stacktune:target": awsTarget,
                "stacktune:hub": { adapterRepo: "me/adapter" },
                "stacktune:hfToken": "hf_x",
                "stacktune:sshPrivateKey": "key",
            },
            ["stacktune:hfToken", "stacktune:sshPrivateKey"],
        );
        expect(r.error).toContain("set stacktune:hub.mergedRepo, or budget.teardown to keep");
        expect(r.registered).toBe(0);
    });

    it.each([
        ["SSH open to the world", { "stacktune:target": { ...awsTarget, sshCidr: "0.0.0.0/0" } }, /sshCidr/],
        ["aws without the SSH key secret", { "stacktune:target": awsTarget }, /sshPrivateKey/],
        [
            "aws keeping the model only on a disk that is terminated",
            { "stacktune:target": awsTarget, "stacktune:hub": {} },
            /hub\.mergedRepo/,
        ],
    ])("%s (settings rules, surfaced by the program)", async (_what, config, message) => {
        const r = await attempt({ "stacktune:hub": hubRepo, "stacktune:hfToken": "hf_x", ...config }, [
            "stacktune:hfToken",
        ]);
        expect(r.error).toMatch(message);
        expect(r.registered).toBe(0);
    });
});

describe("a stack holding a secret under the public demo passphrase", () => {
    const localTarget = {
        "stacktune:target": { kind: "local", gpus: 0 },
        "stacktune:runtime": { kind: "venv", python: "python3" },
        "stacktune:quantization": { load4bit: false },
        "stacktune:training": { bf16: false },
        "stacktune:distributed": { strategy: "ddp" },
        "stacktune:attention": { implementation: "sdpa" },
    };
    const demo = fs.readFileSync(path.join(__dirname, "..", "src", "demo-passphrase.txt"), "utf8").trim();
    afterEach(() => {
        process.env.PULUMI_CONFIG_PASSPHRASE = unitPassphrase;
    });
    const unitPassphrase = process.env.PULUMI_CONFIG_PASSPHRASE;

    it("is refused by the program (preview and up), naming the secret and how to use your own provider", async () => {
        process.env.PULUMI_CONFIG_PASSPHRASE = demo;
        const r = await attempt(
            { ...localTarget, "stacktune:hfToken": "hf_CANARY_demo_7c1e" },
            ["stacktune:hfToken"],
            "local-demo",
        );
        expect(r.error).toMatch(
            /^stack local-demo holds secrets \(stacktune:hfToken\) and its secrets passphrase is the demo one, which is public/,
        );
        expect(r.error).toContain("export PULUMI_CONFIG_PASSPHRASE_FILE=");
        expect(r.error).toContain("--secrets-provider 'awskms://");
        expect(r.error).not.toContain("CANARY");
        expect(r.registered).toBe(0);
    });

    it("the same stack without a secret runs under the demo passphrase (the local demo needs no set-up)", async () => {
        process.env.PULUMI_CONFIG_PASSPHRASE = demo;
        const r = await attempt(localTarget, [], "local-demo");
        expect(r.error).toBe("no error");
        expect(r.registered).toBeGreaterThan(0);
    });
});
