/**
 * Whose key encrypts a stack's secrets. The demo passphrase keeps a fresh clone non-interactive
 * (scripts/env.sh), but it is public: a secret encrypted with it is readable by anyone who has the
 * stack file. So a stack that holds a secret must use a secrets provider of its own; the program
 * (`pulumi preview` / `up`) and the `stacktune` CLI (`run`, `new`) refuse it otherwise.
 */
import * as fs from "fs";
import * as path from "path";
import { readStackFileDocument, secretConfigKeys } from "./settings/load";

/**
 * The one home of the demo passphrase: a file, so that bash (scripts/env.sh points
 * PULUMI_CONFIG_PASSPHRASE_FILE at it) and this program read the same value.
 */
export const DEMO_PASSPHRASE_FILE = path.join(__dirname, "demo-passphrase.txt");

/** The demo passphrase, as Pulumi reads it from {@link DEMO_PASSPHRASE_FILE} (surrounding space trimmed). */
export function demoPassphrase(): string {
    return fs.readFileSync(DEMO_PASSPHRASE_FILE, "utf8").trim();
}

/**
 * The passphrase Pulumi's passphrase secrets manager uses in `env`, picked as it picks it:
 * PULUMI_CONFIG_PASSPHRASE when set (even empty), else the trimmed content of
 * PULUMI_CONFIG_PASSPHRASE_FILE; undefined when neither is set or the file cannot be read.
 */
export function passphraseInEffect(env: Readonly<Record<string, string | undefined>>): string | undefined {
    if (env.PULUMI_CONFIG_PASSPHRASE !== undefined) return env.PULUMI_CONFIG_PASSPHRASE;
    const file = env.PULUMI_CONFIG_PASSPHRASE_FILE;
    if (file === undefined || file === "") return undefined;
    try {
        return fs.readFileSync(path.resolve(file), "utf8").trim();
    } catch {
        return undefined;
    }
}

/** What a stack file says about its secrets. */
export interface StackFileSecrets {
    /** Config keys with a `secure:` value, in any namespace (e.g. `stacktune:hfToken`, `aws:secretKey`). */
    secureKeys: string[];
    /** False when `secretsprovider` names a KMS or service provider: then no passphrase encrypts them. */
    passphrase: boolean;
}

/** The `secure:` keys and the secrets provider of a parsed stack file. Pure. */
export function stackFileSecrets(document: unknown): StackFileSecrets {
    const doc = isRecord(document) ? document : {};
    const config = isRecord(doc.config) ? doc.config : {};
    const secureKeys = Object.entries(config)
        .filter(([, value]) => isRecord(value) && typeof value.secure === "string")
        .map(([key]) => key);
    const provider = doc.secretsprovider;
    return { secureKeys, passphrase: typeof provider !== "string" || provider === "" || provider === "passphrase" };
}

/** The stack file of `stack` in the project at `projectDir` (Pulumi.yaml: `stackConfigDir: stacks`). */
export function stackFilePath(projectDir: string, stack: string): string {
    return path.join(projectDir, "stacks", `Pulumi.${stack}.yaml`);
}

/** {@link stackFileSecrets} of a stack file on disk; a missing file holds nothing and uses a passphrase. */
export function readStackFileSecrets(file: string): StackFileSecrets {
    if (!fs.existsSync(file)) return { secureKeys: [], passphrase: true };
    return stackFileSecrets(readStackFileDocument(file));
}

/** Thrown when a stack holding secrets would encrypt them with the public demo passphrase. */
export class DemoPassphraseError extends Error {
    override readonly name = "DemoPassphraseError";
}

/**
 * The refusal for a stack whose `secretKeys` are encrypted with the demo passphrase, or undefined
 * when it holds none, uses a KMS / service provider, or `env` selects another passphrase.
 */
export function demoPassphraseRefusal(args: {
    stack: string;
    secretKeys: readonly string[];
    passphraseProvider: boolean;
    env: Readonly<Record<string, string | undefined>>;
}): string | undefined {
    if (args.secretKeys.length === 0 || !args.passphraseProvider) return undefined;
    if (passphraseInEffect(args.env) !== demoPassphrase()) return undefined;
    const keys = [...new Set(args.secretKeys)].sort().join(", ");
    return [
        `stack ${args.stack} holds secrets (${keys}) and its secrets passphrase is the demo one, which is public in this ` +
            `repository: anyone with stacks/Pulumi.${args.stack}.yaml could decrypt them. Use a secrets provider of your own:`,
        "  - your own passphrase: export PULUMI_CONFIG_PASSPHRASE_FILE=~/.config/stacktune/passphrase (a file only you can read)",
        `  - or a cloud KMS: pulumi stack init ${args.stack} --secrets-provider 'awskms://alias/<key>?region=<region>' ` +
            "(or gcpkms://, azurekeyvault://, hashivault://)",
        `For a stack that exists: pulumi stack change-secrets-provider --stack ${args.stack} passphrase (or a KMS URL), ` +
            "then set each secret again with `pulumi config set --secret`, and revoke any token whose ciphertext was committed.",
    ].join("\n");
}

/**
 * The program's check (`pulumi preview` / `up`): the stack's secret config (as the engine marks
 * it) and its stack file's secrets provider, against the passphrase the engine was given.
 */
export function refuseDemoPassphrase(args: { stack: string; projectDir: string; env: NodeJS.ProcessEnv }): void {
    const file = readStackFileSecrets(stackFilePath(args.projectDir, args.stack));
    const refusal = demoPassphraseRefusal({
        stack: args.stack,
        secretKeys: [...secretConfigKeys(), ...file.secureKeys],
        passphraseProvider: file.passphrase,
        env: args.env,
    });
    if (refusal !== undefined) throw new DemoPassphraseError(refusal);
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}
