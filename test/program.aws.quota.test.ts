// Quotas before cost: before any instance exists the host reads the account's G-instance vCPU quota
// (on-demand or spot) through the provider's service-quota data source, and a quota below what the
// instances need stops the run with the quota's name, the need and how to raise it.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { AwsGpuHost, type AwsGpuHostArgs, gpuQuotaProblem } from "../src/hosts/aws";
import { TEST_PUBLIC_KEY } from "./helpers/keys";
import { mockAwsCall, SERVICE_QUOTA_TOKEN, valueOf } from "./helpers/pulumiMocks";

const baseArgs: AwsGpuHostArgs = {
    region: "us-east-1",
    spot: { enabled: false },
    sshCidr: "203.0.113.7/32",
    publicKey: TEST_PUBLIC_KEY,
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nquota-test\n-----END OPENSSH PRIVATE KEY-----\n",
    userData: "#cloud-config\n",
    runtime: "docker",
    checkpointBucket: true,
    tags: { "stacktune:stack": "aws-quota" },
};
const calls: { token: string; inputs: Record<string, unknown> }[] = [];

beforeAll(async () => {
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => ({
                id: `${args.name}-id`,
                state: { ...(args.inputs as Record<string, unknown>), publicIp: "198.51.100.23" },
            }),
            call: (args) => {
                calls.push({ token: args.token, inputs: args.inputs as Record<string, unknown> });
                return mockAwsCall(args, 96);
            },
        },
        "stacktune",
        "aws-quota",
        false,
    );
    const spot = new AwsGpuHost("spot", { ...baseArgs, spot: { enabled: true }, hosts: 2 });
    const onDemand = new AwsGpuHost("ondemand", { ...baseArgs, spot: { enabled: false } });
    await valueOf(pulumi.all([spot.gpuQuota, onDemand.gpuQuota]));
});

describe("G-instance vCPU quota", () => {
    it("reads the spot quota for spot and the on-demand one otherwise, by their exact codes", () => {
        const quotas = calls.filter((c) => c.token === SERVICE_QUOTA_TOKEN).map((c) => c.inputs);
        expect(quotas).toEqual([
            { serviceCode: "ec2", quotaCode: "L-3819A6DF" },
            { serviceCode: "ec2", quotaCode: "L-DB2E81BA" },
        ]);
    });

    it("says which quota, what the run needs and how to raise it when the quota is too low", () => {
        expect(
            gpuQuotaProblem({ spot: true, instanceType: "g5.12xlarge", hosts: 2, region: "us-east-1", quotaVcpus: 0 }),
        ).toBe(
            'the account\'s EC2 quota "All G and VT Spot Instance Requests" (L-3819A6DF) in us-east-1 is 0 vCPUs, but 2 x g5.12xlarge need 96: ' +
                "request 96 or more (aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-3819A6DF " +
                "--desired-value 96 --region us-east-1, or the Service Quotas console), or set stacktune:target.spot.enabled to false " +
                "to use the on-demand quota",
        );
        expect(
            gpuQuotaProblem({
                spot: false,
                instanceType: "g6.12xlarge",
                hosts: 1,
                region: "eu-west-1",
                quotaVcpus: 32,
            }),
        ).toBe(
            'the account\'s EC2 quota "Running On-Demand G and VT instances" (L-DB2E81BA) in eu-west-1 is 32 vCPUs, but 1 x g6.12xlarge need 48: ' +
                "request 48 or more (aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-DB2E81BA " +
                "--desired-value 48 --region eu-west-1, or the Service Quotas console)",
        );
        expect(
            gpuQuotaProblem({ spot: true, instanceType: "g5.12xlarge", hosts: 2, region: "us-east-1", quotaVcpus: 96 }),
        ).toBeUndefined();
    });
});
