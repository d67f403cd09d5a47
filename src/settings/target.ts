import { z } from 'zod';
import { targetOf, type ClusterMachine } from '../targets';
import { type AwsInstanceType, awsInstanceTypeNames, awsInstanceTypes } from '../targets/aws/catalog';
import { awsCluster } from '../targets/aws/target';
import { settingsDefaults } from './defaults';
import { HostSchema, TextSchema, UserSchema } from './grammar';
import { MAX_GPUS_PER_MACHINE, PREFLIGHT_MIN_FREE_DISK_GB } from './numbers';

const defaults = settingsDefaults.target;

// The instance types are the catalog's rows (src/targets/aws/instance-types.json).
export { awsInstanceTypes, type AwsInstanceType };

const gpuCount = z.number().int().min(0).max(MAX_GPUS_PER_MACHINE);

/** The OpenSSH public key types, by who accepts them. */
const HOST_KEY_TYPES = ['ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'] as const;
/** EC2 ImportKeyPair "imports the public key from an RSA or ED25519 key pair" (API_ImportKeyPair). */
const EC2_KEY_TYPES = ['ssh-ed25519', 'ssh-rsa'] as const;

/**
 * One OpenSSH public key line of one of `types`: `<type> <base64 blob>`, then an optional comment
 * without control characters (no second line can ride along). The one grammar of host keys and
 * login keys.
 */
function openSshPublicKeySchema(types: readonly string[], message: string) {
  const type = types.map((t) => t.replace(/[.+]/g, '\\$&')).join('|');
  return z.string().regex(new RegExp(`^(${type}) [A-Za-z0-9+/]+={0,2}( \\P{Cc}*)?$`, 'u'), message);
}

/**
 * A machine's SSH host key as the command provider's `connection.hostKey` takes it: one OpenSSH
 * public key line (`ssh-ed25519 AAAA…`, comment optional), without the host name of a known_hosts line.
 */
export const SshHostKeySchema = openSshPublicKeySchema(
  HOST_KEY_TYPES,
  'must be one OpenSSH public key line such as `ssh-ed25519 AAAA…` (ssh-keyscan prints it after the host name; leave the host name out)',
);

/**
 * The key blob of the placeholder `publicKey` the shipped stack files carry (so that they render
 * and review without anyone's key): no private key matches it, so `pulumi up` refuses it.
 */
export const PLACEHOLDER_PUBLIC_KEY_BLOB = 'AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderReplaceWithYourOwnPublicKey0000';

/** Whether `publicKey` is the stack files' placeholder ({@link PLACEHOLDER_PUBLIC_KEY_BLOB}). */
export function isPlaceholderPublicKey(publicKey: string): boolean {
  return publicKey.split(' ')[1] === PLACEHOLDER_PUBLIC_KEY_BLOB;
}

/**
 * The network address of an IPv4 CIDR (`203.0.113.7/24` → `203.0.113.0/24`). AWS and its provider
 * take only network addresses (terraform-provider-aws verify.ValidCIDRNetworkAddress).
 */
export function cidrNetworkAddress(cidr: string): string {
  const [address = '', prefixText = '32'] = cidr.split('/');
  const prefix = Number(prefixText);
  const value = address.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const network = value - (value % 2 ** (32 - prefix));
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
  return `${octets.join('.')}/${prefix}`;
}

/**
 * What to write instead of a CIDR with host bits (`setIt`: how the message names the key), or
 * undefined for a network address. The one rule of the settings and the security group.
 */
export function cidrHostBitsProblem(cidr: string, setIt = 'set stacktune:target.sshCidr to'): string | undefined {
  // Only a well-formed CIDR is judged (and quoted back): anything else is the format check's to refuse.
  if (!/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(cidr)) return undefined;
  const network = cidrNetworkAddress(cidr);
  if (network === cidr) return undefined;
  const address = cidr.split('/')[0] ?? '';
  return `has host bits set, and AWS takes only a network address: ${setIt} your IP as ${address}/32, or to the network ${network}`;
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

/** What to do about a missing host key: where it comes from and how to know it is the machine's. */
function missingHostKey(key: string): string {
  return (
    'missing; run `ssh-keyscan -t ed25519 <host>`, check that `ssh-keygen -lf` of its output shows the fingerprint ' +
    'the machine itself shows (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on it), and set ' +
    `stacktune:${key} to its \`ssh-ed25519 AAAA…\` line`
  );
}

/** Most instances of one multi-host AWS cluster (`target.hosts`). */
export const MAX_AWS_HOSTS = 16;

/** This machine, no SSH. `gpus: 0` runs on the CPU. */
export const LocalTargetSchema = z.strictObject({
  kind: z.literal('local'),
  /** GPUs to use on this machine; 0 runs on the CPU. @default 0 */
  gpus: gpuCount.default(defaults.local.gpus),
});

/** One machine of a multi-host `ssh` target (`target.hosts`), in machine-rank order. */
export const SshMachineSchema = z.strictObject({
  /** Address stacktune connects to over SSH. */
  host: HostSchema,
  /** SSH port of this machine; unset = `target.port`. */
  port: z.number().int().min(1).max(65535).optional(),
  /** Login user on this machine; unset = `target.user`. */
  user: UserSchema.optional(),
  /** This machine's SSH host key, verified on every connection (required). */
  hostKey: SshHostKeySchema.optional(),
  /**
   * Address the other machines reach this one at (rendezvous, NCCL): a private-network address
   * when `host` is a public one. Only the main machine's (the first) is used. @default host
   */
  clusterAddress: HostSchema.optional(),
});

/**
 * An existing machine reached over SSH (e.g. an on-prem 4 × RTX 4090 box), or several (`hosts`)
 * that train one job together.
 */
export const SshTargetSchema = z.strictObject({
  kind: z.literal('ssh'),
  /** The machine; or list several under `hosts` (exactly one of the two). */
  host: HostSchema.optional(),
  /** @default 22 */
  port: z.number().int().min(1).max(65535).default(defaults.ssh.port),
  /** Machines of one multi-host run, machine rank 0 (the main machine) first. */
  hosts: z.array(SshMachineSchema).min(1).max(64).optional(),
  user: UserSchema,
  /**
   * The machine's SSH host key, verified on every connection: whoever else answers on its address
   * gets no secret. Required with `host`; with `hosts`, each entry has its own.
   */
  hostKey: SshHostKeySchema.optional(),
  /** Path of the private key on the operator's machine; or set the secret stacktune:sshPrivateKey. */
  privateKeyPath: TextSchema.optional(),
  /** GPUs the machine has; preflight checks it. @default 4 */
  gpus: gpuCount.default(defaults.ssh.gpus),
  /** Memory per GPU that preflight requires, in whole GB (the check compares MiB). @default 24 */
  gpuMemoryGb: z.number().int().positive().max(1024).default(defaults.ssh.gpuMemoryGb),
  /** Free disk that preflight requires for model, image, data and checkpoints, in whole GB. @default 100 */
  minFreeDiskGb: z.number().int().positive().max(100_000).default(defaults.ssh.minFreeDiskGb),
}).superRefine(
  (target, ctx) => {
    if (target.host !== undefined && target.hosts !== undefined)
      ctx.addIssue({ code: 'custom', path: ['hosts'], params: { complete: true }, message: 'both target.host and target.hosts are set; keep target.host for one machine, or move it into target.hosts as the first entry' });
    if (target.host === undefined && target.hosts === undefined)
      ctx.addIssue({ code: 'custom', path: ['host'], params: { complete: true }, message: 'missing; set stacktune:target.host to the machine’s host name or IP address (or list several machines under stacktune:target.hosts)' });
    if (target.hosts === undefined && target.host !== undefined && target.hostKey === undefined)
      ctx.addIssue({ code: 'custom', path: ['hostKey'], params: { complete: true }, message: missingHostKey('target.hostKey') });
    if (target.hosts !== undefined && target.host === undefined && target.hostKey !== undefined)
      ctx.addIssue({ code: 'custom', path: ['hostKey'], params: { complete: true }, message: 'every machine has its own host key: set it on each entry as stacktune:target.hosts[N].hostKey and remove target.hostKey' });
    target.hosts?.forEach((machine, i) => {
      if (typeof machine === 'object' && machine !== null && machine.hostKey === undefined)
        ctx.addIssue({ code: 'custom', path: ['hosts', i, 'hostKey'], params: { complete: true }, message: missingHostKey(`target.hosts[${i}].hostKey`) });
    });
  },
  // Also when other keys of the target are wrong: every problem is reported at once.
  { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
);

export const AwsSpotSchema = z.strictObject({
  /** Ask for spot capacity first, fall back to on-demand. @default true */
  enabled: z.boolean().default(defaults.aws.spot.enabled),
  /** Highest hourly spot price in USD; unset = the on-demand price. */
  maxPrice: z.number().positive().max(1000).optional(),
});

/** A 4 × 24 GB GPU instance that stacktune creates and tears down. */
export const AwsTargetSchema = z.strictObject({
  kind: z.literal('aws'),
  /** @default us-east-1 */
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1')
    .default(defaults.aws.region),
  /** One of the catalog's instance types (src/targets/aws/instance-types.json). @default g5.12xlarge */
  instanceType: z.enum(awsInstanceTypeNames).default(defaults.aws.instanceType),
  /** Pinned AMI; unset = the newest Deep Learning AMI found by filter. */
  amiId: z
    .string()
    .regex(/^ami-[0-9a-f]{8,17}$/, 'must be an AMI id such as ami-0123456789abcdef0')
    .optional(),
  spot: AwsSpotSchema.prefault({}),
  /** Encrypted root volume: the AMI plus the preflight's free disk ({@link MIN_AWS_ROOT_VOLUME_GB}). @default 200 */
  rootVolumeGb: z
    .number()
    .int()
    .max(16384)
    .superRefine((gb, ctx) => {
      const problem = rootVolumeTooSmall(gb);
      if (problem !== undefined)
        ctx.addIssue({ code: 'custom', params: { complete: true }, message: `${problem}; set stacktune:target.rootVolumeGb to ${MIN_AWS_ROOT_VOLUME_GB} or more` });
    })
    .default(defaults.aws.rootVolumeGb),
  /** The only source allowed to reach SSH, e.g. your IP/32 (IPv4: the instance has no IPv6 address), as a network address. */
  sshCidr: z.cidrv4().superRefine((cidr, ctx) => {
    const problem = cidrHostBitsProblem(cidr);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', params: { complete: true }, message: problem });
  }),
  /** Must be true to accept an sshCidr wider than a /16, such as 0.0.0.0/0. @default false */
  allowOpenSsh: z.boolean().default(defaults.aws.allowOpenSsh),
  /** OpenSSH public key installed for the login user: RSA or ED25519, the types EC2 imports. */
  publicKey: openSshPublicKeySchema(
    EC2_KEY_TYPES,
    'must be one OpenSSH RSA or ED25519 public key line (the contents of ~/.ssh/id_ed25519.pub): EC2 imports no other key type ' +
      '(make one with `ssh-keygen -t ed25519`)',
  ),
  /**
   * Instances that train one job together (accelerate multi-node), in one cluster placement group
   * and one subnet. @default 1
   */
  hosts: z.number().int().min(1).max(MAX_AWS_HOSTS).default(defaults.aws.hosts),
  /**
   * Availability zone of the host's subnet (one host's or a cluster's); refused at preview unless it
   * offers target.instanceType. @default the first zone (by name) of the region that offers it
   */
  availabilityZone: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'must be an availability zone such as us-east-1a')
    .optional(),
  /**
   * Create an S3 bucket (and a least-privilege role) for checkpoints. @default spot.enabled: a spot
   * instance is reclaimed with its root volume, so spot keeps checkpoints in S3 unless told otherwise
   * (and `false` with spot is refused).
   */
  checkpointBucket: z.boolean().optional(),
}).transform((target) => ({ ...target, checkpointBucket: target.checkpointBucket ?? target.spot.enabled }));

/**
 * The widest sshCidr accepted without `allowOpenSsh`: a /16 (65,536 addresses) covers a site's
 * network; anything wider is a large part of the internet.
 */
export const WIDEST_SSH_CIDR_PREFIX = 16;

/**
 * Whom `cidr` (an IPv4 CIDR) opens SSH to when that is more than a /16, e.g. `the whole internet`;
 * undefined when it is a /16 or narrower. The one rule of the settings and the security group.
 */
export function sshCidrTooWide(cidr: string): string | undefined {
  const prefix = Number(cidr.split('/')[1]);
  if (prefix >= WIDEST_SSH_CIDR_PREFIX) return undefined;
  return prefix === 0 ? 'the whole internet' : `${2 ** (32 - prefix)} addresses, more than a /${WIDEST_SSH_CIDR_PREFIX}`;
}

export const TargetSchema = z.discriminatedUnion('kind', [
  LocalTargetSchema,
  SshTargetSchema,
  AwsTargetSchema,
]);

export type Target = z.infer<typeof TargetSchema>;
export type LocalTarget = z.infer<typeof LocalTargetSchema>;
export type SshTarget = z.infer<typeof SshTargetSchema>;
export type AwsTarget = z.infer<typeof AwsTargetSchema>;

/** GPUs the run can use on each machine of this target (0 = CPU). */
export function targetGpuCount(target: Target): number {
  return targetOf(target).gpusPerMachine(target);
}

export type SshMachine = z.infer<typeof SshMachineSchema>;

export type { ClusterMachine };
export { awsCluster };

/** The machines of the run in machine-rank order; one for a single-host target. */
export function clusterMachines(target: Target): ClusterMachine[] {
  return targetOf(target).machines(target);
}

/** Machines that train one job together (1 = a single host). */
export function machineCount(target: Target): number {
  return clusterMachines(target).length;
}
