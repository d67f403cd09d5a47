// A multi-host AWS cluster (AwsGpuHost with `hosts` > 1) under Pulumi mocks: its own VPC, public
// subnet and cluster placement group, a security group that lets in SSH from the operator and
// training traffic from the cluster's own members only, one instance per machine rank at the private
// address the rendered accelerate configs name, and one readiness command per instance.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import {
    AwsGpuHost,
    type AwsGpuHostArgs,
    awsHostCount,
    availabilityZoneFor,
    clusterIngressRules,
    readinessCommand,
} from "../src/hosts/aws";
import { hostPaths } from "../src/render";
import { awsCluster } from "../src/targets/aws/target";
import {
    INSTANCE_TYPE_OFFERINGS_TOKEN,
    isSecretInput,
    MOCK_AMI_ID,
    mockAwsCall,
    plain,
    RegisteredResource,
    SERVICE_QUOTA_TOKEN,
    textInput,
    valueOf,
} from "./helpers/pulumiMocks";

const KEY_CANARY = "-----BEGIN OPENSSH PRIVATE KEY-----\nCANARY-cluster-key-5e1a\n-----END OPENSSH PRIVATE KEY-----\n";
const USER_DATA = "#cloud-config\n# stacktune cluster test\n";
const TAGS = { "stacktune:stack": "aws-cluster", "stacktune:experiment": "0123456789abcdef" };
const SSH_RULE = {
    description: "SSH from the operator",
    protocol: "tcp",
    fromPort: 22,
    toPort: 22,
    cidrBlocks: ["203.0.113.7/32"],
};
const resources: RegisteredResource[] = [];
const calls: { token: string; inputs: Record<string, unknown> }[] = [];

/** The public address the mocked EC2 gives an instance: 198.51.100.x for private 10.42.1.x, else .23. */
const publicIpOf = (privateIp: unknown): string =>
    typeof privateIp === "string" ? `198.51.100.${privateIp.split(".")[3]}` : "198.51.100.23";

const baseArgs: AwsGpuHostArgs = {
    region: "us-east-1",
    instanceType: "g5.12xlarge",
    spot: { enabled: true, maxPrice: 3.5 },
    rootVolumeGb: 250,
    sshCidr: "203.0.113.7/32",
    publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIClusterTestKey you@example.com",
    privateKey: KEY_CANARY,
    checkpointBucket: true,
    userData: USER_DATA,
    runtime: "docker",
    tags: TAGS,
};

let cluster: AwsGpuHost;
let single: AwsGpuHost;
/** Resources of one component, by its name prefix (`c3-…`, `one-…`). */
const of = (prefix: string, type: string): RegisteredResource[] =>
    resources.filter((r) => r.type === type && (r.name === prefix || r.name.startsWith(`${prefix}-`)));
const oneOf = (prefix: string, type: string): RegisteredResource => {
    const found = of(prefix, type);
    if (found.length !== 1) throw new Error(`expected one ${type} under ${prefix}, found ${found.length}`);
    return found[0] as RegisteredResource;
};
const named = (name: string): RegisteredResource => {
    const found = resources.find((r) => r.name === name);
    if (found === undefined) throw new Error(`no resource named ${name}`);
    return found;
};

beforeAll(async () => {
    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
                const inputs = args.inputs as Record<string, unknown>;
                resources.push({ type: args.type, name: args.name, inputs });
                const state: Record<string, unknown> = { ...inputs };
                if (args.type === "aws:ec2/instance:Instance") state.publicIp = publicIpOf(inputs.privateIp);
                if (args.type === "aws:ec2/keyPair:KeyPair") state.keyName = `${args.name}-keyname`;
                if (args.type === "aws:ec2/placementGroup:PlacementGroup") state.name = `${args.name}-pg`;
                if (args.type === "aws:iam/instanceProfile:InstanceProfile") state.name = `${args.name}-profile-name`;
                if (args.type === "aws:s3/bucket:Bucket") state.arn = "arn:aws:s3:::stacktune-ckpt-test";
                return { id: `${args.name}-id`, state };
            },
            call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
                if (args.token !== SERVICE_QUOTA_TOKEN)
                    calls.push({ token: args.token, inputs: args.inputs as Record<string, unknown> });
                return mockAwsCall(args);
            },
        },
        "stacktune",
        "aws-cluster",
        false,
    );
    cluster = new AwsGpuHost("c3", { ...baseArgs, hosts: 3 });
    single = new AwsGpuHost("one", baseArgs);
    new AwsGpuHost("zone", { ...baseArgs, hosts: 2, availabilityZone: "us-east-1c", rendezvousPort: 29600 });
    new AwsGpuHost("open", { ...baseArgs, hosts: 2, sshCidr: "0.0.0.0/0", allowOpenSsh: true });
    await valueOf(pulumi.all([...cluster.jobHosts, ...single.jobHosts].map((h) => h.address)));
    // Let pending registrations (outputs of applies) reach the mocks.
    await new Promise((r) => setTimeout(r, 50));
});

describe("multi-host aws cluster", () => {
    it("registers one network, placement group and security group, and one instance and readiness command per host", () => {
        expect(
            resources
                .filter((r) => r.name.startsWith("c3"))
                .map((r) => `${r.type} ${r.name}`)
                .sort(),
        ).toEqual(
            [
                "stacktune:aws:GpuHost c3",
                "pulumi:providers:aws c3-aws",
                "aws:ec2/vpc:Vpc c3-vpc",
                "aws:ec2/subnet:Subnet c3-subnet",
                "aws:ec2/internetGateway:InternetGateway c3-igw",
                "aws:ec2/routeTable:RouteTable c3-routes",
                "aws:ec2/routeTableAssociation:RouteTableAssociation c3-routes",
                "aws:ec2/placementGroup:PlacementGroup c3-placement",
                "aws:ec2/securityGroup:SecurityGroup c3-ssh",
                "aws:ec2/keyPair:KeyPair c3-key",
                "aws:s3/bucket:Bucket c3-checkpoints",
                "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock c3-checkpoints",
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration c3-checkpoints",
                "aws:iam/role:Role c3-role",
                "aws:iam/rolePolicy:RolePolicy c3-checkpoints",
                "aws:iam/instanceProfile:InstanceProfile c3-profile",
                "aws:ec2/instance:Instance c3-instance-0",
                "aws:ec2/instance:Instance c3-instance-1",
                "aws:ec2/instance:Instance c3-instance-2",
                "command:local:Command c3-reach-0",
                "command:local:Command c3-reach-1",
                "command:local:Command c3-reach-2",
                "command:remote:Command c3-ready-0",
                "command:remote:Command c3-ready-1",
                "command:remote:Command c3-ready-2",
            ].sort(),
        );
    });

    it("gives the cluster its own VPC with DNS and one public subnet in the first zone (by name) offering the instance type", () => {
        expect(oneOf("c3", "aws:ec2/vpc:Vpc").inputs).toEqual({
            cidrBlock: "10.42.0.0/16",
            enableDnsSupport: true,
            enableDnsHostnames: true,
            tags: TAGS,
        });
        expect(oneOf("c3", "aws:ec2/subnet:Subnet").inputs).toEqual({
            vpcId: "c3-vpc-id",
            cidrBlock: "10.42.1.0/24",
            availabilityZone: "us-east-1b",
            mapPublicIpOnLaunch: true,
            tags: TAGS,
        });
        expect(awsCluster.vpcCidr).toBe("10.42.0.0/16");
        expect(awsCluster.subnetCidr).toBe("10.42.1.0/24");
    });

    it("puts the subnet in the availability zone asked for", () => {
        expect(oneOf("zone", "aws:ec2/subnet:Subnet").inputs.availabilityZone).toBe("us-east-1c");
    });

    it("routes 0.0.0.0/0 to the cluster's internet gateway (downloads, Hub push)", () => {
        expect(oneOf("c3", "aws:ec2/internetGateway:InternetGateway").inputs).toEqual({
            vpcId: "c3-vpc-id",
            tags: TAGS,
        });
        expect(oneOf("c3", "aws:ec2/routeTable:RouteTable").inputs).toEqual({
            vpcId: "c3-vpc-id",
            routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: "c3-igw-id" }],
            tags: TAGS,
        });
        expect(oneOf("c3", "aws:ec2/routeTableAssociation:RouteTableAssociation").inputs).toEqual({
            subnetId: "c3-subnet-id",
            routeTableId: "c3-routes-id",
        });
    });

    it("places the instances in one cluster placement group", () => {
        expect(oneOf("c3", "aws:ec2/placementGroup:PlacementGroup").inputs).toEqual({
            strategy: "cluster",
            tags: TAGS,
        });
    });

    it("lets in SSH from sshCidr and, from the cluster's own members only, the rendezvous port and the ephemeral ports", () => {
        const sg = oneOf("c3", "aws:ec2/securityGroup:SecurityGroup").inputs;
        expect(sg.vpcId).toBe("c3-vpc-id");
        expect(sg.ingress).toEqual([
            SSH_RULE,
            {
                description: "torch.distributed rendezvous on machine 0, from the cluster instances only",
                protocol: "tcp",
                fromPort: 29500,
                toPort: 29500,
                self: true,
            },
            {
                description: "NCCL and gloo sockets (Linux ephemeral ports), from the cluster instances only",
                protocol: "tcp",
                fromPort: 32768,
                toPort: 60999,
                self: true,
            },
        ]);
        expect(sg.egress).toEqual([
            { protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
        ]);
        expect(oneOf("zone", "aws:ec2/securityGroup:SecurityGroup").inputs.ingress).toEqual([
            SSH_RULE,
            ...clusterIngressRules(29600),
        ]);
        expect(clusterIngressRules(29600)[0]).toEqual({
            description: "torch.distributed rendezvous on machine 0, from the cluster instances only",
            protocol: "tcp",
            fromPort: 29600,
            toPort: 29600,
            self: true,
        });
    });

    it("opens nothing to 0.0.0.0/0 except SSH, and that only when allowOpenSsh says so", () => {
        const cidrRules = (prefix: string): unknown[] =>
            (oneOf(prefix, "aws:ec2/securityGroup:SecurityGroup").inputs.ingress as Record<string, unknown>[]).filter(
                (rule) => rule.cidrBlocks !== undefined || rule.ipv6CidrBlocks !== undefined || rule.self !== true,
            );
        expect(cidrRules("c3")).toEqual([SSH_RULE]);
        expect(cidrRules("open")).toEqual([{ ...SSH_RULE, cidrBlocks: ["0.0.0.0/0"] }]);
        expect(() => new AwsGpuHost("closed", { ...baseArgs, hosts: 2, sshCidr: "0.0.0.0/0" })).toThrow(
            "stacktune:target.sshCidr 0.0.0.0/0 opens SSH to the whole internet",
        );
    });

    it("launches one instance per host, in rank order at awsCluster.address(rank), all in the subnet and placement group", () => {
        const instances = of("c3", "aws:ec2/instance:Instance");
        expect(instances.map((i) => i.name)).toEqual(["c3-instance-0", "c3-instance-1", "c3-instance-2"]);
        expect(instances.map((i) => i.inputs.privateIp)).toEqual(["10.42.1.10", "10.42.1.11", "10.42.1.12"]);
        expect(instances.map((i) => i.inputs.privateIp)).toEqual([0, 1, 2].map(awsCluster.address));
        instances.forEach((instance, rank) => {
            expect(instance.inputs).toMatchObject({
                subnetId: "c3-subnet-id",
                placementGroup: "c3-placement-pg",
                vpcSecurityGroupIds: ["c3-ssh-id"],
                associatePublicIpAddress: true,
                ami: MOCK_AMI_ID,
                userDataReplaceOnChange: true,
                keyName: "c3-key-keyname",
                iamInstanceProfile: "c3-profile-profile-name",
                instanceType: "g5.12xlarge",
                instanceInitiatedShutdownBehavior: "terminate",
                rootBlockDevice: { volumeType: "gp3", volumeSize: 250, encrypted: true, deleteOnTermination: true },
                // A spot cluster stays spot (an interruption stops the job; the checkpoint store resumes it).
                instanceMarketOptions: {
                    marketType: "spot",
                    spotOptions: {
                        spotInstanceType: "one-time",
                        instanceInterruptionBehavior: "terminate",
                        maxPrice: "3.5000",
                    },
                },
                volumeTags: TAGS,
            });
            expect(instance.inputs.tags).toEqual({
                Name: `c3-${rank}`,
                "stacktune:machine-rank": String(rank),
                ...TAGS,
            });
        });
    });

    it("readies every instance over SSH to its own public address: cloud-init wait, then the preflight", () => {
        const preflight = readinessCommand(hostPaths.readyMarker, {
            gpus: 4,
            gpuMemoryGb: 24,
            minFreeDiskGb: 100,
            runtime: "docker",
            runRoot: "~/.stacktune/runs",
        });
        const readies = of("c3", "command:remote:Command");
        expect(readies.map((r) => r.name)).toEqual(["c3-ready-0", "c3-ready-1", "c3-ready-2"]);
        readies.forEach((ready, rank) => {
            expect(textInput(ready, "create")).toBe(preflight);
            expect(isSecretInput(ready.inputs.connection)).toBe(true);
            expect(plain(ready.inputs.connection)).toEqual({
                host: `198.51.100.${10 + rank}`,
                port: 22,
                user: "ubuntu",
                privateKey: KEY_CANARY,
                hostKey: expect.stringMatching(/^ssh-ed25519 /) as unknown,
                dialErrorLimit: 60,
                perDialTimeout: 15,
            });
        });
    });

    it("gives every instance its own host key, installed by its user-data and pinned in its connection", () => {
        const readies = of("c3", "command:remote:Command");
        const instances = of("c3", "aws:ec2/instance:Instance");
        const pinned = readies.map((ready) => (plain(ready.inputs.connection) as { hostKey: string }).hostKey);
        expect(new Set(pinned).size).toBe(3);
        instances.forEach((instance, rank) => {
            expect(isSecretInput(instance.inputs.userData)).toBe(true);
            const userData = String(plain(instance.inputs.userData));
            expect(userData.startsWith(USER_DATA)).toBe(true);
            expect(userData).toContain(`  ed25519_public: ${pinned[rank]}\n`);
        });
    });

    it("exposes every machine as a job host in rank order; machine 0 is also instance, publicIp, ready and jobHost", async () => {
        expect(cluster.instances).toHaveLength(3);
        expect(cluster.instance).toBe(cluster.instances[0]);
        expect(cluster.jobHost).toBe(cluster.jobHosts[0]);
        expect(cluster.ready).toBe(cluster.jobHosts[0]?.ready[0]);
        expect(await valueOf(cluster.publicIp)).toBe("198.51.100.10");
        expect(await valueOf(pulumi.all(cluster.jobHosts.map((h) => h.address)))).toEqual([
            "198.51.100.10",
            "198.51.100.11",
            "198.51.100.12",
        ]);
        expect(
            cluster.jobHosts.map((h) => ({
                kind: h.kind,
                gpus: h.gpus,
                release: h.releaseAction,
                ready: h.ready.length,
            })),
        ).toEqual(Array(3).fill({ kind: "aws", gpus: 4, release: "poweroff", ready: 1 }));
        expect(new Set(cluster.jobHosts.map((h) => h.ready[0])).size).toBe(3);
        expect(cluster.vpc).toBeDefined();
        expect(cluster.subnet).toBeDefined();
        expect(cluster.placementGroup).toBeDefined();
    });

    it("a single host gets the same own network as a cluster but no placement group or fixed address, and keeps its unranked names", () => {
        expect(oneOf("one", "aws:ec2/vpc:Vpc").inputs).toEqual(oneOf("c3", "aws:ec2/vpc:Vpc").inputs);
        expect(oneOf("one", "aws:ec2/subnet:Subnet").inputs).toEqual({
            ...oneOf("c3", "aws:ec2/subnet:Subnet").inputs,
            vpcId: "one-vpc-id",
        });
        expect(oneOf("one", "aws:ec2/internetGateway:InternetGateway").inputs).toEqual({
            vpcId: "one-vpc-id",
            tags: TAGS,
        });
        expect(oneOf("one", "aws:ec2/routeTable:RouteTable").inputs).toEqual({
            vpcId: "one-vpc-id",
            routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: "one-igw-id" }],
            tags: TAGS,
        });
        expect(oneOf("one", "aws:ec2/routeTableAssociation:RouteTableAssociation").inputs).toEqual({
            subnetId: "one-subnet-id",
            routeTableId: "one-routes-id",
        });
        expect(of("one", "aws:ec2/placementGroup:PlacementGroup")).toEqual([]);
        expect(of("one", "aws:ec2/instance:Instance").map((r) => r.name)).toEqual(["one-instance"]);
        expect(of("one", "command:remote:Command").map((r) => r.name)).toEqual(["one-ready"]);
        const instance = named("one-instance").inputs;
        expect(instance.subnetId).toBe("one-subnet-id");
        expect(instance.associatePublicIpAddress).toBe(true);
        for (const key of ["privateIp", "placementGroup"]) expect(instance).not.toHaveProperty(key);
        expect(instance.tags).toEqual({ Name: "one", ...TAGS });
        expect(oneOf("one", "aws:ec2/securityGroup:SecurityGroup").inputs).toEqual({
            description: "stacktune: SSH from the operator only",
            vpcId: "one-vpc-id",
            ingress: [SSH_RULE],
            egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] }],
            tags: TAGS,
        });
        expect(single.instances).toEqual([single.instance]);
        expect(single.jobHosts).toEqual([single.jobHost]);
        expect(single.vpc).toBeDefined();
        expect(single.subnet).toBeDefined();
        expect(single.placementGroup).toBeUndefined();
    });

    it("refuses a host count or rendezvous port it cannot build, saying what to set", () => {
        expect(awsHostCount(undefined)).toBe(1);
        expect(() => awsHostCount(0)).toThrow(
            "stacktune:target.hosts 0 is not a number of instances: use a whole number from 1 to 16",
        );
        expect(() => awsHostCount(17)).toThrow("stacktune:target.hosts 17 is not a number of instances");
        expect(() => awsHostCount(1.5)).toThrow("stacktune:target.hosts 1.5 is not a number of instances");
        expect(() => clusterIngressRules(70000)).toThrow(
            "stacktune:distributed.rendezvousPort 70000 is not a TCP port",
        );
    });

    it("asks each host's region which zones offer its instance type, with exactly the offerings query", () => {
        const offerings = calls.filter((c) => c.token === INSTANCE_TYPE_OFFERINGS_TOKEN).map((c) => c.inputs);
        const query = {
            region: "us-east-1",
            locationType: "availability-zone",
            filters: [{ name: "instance-type", values: ["g5.12xlarge"] }],
        };
        // One per host: c3, one, zone, open.
        expect(offerings).toEqual([query, query, query, query]);
    });

    it("chooses a zone that offers the instance type, keeps an offered one asked for, and refuses others saying what to do", () => {
        const offered = ["eu-west-1c", "eu-west-1b"];
        const zone = (requested?: string): string =>
            availabilityZoneFor({ region: "eu-west-1", instanceType: "g6.12xlarge", offered, requested });
        expect(zone()).toBe("eu-west-1b");
        expect(zone("eu-west-1c")).toBe("eu-west-1c");
        expect(() => zone("eu-west-1a")).toThrow(
            'stacktune:target.availabilityZone "eu-west-1a" does not offer instance type g6.12xlarge: use one that does (eu-west-1b, eu-west-1c), ' +
                "or remove stacktune:target.availabilityZone to let stacktune choose",
        );
        expect(() => zone("us-west-2a")).toThrow(
            'stacktune:target.availabilityZone "us-west-2a" is not a zone of region eu-west-1: use one such as eu-west-1b, or change stacktune:target.region',
        );
        expect(() =>
            availabilityZoneFor({ region: "ap-southeast-4", instanceType: "g5.12xlarge", offered: [] }),
        ).toThrow(
            "no availability zone of region ap-southeast-4 offers instance type g5.12xlarge: set stacktune:target.region to a region " +
                "that offers it, or stacktune:target.instanceType to another supported type",
        );
    });
});
