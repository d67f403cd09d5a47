// The two toolchains (README, "Toolchain"): scripts/env.sh and scripts/setup.sh leave a normal Pulumi
// installation alone (detected, or STACKTUNE_TOOLCHAIN=system), and build or point at the checkout's
// .tools only for the repo toolchain. Real bash on a copy of scripts/ with a `pulumi` of its own on PATH.
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { pulumiEnvironment } from "../src/cli/stacktune";

const REPO = resolve(__dirname, "..");

/** A checkout with only scripts/ and the demo passphrase, and a bin/ holding a normal installation's `pulumi`. */
function checkout(opts: { commandPlugin: boolean }): { root: string; bin: string } {
    const root = mkdtempSync(join(tmpdir(), "stacktune-toolchain-"));
    cpSync(join(REPO, "scripts"), join(root, "scripts"), { recursive: true });
    mkdirSync(join(root, "src"));
    cpSync(join(REPO, "src", "demo-passphrase.txt"), join(root, "src", "demo-passphrase.txt"));
    const bin = join(root, "installed-bin");
    mkdirSync(bin);
    const plugins = opts.commandPlugin ? 'echo "command  resource  1.2.1    33 MB   1 hour ago  1 hour ago"' : "true";
    writeFileSync(
        join(bin, "pulumi"),
        `#!/bin/bash\ncase "$1" in version) echo v3.248.0 ;; plugin) echo "NAME  KIND  VERSION  SIZE  INSTALLED  LAST USED"; ${plugins} ;; esac\n`,
    );
    chmodSync(join(bin, "pulumi"), 0o755);
    return { root, bin };
}

function bash(
    root: string,
    bin: string,
    script: string,
    env: Record<string, string> = {},
): { code: number; out: string } {
    const r = spawnSync("bash", ["-c", script], {
        cwd: root,
        encoding: "utf8",
        env: { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`, HOME: root, ...env },
    });
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe("scripts/env.sh chooses the toolchain", () => {
    it("a pulumi on PATH and no .tools: system, and PATH, PULUMI_HOME and plugin downloads are left alone", () => {
        const { root, bin } = checkout({ commandPlugin: true });
        const r = bash(
            root,
            bin,
            'source scripts/env.sh && printf "%s|%s|%s|%s" "$STACKTUNE_TOOLCHAIN" "$(command -v pulumi)" "${PULUMI_HOME-unset}" "${PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION-unset}"',
        );
        expect(r.out).toBe(`system|${bin}/pulumi|unset|unset`);
    });

    it("a checkout with .tools/bin/pulumi: repo, with .tools first on PATH and its own PULUMI_HOME", () => {
        const { root, bin } = checkout({ commandPlugin: true });
        mkdirSync(join(root, ".tools", "bin"), { recursive: true });
        cpSync(join(bin, "pulumi"), join(root, ".tools", "bin", "pulumi"));
        const r = bash(
            root,
            bin,
            'source scripts/env.sh && printf "%s|%s|%s" "$STACKTUNE_TOOLCHAIN" "$(command -v pulumi)" "$PULUMI_HOME"',
        );
        expect(r.out).toBe(`repo|${root}/.tools/bin/pulumi|${root}/.tools/pulumi-home`);
    });

    it("STACKTUNE_TOOLCHAIN=system wins over a built .tools; another value is refused naming the variable", () => {
        const { root, bin } = checkout({ commandPlugin: true });
        mkdirSync(join(root, ".tools", "bin"), { recursive: true });
        cpSync(join(bin, "pulumi"), join(root, ".tools", "bin", "pulumi"));
        expect(
            bash(root, bin, "source scripts/env.sh && command -v pulumi", { STACKTUNE_TOOLCHAIN: "system" }).out.trim(),
        ).toBe(`${bin}/pulumi`);
        const bad = bash(root, bin, "source scripts/env.sh", { STACKTUNE_TOOLCHAIN: "upstream" });
        expect(bad.code).not.toBe(0);
        expect(bad.out).toContain("STACKTUNE_TOOLCHAIN is 'upstream'; set it to repo or system");
    });
});

describe("scripts/setup.sh --only tools on a normal installation", () => {
    it("builds and installs no pulumi, language host or provider; installs the stacktune command", () => {
        const { root, bin } = checkout({ commandPlugin: true });
        const r = bash(root, bin, "bash scripts/setup.sh --only tools");
        expect(r.code, r.out).toBe(0);
        expect(r.out).toContain("using the installed v3.248.0");
        for (const p of [".tools/bin/pulumi", ".tools/bin/pulumi-language-nodejs", ".tools/pulumi-home"])
            expect(existsSync(join(root, p))).toBe(false);
        expect(existsSync(join(root, ".tools/bin/stacktune"))).toBe(true);
    });

    it("without the command provider plugin it fails with the command that installs it", () => {
        const { root, bin } = checkout({ commandPlugin: false });
        const r = bash(root, bin, "bash scripts/setup.sh --only tools");
        expect(r.code).not.toBe(0);
        expect(r.out).toContain("run pulumi plugin install resource command v1.2.1");
    });
});

describe("the stacktune command's environment", () => {
    it("with the system toolchain: PATH and PULUMI_HOME as given, plugin downloads not forced off", () => {
        const env = pulumiEnvironment("/r", { PATH: "/usr/bin", STACKTUNE_TOOLCHAIN: "system" });
        expect(env.PATH).toBe("/usr/bin");
        expect(env.PULUMI_HOME).toBeUndefined();
        expect(env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION).toBeUndefined();
        expect(env.PULUMI_BACKEND_URL).toBe("file:///r/.stacktune/state");
    });
});
