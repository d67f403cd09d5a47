// The aws target through index.ts under Pulumi mocks, with the completion lookup answered "not
// done" by a local Hub stand-in: the exact inputs of every AWS resource, the host's readiness
// command, and where the secrets go.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkpointBucketPolicy, dlamiLookup, ec2AssumeRolePolicy, waitForCloudInit } from "../src/hosts/aws";
import { hostPaths, renderCloudInit } from "../src/render";
import { shellQuote } from "../src/render/shell";
import { loadSettingsFromPulumiConfig } from "../src/settings";
import { extractBundle } from "./helpers/bundle";
import { FakeHub } from "./helpers/fakeHub";
import {
    INSTANCE_TYPE_OFFERINGS_TOKEN,
    installProgramMocks,
    isSecretInput,
    MOCK_AMI_ID,
    nonSecretOccurrences,
    plain,
    ProgramMocks,
    RegisteredResource,
    runProgram,
    textInput,
    valueOf,
} from "./helpers/pulumiMocks";
import { TEST_PUBLIC_KEY } from "./helpers/keys";

const KEY_CANARY = "-----BEGIN OPENSSH PRIVATE KEY-----\nCANARY-aws-key-0c4f\n-----END OPENSSH PRIVATE KEY-----\n";
const TOKEN_CANARY = "hf_CANARY_aws_91d0";
const PUBLIC_KEY = TEST_PUBLIC_KEY;
const MERGED_REPO = "me/llama3-openhermes-qlora";
const hub = new FakeHub();

/** The public key line OpenSSH derives from a private key (`ssh-keygen -y`). */
function publicKeyOf(privateKey: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stacktune-hostkey-"));
    try {
        fs.writeFileSync(path.join(dir, "key"), privateKey, { mode: 0o600 });
        return execFileSync("ssh-keygen", ["-y", "-f", path.join(dir, "key")], { encoding: "utf8" }).trim();
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
let mocks: ProgramMocks;
let outputs: Record<string, unknown>;
const one = (type: string): RegisteredResource => mocks.one(type);

beforeAll(async () => {
    await hub.start();
    process.env.HF_ENDPOINT = hub.url;
    mocks = await installProgramMocks({
        stack: "aws-g5",
        config: {
            "stacktune:target": {
                kind: "aws",
                region: "us-east-1",
                instanceType: "g5.12xlarge",
                spot: { enabled: true, maxPrice: 3.5 },
                rootVolumeGb: 250,
                sshCidr: "203.0.113.7/32",
                publicKey: PUBLIC_KEY,
                checkpointBucket: true,
            },
            "stacktune:runtime": { kind: "docker" },
            "stacktune:hub": { adapterRepo: "me/llama3-openhermes-adapter", mergedRepo: MERGED_REPO },
            "stacktune:budget": { maxHours: 24, teardown: "release-after-push" },
            "stacktune:hfToken": TOKEN_CANARY,
            "stacktune:sshPrivateKey": KEY_CANARY,
        },
        secretKeys: ["stacktune:hfToken", "stacktune:sshPrivateKey"],
    });
    outputs = await runProgram();
});
afterAll(async () => {
    delete process.env.HF_ENDPOINT;
    await hub.stop();
});

describe("aws target", () => {
    it("asked the Hub for the merged repo's marker, with the token, before creating anything", () => {
        expect(hub.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
            // The default inputs' revisions, pinned at plan time (test/program.pinned-inputs.test.ts).
            "GET /api/models/meta-llama/Meta-Llama-3-8B-Instruct/revision/main",
            "GET /api/datasets/teknium/OpenHermes-2.5/revision/main",
            `GET /${MERGED_REPO}/resolve/main/stacktune.json`,
        ]);
        expect(hub.requests.every((r) => r.authorization === `Bearer ${TOKEN_CANARY}`)).toBe(true);
    });

    it("registers exactly the GPU host's resources, the image and the job", () => {
        expect(mocks.resources.map((r) => `${r.type} ${r.name}`).sort()).toEqual(
            [
                "stacktune:index:Experiment experiment",
                "stacktune:aws:GpuHost experiment-host",
                "pulumi:providers:aws experiment-host-aws",
                "aws:ec2/vpc:Vpc experiment-host-vpc",
                "aws:ec2/subnet:Subnet experiment-host-subnet",
                "aws:ec2/internetGateway:InternetGateway experiment-host-igw",
                "aws:ec2/routeTable:RouteTable experiment-host-routes",
                "aws:ec2/routeTableAssociation:RouteTableAssociation experiment-host-routes",
                "aws:ec2/securityGroup:SecurityGroup experiment-host-ssh",
                "aws:ec2/keyPair:KeyPair experiment-host-key",
                "aws:s3/bucket:Bucket experiment-host-checkpoints",
                "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock experiment-host-checkpoints",
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration experiment-host-checkpoints",
                "aws:iam/role:Role experiment-host-role",
                "aws:iam/rolePolicy:RolePolicy experiment-host-checkpoints",
                "aws:iam/instanceProfile:InstanceProfile experiment-host-profile",
                "aws:ec2/instance:Instance experiment-host-instance",
                "command:local:Command experiment-host-reach",
                "command:remote:Command experiment-host-ready",
                "stacktune:image:TrainingImage experiment-image",
                "command:remote:Command experiment-image-build",
                "stacktune:job:TrainingJob experiment-job",
                "stacktune:hosts:HostAccess experiment-access",
                "command:local:Command experiment-job-cleanup",
                "command:remote:Command experiment-job-stage",
                "command:remote:Command experiment-job-run",
            ].sort(),
        );
    });

    // Ubuntu 24.04: its python3 (3.12) is within the venv runtime's supported range; 22.04's 3.10 is
    // refused by the preflight after the instance already bills.
    it("uses the region from the settings and looks the Ubuntu 24.04 Deep Learning AMI up by filter", () => {
        expect(one("pulumi:providers:aws").inputs.region).toBe("us-east-1");
        const lookups = mocks.calls.filter((c) => c.token === "aws:ec2/getAmi:getAmi");
        expect(lookups).toHaveLength(1);
        expect(lookups[0]?.inputs).toEqual(dlamiLookup());
        expect(dlamiLookup()).toEqual({
            mostRecent: true,
            owners: ["amazon"],
            filters: [
                { name: "name", values: ["Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) *"] },
                { name: "architecture", values: ["x86_64"] },
                { name: "state", values: ["available"] },
                { name: "root-device-type", values: ["ebs"] },
            ],
        });
    });

    it("launches the instance: type, AMI, spot with max price, encrypted gp3, IMDSv2 hop 2, terminate on shutdown, rendered user-data", () => {
        const settings = loadSettingsFromPulumiConfig().settings;
        const instance = one("aws:ec2/instance:Instance").inputs;
        expect(instance.instanceType).toBe("g5.12xlarge");
        expect(instance.ami).toBe(MOCK_AMI_ID);
        expect(instance.instanceMarketOptions).toEqual({
            marketType: "spot",
            spotOptions: {
                spotInstanceType: "one-time",
                instanceInterruptionBehavior: "terminate",
                maxPrice: "3.5000",
            },
        });
        expect(instance.rootBlockDevice).toEqual({
            volumeType: "gp3",
            volumeSize: 250,
            encrypted: true,
            deleteOnTermination: true,
        });
        expect(instance.metadataOptions).toEqual({
            httpEndpoint: "enabled",
            httpTokens: "required",
            httpPutResponseHopLimit: 2,
        });
        expect(instance.instanceInitiatedShutdownBehavior).toBe("terminate");
        expect(String(plain(instance.userData)).startsWith(renderCloudInit(settings, "aws-g5"))).toBe(true);
        expect(instance.userDataReplaceOnChange).toBe(true);
        expect(instance.keyName).toBe("experiment-host-key-keyname");
        expect(instance.vpcSecurityGroupIds).toEqual(["experiment-host-ssh-id"]);
        expect(instance.iamInstanceProfile).toBe("experiment-host-profile-profile-name");
        // In a subnet, where EC2 reads it (outside one, the default VPC's own setting decides).
        expect(instance.associatePublicIpAddress).toBe(true);
        expect(instance.subnetId).toBe("experiment-host-subnet-id");
        for (const key of ["privateIp", "placementGroup"]) expect(instance).not.toHaveProperty(key);
        expect(instance.tags).toEqual({
            Name: "experiment-host",
            "stacktune:stack": "aws-g5",
            "stacktune:experiment": (outputs.experimentHash as string).slice(0, 16),
        });
    });

    // No default VPC is assumed: a single host gets the same own network as a cluster (one home,
    // AwsGpuHost's network), public, in a zone that offers its instance type.
    it("gives the single host its own VPC, public subnet, internet gateway and route, and no placement group", () => {
        const tags = {
            "stacktune:stack": "aws-g5",
            "stacktune:experiment": (outputs.experimentHash as string).slice(0, 16),
        };
        expect(one("aws:ec2/vpc:Vpc").inputs).toEqual({
            cidrBlock: "10.42.0.0/16",
            enableDnsSupport: true,
            enableDnsHostnames: true,
            tags,
        });
        expect(one("aws:ec2/subnet:Subnet").inputs).toEqual({
            vpcId: "experiment-host-vpc-id",
            cidrBlock: "10.42.1.0/24",
            availabilityZone: "us-east-1b",
            mapPublicIpOnLaunch: true,
            tags,
        });
        expect(one("aws:ec2/internetGateway:InternetGateway").inputs).toEqual({
            vpcId: "experiment-host-vpc-id",
            tags,
        });
        expect(one("aws:ec2/routeTable:RouteTable").inputs).toEqual({
            vpcId: "experiment-host-vpc-id",
            routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: "experiment-host-igw-id" }],
            tags,
        });
        expect(one("aws:ec2/routeTableAssociation:RouteTableAssociation").inputs).toEqual({
            subnetId: "experiment-host-subnet-id",
            routeTableId: "experiment-host-routes-id",
        });
        expect(mocks.ofType("aws:ec2/placementGroup:PlacementGroup")).toEqual([]);
        expect(one("aws:ec2/securityGroup:SecurityGroup").inputs.vpcId).toBe("experiment-host-vpc-id");
    });

    it("asks which zones of the region offer the instance type, exactly once, and takes the first by name", () => {
        expect(mocks.calls.filter((c) => c.token === INSTANCE_TYPE_OFFERINGS_TOKEN).map((c) => c.inputs)).toEqual([
            {
                region: "us-east-1",
                locationType: "availability-zone",
                filters: [{ name: "instance-type", values: ["g5.12xlarge"] }],
            },
        ]);
    });

    it("allows SSH from exactly the configured CIDR and installs the configured public key", () => {
        const sg = one("aws:ec2/securityGroup:SecurityGroup").inputs;
        expect(sg.ingress).toEqual([
            {
                description: "SSH from the operator",
                protocol: "tcp",
                fromPort: 22,
                toPort: 22,
                cidrBlocks: ["203.0.113.7/32"],
            },
        ]);
        expect(one("aws:ec2/keyPair:KeyPair").inputs.publicKey).toBe(PUBLIC_KEY);
    });

    it("gives the instance a role that can only sync this experiment's checkpoints, in a bucket destroy keeps", () => {
        const experiment = (outputs.experimentHash as string).slice(0, 16);
        expect(one("aws:s3/bucket:Bucket").inputs).toEqual({
            bucketPrefix: "stacktune-ckpt-",
            forceDestroy: false,
            tags: { "stacktune:stack": "aws-g5", "stacktune:experiment": experiment },
        });
        expect(one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs).toMatchObject({
            bucket: "experiment-host-checkpoints-id",
            blockPublicAcls: true,
            blockPublicPolicy: true,
            ignorePublicAcls: true,
            restrictPublicBuckets: true,
        });
        expect(
            one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs.rules,
        ).toEqual([{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }]);
        expect(one("aws:iam/role:Role").inputs.assumeRolePolicy).toBe(ec2AssumeRolePolicy());
        const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy").inputs.policy as string) as unknown;
        expect(policy).toEqual(checkpointBucketPolicy("arn:aws:s3:::stacktune-ckpt-test", [`aws-g5/${experiment}`]));
        // `aws s3 sync` (checkpoint-sync.sh) lists the prefix and gets / puts objects; it never deletes (no --delete).
        expect(policy).toEqual({
            Version: "2012-10-17",
            Statement: [
                {
                    Sid: "ListCheckpointPrefix",
                    Effect: "Allow",
                    Action: ["s3:ListBucket"],
                    Resource: ["arn:aws:s3:::stacktune-ckpt-test"],
                    Condition: { StringLike: { "s3:prefix": [`aws-g5/${experiment}/*`] } },
                },
                {
                    Sid: "ReadWriteCheckpoints",
                    Effect: "Allow",
                    Action: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                    Resource: [`arn:aws:s3:::stacktune-ckpt-test/aws-g5/${experiment}/*`],
                },
            ],
        });
        expect(one("aws:iam/instanceProfile:InstanceProfile").inputs.role).toBe("stacktune-role-test");
    });

    it("waits for cloud-init and the host-ready marker, then preflights 4 GPUs and docker over SSH to the instance's address", () => {
        const ready = mocks.resources.find((r) => r.name === "experiment-host-ready")!;
        const create = textInput(ready, "create");
        expect(create.startsWith(waitForCloudInit(hostPaths.readyMarker))).toBe(true);
        expect(create).toContain("if [ ! -f /var/lib/stacktune/host-ready ]; then");
        // The session began before prepare-host added the user to the docker group: the preflight gets it.
        expect(create).toContain("\nsg docker -c 'bash -s -- 4 24 100 docker ");
        expect(create).toContain(
            `sg docker -c ${shellQuote(`bash -s -- 4 24 100 docker "$HOME"/.stacktune/runs 580.65.06 13 '' 3.10 3.12 <<'STACKTUNE_SCRIPT'`)}`.slice(
                0,
                -1,
            ),
        );
        expect(isSecretInput(ready.inputs.connection)).toBe(true);
        expect(plain(ready.inputs.connection)).toEqual({
            host: "198.51.100.23",
            port: 22,
            user: "ubuntu",
            privateKey: KEY_CANARY,
            hostKey: expect.stringMatching(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$/) as unknown,
            dialErrorLimit: 60,
            perDialTimeout: 15,
        });
    });

    it("pins a host key generated for the instance: cloud-init installs it (user-data is a secret), every connection verifies it", () => {
        const instance = one("aws:ec2/instance:Instance").inputs;
        expect(isSecretInput(instance.userData)).toBe(true);
        const userData = String(plain(instance.userData));
        const keys = (YAML.parse(userData) as { ssh_keys: Record<string, string> }).ssh_keys;
        expect(Object.keys(keys)).toEqual(["ed25519_private", "ed25519_public"]);
        expect(keys.ed25519_private).toMatch(
            /^-----BEGIN OPENSSH PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END OPENSSH PRIVATE KEY-----\n$/,
        );
        // The private half is the public one's: OpenSSH itself derives the public key from it.
        expect(publicKeyOf(keys.ed25519_private!)).toBe(keys.ed25519_public);
        const commands = mocks.ofType("command:remote:Command");
        expect(commands.length).toBeGreaterThan(1);
        for (const command of commands) {
            expect((plain(command.inputs.connection) as { hostKey?: string }).hostKey, command.name).toBe(
                keys.ed25519_public,
            );
        }
        const privateBody = keys.ed25519_private!.split("\n")[1]!;
        expect(nonSecretOccurrences(mocks.resources, privateBody)).toEqual([]);
    });

    it("tells the job to power the host off after success and to publish to the Hub (no on-host store check)", () => {
        const stage = mocks.resources.find((r) => r.name === "experiment-job-stage")!;
        const runEnv = fs.readFileSync(path.join(extractBundle(textInput(stage, "stdin")), "run.env"), "utf8");
        expect(runEnv).toContain("STACKTUNE_RELEASE=poweroff");
        expect(runEnv).not.toContain("STACKTUNE_RELEASE_ON_FAILURE"); // one machine: a failed run is kept for inspection
        expect(runEnv).toContain("STACKTUNE_CHECK_OUTPUT_STORE=false");
        expect(runEnv).toContain("STACKTUNE_MAX_SECONDS=86400");
        const run = mocks.resources.find((r) => r.name === "experiment-job-run")!;
        expect(isSecretInput(run.inputs.stdin)).toBe(true);
        expect(textInput(run, "stdin")).toContain(`HF_TOKEN=${TOKEN_CANARY}`);
        // Checkpoints are synced to (and restored from) the experiment's bucket; spot notices are watched.
        expect(String(run.inputs.create)).toMatch(
            /^export STACKTUNE_CHECKPOINT_STORE=s3:\/\/stacktune-ckpt-test\/[^/]+\/[0-9a-f]{16}; d=/,
        );
        expect(runEnv).toContain("STACKTUNE_SPOT_WATCH=true");
        // The graceful budget stop comes a margin before the user-data's watchdog powers the instance off.
        expect(runEnv).toContain(`STACKTUNE_WATCHDOG_DEADLINE_FILE=/var/lib/stacktune/deadline`);
        expect(runEnv).toContain(`STACKTUNE_WATCHDOG_MARGIN_S=900`);
    });

    it("keeps the token and the private key out of user-data, command texts and every other plain input", () => {
        expect(nonSecretOccurrences(mocks.resources, TOKEN_CANARY)).toEqual([]);
        expect(nonSecretOccurrences(mocks.resources, "CANARY-aws-key")).toEqual([]);
        expect(String(one("aws:ec2/instance:Instance").inputs.userData)).not.toContain("CANARY");
    });

    it("exports how `stacktune status|logs` reach the instance (aws stacks set no key file): run directory and connection, no secret", async () => {
        const hash = await valueOf(outputs.experimentHash as string);
        const access = await valueOf(outputs.hostAccess as object);
        expect(access).toEqual({
            runDir: `~/.stacktune/runs/${hash}`,
            machines: [
                {
                    rank: 0,
                    ssh: {
                        host: "198.51.100.23",
                        port: 22,
                        user: "ubuntu",
                        hostKey: expect.stringMatching(
                            /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$/,
                        ) as unknown,
                    },
                },
            ],
        });
        expect(JSON.stringify(access)).not.toContain("CANARY");
        // The record in the state (saved before the job runs) holds the same, and the key as a secret.
        expect(mocks.resources.filter((r) => r.type === "stacktune:hosts:HostAccess").map((r) => r.name)).toEqual([
            "experiment-access",
        ]);
    });

    it("exports the instance address, the repos and a spot-priced estimate", async () => {
        expect(await valueOf(outputs.hostAddress as string)).toBe("198.51.100.23");
        expect(await valueOf(outputs.model as object)).toEqual({
            adapterRepo: "me/llama3-openhermes-adapter",
            mergedRepo: MERGED_REPO,
            completedBefore: false,
        });
        const cost = await valueOf(outputs.estimatedCost as { usd: number; hours: number; usdPerHour: number });
        expect(cost).toMatchObject({ hours: 24, usdPerHour: 3.5, usd: 84 });
    });
});
