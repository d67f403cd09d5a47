import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { parse } from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { budgetMinutes, cloudInitConfig, hostPaths, renderAll, renderCloudInit } from "../../src/render";
import { listStacks, renderStackFile } from "../../src/render/stacks";
import { awsSettings, cpuLocalSettings } from "./fixtures";

interface WriteFile {
    path: string;
    permissions: string;
    content: string;
}

function hasBinary(name: string): boolean {
    return (process.env.PATH ?? "").split(delimiter).some((dir) => existsSync(join(dir, name)));
}

/** Every aws cloud-init the repository renders, plus both runtimes of a test stack. */
function renderedCloudInits(): [string, string][] {
    const fromStacks = listStacks(".")
        .map((stack) => renderStackFile(`stacks/Pulumi.${stack}.yaml`))
        .filter(({ files }) => files.has("cloud-init.yaml"))
        .map(({ stack, files }): [string, string] => [stack, files.get("cloud-init.yaml") ?? ""]);
    return [
        ...fromStacks,
        ["test-docker", renderCloudInit(awsSettings(), "test-docker")],
        ["test-venv", renderCloudInit(awsSettings({ runtime: { kind: "venv" } }), "test-venv")],
    ];
}

describe("renderCloudInit", () => {
    it("renders the user-data of a docker host (snapshot)", () => {
        expect(renderCloudInit(awsSettings({ budget: { maxHours: 10 } }), "snapshot")).toMatchSnapshot();
    });

    it("renders the user-data of a venv host (snapshot)", () => {
        expect(
            renderCloudInit(awsSettings({ runtime: { kind: "venv" }, budget: { maxHours: 1.5 } }), "snapshot"),
        ).toMatchSnapshot();
    });

    it.skipIf(!hasBinary("shellcheck"))("ships host scripts that pass shellcheck", () => {
        const result = spawnSync("shellcheck", ["cloud-init/prepare-host.sh", "cloud-init/budget-watchdog.sh"], {
            encoding: "utf8",
        });
        expect(result.stdout).toBe("");
        expect(result.status).toBe(0);
    });

    it("starts with #cloud-config and arms the watchdog before anything that can hang", () => {
        const text = renderCloudInit(awsSettings({ budget: { maxHours: 10 } }), "aws");
        expect(text.split("\n")[0]).toBe("#cloud-config");
        const config = parse(text) as { runcmd: string[][] };
        expect(config.runcmd).toEqual([
            [hostPaths.budgetWatchdog],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "stacktune-budget.timer"],
            ["shutdown", "-P", "+600", "stacktune: budget of 10 h reached"],
            [hostPaths.prepareHost],
        ]);
    });

    it("writes the budget, runtime and GPU count the host scripts read", () => {
        const files = (cloudInitConfig(awsSettings({ budget: { maxHours: 1.5 } })).write_files ?? []) as WriteFile[];
        const env = files.find((f) => f.path === hostPaths.env);
        expect(env?.content).toBe(
            "STACKTUNE_USER=ubuntu\nSTACKTUNE_RUNTIME=docker\nSTACKTUNE_GPUS=4\nSTACKTUNE_BUDGET_SECONDS=5400\nSTACKTUNE_DRIVER_TIMEOUT_S=900\n",
        );
        expect(files.filter((f) => f.path.startsWith("/usr/local/sbin/")).map((f) => f.permissions)).toEqual([
            "0755",
            "0755",
        ]);
        for (const script of files.filter((f) => f.content.startsWith("#!/usr/bin/env bash"))) {
            expect(spawnSync("bash", ["-n"], { input: script.content }).status, script.path).toBe(0);
        }
    });

    it("installs python3-venv only for the venv runtime", () => {
        expect(cloudInitConfig(awsSettings({ runtime: { kind: "venv" } }))).toMatchObject({
            packages: ["python3-venv"],
        });
        expect(cloudInitConfig(awsSettings())).not.toHaveProperty("packages");
    });

    it("rounds a fractional budget up to whole minutes", () => {
        expect(budgetMinutes({ budget: { maxHours: 0.01, teardown: "keep", keepRunDir: false } })).toBe(1);
        expect(budgetMinutes({ budget: { maxHours: 24, teardown: "keep", keepRunDir: false } })).toBe(1440);
    });

    it("is rendered for aws targets only", () => {
        expect(renderAll(awsSettings(), "aws").has("cloud-init.yaml")).toBe(true);
        expect(renderAll(cpuLocalSettings(), "cpu").has("cloud-init.yaml")).toBe(false);
        expect(() => renderCloudInit(cpuLocalSettings(), "cpu")).toThrow(/aws targets only/);
    });

    // CI installs cloud-init (scripts/setup.sh), so the real validator always runs there.
    it.skipIf(!hasBinary("cloud-init") && !process.env.CI)("passes `cloud-init schema` for every aws stack", () => {
        const dir = mkdtempSync(join(tmpdir(), "stacktune-cloud-init-"));
        try {
            const cases = renderedCloudInits();
            expect(cases.map(([name]) => name)).toEqual(expect.arrayContaining(["aws-g5", "aws-g6-r16", "test-venv"]));
            for (const [name, text] of cases) {
                const file = join(dir, `${name}.yaml`);
                writeFileSync(file, text);
                const result = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
                const output = `${result.stdout}${result.stderr}`;
                // cloud-init 22.x prints "Valid cloud-config: FILE", 23.x and later "Valid schema FILE".
                expect(output, name).toMatch(/Valid (cloud-config|schema)/);
                expect(output, name).not.toMatch(/deprecat|error/i);
                expect(result.status, name).toBe(0);
            }
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("host scripts of the cloud-init, run outside an instance", () => {
    let dir = "";
    afterEach(() => {
        if (dir !== "") rmSync(dir, { recursive: true, force: true });
    });

    /** A state dir, a host.env and stand-ins for systemctl/logger/nvidia-smi that log their calls. */
    function sandbox(hostEnv: string): { env: NodeJS.ProcessEnv; calls: () => string; state: string } {
        dir = mkdtempSync(join(tmpdir(), "stacktune-host-"));
        const bin = join(dir, "bin");
        const state = join(dir, "state");
        mkdirSync(bin);
        for (const tool of ["systemctl", "logger"]) {
            writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${join(dir, "calls.log")}"\n`);
            chmodSync(join(bin, tool), 0o755);
        }
        writeFileSync(join(dir, "host.env"), hostEnv);
        writeFileSync(join(dir, "calls.log"), "");
        return {
            env: {
                PATH: `${bin}${delimiter}/usr/bin${delimiter}/bin`,
                STACKTUNE_HOST_ENV: join(dir, "host.env"),
                STACKTUNE_STATE_DIR: state,
            },
            calls: () => readFileSync(join(dir, "calls.log"), "utf8"),
            state,
        };
    }

    it("the budget watchdog sets the deadline from the first boot and powers off once it has passed", () => {
        const box = sandbox("STACKTUNE_BUDGET_SECONDS=86400\n");
        execFileSync("bash", ["cloud-init/budget-watchdog.sh"], { env: box.env });
        const uptime = Number(readFileSync("/proc/uptime", "utf8").split(".")[0]);
        const deadline = Number(readFileSync(join(box.state, "deadline"), "utf8"));
        const expected = Math.floor(Date.now() / 1000) - uptime + 86400;
        expect(Math.abs(deadline - expected)).toBeLessThanOrEqual(2);
        expect(box.calls()).toBe("");

        writeFileSync(join(box.state, "deadline"), `${Math.floor(Date.now() / 1000) - 1}\n`);
        execFileSync("bash", ["cloud-init/budget-watchdog.sh"], { env: box.env });
        expect(box.calls()).toContain("systemctl poweroff");
        expect(readFileSync(join(box.state, "budget-exceeded"), "utf8")).toMatch(/^budget of 86400 s exceeded at /);
    });

    it("prepare-host fails with a reason when the NVIDIA driver never answers", () => {
        const box = sandbox(
            "STACKTUNE_USER=ubuntu\nSTACKTUNE_RUNTIME=docker\nSTACKTUNE_GPUS=4\nSTACKTUNE_DRIVER_TIMEOUT_S=0\n",
        );
        const result = spawnSync("bash", ["cloud-init/prepare-host.sh"], { env: box.env, encoding: "utf8" });
        expect(result.status).toBe(1);
        expect(readFileSync(join(box.state, "host-failed"), "utf8")).toContain(
            "the NVIDIA driver did not answer within 0 s",
        );
        expect(existsSync(join(box.state, "host-ready"))).toBe(false);
    });
});
