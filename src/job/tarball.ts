import { gzipSync } from "zlib";

/** One file of a {@link deterministicTarGz}: its bytes and Unix mode. */
export interface TarEntry {
    content: string | Buffer;
    /** @default 0o644 */
    mode?: number;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
    // width includes the trailing NUL
    return value.toString(8).padStart(width - 1, "0") + "\0";
}

function splitName(name: string): { name: string; prefix: string } {
    if (Buffer.byteLength(name) <= 100) {
        return { name, prefix: "" };
    }
    const cut = name.lastIndexOf("/", 155);
    const tail = name.slice(cut + 1);
    if (cut <= 0 || Buffer.byteLength(tail) > 100) {
        throw new Error(`path too long for a tar archive: ${name}`);
    }
    return { name: tail, prefix: name.slice(0, cut) };
}

function header(path: string, size: number, mode: number): Buffer {
    const block = Buffer.alloc(BLOCK, 0);
    const { name, prefix } = splitName(path);
    block.write(name, 0, 100, "utf8");
    block.write(octal(mode, 8), 100, "ascii");
    block.write(octal(0, 8), 108, "ascii");
    block.write(octal(0, 8), 116, "ascii");
    block.write(octal(size, 12), 124, "ascii");
    block.write(octal(0, 12), 136, "ascii");
    block.write("        ", 148, "ascii");
    block.write("0", 156, "ascii");
    block.write("ustar\0", 257, "ascii");
    block.write("00", 263, "ascii");
    block.write(prefix, 345, 155, "utf8");
    let sum = 0;
    for (const byte of block) {
        sum += byte;
    }
    block.write(octal(sum, 7) + " ", 148, "ascii");
    return block;
}

/**
 * A gzipped ustar archive whose bytes depend only on the entries: sorted names, mtime 0, uid/gid 0.
 * Same files → same archive → a command input that does not change, so Pulumi sees no diff.
 */
export function deterministicTarGz(entries: ReadonlyMap<string, TarEntry>): Buffer {
    const parts: Buffer[] = [];
    for (const name of [...entries.keys()].sort()) {
        const entry = entries.get(name) as TarEntry;
        const data = typeof entry.content === "string" ? Buffer.from(entry.content, "utf8") : entry.content;
        parts.push(header(name, data.length, entry.mode ?? 0o644), data);
        const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
        parts.push(Buffer.alloc(pad, 0));
    }
    parts.push(Buffer.alloc(BLOCK * 2, 0));
    return gzipSync(Buffer.concat(parts), { level: 9 });
}
