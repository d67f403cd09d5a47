// Host specs as pure functions, and the preflight script run for real with stand-in nvidia-smi /
// docker / python3 binaries on PATH.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { awsInstanceSpec, checkpointBucketPolicy, sshIngressRules, waitForCloudInit } from "../src/hosts/aws";
import { preflightCommand, PreflightRequirements } from "../src/hosts/preflight";
import { tempDir } from "./helpers/tempDir";

describe("sshIngressRules", () => {
    it("opens port 22 to exactly the configured CIDR", () => {
        expect(sshIngressRules("203.0.113.7/32")).toEqual([
            {
                description: "SSH from the operator",
                protocol: "tcp",
                fromPort: 22,
                toPort: 22,
                cidrBlocks: ["203.0.113.7/32"],
            },
        ]);
    });

    it("refuses the whole internet unless allowOpenSsh, telling the user what to set", () => {
        expect(() => sshIngressRules("0.0.0.0/0")).toThrow(
            "stacktune:target.sshCidr 0.0.0.0/0 opens SSH to the whole internet: set it to your IP/32, or set stacktune:target.allowOpenSsh: true if you really mean it",
        );
        expect(sshIngressRules("0.0.0.0/0", true)[0]?.cidrBlocks).toEqual(["0.0.0.0/0"]);
    });

    it.each(["203.0.113.7", "300.1.1.1/32", "10.0.0.0/33", "::/0"])("rejects %s as not an IPv4 CIDR", (cidr) => {
        expect(() => sshIngressRules(cidr)).toThrow(
            /is not an IPv4 CIDR: set it to your address, e\.g\. 203\.0\.113\.7\/32/,
        );
    });
});

describe("awsInstanceSpec", () => {
    it("defaults to an on-demand g5.12xlarge with the settings' 200 GB encrypted gp3 root, IMDSv2 hop 2, terminate on shutdown", () => {
        expect(awsInstanceSpec({ userData: "#cloud-config\n" })).toEqual({
            instanceType: "g5.12xlarge",
            instanceInitiatedShutdownBehavior: "terminate",
            metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 2 },
            rootBlockDevice: { volumeType: "gp3", volumeSize: 200, encrypted: true, deleteOnTermination: true },
            userData: "#cloud-config\n",
            userDataReplaceOnChange: true,
        });
    });

    it("asks for one-time spot capacity, terminated on interruption, with the max price when set", () => {
        expect(awsInstanceSpec({ userData: "", instanceType: "g6.12xlarge", spot: { enabled: true } })).toMatchObject({
            instanceType: "g6.12xlarge",
            instanceMarketOptions: {
                marketType: "spot",
                spotOptions: { spotInstanceType: "one-time", instanceInterruptionBehavior: "terminate" },
            },
        });
        expect(
            awsInstanceSpec({ userData: "", spot: { enabled: true, maxPrice: 2.25 } }).instanceMarketOptions
                ?.spotOptions.maxPrice,
        ).toBe("2.2500");
        expect(
            awsInstanceSpec({ userData: "", spot: { enabled: false, maxPrice: 2 } }).instanceMarketOptions,
        ).toBeUndefined();
    });

    it("rejects bad combinations with the setting to change", () => {
        expect(() => awsInstanceSpec({ userData: "", instanceType: "p4d.24xlarge" as never })).toThrow(
            'stacktune:target.instanceType "p4d.24xlarge" is not supported: use g5.12xlarge or g6.12xlarge',
        );
        expect(() => awsInstanceSpec({ userData: "", rootVolumeGb: 50 })).toThrow(
            /^stacktune:target\.rootVolumeGb 50 must be at least 160: the Deep Learning AMI itself takes about 60 GB/,
        );
        expect(() => awsInstanceSpec({ userData: "", spot: { enabled: true, maxPrice: 0 } })).toThrow(
            /spot\.maxPrice must be a positive/,
        );
    });
});

describe("checkpointBucketPolicy", () => {
    it("grants list on the machines' prefixes and object get/put inside them, nothing else (no delete: sync runs without --delete)", () => {
        const policy = checkpointBucketPolicy("arn:aws:s3:::ckpt", ["s/abc", "s/abc-1"]);
        expect(policy.Statement.flatMap((s) => s.Resource)).toEqual([
            "arn:aws:s3:::ckpt",
            "arn:aws:s3:::ckpt/s/abc/*",
            "arn:aws:s3:::ckpt/s/abc-1/*",
        ]);
        expect(policy.Statement[0]?.Condition).toEqual({ StringLike: { "s3:prefix": ["s/abc/*", "s/abc-1/*"] } });
        expect(policy.Statement.flatMap((s) => s.Action).sort()).toEqual([
            "s3:AbortMultipartUpload",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutObject",
        ]);
        expect(JSON.stringify(policy)).not.toMatch(/"\*"|s3:\*|ckpt\/\*/);
    });
});

describe("preflight script", () => {
    /** A directory of stand-in executables placed first on PATH. */
    function fakeBin(scripts: Record<string, string>): string {
        const dir = tempDir("bin");
        for (const [name, body] of Object.entries(scripts)) {
            fs.writeFileSync(path.join(dir, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
        }
        return dir;
    }
    const gpus = (n: number, mib: number, driver = "580.95.05"): string =>
        `if [ "$1" = "--query-gpu=memory.total,driver_version" ]; then for i in $(seq ${n}); do echo "${mib}, ${driver}"; done; fi`;
    const dockerWithToolkit =
        'case "$1" in info) if [ "${2:-}" = "--format" ]; then echo \'{"nvidia":{},"runc":{}}\'; fi ;; esac';

    function preflight(
        req: Partial<PreflightRequirements>,
        bin: Record<string, string> = {},
    ): { code: number; out: string } {
        const r = spawnSync(
            "bash",
            [
                "-c",
                preflightCommand({
                    gpus: 0,
                    gpuMemoryGb: 24,
                    minFreeDiskGb: 1,
                    runtime: "venv",
                    runRoot: "~/.stacktune/runs",
                    ...req,
                }),
            ],
            {
                env: { ...process.env, PATH: `${fakeBin(bin)}:${process.env.PATH ?? ""}` },
                encoding: "utf8",
                // Not the runner's stdin: bash run with a socket on stdin reads ~/.bashrc (as under sshd),
                // whose PATH would put the machine's python3 ahead of the fake one.
                stdio: ["ignore", "pipe", "pipe"],
            },
        );
        return { code: r.status ?? -1, out: r.stdout + r.stderr };
    }

    it("passes a 4 × 24 GB GPU host with docker and the NVIDIA toolkit, reporting driver and disk", () => {
        const r = preflight(
            { gpus: 4, runtime: "docker" },
            { "nvidia-smi": gpus(4, 24564), docker: dockerWithToolkit },
        );
        expect(r.out).toContain("stacktune preflight: driver 580.95.05, 4 GPU(s)");
        expect(r.out).toMatch(/stacktune preflight: \d+ GB free under /);
        expect(r.out).toContain("stacktune preflight: ok (docker runtime, 4 GPU(s) required)");
        expect(r.code).toBe(0);
    });

    it("accepts cards that report a little less than nominal (A10G: 23028 MiB)", () => {
        expect(preflight({ gpus: 4 }, { "nvidia-smi": gpus(4, 23028) }).code).toBe(0);
    });

    it("names too few GPUs and too little GPU memory", () => {
        const r = preflight({ gpus: 4 }, { "nvidia-smi": gpus(2, 16384) });
        expect(r.code).toBe(1);
        expect(r.out).toContain("  - 4 GPUs (found 2)");
        expect(r.out).toContain("  - 24 GB per GPU (2 GPU(s) have less than 22609 MiB)");
    });

    it.each(["535.261.03", "570.172.08", "580.65.05"])(
        "refuses driver %s, older than the CUDA 13 build of the pinned torch needs, saying what to install",
        (driver) => {
            const r = preflight(
                { gpus: 4, runtime: "docker" },
                { "nvidia-smi": gpus(4, 24564, driver), docker: dockerWithToolkit },
            );
            expect(r.code).toBe(1);
            expect(r.out).toContain(
                `  - NVIDIA driver >= 580.65.06 (found ${driver}): the image and the pinned torch are built for CUDA 13; ` +
                    "install driver 580 or newer (Ubuntu: sudo apt install nvidia-driver-580, then reboot)",
            );
        },
    );

    it.each(["580.65.06", "580.159.04", "595.91.07", "1000.1"])("accepts driver %s", (driver) => {
        const r = preflight(
            { gpus: 4, runtime: "docker" },
            { "nvidia-smi": gpus(4, 24564, driver), docker: dockerWithToolkit },
        );
        expect(r.out).toContain("stacktune preflight: ok");
        expect(r.code).toBe(0);
    });

    it("names a broken driver", () => {
        const r = preflight(
            { gpus: 1 },
            {
                "nvidia-smi":
                    'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver"; exit 9',
            },
        );
        expect(r.code).toBe(1);
        expect(r.out).toContain(
            "  - a working NVIDIA driver (nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver)",
        );
    });

    it("names a missing driver, docker daemon access and disk, all at once", () => {
        const r = preflight(
            { gpus: 4, runtime: "docker", minFreeDiskGb: 10_000_000 },
            { "nvidia-smi": "exit 127", docker: 'echo "permission denied" >&2; exit 1' },
        );
        expect(r.code).toBe(1);
        expect(r.out).toMatch(/stacktune preflight failed on .+: missing/);
        expect(r.out).toContain("  - a working NVIDIA driver");
        expect(r.out).toMatch(/ {2}- 10000000 GB free disk for .*\.stacktune\/runs \(found \d+ GB\)/);
        expect(r.out).toContain(
            `  - access to the docker daemon for user ${os.userInfo().username} (add it to the docker group)`,
        );
    });

    it("names a missing NVIDIA container toolkit on a GPU host", () => {
        const r = preflight(
            { gpus: 1, runtime: "docker" },
            {
                "nvidia-smi": gpus(1, 24564),
                docker: 'case "$1" in info) if [ "${2:-}" = "--format" ]; then echo \'{"runc":{}}\'; fi ;; esac',
            },
        );
        expect(r.code).toBe(1);
        expect(r.out).toContain("  - the NVIDIA container toolkit (nvidia-ctk / nvidia runtime for docker)");
    });

    it("skips every GPU check for a CPU host and checks the interpreter's venv module for the venv runtime", () => {
        expect(preflight({ gpus: 0, python: "python3" }).code).toBe(0);
        const r = preflight({ gpus: 0, python: "python3" }, { python3: "exit 1" });
        expect(r.code).toBe(1);
        expect(r.out).toContain("  - python3 with the venv module and ensurepip (e.g. apt-get install python3-venv)");
        expect(r.out).not.toContain("nvidia");
    });

    /** A stand-in interpreter that reports version `v` (what the preflight's probe prints). */
    const pythonReporting = (v: string): string => `echo ${v}`;

    it.each(["3.9", "3.13", "2.7"])(
        "refuses the venv runtime with a Python %s interpreter, naming the pinned set's range and what to set",
        (v) => {
            const r = preflight({ gpus: 0, python: "python3" }, { python3: pythonReporting(v) });
            expect(r.code).toBe(1);
            expect(r.out).toContain(
                `  - CPython 3.10 to 3.12 for the venv runtime (python3 is ${v}; the pinned set in python/requirements.txt is for 3.10 to 3.12): ` +
                    "install one and set stacktune:runtime.python to it (Ubuntu 22.04's and 24.04's python3 are in range: sudo apt install python3-venv, " +
                    "then runtime.python: python3), or set stacktune:runtime.kind to docker",
            );
        },
    );

    it.each([
        ["Ubuntu 22.04", "3.10"],
        ["Ubuntu 24.04", "3.12"],
    ])("accepts %s's python3 (%s) for the venv runtime", (_host, v) => {
        const r = preflight({ gpus: 0, python: "python3" }, { python3: pythonReporting(v) });
        expect(r.out).toContain(`stacktune preflight: python3 is Python ${v}`);
        expect(r.code).toBe(0);
    });

    it("checks the configured interpreter (runtime.python), not python3", () => {
        const bin = { python3: pythonReporting("3.9"), "python3.12": pythonReporting("3.12") };
        const r = preflight({ gpus: 0, python: "python3.12" }, bin);
        expect(r.out).toContain("stacktune preflight: python3.12 is Python 3.12");
        expect(r.code).toBe(0);
    });

    it("checks no interpreter when stacktune creates no environment (docker, or runtime.path)", () => {
        const r = preflight({ gpus: 0 }, { python3: pythonReporting("3.9") });
        expect(r.code).toBe(0);
        expect(r.out).not.toContain("python");
    });

    it("refuses nonsense requirements before any command is built", () => {
        expect(() =>
            preflightCommand({ gpus: -1, gpuMemoryGb: 24, minFreeDiskGb: 1, runtime: "venv", runRoot: "~" }),
        ).toThrow("preflight gpus must be a whole number >= 0 (got -1)");
    });
});

describe("waitForCloudInit", () => {
    function run(cloudInitExit: number, files: Record<string, string>): { code: number; err: string } {
        const dir = tempDir("cloud-init");
        fs.writeFileSync(
            path.join(dir, "cloud-init"),
            `#!/usr/bin/env bash\n[ "$2" = "--long" ] && echo "status: error (driver)"\nexit ${cloudInitExit}\n`,
            { mode: 0o755 },
        );
        for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
        const r = spawnSync("bash", ["-c", waitForCloudInit(path.join(dir, "host-ready"))], {
            env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ""}` },
            encoding: "utf8",
        });
        return { code: r.status ?? -1, err: r.stderr };
    }

    it("passes once cloud-init is done (or degraded) and the host is marked ready", () => {
        expect(run(0, { "host-ready": "gpus=4" }).code).toBe(0);
        expect(run(2, { "host-ready": "gpus=4" }).code).toBe(0);
    });

    it("fails with cloud-init's own report, or the reason the host preparation wrote", () => {
        expect(run(1, {})).toEqual({
            code: 1,
            err: "stacktune: cloud-init failed on this instance:\nstatus: error (driver)\n",
        });
        expect(run(0, { "host-failed": "stacktune host preparation failed: no NVIDIA driver after 900 s" })).toEqual({
            code: 1,
            err: "stacktune: the instance is not ready: stacktune host preparation failed: no NVIDIA driver after 900 s\n",
        });
    });
});
