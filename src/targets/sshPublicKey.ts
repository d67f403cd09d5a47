/** The one grammar of OpenSSH public key lines: the ssh target's host keys and the aws target's login key. */
import { z } from "zod";

/**
 * One OpenSSH public key line of one of `types`: `<type> <base64 blob>`, then an optional comment
 * without control characters (no second line can ride along).
 */
export function openSshPublicKeySchema(types: readonly string[], message: string) {
    const type = types.map((t) => t.replace(/[.+]/g, "\\$&")).join("|");
    return z.string().regex(new RegExp(`^(${type}) [A-Za-z0-9+/]+={0,2}( \\P{Cc}*)?$`, "u"), message);
}
