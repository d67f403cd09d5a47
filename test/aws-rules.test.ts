// Every input the program sends to AWS, checked against the rules AWS and its provider apply
// (test/helpers/awsRules.ts, each rule citing its source), which Pulumi's mocks do not: for every
// shipped aws stack (stacks/*.yaml) and a two-host stack made with `stacktune new`, run through
// index.ts under the mocks.
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveStackFile } from "../src/cli/stacktune/stackFile";
import { listStacks } from "../src/render/stacks";
import { awsRuleViolations, bucketNameProblems, cidrProblem } from "./helpers/awsRules";
import { FakeHub } from "./helpers/fakeHub";
import { TEST_PUBLIC_KEY } from "./helpers/keys";
import { installProgramMocks, type RegisteredResource, runProgram } from "./helpers/pulumiMocks";

const root = path.join(__dirname, "..");
const hub = new FakeHub();

/** A stack file's `config`, as Pulumi passes it to the program, with the operator's key and secrets set. */
function stackConfig(text: string): Record<string, unknown> {
    const config = (YAML.parse(text) as { config: Record<string, unknown> }).config;
    const target = config["stacktune:target"] as Record<string, unknown>;
    return {
        ...config,
        // What the stack file's header asks the operator to replace.
        "stacktune:target": { ...target, publicKey: TEST_PUBLIC_KEY },
        "stacktune:hfToken": "hf_rules_test",
        "stacktune:sshPrivateKey":
            "-----BEGIN OPENSSH PRIVATE KEY-----\nrules-test\n-----END OPENSSH PRIVATE KEY-----\n",
    };
}

const stackText = (stack: string): string => fs.readFileSync(path.join(root, "stacks", `Pulumi.${stack}.yaml`), "utf8");
const isAws = (stack: string): boolean =>
    (YAML.parse(stackText(stack)) as { config: Record<string, { kind?: string }> }).config["stacktune:target"]?.kind ===
    "aws";

/** The shipped aws stacks, and a generated two-host one. */
const cases: { stack: string; text: string }[] = [
    ...listStacks(root)
        .filter(isAws)
        .map((stack) => ({ stack, text: stackText(stack) })),
    {
        stack: "aws-g5-two-hosts",
        text: deriveStackFile(stackText("aws-g5"), "aws-g5", "aws-g5-two-hosts", ["target.hosts=2"]),
    },
];
const registered = new Map<string, RegisteredResource[]>();

beforeAll(async () => {
    await hub.start();
    process.env.HF_ENDPOINT = hub.url;
    for (const { stack, text } of cases) {
        const mocks = await installProgramMocks({
            stack,
            config: stackConfig(text),
            secretKeys: ["stacktune:hfToken", "stacktune:sshPrivateKey"],
        });
        await runProgram();
        registered.set(stack, [...mocks.resources]);
    }
});
afterAll(async () => {
    delete process.env.HF_ENDPOINT;
    await hub.stop();
});

describe("the rules themselves", () => {
    it("refuse what AWS refuses", () => {
        const group = (description: string): RegisteredResource => ({
            type: "aws:ec2/securityGroup:SecurityGroup",
            name: "sg",
            inputs: { description, ingress: [{ description: "ok", cidrBlocks: ["203.0.113.0/24"] }] },
        });
        expect(awsRuleViolations(group("from the cluster's instances"))).toEqual([
            `aws:ec2/securityGroup:SecurityGroup(sg).description "from the cluster's instances" has characters AWS refuses: "'"`,
        ]);
        expect(awsRuleViolations(group("a".repeat(256)))).toEqual([
            "aws:ec2/securityGroup:SecurityGroup(sg).description is longer than 255",
        ]);
        expect(awsRuleViolations(group("stacktune: SSH (22) from 203.0.113.7/32, [cluster] & more!"))).toEqual([]);
        expect(cidrProblem("203.0.113.7/24")).toBe("203.0.113.7/24 has host bits set (not a network address)");
        expect(cidrProblem("203.0.113.0/24")).toBeUndefined();
        expect(cidrProblem("0.0.0.0/0")).toBeUndefined();
        expect(
            awsRuleViolations({
                type: "aws:ec2/keyPair:KeyPair",
                name: "k",
                inputs: { publicKey: "ecdsa-sha2-nistp256 AAAAE2VjZHNh you@x" },
            }),
        ).toEqual([
            "aws:ec2/keyPair:KeyPair(k).publicKey is a ecdsa-sha2-nistp256 key; EC2 imports only ssh-rsa and ssh-ed25519",
        ]);
        expect(bucketNameProblems("stacktune_ckpt")).toEqual(["has characters other than a-z 0-9 . -"]);
        expect(bucketNameProblems("xn--ckpt")).toEqual(["starts with xn--"]);
        expect(
            awsRuleViolations({
                type: "aws:ec2/vpc:Vpc",
                name: "v",
                inputs: { cidrBlock: "10.42.0.0/16", tags: { "aws:stack": "x", k: "v".repeat(257) } },
            }),
        ).toEqual([
            'aws:ec2/vpc:Vpc(v).tags key "aws:stack" uses the reserved aws: prefix',
            'aws:ec2/vpc:Vpc(v).tags["k"] is longer than 256',
        ]);
        expect(
            awsRuleViolations({
                type: "aws:ec2/instance:Instance",
                name: "i",
                inputs: { userData: "x".repeat(16 * 1024 + 1) },
            }),
        ).toEqual(["aws:ec2/instance:Instance(i).userData is 16385 bytes, more than 16384"]);
        expect(
            awsRuleViolations({
                type: "aws:ec2/instance:Instance",
                name: "i",
                inputs: { associatePublicIpAddress: true },
            }),
        ).toEqual([
            "aws:ec2/instance:Instance(i).associatePublicIpAddress is set without subnetId: EC2 ignores it there",
        ]);
        expect(
            awsRuleViolations({
                type: "aws:ec2/subnet:Subnet",
                name: "s",
                inputs: { vpcId: "v", cidrBlock: "10.42.1.0/24" },
            }),
        ).toEqual([
            "aws:ec2/subnet:Subnet(s).availabilityZone is unset: EC2 picks any zone, offering the instance type or not",
        ]);
    });
});

describe.each(cases.map((c) => c.stack))("stack %s under the mocks", (stack) => {
    it("creates AWS resources, every input of which AWS and its provider accept", () => {
        const resources = registered.get(stack) ?? [];
        const aws = resources.filter((r) => r.type.startsWith("aws:"));
        expect(aws.map((r) => r.type)).toContain("aws:ec2/instance:Instance");
        expect(aws.map((r) => r.type)).toContain("aws:ec2/securityGroup:SecurityGroup");
        expect(aws.flatMap(awsRuleViolations)).toEqual([]);
    });

    it("keeps a spot run's checkpoints in the experiment's S3 bucket, not on the root volume AWS deletes with the instance", () => {
        const resources = registered.get(stack) ?? [];
        const spot = resources.filter(
            (r) => r.type === "aws:ec2/instance:Instance" && r.inputs.instanceMarketOptions !== undefined,
        );
        expect(spot.length).toBeGreaterThan(0);
        expect(resources.filter((r) => r.type === "aws:s3/bucket:Bucket")).toHaveLength(1);
        const runs = resources.filter((r) => r.type === "command:remote:Command" && /-job(-\d+)?-run$/.test(r.name));
        expect(runs.length).toBe(spot.length);
        for (const run of runs)
            expect(String(run.inputs.create)).toMatch(
                /^export STACKTUNE_CHECKPOINT_STORE=s3:\/\/stacktune-ckpt-test\//,
            );
    });
});

describe("coverage", () => {
    it("runs every shipped aws stack and the generated two-host one", () => {
        expect(cases.map((c) => c.stack)).toEqual(["aws-g5", "aws-g6-r16", "aws-g5-two-hosts"]);
        expect(
            (registered.get("aws-g5-two-hosts") ?? []).filter((r) => r.type === "aws:ec2/instance:Instance"),
        ).toHaveLength(2);
    });
});
