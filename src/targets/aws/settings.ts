/** The aws target's settings (`stacktune:target` with `kind: aws`): instance type, network, login key, spot, cluster size. */
import { z } from "zod";
import { settingsDefaults } from "../../settings/defaults";
import { PREFLIGHT_MIN_FREE_DISK_GB } from "../../settings/numbers";
import { openSshPublicKeySchema } from "../sshPublicKey";
import { awsInstanceTypeNames } from "./catalog";
import { cidrHostBitsProblem } from "./network";

const defaults = settingsDefaults.target.aws;

/** EC2 ImportKeyPair "imports the public key from an RSA or ED25519 key pair" (API_ImportKeyPair). */
const EC2_KEY_TYPES = ["ssh-ed25519", "ssh-rsa"] as const;

/**
 * The key blob of the placeholder `publicKey` the shipped stack files carry (so that they render
 * and review without anyone's key): no private key matches it, so `pulumi up` refuses it.
 */
export const PLACEHOLDER_PUBLIC_KEY_BLOB = "AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderReplaceWithYourOwnPublicKey0000";

/** Whether `publicKey` is the stack files' placeholder ({@link PLACEHOLDER_PUBLIC_KEY_BLOB}). */
export function isPlaceholderPublicKey(publicKey: string): boolean {
    return publicKey.split(" ")[1] === PLACEHOLDER_PUBLIC_KEY_BLOB;
}

/**
 * What the Deep Learning AMI itself occupies on the root volume, in GB, rounded up: Ubuntu, the
 * driver, docker and four CUDA stacks of about 10 GB each (guardian/amigo#1828 measured ~10 GB per
 * CUDA version on the DLAMI; AWS's console recommends 100 GB for the Base DLAMI alone,
 * aws/deep-learning-containers#2425).
 */
export const DLAMI_ROOT_USED_GB = 60;

/** The smallest root volume that leaves the preflight its free disk. */
export const MIN_AWS_ROOT_VOLUME_GB = DLAMI_ROOT_USED_GB + PREFLIGHT_MIN_FREE_DISK_GB;

/** Why a root volume of `gb` is too small, or undefined. */
export function rootVolumeTooSmall(gb: number): string | undefined {
    return gb < MIN_AWS_ROOT_VOLUME_GB
        ? `must be at least ${MIN_AWS_ROOT_VOLUME_GB}: the Deep Learning AMI itself takes about ${DLAMI_ROOT_USED_GB} GB and the preflight ` +
              `needs ${PREFLIGHT_MIN_FREE_DISK_GB} GB free for model, image, data and checkpoints`
        : undefined;
}

/** The largest root volume, in GB: a gp3 volume's 16 TiB. */
export const MAX_AWS_ROOT_VOLUME_GB = 16384;

/** Most instances of one multi-host AWS cluster (`target.hosts`). */
export const MAX_AWS_HOSTS = 16;

/** The highest spot price one may cap at, USD per instance-hour. */
export const MAX_SPOT_PRICE_USD_PER_HOUR = 1000;

/*
 * The rules of the single keys, each the one home of its rule: the settings below and AwsGpuHost's
 * own argument checks (src/hosts/aws.ts) both parse with them.
 */

/** One of the catalog's instance types (src/targets/aws/instance-types.json). */
export const AwsInstanceTypeSchema = z.enum(awsInstanceTypeNames);

/** The root volume in whole GB: the AMI plus the preflight's free disk ({@link rootVolumeTooSmall}), at most a gp3 volume. */
export const AwsRootVolumeGbSchema = z
    .number()
    .int()
    .max(MAX_AWS_ROOT_VOLUME_GB)
    .superRefine((gb, ctx) => {
        const problem = rootVolumeTooSmall(gb);
        if (problem !== undefined)
            ctx.addIssue({
                code: "custom",
                params: { complete: true },
                message: `${problem}; set stacktune:target.rootVolumeGb to ${MIN_AWS_ROOT_VOLUME_GB} or more`,
            });
    });

/** The SSH source's form: one IPv4 CIDR (the instance has no IPv6 address); its host bits are {@link cidrHostBitsProblem}'s. */
export const SshCidrFormSchema = z.cidrv4();

/** A spot price cap in USD per instance-hour. */
export const AwsSpotMaxPriceSchema = z.number().positive().max(MAX_SPOT_PRICE_USD_PER_HOUR);

/** Instances of one run. */
export const AwsHostCountSchema = z.number().int().min(1).max(MAX_AWS_HOSTS);

export const AwsSpotSchema = z.strictObject({
    /** Ask for spot capacity first, fall back to on-demand. @default true */
    enabled: z.boolean().default(defaults.spot.enabled),
    /** Highest hourly spot price in USD; unset = the on-demand price. */
    maxPrice: AwsSpotMaxPriceSchema.optional(),
});

/** A 4 × 24 GB GPU instance that stacktune creates and tears down. */
export const AwsTargetSchema = z
    .strictObject({
        kind: z.literal("aws"),
        /** @default us-east-1 */
        region: z
            .string()
            .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as us-east-1")
            .default(defaults.region),
        /** One of the catalog's instance types (src/targets/aws/instance-types.json). @default g5.12xlarge */
        instanceType: AwsInstanceTypeSchema.default(defaults.instanceType),
        /** Pinned AMI; unset = the newest Deep Learning AMI found by filter. */
        amiId: z
            .string()
            .regex(/^ami-[0-9a-f]{8,17}$/, "must be an AMI id such as ami-0123456789abcdef0")
            .optional(),
        spot: AwsSpotSchema.prefault({}),
        /** Encrypted root volume: the AMI plus the preflight's free disk ({@link MIN_AWS_ROOT_VOLUME_GB}). @default 200 */
        rootVolumeGb: AwsRootVolumeGbSchema.default(defaults.rootVolumeGb),
        /** The only source allowed to reach SSH, e.g. your IP/32 (IPv4: the instance has no IPv6 address), as a network address. */
        sshCidr: SshCidrFormSchema.superRefine((cidr, ctx) => {
            const problem = cidrHostBitsProblem(cidr);
            if (problem !== undefined) ctx.addIssue({ code: "custom", params: { complete: true }, message: problem });
        }),
        /** Must be true to accept an sshCidr wider than a /16, such as 0.0.0.0/0. @default false */
        allowOpenSsh: z.boolean().default(defaults.allowOpenSsh),
        /** OpenSSH public key installed for the login user: RSA or ED25519, the types EC2 imports. */
        publicKey: openSshPublicKeySchema(
            EC2_KEY_TYPES,
            "must be one OpenSSH RSA or ED25519 public key line (the contents of ~/.ssh/id_ed25519.pub): EC2 imports no other key type " +
                "(make one with `ssh-keygen -t ed25519`)",
        ),
        /**
         * Instances that train one job together (accelerate multi-node), in one cluster placement group
         * and one subnet. @default 1
         */
        hosts: AwsHostCountSchema.default(defaults.hosts),
        /**
         * Availability zone of the host's subnet (one host's or a cluster's); refused at preview unless it
         * offers target.instanceType. @default the first zone (by name) of the region that offers it
         */
        availabilityZone: z
            .string()
            .regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, "must be an availability zone such as us-east-1a")
            .optional(),
        /**
         * Create an S3 bucket (and a least-privilege role) for checkpoints. @default spot.enabled: a spot
         * instance is reclaimed with its root volume, so spot keeps checkpoints in S3 unless told otherwise
         * (and `false` with spot is refused).
         */
        checkpointBucket: z.boolean().optional(),
    })
    .transform((target) => ({ ...target, checkpointBucket: target.checkpointBucket ?? target.spot.enabled }));

export type AwsTarget = z.infer<typeof AwsTargetSchema>;
