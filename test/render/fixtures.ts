import { parseSettings, type Settings, type SettingsInput } from "../../src/settings";

/** A valid aws target (documentation addresses, placeholder key). */
export const awsTarget = {
    kind: "aws",
    sshCidr: "203.0.113.7/32",
    publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKeyForRendererTests you@example.com",
} as const;

/** Hub repos for the adapter and the merged model. */
export const hubRepos = { adapterRepo: "test-user/adapter", mergedRepo: "test-user/merged" } as const;

/** An aws run of the recommended recipe: the model is pushed, the instance terminated. */
export function awsSettings(extra: Partial<Record<keyof SettingsInput, unknown>> = {}): Settings {
    return settingsFrom({ target: awsTarget, runtime: { kind: "docker" }, hub: hubRepos, ...extra });
}

/** An on-prem 4-GPU ssh target like the reference run's. */
export const sshTarget = {
    kind: "ssh",
    host: "gpu-box.example.internal",
    user: "stacktune",
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb",
    gpus: 4,
} as const;

/** Settings from a partial stack config, with every default applied (secrets not checked). */
export function settingsFrom(raw: Partial<Record<keyof SettingsInput, unknown>>): Settings {
    return parseSettings(raw, {}, { checkSecrets: false, source: "test" });
}

/** A CPU run on this machine, as local-demo: ddp, no 4-bit, local output store. */
export function cpuLocalSettings(extra: Partial<Record<keyof SettingsInput, unknown>> = {}): Settings {
    return settingsFrom({
        target: { kind: "local", gpus: 0 },
        runtime: { kind: "venv" },
        distributed: { strategy: "ddp" },
        quantization: { load4bit: false },
        training: { bf16: false, gradientCheckpointing: false },
        attention: { implementation: "sdpa" },
        hub: { localDir: "~/.stacktune/models/cpu" },
        ...extra,
    });
}
