// A running host is never replaced by a Deep Learning AMI release: the AMI id the lookup resolved
// when the instance was created stays in state (the instance ignores later lookups), the resolved id
// is shown, and moving to another AMI is the deliberate step of setting target.amiId.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { AwsGpuHost, type AwsGpuHostArgs } from "../src/hosts/aws";
import { TEST_PUBLIC_KEY } from "./helpers/keys";
import { MOCK_AMI_ID, mockAwsCall, valueOf } from "./helpers/pulumiMocks";

const baseArgs: AwsGpuHostArgs = {
    region: "us-east-1",
    spot: { enabled: false },
    sshCidr: "203.0.113.7/32",
    publicKey: TEST_PUBLIC_KEY,
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nami-test\n-----END OPENSSH PRIVATE KEY-----\n",
    userData: "#cloud-config\n",
    runtime: "docker",
    tags: { "stacktune:stack": "aws-ami" },
};

/** Each registered resource's name and the options the program gave it. */
const options = new Map<string, pulumi.CustomResourceOptions>();
const capture: pulumi.ResourceTransformation = (args) => {
    options.set(args.name, args.opts);
    return undefined;
};
let lookedUp: AwsGpuHost;
let pinned: AwsGpuHost;

beforeAll(async () => {
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => ({
                id: `${args.name}-id`,
                state: { ...(args.inputs as Record<string, unknown>), publicIp: "198.51.100.23" },
            }),
            call: (args) => mockAwsCall(args),
        },
        "stacktune",
        "aws-ami",
        false,
    );
    lookedUp = new AwsGpuHost("looked", baseArgs, { transformations: [capture] });
    pinned = new AwsGpuHost("pinned", { ...baseArgs, amiId: "ami-0fedcba9876543210" }, { transformations: [capture] });
    await valueOf(pulumi.all([lookedUp.ami, pinned.ami]));
});

describe("AMI pinning", () => {
    it("a looked-up AMI is kept by the running instance: a newer release does not replace it", () => {
        expect(options.get("looked-instance")?.ignoreChanges).toEqual(["ami"]);
    });

    it("an AMI set in target.amiId is followed: changing it is the deliberate way to move", () => {
        expect(options.get("pinned-instance")?.ignoreChanges).toBeUndefined();
    });

    it("exposes the AMI the lookup resolved, with its name, and the one pinned", async () => {
        expect(await valueOf(lookedUp.ami)).toEqual({
            id: MOCK_AMI_ID,
            name: "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) 20260101",
            source: "lookup",
        });
        expect(await valueOf(pinned.ami)).toEqual({ id: "ami-0fedcba9876543210", source: "target.amiId" });
    });
});
