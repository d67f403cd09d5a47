// The rules AWS and its Pulumi provider apply to the inputs stacktune sends, which Pulumi's mocks
// accept blindly. Each rule cites where it comes from; `awsRuleViolations` applies all of them to
// every registered resource.
import type { RegisteredResource } from "./pulumiMocks";
import { plain } from "./pulumiMocks";

/**
 * Security-group (GroupDescription) and rule descriptions: at most 255 characters of
 * `a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*`. The provider (pulumi-aws bridges terraform-provider-aws)
 * validates rule descriptions with exactly this pattern (internal/service/ec2/validate.go,
 * validSecurityGroupRuleDescription, citing docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html);
 * EC2 CreateSecurityGroup documents the same set and length for GroupDescription.
 */
export const SECURITY_GROUP_DESCRIPTION = /^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/;
export const SECURITY_GROUP_DESCRIPTION_MAX = 255;

/** EC2 ImportKeyPair: "Imports the public key from an RSA or ED25519 key pair" (API_ImportKeyPair). */
export const IMPORTABLE_KEY_TYPES = ["ssh-rsa", "ssh-ed25519"] as const;

/**
 * Tags (AWS tagging docs, e.g. docs.aws.amazon.com/batch/latest/userguide/tag-restrictions.html):
 * key at most 128 characters, value at most 256, no `aws:` prefix (any case) on either, at most 50
 * user tags per resource, keys not empty.
 */
export const TAG_KEY_MAX = 128;
export const TAG_VALUE_MAX = 256;
export const TAGS_PER_RESOURCE_MAX = 50;

/**
 * EC2 user data: "limited to 16 KB, in raw form, before it is base64-encoded"
 * (docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-add-user-data.html).
 */
export const USER_DATA_MAX_BYTES = 16 * 1024;

/**
 * S3 general purpose bucket names (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html):
 * 3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or
 * digit, no `..`, not an IP address, none of the reserved prefixes and suffixes.
 */
export function bucketNameProblems(name: string): string[] {
    const problems: string[] = [];
    if (name.length < 3 || name.length > 63) problems.push(`is ${name.length} characters, not 3 to 63`);
    if (!/^[a-z0-9.-]*$/.test(name)) problems.push("has characters other than a-z 0-9 . -");
    if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name))
        problems.push("does not begin and end with a letter or digit");
    if (name.includes("..")) problems.push("has two adjacent periods");
    if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) problems.push("is formatted as an IP address");
    for (const prefix of ["xn--", "sthree-", "amzn-s3-demo-"])
        if (name.startsWith(prefix)) problems.push(`starts with ${prefix}`);
    for (const suffix of ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"])
        if (name.endsWith(suffix)) problems.push(`ends with ${suffix}`);
    return problems;
}

/**
 * `bucketPrefix`: the provider appends a 26-character unique suffix and allows a prefix of at most
 * 63 - 26 = 37 characters (terraform-provider-aws internal/service/s3/bucket.go:
 * `validation.StringLenBetween(0, 63-id.UniqueIDSuffixLength)`); the whole name then follows the
 * bucket rules, so the prefix with a stand-in suffix (lowercase digits, as the provider's) must too.
 */
export const BUCKET_PREFIX_MAX = 37;
const UNIQUE_SUFFIX_STAND_IN = "20260101000000000000000001";

/**
 * An IPv4 CIDR block as the provider takes it: a network address, no host bits set
 * (terraform-provider-aws internal/verify/validate.go, ValidCIDRNetworkAddress: "… is not a valid
 * CIDR block; did you mean …?"), which it applies to security-group cidr_blocks, VPC and subnet CIDRs.
 */
export function cidrProblem(cidr: string): string | undefined {
    const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    if (match === null) return `${cidr} is not an IPv4 CIDR`;
    const octets = match.slice(1, 5).map(Number);
    const prefix = Number(match[5]);
    if (octets.some((o) => o > 255) || prefix > 32) return `${cidr} is not an IPv4 CIDR`;
    const address = octets.reduce((a, o) => a * 256 + o, 0);
    const hostBits = 2 ** (32 - prefix);
    return address % hostBits === 0 ? undefined : `${cidr} has host bits set (not a network address)`;
}

/** Every string under `value` at a key named `key`, with its path. */
function stringsAt(value: unknown, key: string, path: string): { path: string; value: unknown }[] {
    if (Array.isArray(value)) return value.flatMap((v, i) => stringsAt(v, key, `${path}[${i}]`));
    if (value === null || typeof value !== "object") return [];
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => [
        ...(k === key ? [{ path: `${path}.${k}`, value: v }] : []),
        ...stringsAt(v, key, `${path}.${k}`),
    ]);
}

function tagProblems(tags: unknown, where: string): string[] {
    if (tags === undefined) return [];
    if (tags === null || typeof tags !== "object") return [`${where} is not a map`];
    const entries = Object.entries(tags as Record<string, unknown>);
    const problems: string[] = [];
    if (entries.length > TAGS_PER_RESOURCE_MAX)
        problems.push(`${where} has ${entries.length} tags, more than ${TAGS_PER_RESOURCE_MAX}`);
    for (const [key, value] of entries) {
        if (key.length === 0 || key.length > TAG_KEY_MAX)
            problems.push(`${where} key "${key}" is not 1 to ${TAG_KEY_MAX} characters`);
        if (/^aws:/i.test(key)) problems.push(`${where} key "${key}" uses the reserved aws: prefix`);
        if (typeof value !== "string") problems.push(`${where}["${key}"] is not a string`);
        else {
            if (value.length > TAG_VALUE_MAX) problems.push(`${where}["${key}"] is longer than ${TAG_VALUE_MAX}`);
            if (/^aws:/i.test(value)) problems.push(`${where}["${key}"] uses the reserved aws: prefix`);
        }
    }
    return problems;
}

function descriptionProblem(value: unknown, where: string): string | undefined {
    if (typeof value !== "string") return `${where} is not a string`;
    if (value.length > SECURITY_GROUP_DESCRIPTION_MAX)
        return `${where} is longer than ${SECURITY_GROUP_DESCRIPTION_MAX}`;
    const bad = [...value].filter((c) => !SECURITY_GROUP_DESCRIPTION.test(c));
    return bad.length > 0
        ? `${where} "${value}" has characters AWS refuses: ${JSON.stringify(bad.join(""))}`
        : undefined;
}

/** What AWS or its provider would refuse in one resource's inputs (empty when nothing). */
export function awsRuleViolations(resource: RegisteredResource): string[] {
    if (!resource.type.startsWith("aws:")) return [];
    const inputs = plain(resource.inputs) as Record<string, unknown>;
    const at = `${resource.type}(${resource.name})`;
    const problems: string[] = [];
    problems.push(...tagProblems(inputs.tags, `${at}.tags`), ...tagProblems(inputs.volumeTags, `${at}.volumeTags`));
    for (const { path, value } of [...stringsAt(inputs, "cidrBlocks", at), ...stringsAt(inputs, "cidrBlock", at)]) {
        for (const cidr of Array.isArray(value) ? value : [value]) {
            const problem = typeof cidr === "string" ? cidrProblem(cidr) : `${path} is not a string`;
            if (problem !== undefined) problems.push(`${path}: ${problem}`);
        }
    }
    switch (resource.type) {
        case "aws:ec2/securityGroup:SecurityGroup":
            if (inputs.description === undefined) problems.push(`${at}.description is unset`);
            for (const { path, value } of stringsAt(inputs, "description", at)) {
                const problem = descriptionProblem(value, path);
                if (problem !== undefined) problems.push(problem);
            }
            break;
        case "aws:ec2/keyPair:KeyPair": {
            const type = String(inputs.publicKey).split(" ")[0];
            if (!(IMPORTABLE_KEY_TYPES as readonly string[]).includes(type ?? ""))
                problems.push(
                    `${at}.publicKey is a ${type} key; EC2 imports only ${IMPORTABLE_KEY_TYPES.join(" and ")}`,
                );
            break;
        }
        case "aws:s3/bucket:Bucket":
            if (typeof inputs.bucket === "string")
                problems.push(...bucketNameProblems(inputs.bucket).map((p) => `${at}.bucket ${p}`));
            if (typeof inputs.bucketPrefix === "string") {
                if (inputs.bucketPrefix.length > BUCKET_PREFIX_MAX)
                    problems.push(`${at}.bucketPrefix is longer than ${BUCKET_PREFIX_MAX}`);
                problems.push(
                    ...bucketNameProblems(inputs.bucketPrefix + UNIQUE_SUFFIX_STAND_IN).map(
                        (p) => `${at}.bucketPrefix + suffix ${p}`,
                    ),
                );
            }
            break;
        case "aws:ec2/instance:Instance":
            if (typeof inputs.userData === "string" && Buffer.byteLength(inputs.userData, "utf8") > USER_DATA_MAX_BYTES)
                problems.push(
                    `${at}.userData is ${Buffer.byteLength(inputs.userData, "utf8")} bytes, more than ${USER_DATA_MAX_BYTES}`,
                );
            // RunInstances reads the public-address flag only for an instance placed in a subnet;
            // without one, the default VPC's subnet setting decides (and an account may have no default VPC).
            if (inputs.associatePublicIpAddress !== undefined && inputs.subnetId === undefined)
                problems.push(`${at}.associatePublicIpAddress is set without subnetId: EC2 ignores it there`);
            break;
        case "aws:ec2/subnet:Subnet":
            if (typeof inputs.availabilityZone !== "string")
                problems.push(`${at}.availabilityZone is unset: EC2 picks any zone, offering the instance type or not`);
            break;
    }
    return problems;
}
