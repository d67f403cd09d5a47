/**
 * A first, deliberately simple cost estimate: hours from a throughput figure, dollars from an
 * on-demand price table. Pure; issue 7 replaces the throughput default with measured bench results.
 */

/** On-demand Linux prices, us-east-1, USD per instance-hour. */
export const ON_DEMAND_USD_PER_HOUR = {
    "g5.12xlarge": 5.672,
    "g6.12xlarge": 4.6016,
} as const;

/** Where {@link ON_DEMAND_USD_PER_HOUR} comes from; shown next to every estimate. */
export const PRICE_SOURCE =
    "AWS EC2 On-Demand pricing page (https://aws.amazon.com/ec2/pricing/on-demand/), us-east-1 Linux, list prices of 2024; not re-checked since (no network here)";

export type PricedInstanceType = keyof typeof ON_DEMAND_USD_PER_HOUR;

/**
 * Throughput assumed when nothing better is known, in tokens per second for the reference recipe
 * (QLoRA 8B, ZeRO-3, 4×24 GB). An assumption, not a measurement: the reference run reports its
 * wall time (43,954 s of training) but not its token count. Issue 7 replaces it with the figure
 * measured in bench/results/.
 */
export const REFERENCE_TOKENS_PER_SECOND = 5000;

export interface CostEstimateInputs {
    /** `aws` prices the instance; `ssh` / `local` run on hardware already paid for. */
    targetKind: "aws" | "ssh" | "local";
    instanceType?: string;
    /** Spot max price per hour, when spot is used with a cap; the estimate uses it as the upper bound. */
    spotMaxPricePerHour?: number;
    /** Tokens the run will train on, when known (max_steps × tokens per step). */
    trainTokens?: number;
    /** @default REFERENCE_TOKENS_PER_SECOND */
    tokensPerSecond?: number;
    /** The budget's hour limit: the estimate never exceeds it, and is used when tokens are unknown. */
    maxHours: number;
}

export interface CostEstimate {
    hours: number;
    usdPerHour: number;
    usd: number;
    /** How the figure was reached, in words, for the stack output. */
    basis: string;
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Tokens per optimizer step with packing: every row is `maxLength` tokens. */
export function tokensPerStep(args: {
    perDeviceTrainBatchSize: number;
    gradientAccumulationSteps: number;
    processes: number;
    maxLength: number;
}): number {
    return args.perDeviceTrainBatchSize * args.gradientAccumulationSteps * Math.max(1, args.processes) * args.maxLength;
}

export function estimateRunCost(inputs: CostEstimateInputs): CostEstimate {
    const throughput = inputs.tokensPerSecond ?? REFERENCE_TOKENS_PER_SECOND;
    const fromTokens = inputs.trainTokens !== undefined ? inputs.trainTokens / throughput / 3600 : undefined;
    const hours = round(Math.min(fromTokens ?? inputs.maxHours, inputs.maxHours), 4);
    const hoursBasis =
        fromTokens === undefined
            ? `budget.maxHours (${inputs.maxHours} h) as upper bound: training tokens unknown before data prep`
            : fromTokens > inputs.maxHours
              ? `capped at budget.maxHours (${inputs.maxHours} h); ${inputs.trainTokens} tokens at ${throughput} tokens/s would take ${round(fromTokens, 2)} h`
              : `${inputs.trainTokens} tokens at ${throughput} tokens/s`;
    if (inputs.targetKind !== "aws") {
        return { hours, usdPerHour: 0, usd: 0, basis: `${hoursBasis}; ${inputs.targetKind} host: no instance charge` };
    }
    const onDemand = ON_DEMAND_USD_PER_HOUR[inputs.instanceType as PricedInstanceType];
    if (onDemand === undefined) {
        throw new Error(
            `no price for instance type "${inputs.instanceType}": use one of ${Object.keys(ON_DEMAND_USD_PER_HOUR).join(", ")}`,
        );
    }
    const usdPerHour = inputs.spotMaxPricePerHour ?? onDemand;
    const priceBasis =
        inputs.spotMaxPricePerHour !== undefined
            ? `spot max price ${usdPerHour} USD/h`
            : `${inputs.instanceType} on-demand ${usdPerHour} USD/h (${PRICE_SOURCE})`;
    return { hours, usdPerHour, usd: round(hours * usdPerHour, 2), basis: `${hoursBasis}; ${priceBasis}` };
}
