import { z } from 'zod';
import { settingsDefaults } from './defaults';

const defaults = settingsDefaults.target;

/** GPUs of each supported AWS instance type: both are 4 × 24 GB, like the reference 4 × RTX 4090. */
export const awsInstanceTypes = {
  'g5.12xlarge': { gpus: 4, gpuMemoryGb: 24, gpuModel: 'NVIDIA A10G' },
  'g6.12xlarge': { gpus: 4, gpuMemoryGb: 24, gpuModel: 'NVIDIA L4' },
} as const;

export type AwsInstanceType = keyof typeof awsInstanceTypes;

const gpuCount = z.number().int().min(0).max(16);

/** This machine, no SSH. `gpus: 0` runs on the CPU. */
export const LocalTargetSchema = z.strictObject({
  kind: z.literal('local'),
  /** GPUs to use on this machine; 0 runs on the CPU. @default 0 */
  gpus: gpuCount.default(defaults.local.gpus),
});

/** An existing machine reached over SSH (e.g. an on-prem 4 × RTX 4090 box). */
export const SshTargetSchema = z.strictObject({
  kind: z.literal('ssh'),
  host: z.string().min(1),
  /** @default 22 */
  port: z.number().int().min(1).max(65535).default(defaults.ssh.port),
  user: z.string().min(1),
  /** Path of the private key on the operator's machine; or set the secret stacktune:sshPrivateKey. */
  privateKeyPath: z.string().min(1).optional(),
  /** GPUs the machine has; preflight checks it. @default 4 */
  gpus: gpuCount.default(defaults.ssh.gpus),
  /** Memory per GPU that preflight requires. @default 24 */
  gpuMemoryGb: z.number().positive().default(defaults.ssh.gpuMemoryGb),
  /** Free disk that preflight requires for model, image, data and checkpoints. @default 100 */
  minFreeDiskGb: z.number().positive().default(defaults.ssh.minFreeDiskGb),
});

export const AwsSpotSchema = z.strictObject({
  /** Ask for spot capacity first, fall back to on-demand. @default true */
  enabled: z.boolean().default(defaults.aws.spot.enabled),
  /** Highest hourly spot price in USD; unset = the on-demand price. */
  maxPrice: z.number().positive().optional(),
});

/** A 4 × 24 GB GPU instance that stacktune creates and tears down. */
export const AwsTargetSchema = z.strictObject({
  kind: z.literal('aws'),
  /** @default us-east-1 */
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1')
    .default(defaults.aws.region),
  /** @default g5.12xlarge */
  instanceType: z.enum(['g5.12xlarge', 'g6.12xlarge']).default(defaults.aws.instanceType),
  /** Pinned AMI; unset = the newest Deep Learning AMI found by filter. */
  amiId: z
    .string()
    .regex(/^ami-[0-9a-f]{8,17}$/, 'must be an AMI id such as ami-0123456789abcdef0')
    .optional(),
  spot: AwsSpotSchema.prefault({}),
  /** Encrypted root volume sized for model + image + checkpoints. @default 200 */
  rootVolumeGb: z.number().int().min(100).max(16384).default(defaults.aws.rootVolumeGb),
  /** The only source allowed to reach SSH, e.g. your IP/32. */
  sshCidr: z.cidrv4(),
  /** Must be true to accept sshCidr 0.0.0.0/0. @default false */
  allowOpenSsh: z.boolean().default(defaults.aws.allowOpenSsh),
  /** OpenSSH public key installed for the login user. */
  publicKey: z
    .string()
    .regex(
      /^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/,
      'must be one OpenSSH public key line (the contents of ~/.ssh/id_ed25519.pub)',
    ),
  /** Create an S3 bucket (and a least-privilege role) for checkpoints. @default false */
  checkpointBucket: z.boolean().default(defaults.aws.checkpointBucket),
});

export const TargetSchema = z.discriminatedUnion('kind', [
  LocalTargetSchema,
  SshTargetSchema,
  AwsTargetSchema,
]);

export type Target = z.infer<typeof TargetSchema>;
export type LocalTarget = z.infer<typeof LocalTargetSchema>;
export type SshTarget = z.infer<typeof SshTargetSchema>;
export type AwsTarget = z.infer<typeof AwsTargetSchema>;

/** GPUs the run can use on this target (0 = CPU). */
export function targetGpuCount(target: Target): number {
  switch (target.kind) {
    case 'local':
    case 'ssh':
      return target.gpus;
    case 'aws':
      return awsInstanceTypes[target.instanceType].gpus;
  }
}
