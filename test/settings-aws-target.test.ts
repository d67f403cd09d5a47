// The aws target's settings refuse what AWS refuses, naming the key and what to write: key types
// EC2 cannot import, the stack files' placeholder key, CIDRs with host bits, a root volume that
// cannot hold the AMI and the preflight's free disk.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { awsHostCount, awsInstanceSpec, clusterIngressRules, sshIngressRules } from "../src/hosts/aws";
import { loadSettingsFromStackFile, parseSettings, SettingsError } from "../src/settings";
import { allSecrets, awsTarget, issuesOf, merge } from "./settings/fixtures";

type Raw = Record<string, unknown>;
const aws = (target: Raw): Raw => merge({ target: { ...awsTarget, ...target }, hub: { mergedRepo: "me/model" } });
const PLACEHOLDER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderReplaceWithYourOwnPublicKey0000 you@example.com";

describe("target.publicKey", () => {
    it.each([
        "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBE you@example.com",
        "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t you@example.com",
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP you@example.com",
    ])("refuses a key type EC2 does not import: %s", (publicKey) => {
        expect(issuesOf(aws({ publicKey }))).toEqual([
            {
                path: "target.publicKey",
                message:
                    "must be one OpenSSH RSA or ED25519 public key line (the contents of ~/.ssh/id_ed25519.pub): EC2 imports no other key type " +
                    "(make one with `ssh-keygen -t ed25519`); change stacktune:target.publicKey",
            },
        ]);
    });

    it("accepts RSA and ED25519 keys", () => {
        for (const publicKey of ["ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== you@example.com", awsTarget.publicKey]) {
            expect(parseSettings(aws({ publicKey }), allSecrets).target).toMatchObject({ publicKey });
        }
    });

    it("refuses the stack files' placeholder at `pulumi up`, while render (no secrets) still renders the shipped stacks", () => {
        expect(issuesOf(aws({ publicKey: PLACEHOLDER }))).toEqual([
            {
                path: "target.publicKey",
                message:
                    "is the placeholder of the shipped stack files, which no private key matches; set stacktune:target.publicKey " +
                    "to your own key (the contents of ~/.ssh/id_ed25519.pub, the pair of the stacktune:sshPrivateKey secret)",
            },
        ]);
        expect(parseSettings(aws({ publicKey: PLACEHOLDER }), {}, { checkSecrets: false }).target).toMatchObject({
            publicKey: PLACEHOLDER,
        });
    });
});

describe("target.sshCidr", () => {
    it("refuses host bits, suggesting the network address (the provider accepts only network addresses)", () => {
        const message =
            "has host bits set, and AWS takes only a network address: set stacktune:target.sshCidr to your IP as 203.0.113.7/32, " +
            "or to the network 203.0.113.0/24";
        expect(issuesOf(aws({ sshCidr: "203.0.113.7/24" }))).toEqual([{ path: "target.sshCidr", message }]);
        expect(() => sshIngressRules("203.0.113.7/24")).toThrow(
            `stacktune:target.sshCidr 203.0.113.7/24 ${message.replace("set stacktune:target.sshCidr to", "set it to")}`,
        );
    });

    it("accepts network addresses", () => {
        for (const sshCidr of ["203.0.113.7/32", "203.0.113.0/24", "10.1.0.0/16"]) {
            expect(parseSettings(aws({ sshCidr }), allSecrets).target).toMatchObject({ sshCidr });
            expect(sshIngressRules(sshCidr)[0]?.cidrBlocks).toEqual([sshCidr]);
        }
    });
});

describe("target.rootVolumeGb", () => {
    const message =
        "must be at least 160: the Deep Learning AMI itself takes about 60 GB and the preflight needs 100 GB free " +
        "for model, image, data and checkpoints; set stacktune:target.rootVolumeGb to 160 or more";

    it.each([100, 159])("refuses %s GB, which cannot leave the preflight its free disk", (rootVolumeGb) => {
        expect(issuesOf(aws({ rootVolumeGb }))).toEqual([{ path: "target.rootVolumeGb", message }]);
        expect(() => awsInstanceSpec({ userData: "", rootVolumeGb })).toThrow(
            `stacktune:target.rootVolumeGb ${rootVolumeGb} ${message.replace(/; set .*$/, "")}`,
        );
    });

    it("accepts 160 GB, and the instance is asked for exactly that", () => {
        expect(parseSettings(aws({ rootVolumeGb: 160 }), allSecrets).target).toMatchObject({ rootVolumeGb: 160 });
        expect(awsInstanceSpec({ userData: "", rootVolumeGb: 160 }).rootBlockDevice.volumeSize).toBe(160);
    });
});

describe("spot keeps its checkpoints", () => {
    it("a spot target keeps checkpoints in an S3 bucket by default; on-demand has none unless asked", () => {
        expect(parseSettings(aws({}), allSecrets).target).toMatchObject({
            spot: { enabled: true },
            checkpointBucket: true,
        });
        expect(parseSettings(aws({ spot: { enabled: false } }), allSecrets).target).toMatchObject({
            checkpointBucket: false,
        });
        expect(
            parseSettings(aws({ spot: { enabled: false }, checkpointBucket: true }), allSecrets).target,
        ).toMatchObject({ checkpointBucket: true });
    });

    it("refuses spot with checkpointBucket: false, naming the key and what to write", () => {
        expect(issuesOf(aws({ checkpointBucket: false }))).toEqual([
            {
                path: "target.checkpointBucket",
                message:
                    "spot capacity is reclaimed at 2 minutes' notice and the instance's root volume, with the checkpoints on it, is deleted with it; " +
                    "set stacktune:target.checkpointBucket to true (or remove it: spot keeps checkpoints in S3 by default), or target.spot.enabled to false",
            },
        ]);
    });

    it.each(["aws-g5", "aws-g6-r16"])("the shipped spot stack %s states its S3 checkpoint store", (stack) => {
        const file = join(__dirname, "..", "stacks", `Pulumi.${stack}.yaml`);
        expect(loadSettingsFromStackFile(file).settings.target).toMatchObject({
            spot: { enabled: true },
            checkpointBucket: true,
        });
        expect(readFileSync(file, "utf8")).toMatch(/^ {4}checkpointBucket: true$/m);
    });
});

describe("AwsGpuHost refuses exactly the argument values the settings refuse (one rule each)", () => {
    /** Whether the settings refuse `raw` with an issue at `key`. */
    const settingsRefuse = (raw: Raw, key: string): boolean => {
        try {
            parseSettings(raw, allSecrets);
            return false;
        } catch (error) {
            if (!(error instanceof SettingsError)) throw error;
            return error.issues.some((issue) => issue.path === key);
        }
    };
    const componentRefuses = (build: () => unknown): boolean => {
        try {
            build();
            return false;
        } catch {
            return true;
        }
    };
    const cases: { key: string; values: unknown[]; raw: (v: unknown) => Raw; component: (v: unknown) => unknown }[] = [
        {
            key: "target.hosts",
            values: [0, 1, 16, 17, 1.5],
            raw: (hosts) => aws({ hosts }),
            component: (hosts) => awsHostCount(hosts as number),
        },
        {
            key: "target.rootVolumeGb",
            values: [159, 160, 16384, 16385, 200.5],
            raw: (rootVolumeGb) => aws({ rootVolumeGb }),
            component: (rootVolumeGb) => awsInstanceSpec({ userData: "", rootVolumeGb: rootVolumeGb as number }),
        },
        {
            key: "target.sshCidr",
            values: [
                "203.0.113.7/32",
                "203.0.113.7/24",
                "10.0.0.0/8",
                "010.0.0.0/8",
                "10.0.0.0/08",
                "300.1.1.1/32",
                "203.0.113.7",
                "0.0.0.0/0",
            ],
            // Width is the allowOpenSsh rule's, checked apart (test/hosts.test.ts): here the CIDR itself.
            raw: (sshCidr) => aws({ sshCidr, allowOpenSsh: true }),
            component: (sshCidr) => sshIngressRules(sshCidr as string, true),
        },
        {
            key: "target.spot.maxPrice",
            values: [-1, 0, 0.01, 1000, 1001],
            raw: (maxPrice) => aws({ spot: { enabled: true, maxPrice } }),
            component: (maxPrice) =>
                awsInstanceSpec({ userData: "", spot: { enabled: true, maxPrice: maxPrice as number } }),
        },
        {
            key: "target.instanceType",
            values: ["g5.12xlarge", "g6.12xlarge", "p4d.24xlarge"],
            raw: (instanceType) => aws({ instanceType }),
            component: (instanceType) => awsInstanceSpec({ userData: "", instanceType: instanceType as never }),
        },
        {
            key: "distributed.rendezvousPort",
            values: [1023, 1024, 29500, 65535, 65536, 29500.5],
            raw: (rendezvousPort) => merge(aws({ hosts: 2 }), { distributed: { rendezvousPort } }),
            component: (rendezvousPort) => clusterIngressRules(rendezvousPort as number),
        },
    ];
    it.each(cases)("$key", ({ key, values, raw, component }) => {
        expect(values.map((value) => ({ value, refused: componentRefuses(() => component(value)) }))).toEqual(
            values.map((value) => ({ value, refused: settingsRefuse(raw(value), key) })),
        );
    });
});
