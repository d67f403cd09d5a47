import { expect } from "vitest";
import { type SecretsPresent, SettingsError, type SettingsIssue, parseSettings } from "../../src/settings";

/** A value shaped like a Hugging Face token: must never appear in an error message. */
export const canary = "hf_CANARYcanaryCANARY0123456789";

export const sshTarget = {
    kind: "ssh",
    host: "gpu-box.example.internal",
    user: "stacktune",
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb",
};

export const awsTarget = {
    kind: "aws",
    sshCidr: "203.0.113.7/32",
    publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKey you@example.com",
};

/** The settings a CPU run needs on top of the defaults. */
export const cpuRun = {
    target: { kind: "local", gpus: 0 },
    distributed: { strategy: "ddp" },
    training: { bf16: false },
    attention: { implementation: "sdpa" },
    quantization: { load4bit: false },
};

/** Hub token, W&B key and SSH private key (the key of {@link sshTarget} and {@link awsTarget}). */
export const allSecrets: SecretsPresent = { hfToken: true, wandbApiKey: true, sshPrivateKey: true };

type Raw = Record<string, unknown>;

function isPlainObject(value: unknown): value is Raw {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Deep-merges mappings (lists and scalars replace), so a case states only what it changes. */
export function merge(base: Raw, ...patches: Raw[]): Raw {
    const out: Raw = { ...base };
    for (const patch of patches) {
        for (const [key, value] of Object.entries(patch)) {
            const current = out[key];
            out[key] = isPlainObject(current) && isPlainObject(value) ? merge(current, value) : value;
        }
    }
    return out;
}

/** Runs `parse` expecting a SettingsError, and returns it. */
export function settingsErrorOf(parse: () => unknown): SettingsError {
    try {
        parse();
    } catch (error) {
        expect(error).toBeInstanceOf(SettingsError);
        return error as SettingsError;
    }
    throw new Error("expected a SettingsError, but the settings were accepted");
}

export function issuesOf(raw: Raw, secrets: SecretsPresent = allSecrets): readonly SettingsIssue[] {
    return settingsErrorOf(() => parseSettings(raw, secrets)).issues;
}
