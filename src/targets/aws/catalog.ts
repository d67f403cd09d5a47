/**
 * The AWS instance catalog: one row per supported instance type, read from instance-types.json, the one
 * home of these facts for the settings (which types exist), the host (GPUs, memory, vCPU quota),
 * the cost estimate (price, time scale) and bench/project.py (peak TFLOPS, price). Adding an
 * instance type is one row there. The file is checked when it is loaded, so a row without a price
 * fails `render`, CI and every other command, not only a `pulumi preview`.
 */
import { z } from "zod";
import catalogFile from "./instance-types.json";

/** One instance type. */
const InstanceTypeSchema = z.strictObject({
    /** GPUs of one instance. */
    gpus: z.number().int().positive(),
    /** Memory of each GPU in whole GB, as the preflight checks it. */
    gpuMemoryGb: z.number().int().positive(),
    /** `nvidia-smi`'s name of the GPU. */
    gpuModel: z.string().regex(/^NVIDIA /),
    /** vCPUs: what the account's G-instance quotas count (AWS instance-type pages). */
    vcpus: z.number().int().positive(),
    /** On-demand Linux price in us-east-1, USD per instance-hour ({@link AWS_PRICE_SOURCE}). */
    onDemandUsdPerHour: z.number().positive(),
    /** Peak dense bf16 tensor TFLOPS (FP32 accumulate) per GPU: bench/project.py's assumption for the time scale. */
    peakBf16Tflops: z.number().positive(),
    /**
     * Step time relative to the 4 x RTX 4090 reference box, as the committed GPU benchmark projected
     * it (bench/results/, test/cost.estimate.test.ts checks the copy); `unmeasured` until a benchmark
     * has projected this type (the estimate then assumes the budget's hours).
     */
    timeScaleVs4090: z.union([z.number().positive(), z.literal("unmeasured")]),
});

const CatalogSchema = z.strictObject({
    priceSource: z.string().min(1),
    instanceTypes: z.record(z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/), InstanceTypeSchema),
});

/** The catalog, checked: a broken row names the file and the row's keys (the repository's fault, not the user's). */
export function parseAwsCatalog(json: unknown): z.infer<typeof CatalogSchema> {
    const parsed = CatalogSchema.safeParse(json);
    if (!parsed.success) {
        throw new Error(
            `src/targets/aws/instance-types.json is not a valid instance catalog: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
        );
    }
    return parsed.data;
}

const catalog = parseAwsCatalog(catalogFile);

/** The supported instance types (the JSON's keys, as literal types). */
export type AwsInstanceType = keyof (typeof catalogFile)["instanceTypes"];

export type AwsInstanceInfo = z.infer<typeof InstanceTypeSchema>;

/** Every supported instance type's row. */
export const awsInstanceTypes = catalog.instanceTypes as Record<AwsInstanceType, AwsInstanceInfo>;

/** The supported instance types, in catalog order. */
export const awsInstanceTypeNames = Object.keys(awsInstanceTypes) as [AwsInstanceType, ...AwsInstanceType[]];

/** Where the catalog's prices come from; shown next to every estimate. */
export const AWS_PRICE_SOURCE = catalog.priceSource;
