// Multi-host stacks through index.ts under Pulumi mocks. An ssh target with two machines (venv
// runtime): a host, a preflight and a job per machine, each on its own SSH connection, the same run
// directory on both but run.env's machine rank, the store check on machine 0 only. Then an aws
// target with `hosts: 2`: the cluster network and one instance per rank, each job on its own instance.
// The mocked commands print nothing, so machine 0's store check reads `pending` here; the
// `complete` branch is covered in test/job.multihost.test.ts, where the mock answers it.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrAttachCommand, stopRunCommand, storeStateCommand, stageCommand } from "../src/job";
import { shellQuote } from "../src/render/shell";
import { clusterMachines, parseSettings } from "../src/settings";
import { extractBundle, listFiles } from "./helpers/bundle";
import { FakeHub } from "./helpers/fakeHub";
import {
    installProgramMocks,
    isSecretInput,
    mockAwsCall,
    nonSecretOccurrences,
    plain,
    ProgramMocks,
    RegisteredResource,
    runProgram,
    textInput,
    valueOf,
} from "./helpers/pulumiMocks";
import { TEST_PUBLIC_KEY } from "./helpers/keys";

const KEY_CANARY = "-----BEGIN OPENSSH PRIVATE KEY-----\nCANARY-mh-key-7d21\n-----END OPENSSH PRIVATE KEY-----\n";
const TOKEN_CANARY = "hf_CANARY_mh_4e9a";

/** Where each machine's commands must connect. */
/** Each machine's own host key, pinned in its own connection. */
const HOST_KEYS = [
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xa",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm6cCqTcdBvbRnF2G8k2wM3N0r1l4p9n1v9Q0g8c2Xb",
] as const;
const MACHINES = [
    { host: "192.0.2.10", port: 2222, user: "trainer", hostKey: HOST_KEYS[0] },
    { host: "192.0.2.11", port: 22, user: "worker", hostKey: HOST_KEYS[1] },
] as const;

describe("ssh target with two machines (venv runtime)", () => {
    let mocks: ProgramMocks;
    let outputs: Record<string, unknown>;
    let hash = "";
    const byName = (name: string): RegisteredResource => {
        const found = mocks.resources.find((r) => r.name === name);
        if (found === undefined) throw new Error(`no resource named ${name}`);
        return found;
    };
    const bundleOf = (stage: string): string => extractBundle(textInput(byName(stage), "stdin"));
    // The default model and dataset are on the Hub: their revisions are resolved there at plan time.
    const inputsHub = new FakeHub();
    afterAll(async () => {
        delete process.env.HF_ENDPOINT;
        await inputsHub.stop();
    });

    beforeAll(async () => {
        await inputsHub.start();
        process.env.HF_ENDPOINT = inputsHub.url;
        mocks = await installProgramMocks({
            stack: "two-boxes",
            config: {
                "stacktune:target": {
                    kind: "ssh",
                    user: "trainer",
                    gpus: 4,
                    hosts: [
                        { host: "192.0.2.10", port: 2222, clusterAddress: "10.0.0.10", hostKey: HOST_KEYS[0] },
                        { host: "192.0.2.11", user: "worker", hostKey: HOST_KEYS[1] },
                    ],
                },
                "stacktune:runtime": { kind: "venv" },
                "stacktune:budget": { maxHours: 20 },
                "stacktune:sshPrivateKey": KEY_CANARY,
                "stacktune:hfToken": TOKEN_CANARY,
            },
            secretKeys: ["stacktune:sshPrivateKey", "stacktune:hfToken"],
        });
        outputs = await runProgram();
        hash = await valueOf(outputs.experimentHash as string);
    });

    it("registers a host with its preflight and a job per machine; machine 0 keeps the single-host names", () => {
        expect(mocks.resources.map((r) => `${r.type} ${r.name}`).sort()).toEqual(
            [
                "stacktune:index:Experiment experiment",
                "stacktune:ssh:Host experiment-host",
                "stacktune:ssh:Host experiment-host-1",
                "command:local:Command experiment-host-reach",
                "command:local:Command experiment-host-1-reach",
                "command:remote:Command experiment-host-preflight",
                "command:remote:Command experiment-host-1-preflight",
                "stacktune:job:TrainingJob experiment-job",
                "stacktune:job:TrainingJob experiment-job-1",
                "stacktune:hosts:HostAccess experiment-access",
                "command:remote:Command experiment-job-stage",
                "command:remote:Command experiment-job-run",
                "command:remote:Command experiment-job-1-stage",
                "command:remote:Command experiment-job-1-run",
                "command:local:Command experiment-job-cleanup",
                "command:local:Command experiment-job-1-cleanup",
            ].sort(),
        );
    });

    it("connects every command of a machine to that machine, the key as a secret", () => {
        const commandsOf = [
            ["experiment-host-preflight", "experiment-job-stage", "experiment-job-run"],
            ["experiment-host-1-preflight", "experiment-job-1-stage", "experiment-job-1-run"],
        ];
        commandsOf.forEach((names, rank) => {
            for (const name of names) {
                const connection = byName(name).inputs.connection;
                expect(isSecretInput(connection)).toBe(true);
                expect(plain(connection)).toEqual({
                    ...MACHINES[rank],
                    privateKey: KEY_CANARY,
                    dialErrorLimit: 3,
                    perDialTimeout: 10,
                });
            }
        });
    });

    it("preflights each machine for the same 4 GPUs", () => {
        for (const name of ["experiment-host-preflight", "experiment-host-1-preflight"]) {
            expect(textInput(byName(name), "create").split("\n")[0]).toBe(
                `bash -s -- 4 24 100 venv "$HOME"/.stacktune/runs 580.65.06 13 python3 3.10 3.12 <<'STACKTUNE_SCRIPT'`,
            );
        }
    });

    it("ships the same run directory to both machines but run.env, which names the machine rank", () => {
        const [main, worker] = [bundleOf("experiment-job-stage"), bundleOf("experiment-job-1-stage")];
        const files = listFiles(main);
        expect(listFiles(worker)).toEqual(files);
        expect(files).toEqual(
            expect.arrayContaining([
                "accelerate.machine-0.yaml",
                "accelerate.machine-1.yaml",
                "training.yaml",
                "launch.sh",
                "run.env",
            ]),
        );
        expect(files).not.toContain("accelerate.yaml");
        const read = (dir: string, file: string): string => fs.readFileSync(path.join(dir, file), "utf8");
        for (const file of files.filter((f) => f !== "run.env"))
            expect(read(worker, file), file).toBe(read(main, file));
        const mainEnv = read(main, "run.env");
        const workerEnv = read(worker, "run.env");
        expect(mainEnv).toContain("\nSTACKTUNE_MACHINE_RANK=0\n");
        expect(workerEnv).toContain("\nSTACKTUNE_MACHINE_RANK=1\n");
        // Only the main machine merges, so only its start-or-attach looks for a finished model.
        expect(mainEnv).toContain("\nSTACKTUNE_CHECK_OUTPUT_STORE=true\n");
        expect(workerEnv).toBe(
            mainEnv
                .replace("STACKTUNE_MACHINE_RANK=0", "STACKTUNE_MACHINE_RANK=1")
                .replace("STACKTUNE_CHECK_OUTPUT_STORE=true", "STACKTUNE_CHECK_OUTPUT_STORE=false"),
        );
        expect(read(main, "accelerate.machine-1.yaml")).toContain(
            "\nmachine_rank: 1\nmain_process_ip: 10.0.0.10\nmain_process_port: 29500\n",
        );
        expect(read(main, "accelerate.machine-1.yaml")).toContain("\nnum_machines: 2\nnum_processes: 8\n");
    });

    it("ends machine 0's stage with the store check, and only machine 0's", () => {
        const runDir = `~/.stacktune/runs/${hash}`;
        expect(textInput(byName("experiment-job-stage"), "create")).toBe(
            `${stageCommand(runDir)}; ${storeStateCommand("~/.stacktune/models/two-boxes", hash)}`,
        );
        expect(textInput(byName("experiment-job-1-stage"), "create")).toBe(stageCommand(runDir));
    });

    it("starts or attaches on both machines while machine 0's store is pending (the mock prints nothing)", () => {
        const runDir = `~/.stacktune/runs/${hash}`;
        for (const name of ["experiment-job-run", "experiment-job-1-run"]) {
            const run = byName(name);
            expect(run.inputs.create).toBe(startOrAttachCommand(runDir));
            expect(run.inputs.update).toBe(startOrAttachCommand(runDir));
            expect(run.inputs.delete).toBeUndefined();
            expect(textInput(byName(name.replace(/run$/, "cleanup")), "delete")).toContain(
                shellQuote(stopRunCommand(runDir, false)),
            );
        }
    });

    it("sends the token only on each job's stdin, and the key only in the connections", () => {
        for (const name of ["experiment-job-run", "experiment-job-1-run"]) {
            expect(isSecretInput(byName(name).inputs.stdin)).toBe(true);
            expect(textInput(byName(name), "stdin")).toContain(`HF_TOKEN=${TOKEN_CANARY}`);
        }
        expect(nonSecretOccurrences(mocks.resources, "CANARY-mh-key")).toEqual([]);
        expect(nonSecretOccurrences(mocks.resources, TOKEN_CANARY)).toEqual([]);
        for (const r of mocks.resources) {
            for (const key of ["create", "update", "delete"])
                expect(JSON.stringify(plain(r.inputs[key]) ?? "")).not.toContain("CANARY");
        }
    });

    it("exports each machine's address and status, and machine 0's as the host address", async () => {
        expect(await valueOf(outputs.machines as object)).toEqual([
            { rank: 0, address: "trainer@192.0.2.10:2222", status: "pending" },
            { rank: 1, address: "worker@192.0.2.11:22", status: "pending" },
        ]);
        expect(await valueOf(outputs.hostAddress as string)).toBe("trainer@192.0.2.10:2222");
    });
});

describe("ssh target.port next to target.hosts", () => {
    it("reaches a machine without its own port at target.port, as target.user applies to it, or refuses the stack", () => {
        // A user who moves to `hosts` and keeps `port: 2222` must not be sent to port 22 silently.
        const raw = {
            target: {
                kind: "ssh",
                user: "trainer",
                port: 2222,
                hosts: [
                    { host: "gpu-a.example.internal", hostKey: HOST_KEYS[0] },
                    { host: "gpu-b.example.internal", port: 2200, hostKey: HOST_KEYS[1] },
                ],
            },
            hub: { localDir: "/srv/models/mh" },
        };
        let ports: (number | undefined)[];
        try {
            ports = clusterMachines(parseSettings(raw, {}, { checkSecrets: false, source: "test" }).target).map(
                (m) => m.port,
            );
        } catch (error) {
            expect(String(error)).toContain("target.port");
            return;
        }
        expect(ports).toEqual([2222, 2200]);
    });
});

describe("aws target with hosts: 2", () => {
    const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nCANARY-aws-mh-key\n-----END OPENSSH PRIVATE KEY-----\n";
    const PUBLIC_KEY = TEST_PUBLIC_KEY;
    const hub = new FakeHub();
    const resources: RegisteredResource[] = [];
    let outputs: Record<string, unknown>;
    const byName = (name: string): RegisteredResource => {
        const found = resources.find((r) => r.name === name);
        if (found === undefined) throw new Error(`no resource named ${name}`);
        return found;
    };

    beforeAll(async () => {
        await hub.start();
        process.env.HF_ENDPOINT = hub.url;
        // installProgramMocks gives every instance one public address; here each instance gets its
        // own (198.51.100.x for private 10.42.1.x), so a connection shows which instance it reaches.
        await pulumi.runtime.setMocks(
            {
                newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
                    const inputs = args.inputs as Record<string, unknown>;
                    resources.push({ type: args.type, name: args.name, inputs });
                    const state: Record<string, unknown> = { ...inputs };
                    if (args.type === "aws:ec2/instance:Instance")
                        state.publicIp = `198.51.100.${String(inputs.privateIp).split(".")[3]}`;
                    if (args.type === "aws:ec2/keyPair:KeyPair") state.keyName = `${args.name}-keyname`;
                    if (args.type === "aws:ec2/placementGroup:PlacementGroup") state.name = `${args.name}-pg`;
                    if (args.type.startsWith("command:")) {
                        state.stdout = "";
                        state.stderr = "";
                    }
                    return { id: `${args.name}-id`, state };
                },
                call: (args: pulumi.runtime.MockCallArgs) => mockAwsCall(args),
            },
            "stacktune",
            "aws-pair",
            false,
        );
        const config = {
            "stacktune:target": { kind: "aws", sshCidr: "203.0.113.7/32", publicKey: PUBLIC_KEY, hosts: 2 },
            "stacktune:runtime": { kind: "docker" },
            "stacktune:hub": { mergedRepo: "me/merged-mh" },
            "stacktune:budget": { maxHours: 10 },
            "stacktune:hfToken": "hf_aws_mh_token",
            "stacktune:sshPrivateKey": KEY,
        };
        pulumi.runtime.setAllConfig(
            Object.fromEntries(
                Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
            ),
            ["stacktune:hfToken", "stacktune:sshPrivateKey"],
        );
        outputs = await runProgram();
    });
    afterAll(async () => {
        delete process.env.HF_ENDPOINT;
        await hub.stop();
    });

    it("looks for the finished model in the merged Hub repo first, as on one host", () => {
        expect(hub.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
            // The default inputs' revisions, pinned at plan time (test/program.pinned-inputs.test.ts).
            "GET /api/models/meta-llama/Meta-Llama-3-8B-Instruct/revision/main",
            "GET /api/datasets/teknium/OpenHermes-2.5/revision/main",
            "GET /me/merged-mh/resolve/main/stacktune.json",
        ]);
    });

    it("registers the cluster network, two instances, and an image and a job per instance", () => {
        expect(resources.map((r) => `${r.type} ${r.name}`).sort()).toEqual(
            [
                "stacktune:index:Experiment experiment",
                "stacktune:aws:GpuHost experiment-host",
                "pulumi:providers:aws experiment-host-aws",
                "aws:ec2/vpc:Vpc experiment-host-vpc",
                "aws:ec2/subnet:Subnet experiment-host-subnet",
                "aws:ec2/internetGateway:InternetGateway experiment-host-igw",
                "aws:ec2/routeTable:RouteTable experiment-host-routes",
                "aws:ec2/routeTableAssociation:RouteTableAssociation experiment-host-routes",
                "aws:ec2/placementGroup:PlacementGroup experiment-host-placement",
                "aws:ec2/securityGroup:SecurityGroup experiment-host-ssh",
                "aws:ec2/keyPair:KeyPair experiment-host-key",
                // Spot (the default) keeps its checkpoints in the S3 store, with its least-privilege role.
                "aws:s3/bucket:Bucket experiment-host-checkpoints",
                "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock experiment-host-checkpoints",
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration experiment-host-checkpoints",
                "aws:iam/role:Role experiment-host-role",
                "aws:iam/rolePolicy:RolePolicy experiment-host-checkpoints",
                "aws:iam/instanceProfile:InstanceProfile experiment-host-profile",
                "aws:ec2/instance:Instance experiment-host-instance-0",
                "aws:ec2/instance:Instance experiment-host-instance-1",
                "command:local:Command experiment-host-reach-0",
                "command:local:Command experiment-host-reach-1",
                "command:remote:Command experiment-host-ready-0",
                "command:remote:Command experiment-host-ready-1",
                "stacktune:image:TrainingImage experiment-image",
                "stacktune:image:TrainingImage experiment-image-1",
                "command:remote:Command experiment-image-build",
                "command:remote:Command experiment-image-1-build",
                "stacktune:job:TrainingJob experiment-job",
                "stacktune:job:TrainingJob experiment-job-1",
                "stacktune:hosts:HostAccess experiment-access",
                "command:remote:Command experiment-job-stage",
                "command:remote:Command experiment-job-run",
                "command:remote:Command experiment-job-1-stage",
                "command:remote:Command experiment-job-1-run",
                "command:local:Command experiment-job-cleanup",
                "command:local:Command experiment-job-1-cleanup",
            ].sort(),
        );
    });

    it("puts the cluster's subnet in the first zone (by name) that offers the instance type", () => {
        expect(byName("experiment-host-subnet").inputs.availabilityZone).toBe("us-east-1b");
    });

    it("puts the instances at the private addresses the accelerate configs name, in one placement group", () => {
        expect(byName("experiment-host-instance-0").inputs).toMatchObject({
            privateIp: "10.42.1.10",
            subnetId: "experiment-host-subnet-id",
        });
        expect(byName("experiment-host-instance-1").inputs).toMatchObject({
            privateIp: "10.42.1.11",
            subnetId: "experiment-host-subnet-id",
        });
        for (const name of ["experiment-host-instance-0", "experiment-host-instance-1"]) {
            expect(byName(name).inputs.placementGroup).toBe("experiment-host-placement-pg");
        }
        const bundle = extractBundle(textInput(byName("experiment-job-1-stage"), "stdin"));
        expect(fs.readFileSync(path.join(bundle, "accelerate.machine-1.yaml"), "utf8")).toContain(
            "\nmain_process_ip: 10.42.1.10\n",
        );
    });

    it("runs each machine's image build, stage and run on its own instance", () => {
        const perMachine = [
            ["experiment-image-build", "experiment-job-stage", "experiment-job-run"],
            ["experiment-image-1-build", "experiment-job-1-stage", "experiment-job-1-run"],
        ];
        perMachine.forEach((names, rank) => {
            for (const name of names) {
                expect(plain(byName(name).inputs.connection), name).toMatchObject({
                    host: `198.51.100.${10 + rank}`,
                    user: "ubuntu",
                });
            }
        });
        for (const [name, rank] of [
            ["experiment-job-stage", 0],
            ["experiment-job-1-stage", 1],
        ] as const) {
            const runEnv = fs.readFileSync(
                path.join(extractBundle(textInput(byName(name), "stdin")), "run.env"),
                "utf8",
            );
            expect(runEnv).toContain(`\nSTACKTUNE_MACHINE_RANK=${rank}\n`);
            expect(runEnv).toContain("STACKTUNE_RELEASE=poweroff");
            // A cluster releases every instance, also after a failure (run-job.sh).
            expect(runEnv).toContain("\nSTACKTUNE_RELEASE_ON_FAILURE=true\n");
        }
    });

    it("exports both instances with their job status", async () => {
        expect(await valueOf(outputs.machines as object)).toEqual([
            { rank: 0, address: "198.51.100.10", status: "pending" },
            { rank: 1, address: "198.51.100.11", status: "pending" },
        ]);
    });
});
