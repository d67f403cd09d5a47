import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import { JobHost, shellQuote } from "./command";
import { generatedHostKey, withHostKey } from "./hostKey";
import { PreflightRequirements, preflightCommand } from "./preflight";
import { sshReachability } from "./reach";
import { DEFAULT_RUN_ROOT } from "./ssh";
import { hostPaths } from "../render";
import {
    type AwsInstanceType,
    MAX_AWS_HOSTS,
    PREFLIGHT_MIN_FREE_DISK_GB,
    RendezvousPortSchema,
    awsCluster,
    awsInstanceTypes,
    cidrHostBitsProblem,
    rootVolumeTooSmall,
    settingsDefaults,
    sshCidrTooWide,
} from "../settings";
// The settings' own rule of each key: the component refuses exactly what the settings refuse.
import {
    AwsHostCountSchema,
    AwsInstanceTypeSchema,
    AwsRootVolumeGbSchema,
    AwsSpotMaxPriceSchema,
    MAX_AWS_ROOT_VOLUME_GB,
    MAX_SPOT_PRICE_USD_PER_HOUR,
    SshCidrFormSchema,
} from "../targets/aws/settings";

/** The supported 4×24 GB instance types; their GPUs and memory come from the settings layer. */
export type AwsGpuInstanceType = AwsInstanceType;
const AWS_GPU_INSTANCES = awsInstanceTypes;

/**
 * The Deep Learning AMI family the host boots: driver, CUDA, docker and the NVIDIA toolkit preinstalled.
 * Ubuntu 24.04, because its python3 (3.12) is within the venv runtime's supported range (22.04's is
 * 3.10, which the preflight refuses once the instance already bills); its driver (595 in 2026) is
 * above the preflight's minimum.
 */
export const DLAMI_NAME_PATTERN = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) *";

export interface AwsGpuHostArgs {
    region: string;
    /** @default "g5.12xlarge" */
    instanceType?: AwsGpuInstanceType;
    /**
     * Pin an AMI; unset looks up the newest {@link DLAMI_NAME_PATTERN} owned by Amazon, which a
     * running instance then keeps (a newer release is used by the next new instance). @default undefined
     */
    amiId?: string;
    /**
     * Spot instead of on-demand, with an optional max price (USD/hour). Required: its default is the
     * setting's (target.spot.enabled, true), which the program passes.
     */
    spot: { enabled: boolean; maxPrice?: number };
    /** Root volume (gp3, encrypted) in GB: the AMI plus the preflight's free disk. @default 200 */
    rootVolumeGb?: number;
    /** The only source allowed to reach SSH, e.g. your IP as `203.0.113.7/32`. */
    sshCidr: string;
    /** Allow an {@link sshCidr} wider than a /16, such as `0.0.0.0/0`. @default false */
    allowOpenSsh?: boolean;
    /** OpenSSH public key installed for {@link sshUser}. */
    publicKey: string;
    /** Matching private key, a Pulumi secret; only used by the SSH connection. */
    privateKey: pulumi.Input<string>;
    /** @default "ubuntu" */
    sshUser?: string;
    /** Create an S3 bucket for checkpoints and a role that can sync only this experiment's prefixes in it. @default false */
    checkpointBucket?: boolean;
    /**
     * This experiment's key prefix in the checkpoint bucket: machine 0 syncs to `<prefix>`, machine
     * r to `<prefix>-r` ({@link checkpointStorePrefixes}). @default "checkpoints"
     */
    checkpointPrefix?: string;
    /**
     * `pulumi destroy` empties and deletes the checkpoint bucket; otherwise the bucket (with its
     * public access block and encryption) is left in the account. @default false
     */
    deleteCheckpointsOnDestroy?: boolean;
    /** Rendered cloud-init user-data (driver wait, runtime setup, budget watchdog). */
    userData: string;
    runtime: "docker" | "venv";
    /** venv runtime: the interpreter that creates the environment, checked by the preflight. @default undefined */
    python?: string;
    /** @default "~/.stacktune/runs" */
    runRoot?: string;
    /** Free disk the preflight requires, in GB. @default PREFLIGHT_MIN_FREE_DISK_GB (100) */
    minFreeDiskGb?: number;
    /** Tags every resource with the stack and the experiment it serves. */
    tags: Record<string, string>;
    /**
     * Instances that train one job together (accelerate multi-node). Every host gets its own VPC and
     * one public subnet; more than one also get a cluster placement group, and instance `rank` has
     * the private address `awsCluster.address(rank)`. @default 1
     */
    hosts?: number;
    /**
     * Availability zone of the host's subnet; refused unless it offers {@link instanceType}.
     * @default the first zone (by name) of the region that offers the instance type
     */
    availabilityZone?: string;
    /** TCP port of the rendezvous (torch.distributed store) on machine 0 of a multi-host cluster. @default 29500 */
    rendezvousPort?: number;
}

/**
 * Linux's default ephemeral port range (`net.ipv4.ip_local_port_range`). NCCL and gloo bind their
 * bootstrap and data sockets to ephemeral ports, and NCCL has no setting that pins them, so the
 * cluster's instances must reach each other on this whole range.
 */
export const LINUX_EPHEMERAL_PORTS = { fromPort: 32768, toPort: 60999 } as const;

/** The number of instances, checked: an integer from 1 to {@link MAX_AWS_HOSTS}. */
export function awsHostCount(hosts: number | undefined): number {
    const count = hosts ?? 1;
    if (!AwsHostCountSchema.safeParse(count).success) {
        throw new Error(
            `stacktune:target.hosts ${count} is not a number of instances: use a whole number from 1 to ${MAX_AWS_HOSTS}`,
        );
    }
    return count;
}

/**
 * The subnet's availability zone, from `offered`: the zones of the region that offer the instance
 * type (EC2 launches no instance in a zone that does not, and not every zone offers the GPU types).
 * The one asked for, which must be offered; else the first offered by name, so that every `up` of a
 * stack asks for the same zone.
 */
export function availabilityZoneFor(args: {
    region: string;
    instanceType: string;
    offered: readonly string[];
    requested?: string;
}): string {
    const { region, instanceType, requested } = args;
    const offered = [...new Set(args.offered.filter((zone) => zone.startsWith(region)))].sort();
    if (offered.length === 0) {
        throw new Error(
            `no availability zone of region ${region} offers instance type ${instanceType}: set stacktune:target.region to a region ` +
                `that offers it, or stacktune:target.instanceType to another supported type`,
        );
    }
    if (requested === undefined) {
        return offered[0]!;
    }
    if (!requested.startsWith(region) || !/^[a-z]$/.test(requested.slice(region.length))) {
        throw new Error(
            `stacktune:target.availabilityZone "${requested}" is not a zone of region ${region}: ` +
                `use one such as ${offered[0]}, or change stacktune:target.region`,
        );
    }
    if (!offered.includes(requested)) {
        throw new Error(
            `stacktune:target.availabilityZone "${requested}" does not offer instance type ${instanceType}: ` +
                `use one that does (${offered.join(", ")}), or remove stacktune:target.availabilityZone to let stacktune choose`,
        );
    }
    return requested;
}

/**
 * Security-group and rule descriptions are restricted to `a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*` (no
 * apostrophe, no quotes; at most 255 characters): the provider refuses others at preview, EC2 at
 * create. test/aws-rules.test.ts checks every description the program sends.
 *
 * Ingress between the instances of a multi-host cluster, on top of {@link sshIngressRules}: only
 * members of the cluster's own security group (`self`, no CIDR) reach the rendezvous port and the
 * ephemeral ports that NCCL and gloo use; nothing from outside.
 */
export function clusterIngressRules(rendezvousPort: number): aws.types.input.ec2.SecurityGroupIngress[] {
    if (!RendezvousPortSchema.safeParse(rendezvousPort).success) {
        throw new Error(
            `stacktune:distributed.rendezvousPort ${rendezvousPort} is not a TCP port: use one from 1024 to 65535, e.g. 29500`,
        );
    }
    return [
        {
            description: "torch.distributed rendezvous on machine 0, from the cluster instances only",
            protocol: "tcp",
            fromPort: rendezvousPort,
            toPort: rendezvousPort,
            self: true,
        },
        {
            description: "NCCL and gloo sockets (Linux ephemeral ports), from the cluster instances only",
            protocol: "tcp",
            ...LINUX_EPHEMERAL_PORTS,
            self: true,
        },
    ];
}

/** The security group's ingress: SSH from exactly one CIDR, never the world unless explicitly allowed. */
export function sshIngressRules(sshCidr: string, allowOpenSsh = false): aws.types.input.ec2.SecurityGroupIngress[] {
    if (!SshCidrFormSchema.safeParse(sshCidr).success) {
        throw new Error(
            `stacktune:target.sshCidr "${sshCidr}" is not an IPv4 CIDR: set it to your address, e.g. 203.0.113.7/32`,
        );
    }
    const hostBits = cidrHostBitsProblem(sshCidr, "set it to");
    if (hostBits !== undefined) {
        throw new Error(`stacktune:target.sshCidr ${sshCidr} ${hostBits}`);
    }
    const reach = sshCidrTooWide(sshCidr);
    if (reach !== undefined && !allowOpenSsh) {
        throw new Error(
            `stacktune:target.sshCidr ${sshCidr} opens SSH to ${reach}: set it to your IP/32, ` +
                "or set stacktune:target.allowOpenSsh: true if you really mean it",
        );
    }
    return [{ description: "SSH from the operator", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: [sshCidr] }];
}

/**
 * The EC2 vCPU quotas that bound G instances (g5, g6), by market: new accounts often have 0. Codes
 * and names as the Service Quotas API lists them for service code `ec2`.
 */
export const GPU_VCPU_QUOTAS = {
    onDemand: { code: "L-DB2E81BA", name: "Running On-Demand G and VT instances" },
    spot: { code: "L-3819A6DF", name: "All G and VT Spot Instance Requests" },
} as const;

/** Why the account's G-instance vCPU quota cannot run the instances (and what to do), or undefined. */
export function gpuQuotaProblem(inputs: {
    spot: boolean;
    instanceType: AwsGpuInstanceType;
    hosts: number;
    region: string;
    quotaVcpus: number;
}): string | undefined {
    const quota = inputs.spot ? GPU_VCPU_QUOTAS.spot : GPU_VCPU_QUOTAS.onDemand;
    const need = inputs.hosts * AWS_GPU_INSTANCES[inputs.instanceType].vcpus;
    if (inputs.quotaVcpus >= need) return undefined;
    return (
        `the account's EC2 quota "${quota.name}" (${quota.code}) in ${inputs.region} is ${inputs.quotaVcpus} vCPUs, ` +
        `but ${inputs.hosts} x ${inputs.instanceType} need ${need}: request ${need} or more ` +
        `(aws service-quotas request-service-quota-increase --service-code ec2 --quota-code ${quota.code} ` +
        `--desired-value ${need} --region ${inputs.region}, or the Service Quotas console)` +
        (inputs.spot ? ", or set stacktune:target.spot.enabled to false to use the on-demand quota" : "")
    );
}

/** Arguments of the AMI lookup: newest Amazon-owned x86_64 Deep Learning AMI (Ubuntu). */
export function dlamiLookup(): aws.ec2.GetAmiArgs {
    return {
        mostRecent: true,
        owners: ["amazon"],
        filters: [
            { name: "name", values: [DLAMI_NAME_PATTERN] },
            { name: "architecture", values: ["x86_64"] },
            { name: "state", values: ["available"] },
            { name: "root-device-type", values: ["ebs"] },
        ],
    };
}

/** The key prefix of each machine's checkpoints, in machine-rank order: `prefix`, `prefix-1`, … */
export function checkpointStorePrefixes(prefix: string, hosts: number): string[] {
    return Array.from({ length: hosts }, (_, rank) => (rank === 0 ? prefix : `${prefix}-${rank}`));
}

/**
 * Least privilege for the checkpoint store: exactly what checkpoint-sync.sh's `aws s3 sync` calls
 * on the machines' prefixes. Listing (ListObjectsV2, prefix `<prefix>/`), GetObject for restore,
 * PutObject (multipart uploads included) for flush, AbortMultipartUpload for a flush cut off by the
 * instance's termination. No DeleteObject: the sync runs without --delete. Nothing else.
 */
export function checkpointBucketPolicy(
    bucketArn: string,
    prefixes: readonly string[],
): {
    Version: string;
    Statement: {
        Sid: string;
        Effect: "Allow";
        Action: string[];
        Resource: string[];
        Condition?: { StringLike: { "s3:prefix": string[] } };
    }[];
} {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "ListCheckpointPrefix",
                Effect: "Allow",
                Action: ["s3:ListBucket"],
                Resource: [bucketArn],
                Condition: { StringLike: { "s3:prefix": prefixes.map((p) => `${p}/*`) } },
            },
            {
                Sid: "ReadWriteCheckpoints",
                Effect: "Allow",
                Action: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                Resource: prefixes.map((p) => `${bucketArn}/${p}/*`),
            },
        ],
    };
}

/** Lets EC2 (and only EC2) assume the instance role. */
export function ec2AssumeRolePolicy(): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
    });
}

export interface AwsInstanceSpecInputs {
    instanceType?: AwsGpuInstanceType;
    spot?: { enabled: boolean; maxPrice?: number };
    rootVolumeGb?: number;
    userData: string;
}

/** The instance's settings that do not depend on other resources; exact values are unit-tested. */
export function awsInstanceSpec(inputs: AwsInstanceSpecInputs): {
    instanceType: AwsGpuInstanceType;
    instanceInitiatedShutdownBehavior: "terminate";
    metadataOptions: { httpEndpoint: "enabled"; httpTokens: "required"; httpPutResponseHopLimit: number };
    rootBlockDevice: { volumeType: "gp3"; volumeSize: number; encrypted: true; deleteOnTermination: true };
    instanceMarketOptions?: {
        marketType: "spot";
        spotOptions: { spotInstanceType: "one-time"; instanceInterruptionBehavior: "terminate"; maxPrice?: string };
    };
    userData: string;
    userDataReplaceOnChange: true;
} {
    const instanceType = inputs.instanceType ?? "g5.12xlarge";
    if (!AwsInstanceTypeSchema.safeParse(instanceType).success) {
        throw new Error(
            `stacktune:target.instanceType "${instanceType}" is not supported: use ${Object.keys(AWS_GPU_INSTANCES).join(" or ")}`,
        );
    }
    const rootVolumeGb = inputs.rootVolumeGb ?? settingsDefaults.target.aws.rootVolumeGb;
    if (!AwsRootVolumeGbSchema.safeParse(rootVolumeGb).success) {
        const problem =
            rootVolumeTooSmall(rootVolumeGb) ?? `must be a whole number of GB, at most ${MAX_AWS_ROOT_VOLUME_GB}`;
        throw new Error(`stacktune:target.rootVolumeGb ${rootVolumeGb} ${problem}`);
    }
    const spot = inputs.spot;
    if (spot?.maxPrice !== undefined && !AwsSpotMaxPriceSchema.safeParse(spot.maxPrice).success) {
        throw new Error(
            `stacktune:target.spot.maxPrice must be a positive USD/hour price of at most ${MAX_SPOT_PRICE_USD_PER_HOUR} (got ${spot.maxPrice})`,
        );
    }
    return {
        instanceType,
        // A `shutdown -h` from the job or the watchdog ends the bill: the instance terminates.
        instanceInitiatedShutdownBehavior: "terminate",
        // IMDSv2 only; hop limit 2 so processes in a container can still reach the metadata service.
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 2 },
        rootBlockDevice: { volumeType: "gp3", volumeSize: rootVolumeGb, encrypted: true, deleteOnTermination: true },
        // One-time spot request. A declarative instance cannot fall back to on-demand by itself: when
        // AWS has no spot capacity the create fails with its InsufficientInstanceCapacity error, and
        // the operator re-runs with target.spot.enabled false.
        ...(spot?.enabled
            ? {
                  instanceMarketOptions: {
                      marketType: "spot" as const,
                      spotOptions: {
                          spotInstanceType: "one-time" as const,
                          instanceInterruptionBehavior: "terminate" as const,
                          ...(spot.maxPrice !== undefined ? { maxPrice: spot.maxPrice.toFixed(4) } : {}),
                      },
                  },
              }
            : {}),
        userData: inputs.userData,
        // New user-data means a new machine: cloud-init only runs on first boot.
        userDataReplaceOnChange: true,
    };
}

/**
 * Waits for cloud-init (driver, runtime, watchdog) and for the user-data's ready marker, failing with
 * the reason the host preparation wrote, before the preflight runs.
 */
export function waitForCloudInit(readyMarker: string): string {
    const failed = readyMarker.replace(/host-ready$/, "host-failed");
    return (
        'cloud-init status --wait >/dev/null 2>&1; rc=$?; if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then ' +
        'echo "stacktune: cloud-init failed on this instance:" >&2; cloud-init status --long >&2; exit 1; fi\n' +
        `if [ ! -f ${readyMarker} ]; then echo "stacktune: the instance is not ready: ` +
        `$(cat ${failed} 2>/dev/null || echo 'no ${readyMarker} after cloud-init')" >&2; exit 1; fi\n`
    );
}

/**
 * The readiness command of an instance: the cloud-init wait, then the preflight with the groups
 * prepare-host gave the login user. This command's SSH session began before prepare-host added the
 * user to the docker group, and a session keeps the groups it logged in with, so a plain `docker
 * info` in it is refused on a first `up`; `sg docker` runs the preflight with that group added.
 */
export function readinessCommand(readyMarker: string, requirements: PreflightRequirements): string {
    const preflight = preflightCommand(requirements);
    return (
        waitForCloudInit(readyMarker) +
        (requirements.runtime === "docker" ? `sg docker -c ${shellQuote(preflight)}\n` : preflight)
    );
}

/**
 * The host's own network: a VPC and one public subnet in one zone, for one host as for a cluster (no
 * default VPC is assumed: an account may have none, and its settings are not the program's). A
 * cluster's instances get the fixed private addresses the rendered accelerate configs name in it.
 */
interface HostNetwork {
    vpc: aws.ec2.Vpc;
    subnet: aws.ec2.Subnet;
    /** The subnet's route to the internet: instances must not boot before it exists. */
    routes: aws.ec2.RouteTableAssociation;
}

/**
 * 4×24 GB GPU instances on AWS that exist only for one experiment: SSH only from one CIDR, IMDSv2,
 * encrypted disk, terminate themselves on shutdown. One instance by default; with `hosts` > 1,
 * several in one VPC and cluster placement group that train one job together.
 */
export class AwsGpuHost extends pulumi.ComponentResource {
    /** Machine 0's instance (the only one for a single host). */
    public readonly instance: aws.ec2.Instance;
    /** Every instance, in machine-rank order. */
    public readonly instances: aws.ec2.Instance[];
    public readonly securityGroup: aws.ec2.SecurityGroup;
    public readonly keyPair: aws.ec2.KeyPair;
    public readonly bucket?: aws.s3.Bucket;
    /** With a checkpoint bucket: each machine's store (`s3://bucket/prefix`), in machine-rank order. */
    public readonly checkpointStores?: pulumi.Output<string>[];
    /** The host's own VPC and public subnet (one host's as a cluster's). */
    public readonly vpc: aws.ec2.Vpc;
    public readonly subnet: aws.ec2.Subnet;
    /** Multi-host only: the cluster placement group, for a low-latency network between the instances. */
    public readonly placementGroup?: aws.ec2.PlacementGroup;
    /** The AMI the instances boot: the one target.amiId pins, or the lookup's newest (with its name). */
    public readonly ami: pulumi.Output<{ id: string; name?: string; source: "lookup" | "target.amiId" }>;
    /** The account's G-instance vCPU quota for this market, checked against the instances' need before they are created. */
    public readonly gpuQuota: pulumi.Output<number>;
    /** Machine 0's public address. */
    public readonly publicIp: pulumi.Output<string>;
    /** Machine 0's readiness command. */
    public readonly ready: command.remote.Command;
    /** Machine 0 as a job host (main machine: rendezvous, merge, publish). */
    public readonly jobHost: JobHost;
    /** Every instance as a job host, in machine-rank order, each with its own connection and readiness. */
    public readonly jobHosts: JobHost[];

    constructor(name: string, args: AwsGpuHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("stacktune:aws:GpuHost", name, {}, opts);
        const spec = awsInstanceSpec(args);
        const hosts = awsHostCount(args.hosts);
        const ingress = [
            ...sshIngressRules(args.sshCidr, args.allowOpenSsh ?? false),
            ...(hosts > 1
                ? clusterIngressRules(args.rendezvousPort ?? settingsDefaults.distributed.rendezvousPort)
                : []),
        ];
        const provider = new aws.Provider(`${name}-aws`, { region: args.region as aws.Region }, { parent: this });
        const childOpts = { parent: this, provider };

        // The lookup finds the newest release on every `up`, and a changed `ami` replaces the
        // instance: a looked-up AMI is therefore pinned by the instance that booted it (ignoreChanges
        // below), so a release never replaces a running host. A new instance boots the newest one;
        // moving a running host is the deliberate step of setting target.amiId (README "AMI").
        this.ami =
            args.amiId !== undefined
                ? pulumi.output({ id: args.amiId, source: "target.amiId" as const })
                : aws.ec2
                      .getAmiOutput(dlamiLookup(), { parent: this, provider })
                      .apply((found) => ({ id: found.id, name: found.name, source: "lookup" as const }));
        // Quotas before cost: the instances wait for the account's G-instance vCPU quota, and a quota
        // too low for them fails the run here, at preview, instead of at the instances' create.
        const market = spec.instanceMarketOptions !== undefined ? GPU_VCPU_QUOTAS.spot : GPU_VCPU_QUOTAS.onDemand;
        this.gpuQuota = aws.servicequotas
            .getServiceQuotaOutput({ serviceCode: "ec2", quotaCode: market.code }, { parent: this, provider })
            .apply((quota) => {
                const problem = gpuQuotaProblem({
                    spot: market === GPU_VCPU_QUOTAS.spot,
                    instanceType: spec.instanceType,
                    hosts,
                    region: args.region,
                    quotaVcpus: quota.value,
                });
                if (problem !== undefined) throw new Error(problem);
                return quota.value;
            });
        const amiId = pulumi.all([this.ami.id, this.gpuQuota]).apply(([id]) => id);
        // Shown by `pulumi preview` and `pulumi up`, before any instance is created.
        this.ami.apply((ami) =>
            pulumi.log.info(
                ami.source === "lookup"
                    ? `AMI: newest Deep Learning AMI is ${ami.id} (${ami.name}); a running instance keeps the AMI it booted`
                    : `AMI: ${ami.id}, pinned by stacktune:target.amiId`,
                this,
            ),
        );

        // Only a zone that offers the instance type can launch it: the subnet (and so every
        // instance) waits for the offerings, and none offered fails here, at preview.
        const availabilityZone = aws.ec2
            .getInstanceTypeOfferingsOutput(
                {
                    region: args.region,
                    locationType: "availability-zone",
                    filters: [{ name: "instance-type", values: [spec.instanceType] }],
                },
                { parent: this, provider },
            )
            .apply((offerings) =>
                availabilityZoneFor({
                    region: args.region,
                    instanceType: spec.instanceType,
                    offered: offerings.locations,
                    requested: args.availabilityZone,
                }),
            );
        const network = this.hostNetwork(
            name,
            availabilityZone,
            args.availabilityZone !== undefined,
            args.tags,
            childOpts,
        );
        this.vpc = network.vpc;
        this.subnet = network.subnet;
        const cluster = hosts > 1;
        this.placementGroup = cluster
            ? new aws.ec2.PlacementGroup(`${name}-placement`, { strategy: "cluster", tags: args.tags }, childOpts)
            : undefined;
        const placementGroup = this.placementGroup;

        this.securityGroup = new aws.ec2.SecurityGroup(
            `${name}-ssh`,
            {
                description: cluster
                    ? "stacktune: SSH from the operator, training traffic between the cluster instances"
                    : "stacktune: SSH from the operator only",
                vpcId: network.vpc.id,
                ingress,
                // The job downloads the model and data and pushes to the Hub.
                egress: [
                    { protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
                ],
                tags: args.tags,
            },
            childOpts,
        );
        this.keyPair = new aws.ec2.KeyPair(`${name}-key`, { publicKey: args.publicKey, tags: args.tags }, childOpts);

        let instanceProfile: aws.iam.InstanceProfile | undefined;
        if (args.checkpointBucket) {
            // Checkpoints can be days of GPU time: unless the stack says otherwise, `pulumi destroy`
            // leaves the bucket (with its protections) in the account rather than deleting it, and
            // never fails on a bucket that still holds objects.
            const deleteOnDestroy = args.deleteCheckpointsOnDestroy ?? false;
            const storeOpts = { ...childOpts, retainOnDelete: !deleteOnDestroy };
            const prefixes = checkpointStorePrefixes(args.checkpointPrefix ?? "checkpoints", hosts);
            this.bucket = new aws.s3.Bucket(
                `${name}-checkpoints`,
                { bucketPrefix: "stacktune-ckpt-", forceDestroy: deleteOnDestroy, tags: args.tags },
                storeOpts,
            );
            new aws.s3.BucketPublicAccessBlock(
                `${name}-checkpoints`,
                {
                    bucket: this.bucket.id,
                    blockPublicAcls: true,
                    blockPublicPolicy: true,
                    ignorePublicAcls: true,
                    restrictPublicBuckets: true,
                },
                storeOpts,
            );
            new aws.s3.BucketServerSideEncryptionConfiguration(
                `${name}-checkpoints`,
                {
                    bucket: this.bucket.id,
                    rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
                },
                storeOpts,
            );
            const role = new aws.iam.Role(
                `${name}-role`,
                { assumeRolePolicy: ec2AssumeRolePolicy(), tags: args.tags },
                childOpts,
            );
            new aws.iam.RolePolicy(
                `${name}-checkpoints`,
                {
                    role: role.id,
                    policy: this.bucket.arn.apply((arn) => JSON.stringify(checkpointBucketPolicy(arn, prefixes))),
                },
                childOpts,
            );
            instanceProfile = new aws.iam.InstanceProfile(
                `${name}-profile`,
                { role: role.name, tags: args.tags },
                childOpts,
            );
            const bucket = this.bucket;
            this.checkpointStores = prefixes.map((prefix) => pulumi.interpolate`s3://${bucket.bucket}/${prefix}`);
        }

        const instanceInfo = AWS_GPU_INSTANCES[spec.instanceType];
        const preflight = readinessCommand(hostPaths.readyMarker, {
            gpus: instanceInfo.gpus,
            gpuMemoryGb: instanceInfo.gpuMemoryGb,
            minFreeDiskGb: args.minFreeDiskGb ?? PREFLIGHT_MIN_FREE_DISK_GB,
            runtime: args.runtime,
            python: args.python,
            runRoot: args.runRoot ?? DEFAULT_RUN_ROOT,
        });
        // A single host keeps its unsuffixed names; a cluster's resources carry the machine rank.
        const ranked = (base: string, rank: number): string => (cluster ? `${base}-${rank}` : base);

        // A spot cluster stays spot: an interruption of any one instance stops the whole job (the
        // other ranks lose their peer), and the checkpoint store resumes it on the next `pulumi up`.
        const launch = (
            rank: number,
        ): { instance: aws.ec2.Instance; ready: command.remote.Command; jobHost: JobHost } => {
            // The instance boots with a host key the program made for it (cloud-init installs it),
            // so even the first connection verifies the host; the user-data holding it is a secret.
            const hostKey = pulumi
                .secret(args.privateKey)
                .apply((key) => generatedHostKey(key, `${pulumi.getStack()}/${ranked(name, rank)}`));
            const instance = new aws.ec2.Instance(
                ranked(`${name}-instance`, rank),
                {
                    ...spec,
                    ami: amiId,
                    userData: pulumi.secret(hostKey.apply((key) => withHostKey(spec.userData, key))),
                    keyName: this.keyPair.keyName,
                    vpcSecurityGroupIds: [this.securityGroup.id],
                    // Read by EC2 because the instance is in a subnet (the subnet maps public addresses too).
                    subnetId: network.subnet.id,
                    associatePublicIpAddress: true,
                    ...(placementGroup !== undefined
                        ? { privateIp: awsCluster.address(rank), placementGroup: placementGroup.name }
                        : {}),
                    ...(instanceProfile !== undefined ? { iamInstanceProfile: instanceProfile.name } : {}),
                    tags: cluster
                        ? { Name: `${name}-${rank}`, "stacktune:machine-rank": String(rank), ...args.tags }
                        : { Name: name, ...args.tags },
                    volumeTags: args.tags,
                },
                {
                    ...childOpts,
                    // cloud-init downloads at first boot: the subnet's route to the internet must exist by then.
                    dependsOn: [network.routes],
                    ...(args.amiId === undefined ? { ignoreChanges: ["ami"] } : {}),
                },
            );
            const connection: command.types.input.remote.ConnectionArgs = {
                host: instance.publicIp,
                user: args.sshUser ?? "ubuntu",
                privateKey: pulumi.secret(args.privateKey),
                hostKey: hostKey.publicKey,
                // A fresh instance takes a few minutes before sshd answers.
                dialErrorLimit: 60,
                perDialTimeout: 15,
            };
            // The program bounds the wait for sshd itself: the provider's SSH handshake has no deadline.
            const reach = sshReachability(
                ranked(`${name}-reach`, rank),
                connection,
                `that the instance is running (EC2 console) and that stacktune:target.sshCidr holds your address`,
                { parent: this, dependsOn: [instance] },
            );
            const ready = new command.remote.Command(
                ranked(`${name}-ready`, rank),
                { connection, create: preflight, addPreviousOutputInEnv: false },
                { parent: this, dependsOn: [instance, reach] },
            );
            const jobHost: JobHost = {
                kind: "aws",
                address: instance.publicIp,
                connection,
                gpus: instanceInfo.gpus,
                ready: [ready],
                releaseAction: "poweroff",
            };
            return { instance, ready, jobHost };
        };
        const machines = Array.from({ length: hosts }, (_, rank) => launch(rank));
        const main = machines[0]!;
        this.instance = main.instance;
        this.ready = main.ready;
        this.jobHost = main.jobHost;
        this.publicIp = main.instance.publicIp;
        this.instances = machines.map((m) => m.instance);
        this.jobHosts = machines.map((m) => m.jobHost);
        this.registerOutputs({
            publicIp: this.publicIp,
            instanceId: this.instance.id,
            ami: this.ami,
            bucket: this.bucket?.bucket,
            ...(cluster ? { publicIps: this.instances.map((i) => i.publicIp) } : {}),
        });
    }

    private hostNetwork(
        name: string,
        availabilityZone: pulumi.Output<string>,
        zoneRequested: boolean,
        tags: Record<string, string>,
        childOpts: pulumi.CustomResourceOptions,
    ): HostNetwork {
        const vpc = new aws.ec2.Vpc(
            `${name}-vpc`,
            { cidrBlock: awsCluster.vpcCidr, enableDnsSupport: true, enableDnsHostnames: true, tags },
            childOpts,
        );
        // The instances download the model and data and push to the Hub: the subnet is public.
        // A changed zone replaces the subnet and so every instance: a chosen zone is kept by the
        // subnet that has it (as a looked-up AMI is kept by its instance), so a change in the
        // offerings never replaces a running host; a zone the stack names is followed.
        const subnet = new aws.ec2.Subnet(
            `${name}-subnet`,
            { vpcId: vpc.id, cidrBlock: awsCluster.subnetCidr, availabilityZone, mapPublicIpOnLaunch: true, tags },
            { ...childOpts, ...(zoneRequested ? {} : { ignoreChanges: ["availabilityZone"] }) },
        );
        const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags }, childOpts);
        const routeTable = new aws.ec2.RouteTable(
            `${name}-routes`,
            { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }], tags },
            childOpts,
        );
        const routes = new aws.ec2.RouteTableAssociation(
            `${name}-routes`,
            { subnetId: subnet.id, routeTableId: routeTable.id },
            childOpts,
        );
        return { vpc, subnet, routes };
    }
}
