import * as pulumi from "@pulumi/pulumi";

/** One resource the program registered, with its exact inputs as the engine would receive them. */
export interface RegisteredResource {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
}

/** An AMI id the mocked `aws:ec2/getAmi:getAmi` returns. */
export const MOCK_AMI_ID = "ami-0123456789abcdef0";

/** The G-instance vCPU quota the mocked service-quota data source reports: enough for 16 instances. */
export const MOCK_GPU_VCPU_QUOTA = 16 * 48;

/** The invoke token of the provider's service-quota data source. */
export const SERVICE_QUOTA_TOKEN = "aws:servicequotas/getServiceQuota:getServiceQuota";

/** The invoke token of the provider's instance-type-offerings data source. */
export const INSTANCE_TYPE_OFFERINGS_TOKEN = "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings";

/**
 * The zones (suffixes of the region) in which the mocked offerings data source offers every instance
 * type, out of name order and without zone "a": a test then proves the zone is chosen from the
 * offerings (the first in name order, `b`) rather than assumed.
 */
export const MOCK_OFFERED_ZONE_SUFFIXES = ["d", "b", "c"];

/**
 * The mocked answer of {@link INSTANCE_TYPE_OFFERINGS_TOKEN}, as EC2 gives it (one location per
 * offering). It accepts only the exact query the program must send (zones of one region offering one
 * instance type) and throws on any other, so every test under these mocks asserts the query.
 */
export function mockInstanceTypeOfferings(inputs: Record<string, unknown>): Record<string, unknown> {
    const { region, locationType, filters, ...rest } = inputs;
    const filter = Array.isArray(filters) && filters.length === 1 ? (filters[0] as Record<string, unknown>) : undefined;
    const values = filter?.values;
    if (
        typeof region !== "string" ||
        locationType !== "availability-zone" ||
        Object.keys(rest).length !== 0 ||
        filter === undefined ||
        Object.keys(filter).sort().join() !== "name,values" ||
        filter.name !== "instance-type" ||
        !Array.isArray(values) ||
        values.length !== 1 ||
        typeof values[0] !== "string"
    ) {
        throw new Error(`unexpected ${INSTANCE_TYPE_OFFERINGS_TOKEN} inputs: ${JSON.stringify(inputs)}`);
    }
    const instanceType: string = values[0];
    const locations = MOCK_OFFERED_ZONE_SUFFIXES.map((zone) => `${region}${zone}`);
    return {
        id: region,
        region,
        locationType,
        filters,
        locations,
        instanceTypes: locations.map(() => instanceType),
        locationTypes: locations.map(() => "availability-zone"),
    };
}

/**
 * The mocked answers of the AWS data sources the program and AwsGpuHost invoke, {} for any other:
 * the G-instance vCPU quota (`gpuVcpuQuota`, {@link MOCK_GPU_VCPU_QUOTA} unless a test needs
 * another), the zones offering the instance type ({@link mockInstanceTypeOfferings}) and the Deep
 * Learning AMI ({@link MOCK_AMI_ID}).
 */
export function mockAwsCall(
    args: pulumi.runtime.MockCallArgs,
    gpuVcpuQuota = MOCK_GPU_VCPU_QUOTA,
): Record<string, unknown> {
    const inputs = args.inputs as Record<string, unknown>;
    if (args.token === SERVICE_QUOTA_TOKEN) {
        return { value: gpuVcpuQuota, quotaCode: inputs.quotaCode, quotaName: "mock" };
    }
    if (args.token === INSTANCE_TYPE_OFFERINGS_TOKEN) {
        return mockInstanceTypeOfferings(inputs);
    }
    if (args.token === "aws:ec2/getAmi:getAmi") {
        return {
            id: MOCK_AMI_ID,
            imageId: MOCK_AMI_ID,
            name: "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) 20260101",
        };
    }
    return {};
}

export interface ProgramMocks {
    resources: RegisteredResource[];
    calls: { token: string; inputs: Record<string, unknown> }[];
    ofType(type: string): RegisteredResource[];
    one(type: string): RegisteredResource;
}

/**
 * Installs Pulumi mocks that record every resource and invoke, and sets the stack's config. Call it
 * before importing the program. Config values are strings, as Pulumi stores them (objects as JSON);
 * keys listed in `secretKeys` are read back as secrets by `config.getSecret`.
 */
export async function installProgramMocks(options: {
    stack: string;
    config: Record<string, unknown>;
    secretKeys?: string[];
    preview?: boolean;
}): Promise<ProgramMocks> {
    const resources: RegisteredResource[] = [];
    const calls: ProgramMocks["calls"] = [];
    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
                resources.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
                const state: Record<string, unknown> = { ...(args.inputs as Record<string, unknown>) };
                if (args.type === "aws:ec2/instance:Instance") {
                    state.publicIp = "198.51.100.23";
                }
                if (args.type === "aws:s3/bucket:Bucket") {
                    state.arn = "arn:aws:s3:::stacktune-ckpt-test";
                    state.bucket = "stacktune-ckpt-test";
                }
                if (args.type === "aws:iam/role:Role") {
                    state.name = "stacktune-role-test";
                }
                if (args.type === "aws:ec2/keyPair:KeyPair") {
                    state.keyName = `${args.name}-keyname`;
                }
                if (args.type === "aws:iam/instanceProfile:InstanceProfile") {
                    state.name = `${args.name}-profile-name`;
                }
                if (args.type.startsWith("command:")) {
                    state.stdout = "";
                    state.stderr = "";
                }
                return { id: `${args.name}-id`, state };
            },
            call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
                calls.push({ token: args.token, inputs: args.inputs as Record<string, unknown> });
                return mockAwsCall(args);
            },
        },
        "stacktune",
        options.stack,
        options.preview ?? false,
    );
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(options.config)) {
        config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    pulumi.runtime.setAllConfig(config, options.secretKeys ?? []);
    return {
        resources,
        calls,
        ofType: (type) => resources.filter((r) => r.type === type),
        one(type) {
            const found = resources.filter((r) => r.type === type);
            if (found.length !== 1) {
                throw new Error(
                    `expected exactly one ${type}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`,
                );
            }
            return found[0] as RegisteredResource;
        },
    };
}

/** The value of an Output (mocked programs resolve every output). */
export function valueOf<T>(output: pulumi.Output<T> | T): Promise<T> {
    return new Promise((resolve) => {
        pulumi.output(output).apply((v) => {
            resolve(v as T);
            return v;
        });
    });
}

/** Runs `index.ts` (an `export = async () => outputs` program) and settles every registration. */
export async function runProgram(): Promise<Record<string, unknown>> {
    const mod = (await import("../../index")) as unknown as { default: () => Promise<Record<string, unknown>> };
    const outputs = await mod.default();
    // Let pending registrations (outputs of applies) reach the mocks.
    await new Promise((r) => setTimeout(r, 50));
    return outputs;
}

/** How the SDK marks a secret value in serialized resource inputs. */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** True when a registered input value was sent to the engine as a secret. */
export function isSecretInput(value: unknown): boolean {
    return (
        value !== null && typeof value === "object" && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG
    );
}

/** The input with every secret wrapper replaced by its value. */
export function plain(value: unknown): unknown {
    if (isSecretInput(value)) {
        return plain((value as { value: unknown }).value);
    }
    if (Array.isArray(value)) {
        return value.map(plain);
    }
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    }
    return value;
}

/**
 * Every place a string occurs in the registered inputs that were *not* sent as secrets, as
 * `resource.path` strings. A canary value must never show up here.
 */
export function nonSecretOccurrences(resources: RegisteredResource[], needle: string): string[] {
    const found: string[] = [];
    const walk = (value: unknown, where: string): void => {
        if (isSecretInput(value)) {
            return;
        }
        if (typeof value === "string") {
            if (value.includes(needle)) found.push(where);
            return;
        }
        if (value !== null && typeof value === "object") {
            for (const [k, v] of Object.entries(value)) walk(v, `${where}.${k}`);
        }
    };
    for (const r of resources) walk(r.inputs, `${r.type}(${r.name})`);
    return found;
}

/** The named string input of a resource, secrets unwrapped. */
export function textInput(resource: RegisteredResource, key: string): string {
    const value = plain(resource.inputs[key]);
    if (typeof value !== "string") {
        throw new Error(`${resource.name}.${key} is not a string`);
    }
    return value;
}
