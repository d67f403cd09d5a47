/**
 * The grammar of the strings that name things on a machine: host names, users, network
 * interfaces, paths. A value that passes reaches a shell only through `shellQuote`
 * (src/render/shell.ts) anyway; the grammar turns a typo or a pasted command into an error that
 * names the key before anything runs.
 */
import { isIP } from "node:net";
import { z } from "zod";

/** Longest path Linux accepts (PATH_MAX); also the cap for ids that may be paths (model.id). */
const PATH_MAX = 4096;

/** C0 and C1 control characters and DEL: newline, tab, NUL, escape sequences. */
function hasControlCharacter(value: string): boolean {
    return /\p{Cc}/u.test(value);
}

/** A path, id or name: any text on one line without control characters, at most PATH_MAX. */
export const TextSchema = z
    .string()
    .min(1)
    .max(PATH_MAX)
    .refine((v) => !hasControlCharacter(v), "must not contain control characters (newline, tab, NUL, escape)");

/** RFC 1123 §2.1: dot-separated labels of letters, digits and inner hyphens, 1–63 each, 253 in all. */
const hostLabel = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function isHostName(value: string): boolean {
    return value.length <= 253 && value.split(".").every((label) => hostLabel.test(label));
}

/** A host name (RFC 1123) or an IPv4 / IPv6 literal. */
export const HostSchema = z
    .string()
    .refine(
        (v) => isIP(v) !== 0 || isHostName(v),
        "must be a host name (RFC 1123, such as gpu-box.example.com) or an IP address (such as 10.0.0.11)",
    );

/**
 * A POSIX portable user name as shadow-utils' useradd accepts it by default (NAME_REGEX
 * `^[a-z_][a-z0-9_-]*[$]?$`), at most 32 characters (the utmp limit).
 */
export const UserSchema = z
    .string()
    .refine(
        (v) => v.length <= 32 && /^[a-z_][a-z0-9_-]*\$?$/.test(v),
        "must be a POSIX user name such as ubuntu: lower-case letters, digits, _ and -, at most 32 characters",
    );

/**
 * Linux interface names, comma-separated (NCCL_SOCKET_IFNAME and GLOO_SOCKET_IFNAME both take a
 * list; gloo takes exact names, so NCCL's `^` / `=` prefixes are not offered). The kernel caps a
 * name at 15 bytes (IFNAMSIZ 16) and refuses `/`, `:` and whitespace; the names udev, systemd and
 * iproute2 give use letters, digits, `_`, `.` and `-`.
 */
export const InterfaceListSchema = z
    .string()
    .refine(
        (v) => v.split(",").every((name) => /^[A-Za-z0-9_.-]{1,15}$/.test(name) && name !== "." && name !== ".."),
        "must be Linux interface names such as eth0 or ens5,ens6 (comma-separated; each at most 15 letters, digits, _, . or -)",
    );

/**
 * A W&B project name as wandb's `validate_project_name` (wandb/sdk/artifacts/_validators.py)
 * accepts it: at most 128 characters, none of `/ \ # ? % :`, and no control characters.
 */
export const WandbProjectSchema = z
    .string()
    .min(1)
    .refine(
        (v) => v.length <= 128 && !/[/\\#?%:]/.test(v) && !hasControlCharacter(v),
        "must be a W&B project name: at most 128 characters, none of / \\ # ? % :",
    );

/** A PyTorch module name or dotted path (`q_proj`, `model.layers.0.mlp`), as PEFT matches it. */
export const ModuleNameSchema = z
    .string()
    .regex(/^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/, "must be a module name such as q_proj or model.layers.0.mlp");
