import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { parse as parseYaml } from 'yaml';
import { SettingsError } from './errors';
import { type ParseSettingsOptions, parseSettings } from './parse';
import { type SecretKey, type SecretsPresent, type Settings, secretKeys, settingsKeys } from './schema';

const namespace = 'stacktune';

/** Settings plus the secrets as Pulumi secret outputs (values never leave Pulumi's secret handling). */
export interface PulumiSettings {
  settings: Settings;
  secrets: Partial<Record<SecretKey, pulumi.Output<string>>>;
}

/**
 * Reads the current stack's `stacktune:*` config. Values are JSON-parsed here rather than with
 * `Config.getObject`, whose error message quotes the raw value.
 */
export function loadSettingsFromPulumiConfig(): PulumiSettings {
  const config = new pulumi.Config(namespace);
  const raw: Record<string, unknown> = {};
  for (const key of settingsKeys) {
    const text = config.get(key);
    if (text !== undefined) raw[key] = parseConfigValue(text);
  }
  const known = new Set<string>([...settingsKeys, ...secretKeys]);
  for (const fullKey of Object.keys(pulumi.runtime.allConfig())) {
    const key = stacktuneKey(fullKey);
    if (key !== undefined && !known.has(key)) raw[key] = null;
  }
  const secrets: PulumiSettings['secrets'] = {};
  const present: SecretsPresent = {};
  for (const key of secretKeys) {
    const value = config.getSecret(key);
    if (value !== undefined) {
      secrets[key] = value;
      present[key] = true;
    }
  }
  return { settings: parseSettings(raw, present, { source: `stack ${pulumi.getStack()}` }), secrets };
}

function parseConfigValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A stack file's settings, for tools that run without Pulumi (render, diff). */
export interface StackFileSettings {
  /** Stack name from `Pulumi.<stack>.yaml`. */
  stack: string;
  settings: Settings;
  /** Which secrets the file sets (as `secure:` values); their values are not read. */
  secrets: SecretsPresent;
}

/**
 * Parses `stacks/Pulumi.<stack>.yaml`. Secrets count as set when present as `{secure: …}`; a
 * secret in plain text is an error. By default the rules that need secrets are skipped (a
 * committed stack file carries no secret; `pulumi up` checks them).
 */
export function loadSettingsFromStackFile(
  path: string,
  options: Pick<ParseSettingsOptions, 'checkSecrets'> = { checkSecrets: false },
): StackFileSettings {
  const file = basename(path);
  const match = /^Pulumi\.(.+)\.ya?ml$/.exec(file);
  if (!match?.[1]) {
    throw new SettingsError([{ path: '', message: `not a stack file; name it Pulumi.<stack>.yaml` }], path);
  }
  const document = readStackFileDocument(path);
  const config: unknown =
    document !== null && typeof document === 'object' && 'config' in document ? document.config : undefined;
  const raw: Record<string, unknown> = {};
  const secrets: SecretsPresent = {};
  const plainSecrets: SecretKey[] = [];
  if (config !== null && typeof config === 'object') {
    for (const [fullKey, value] of Object.entries(config)) {
      const key = stacktuneKey(fullKey);
      if (key === undefined) continue;
      if ((secretKeys as readonly string[]).includes(key)) {
        if (isSecure(value)) secrets[key as SecretKey] = true;
        else plainSecrets.push(key as SecretKey);
      } else {
        raw[key] = value;
      }
    }
  }
  if (plainSecrets.length > 0) {
    throw new SettingsError(
      plainSecrets.map((key) => ({
        path: key,
        message: `stored in plain text; delete it from the file and run \`pulumi config set --secret stacktune:${key}\``,
      })),
      path,
    );
  }
  const settings = parseSettings(raw, secrets, { source: path, checkSecrets: options.checkSecrets ?? false });
  return { stack: match[1], settings, secrets };
}

/** A stack file's YAML, parsed. */
export function readStackFileDocument(path: string): unknown {
  return parseYaml(readFileSync(path, 'utf8')) as unknown;
}

/**
 * The key under `stacktune`, or undefined for another namespace (e.g. `aws:region`). A key without
 * a namespace belongs to the project, which is named stacktune (Pulumi.yaml).
 */
function stacktuneKey(fullKey: string): string | undefined {
  if (!fullKey.includes(':')) return fullKey;
  return fullKey.startsWith(`${namespace}:`) ? fullKey.slice(namespace.length + 1) : undefined;
}

function isSecure(value: unknown): boolean {
  return value !== null && typeof value === 'object' && typeof (value as { secure?: unknown }).secure === 'string';
}
