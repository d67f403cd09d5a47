/**
 * The run's cost estimate: expected hours from the run's training tokens and the throughput its
 * recipe measured in the GPU benchmark (bench/results/), dollars from an on-demand price table.
 * Everything here is pure except {@link loadBenchThroughput}, which reads the committed results
 * (the program uses their copy in src/cost/measured.ts).
 */
import * as fs from "fs";
import * as path from "path";
// The settings layer's modules, not its index: its rules (budget.maxUsd) price a stack with this file.
import { processCount } from "./settings/derived";
import type { Settings } from "./settings/schema";
import { machineCount } from "./settings/target";
import { targets, targetOf, type TargetKind } from "./targets";
import { MEASURED_THROUGHPUT } from "./cost/measured";
import { AWS_PRICE_SOURCE, type AwsInstanceType, awsInstanceTypes } from "./targets/aws/catalog";

/** On-demand Linux prices, us-east-1, USD per instance-hour: the catalog's (src/targets/aws/instance-types.json). */
export const ON_DEMAND_USD_PER_HOUR = Object.fromEntries(
    Object.entries(awsInstanceTypes).map(([type, row]) => [type, row.onDemandUsdPerHour]),
) as Record<AwsInstanceType, number>;

/** Where {@link ON_DEMAND_USD_PER_HOUR} comes from; shown next to every estimate. */
export const PRICE_SOURCE = AWS_PRICE_SOURCE;

export type PricedInstanceType = AwsInstanceType;

/**
 * Throughput assumed when nothing better is known, in tokens per second (the old placeholder; the
 * measured figures come from {@link benchThroughput}).
 */
export const REFERENCE_TOKENS_PER_SECOND = 5000;

/** The committed benchmark the estimate reads (issue 6). */
export const BENCH_RESULTS_FILE = "bench/results/2026-11-27-gpu-recipes.json";

/**
 * The committed multi-host benchmark (issue 8): {@link MULTI_HOST_BENCH_RECIPE} on 2 machines × 2
 * GPUs against 1 machine × 4 GPUs, in several NCCL modes, one box standing in for two hosts.
 */
export const MULTI_HOST_RESULTS_FILE = "bench/results/2026-11-28-multihost-gpu.json";
/** The recipe that file measured on several machines (bench/multihost.sh runs b2 and m2x2 only). */
export const MULTI_HOST_BENCH_RECIPE = "b2-ddp-liger-nonreentrant";

/**
 * The committed 1-GPU speed benchmark (issue 16): the recipes with bf16 frozen weights against b2,
 * side by side on one H200 capped at 24 GiB. Each is priced as b2's projection times its measured
 * ratio over b2 (the ratio is assumed to carry over to the 4-GPU boxes: not yet measured there).
 */
export const SPEED_RESULTS_FILE = "bench/results/2026-12-01-h200-speed.json";
/** Recipe → [the comparison of {@link SPEED_RESULTS_FILE} that measured it, its run name there]. */
const SPEED_RATIO_RUNS = {
    "b5-ddp-liger-bf16-skip8": ["speed_100_steps_call2", "b5"], // 100 timed steps
    "b6-ddp-liger-bf16-skip4": ["screen_16_steps_vs_b2", "b6"], // 11 timed steps
} as const;
/** How many machines it measured (m2x2: 2 × 2 GPUs). */
const MULTI_HOST_BENCH_MACHINES = 2;
/** Said wherever the scaling is assumed: what was measured instead. */
const MEASURED_ONLY = `multi-host measured only for ${MULTI_HOST_BENCH_RECIPE} on ${MULTI_HOST_BENCH_MACHINES} machines`;

export { AWS_SETUP_HOURS_ASSUMED } from "./targets/aws/target";

/** Sizes of well-known sources, for runs whose settings do not give `dataset.numSamples`. */
export const KNOWN_DATASET_SIZES: Readonly<Record<string, number>> = { "teknium/OpenHermes-2.5": 1_001_551 };

export interface CostEstimateInputs {
    /** A target that bills by the hour (aws) prices the instance; the others run on hardware already paid for. */
    targetKind: TargetKind;
    instanceType?: string;
    /** Spot max price per hour, when spot is used with a cap; the estimate uses it as the upper bound. */
    spotMaxPricePerHour?: number;
    /** Spot without a max price: AWS never charges more than on-demand, which is then the bound. */
    spot?: boolean;
    /** Tokens the run will train on, when known. */
    trainTokens?: number;
    /** @default REFERENCE_TOKENS_PER_SECOND */
    tokensPerSecond?: number;
    /** Where {@link tokensPerSecond} comes from, for the basis. */
    throughputBasis?: string;
    /** Hours outside training (evaluation, setup), added to the training hours. */
    extraHours?: number;
    extraHoursBasis?: string;
    /** The budget's hour limit: the estimate never exceeds it, and is used when tokens are unknown. */
    maxHours: number;
    /**
     * Machines that train the run together. Each instance bills; training goes {@link tokensPerSecond}
     * × hosts × {@link scaling}'s efficiency. @default 1
     */
    hosts?: number;
    /** How several hosts scale, and on what grounds. @default linear, assumed ({@link assumedScaling}) */
    scaling?: HostScaling;
}

/** Throughput of N hosts = N × one host's × efficiency; the basis says whether that was measured. */
export interface HostScaling {
    efficiency: number;
    basis: string;
}

export interface CostEstimate {
    hours: number;
    usdPerHour: number;
    usd: number;
    /** How the figure was reached, in words, for the stack output. */
    basis: string;
    /** {@link basis} in a few words, for the preview (absent in the outputs of older stacks). */
    summary?: string;
    /** Hours the run needs, before the budget cap (absent when the tokens are unknown). */
    expectedHours?: number;
    /** True when {@link expectedHours} is over budget.maxHours: the watchdog stops the run unfinished. */
    stoppedByBudget?: boolean;
    trainTokens?: number;
    /** Throughput of the whole run (every host together), tokens/s. */
    tokensPerSecond?: number;
    /** Machines of a multi-host run (absent for one): {@link usdPerHour} is all of their instances'. */
    hosts?: number;
}

/** Linear scaling, said to be an assumption: what a multi-host estimate uses unless measured. */
export function assumedScaling(hosts: number, why = MEASURED_ONLY): HostScaling {
    return { efficiency: 1, basis: `${hosts} hosts, linear scaling assumed (${why})` };
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** 5120, 48.2k, 263.5M: a token count read at a glance. */
const tokenCount = (n: number): string =>
    n >= 1e6 ? `${round(n / 1e6, 1)}M` : n >= 1e4 ? `${round(n / 1e3, 1)}k` : String(n);

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
    const hosts = inputs.hosts ?? 1;
    if (!Number.isInteger(hosts) || hosts < 1) {
        throw new Error(`the cost estimate needs a whole number of hosts, at least 1 (got ${hosts})`);
    }
    const perHost = inputs.tokensPerSecond ?? REFERENCE_TOKENS_PER_SECOND;
    const scaling = inputs.scaling ?? assumedScaling(hosts);
    const throughput = perHost * hosts * scaling.efficiency;
    const extra = inputs.extraHours ?? 0;
    const fromTokens = inputs.trainTokens !== undefined ? inputs.trainTokens / throughput / 3600 + extra : undefined;
    const hours = round(Math.min(fromTokens ?? inputs.maxHours, inputs.maxHours), 4);
    const speed =
        hosts > 1
            ? `${round(throughput, 1)} tokens/s = ${hosts} hosts x ${round(perHost, 1)} tokens/s` +
              (scaling.efficiency !== 1 ? ` x ${scaling.efficiency}` : "")
            : `${round(throughput, 1)} tokens/s`;
    const rate = `${inputs.trainTokens} tokens at ${speed}${inputs.throughputBasis !== undefined ? ` (${inputs.throughputBasis})` : ""}`;
    const extraText = extra > 0 ? ` + ${round(extra, 2)} h ${inputs.extraHoursBasis ?? "other work"}` : "";
    const hoursBasis =
        (fromTokens === undefined
            ? `budget.maxHours (${inputs.maxHours} h) as upper bound: training tokens unknown before data prep`
            : fromTokens > inputs.maxHours
              ? `capped at budget.maxHours (${inputs.maxHours} h); ${rate}${extraText} would take ${round(fromTokens, 2)} h`
              : `${rate}${extraText}`) + (hosts > 1 ? `; ${scaling.basis}` : "");
    const hoursSummary =
        (fromTokens === undefined
            ? `budget.maxHours ${inputs.maxHours} h as upper bound (tokens unknown before data prep)`
            : `${tokenCount(inputs.trainTokens ?? 0)} tokens at ${Math.round(throughput)} tokens/s (${inputs.tokensPerSecond === undefined ? "assumed" : "benchmark"})`) +
        (hosts > 1 ? ` on ${hosts} hosts` : "") +
        (extra > 0 ? ` + ${round(extra, 2)} h eval and setup` : "") +
        (fromTokens !== undefined && fromTokens > inputs.maxHours
            ? `, capped at budget.maxHours ${inputs.maxHours} h`
            : "");
    const details: Partial<CostEstimate> = {
        ...(fromTokens === undefined || (inputs.tokensPerSecond === undefined && inputs.extraHours === undefined)
            ? {}
            : {
                  expectedHours: round(fromTokens, 4),
                  stoppedByBudget: fromTokens > inputs.maxHours,
                  trainTokens: inputs.trainTokens,
                  tokensPerSecond: round(throughput, 1),
              }),
        ...(hosts > 1 ? { hosts } : {}),
    };
    if (!targets[inputs.targetKind].billsByTheHour) {
        const owned = hosts > 1 ? `${inputs.targetKind} hosts` : `${inputs.targetKind} host`;
        return {
            hours,
            usdPerHour: 0,
            usd: 0,
            basis: `${hoursBasis}; ${owned}: no instance charge`,
            summary: `${hoursSummary}; ${owned}, no charge`,
            ...details,
        };
    }
    const onDemand = ON_DEMAND_USD_PER_HOUR[inputs.instanceType as PricedInstanceType];
    if (onDemand === undefined) {
        throw new Error(
            `no price for instance type "${inputs.instanceType}": use one of ${Object.keys(ON_DEMAND_USD_PER_HOUR).join(", ")}`,
        );
    }
    const instancePerHour = inputs.spotMaxPricePerHour ?? onDemand;
    // Every instance of a cluster bills for the whole run.
    const usdPerHour = hosts > 1 ? round(instancePerHour * hosts, 4) : instancePerHour;
    const each = hosts > 1 ? ` x ${hosts} instances = ${usdPerHour} USD/h` : "";
    const priceBasis =
        inputs.spotMaxPricePerHour !== undefined
            ? `spot max price ${instancePerHour} USD/h${each}`
            : inputs.spot === true
              ? `spot without maxPrice, priced at the ${inputs.instanceType} on-demand ${instancePerHour} USD/h that AWS caps it at${each} (${PRICE_SOURCE}); the real spot price is usually lower`
              : `${inputs.instanceType} on-demand ${instancePerHour} USD/h${each} (${PRICE_SOURCE})`;
    const priceSummary =
        inputs.spotMaxPricePerHour !== undefined
            ? "spot max price"
            : inputs.spot === true
              ? `spot, at most the ${inputs.instanceType} on-demand price`
              : `${inputs.instanceType} on-demand price`;
    return {
        hours,
        usdPerHour,
        usd: round(hours * usdPerHour, 2),
        basis: `${hoursBasis}; ${priceBasis}`,
        summary: `${hoursSummary}; ${priceSummary}`,
        ...details,
    };
}

/** The benchmark's figures the estimate needs, read from {@link BENCH_RESULTS_FILE}. */
export interface BenchThroughput {
    date: string;
    /** Reference recipe (ZeRO-3) on the 4×RTX 4090 reference box, tokens/s (the bench's estimate). */
    referenceTokensPerSecondOn4090: number;
    /** Evaluation seconds per held-out sample of the reference run on its 4090 box. */
    referenceEvalSecondsPerSample: number;
    /** Candidate recipe → its conservative speed-up over the reference, projected to a 4090 box. */
    recipeSpeedup: Record<string, number>;
    /** Host (instance type, or "4x RTX 4090") → step time relative to the 4090 box (2.36 = slower). */
    timeScale: Record<string, number>;
    /** Mean tokens per conversation of the bench's OpenHermes-shaped data set. */
    meanTokensPerSample: number;
    /** The multi-host benchmark's figure, from {@link MULTI_HOST_RESULTS_FILE}. */
    multiHost: MultiHostThroughput;
}

/** Several machines against one, as measured for one recipe. */
export interface MultiHostThroughput {
    date: string;
    recipe: string;
    machines: number;
    /**
     * Median tokens/s of the machines together over one machine with as many GPUs, the worst NCCL
     * mode measured, at most 1 (a layout is not faster than one box: above 1 is the run's noise).
     */
    efficiency: number;
}

/** Held-out samples of the reference run (30% of OpenHermes-2.5), over which its eval took reference_eval_s. */
const REFERENCE_EVAL_SAMPLES = Math.ceil(0.3 * 1_001_551);

/**
 * Extracts {@link MultiHostThroughput} from bench/multihost_report.py's JSON: the median tokens/s
 * ratio of every two-machine run against its one-machine run. The median, not the mean: the mean
 * carries a one-off slow step of the two-launch runs (see the result's reading) that a run of
 * thousands of steps does not notice.
 */
export function multiHostThroughput(results: unknown): MultiHostThroughput {
    const r = results as {
        meta: { date: string };
        comparisons: Record<string, { median_tokens_per_s_ratio?: number }>;
    };
    const ratios = Object.values(r.comparisons ?? {}).flatMap((c) =>
        c.median_tokens_per_s_ratio !== undefined ? [c.median_tokens_per_s_ratio] : [],
    );
    if (ratios.length === 0)
        throw new Error(`${MULTI_HOST_RESULTS_FILE} has no median_tokens_per_s_ratio in its comparisons`);
    return {
        date: r.meta.date,
        recipe: MULTI_HOST_BENCH_RECIPE,
        machines: MULTI_HOST_BENCH_MACHINES,
        efficiency: round(Math.min(1, ...ratios), 3),
    };
}

/** Extracts {@link BenchThroughput} from the results JSONs (recipes: `projection`, `dataset`; multi-host; 1-GPU speed). */
export function benchThroughput(results: unknown, multiHostResults: unknown, speedResults: unknown): BenchThroughput {
    const r = results as {
        date: string;
        dataset: { tokens_mean: number };
        projection: Record<
            string,
            {
                candidate: string;
                conservative_ratio_on_4090: number;
                assumptions: { reference_tokens_per_s_4090_estimate: number; reference_eval_s: number };
                hosts: Record<string, { time_scale_vs_4090: number }>;
            }
        >;
    };
    const projections = Object.values(r.projection ?? {});
    const first = projections[0];
    if (first === undefined) throw new Error(`${BENCH_RESULTS_FILE} has no projection section`);
    const recipeSpeedup: Record<string, number> = {};
    // The P2P-off figures stand in for PCIe boxes (RTX 4090, A10G, L4): preferred when both exist.
    for (const p of [...projections].sort(
        (a, b) => Number(a.candidate.endsWith(".nop2p")) - Number(b.candidate.endsWith(".nop2p")),
    )) {
        recipeSpeedup[p.candidate.replace(/\.(no)?p2p$/, "")] = p.conservative_ratio_on_4090;
    }
    const b2 = recipeSpeedup["b2-ddp-liger-nonreentrant"];
    const speed = speedResults as Record<string, { runs: Record<string, { ratio_vs_base: number }> } | undefined>;
    for (const [recipe, [comparison, run]] of Object.entries(SPEED_RATIO_RUNS)) {
        const ratio = speed[comparison]?.runs[run]?.ratio_vs_base;
        if (b2 === undefined || ratio === undefined)
            throw new Error(`${SPEED_RESULTS_FILE} has no ${comparison}.runs.${run}.ratio_vs_base for ${recipe}`);
        recipeSpeedup[recipe] = round(b2 * ratio, 3);
    }
    const timeScale: Record<string, number> = {};
    for (const [host, h] of Object.entries(first.hosts)) {
        timeScale[host.split(" ")[0] === "4x" ? "4x RTX 4090" : (host.split(" ")[0] as string)] = h.time_scale_vs_4090;
    }
    return {
        date: r.date,
        referenceTokensPerSecondOn4090: first.assumptions.reference_tokens_per_s_4090_estimate,
        referenceEvalSecondsPerSample: first.assumptions.reference_eval_s / REFERENCE_EVAL_SAMPLES,
        recipeSpeedup,
        timeScale,
        meanTokensPerSample: r.dataset.tokens_mean,
        multiHost: multiHostThroughput(multiHostResults),
    };
}

export function loadBenchThroughput(repoRoot: string): BenchThroughput {
    const read = (file: string): unknown => JSON.parse(fs.readFileSync(path.join(repoRoot, file), "utf8"));
    return benchThroughput(read(BENCH_RESULTS_FILE), read(MULTI_HOST_RESULTS_FILE), read(SPEED_RESULTS_FILE));
}

/**
 * How the run's machines scale: measured where the multi-host benchmark ran the run's recipe on as
 * many machines, else linear and assumed. ZeRO-3 is said to be optimistic: it gathers the sharded
 * weights across the machines every step, where DDP sends only the adapters' gradients.
 */
export function hostScalingOf(
    recipe: string | undefined,
    strategy: Settings["distributed"]["strategy"],
    hosts: number,
    bench: BenchThroughput,
): HostScaling {
    const m = bench.multiHost;
    if (recipe === m.recipe && hosts === m.machines) {
        return {
            efficiency: m.efficiency,
            basis: `${hosts} hosts, ${m.efficiency}x of linear scaling as measured for ${m.recipe} (median tokens/s of 2 x 2 against 1 x 4 GPUs, bench ${m.date})`,
        };
    }
    return strategy === "deepspeed-zero3"
        ? assumedScaling(
              hosts,
              `likely optimistic: ZeRO-3 gathers the sharded weights across machines every step; ${MEASURED_ONLY}`,
          )
        : assumedScaling(hosts);
}

/** The benchmarked recipe a run's settings match, or undefined (then the reference's speed is used). */
export function benchRecipeOf(
    settings: Pick<Settings, "distributed" | "training" | "quantization">,
): string | undefined {
    const t = settings.training;
    if (settings.distributed.strategy === "deepspeed-zero3" && !t.useLigerKernel && t.packingStrategy === "wrapped") {
        return "a-reference";
    }
    if (settings.distributed.strategy === "ddp" && t.useLigerKernel && t.packing) {
        if (t.packingStrategy === "bfd") return "b3-ddp-bfd-liger";
        if (t.useReentrant) return undefined;
        // bf16 frozen weights: the measured skip count at or below the run's (more skipped layers
        // only recompute less), else b2's figure, which is slower: both err towards more hours.
        if (!settings.quantization.upcastFrozenWeights && t.checkpointSkipLayers >= 8) return "b5-ddp-liger-bf16-skip8";
        if (!settings.quantization.upcastFrozenWeights && t.checkpointSkipLayers >= 4) return "b6-ddp-liger-bf16-skip4";
        return "b2-ddp-liger-nonreentrant";
    }
    return undefined;
}

/** Training samples, when the settings (or {@link KNOWN_DATASET_SIZES}) tell. */
export function trainSampleCount(dataset: Settings["dataset"]): number | undefined {
    const total = dataset.numSamples ?? KNOWN_DATASET_SIZES[dataset.source];
    const split = total !== undefined ? total - Math.ceil(dataset.testSize * total) : undefined;
    if (split === undefined) return dataset.maxTrainSamples;
    return dataset.maxTrainSamples !== undefined ? Math.min(split, dataset.maxTrainSamples) : split;
}

/**
 * The estimate for a stack: tokens from `training.maxSteps` × tokens per step, else training samples
 * × the bench's mean tokens per conversation × epochs; throughput of the matching benchmarked recipe
 * projected to the instance type (the bench's method: the reference's 4090 throughput, divided by
 * the GPU's time scale, times the recipe's conservative speed-up); plus evaluation and, on aws, setup.
 * Several machines (`target.hosts`) scale training as {@link hostScalingOf} says (measured for one
 * recipe and machine count, else linear and assumed) and evaluation linearly. Setup runs on all
 * instances at once and stays as is.
 */
export function estimateExperimentCost(settings: Settings, bench: BenchThroughput = MEASURED_THROUGHPUT): CostEstimate {
    const target = settings.target;
    const t = settings.training;
    const hosts = machineCount(target);
    // An optimizer step of a multi-host run takes a batch from every process of every machine.
    const perStep = tokensPerStep({
        perDeviceTrainBatchSize: t.perDeviceTrainBatchSize,
        gradientAccumulationSteps: t.gradientAccumulationSteps,
        processes: processCount(settings) * hosts,
        maxLength: t.maxLength,
    });
    const samples = trainSampleCount(settings.dataset);
    const trainTokens =
        t.maxSteps > 0
            ? t.maxSteps * perStep
            : samples !== undefined
              ? Math.round(samples * Math.min(bench.meanTokensPerSample, t.maxLength) * t.epochs)
              : undefined;
    // What the target bills and which benchmarked host it runs like (src/targets/<kind>/target.ts).
    const facts = targetOf(target).cost(target);
    const common = {
        targetKind: target.kind,
        maxHours: settings.budget.maxHours,
        ...(trainTokens !== undefined ? { trainTokens } : {}),
        ...(hosts > 1 ? { hosts } : {}),
        ...(facts.instanceType !== undefined ? { instanceType: facts.instanceType, spot: facts.spot === true } : {}),
        ...(facts.spotMaxPricePerHour !== undefined ? { spotMaxPricePerHour: facts.spotMaxPricePerHour } : {}),
    };
    const host = facts.benchHost;
    const scale = host !== undefined ? bench.timeScale[host] : undefined;
    if (scale === undefined || trainTokens === undefined) {
        return estimateRunCost({
            ...common,
            ...(facts.assumedThroughputBasis !== undefined ? { throughputBasis: facts.assumedThroughputBasis } : {}),
        });
    }
    const recipe = benchRecipeOf(settings);
    const speedup = recipe !== undefined ? (bench.recipeSpeedup[recipe] ?? 1) : 1;
    const tokensPerSecond = (bench.referenceTokensPerSecondOn4090 / scale) * speedup;
    const evalSamples =
        settings.evaluation.strategy === "no"
            ? 0
            : Math.min(
                  settings.evaluation.maxSamples ?? Number.POSITIVE_INFINITY,
                  samples !== undefined
                      ? Math.ceil((samples * settings.dataset.testSize) / (1 - settings.dataset.testSize))
                      : Number.POSITIVE_INFINITY,
              );
    const evalPasses =
        settings.evaluation.strategy === "epoch"
            ? Math.ceil(t.epochs)
            : settings.evaluation.strategy === "steps" && settings.evaluation.steps !== undefined
              ? Math.max(1, Math.floor(trainTokens / perStep / settings.evaluation.steps))
              : 0;
    // Evaluation is split over every process too, linearly: it sends no gradients between machines.
    const evalHours = Number.isFinite(evalSamples)
        ? (evalPasses * evalSamples * bench.referenceEvalSecondsPerSample * scale) / 3600 / hosts
        : 0;
    const setupHours = facts.setupHours;
    const where = facts.benchHostWords ?? host;
    return estimateRunCost({
        ...common,
        tokensPerSecond,
        ...(hosts > 1 ? { scaling: hostScalingOf(recipe, settings.distributed.strategy, hosts, bench) } : {}),
        throughputBasis:
            `${recipe ?? "recipe not benchmarked, priced as the reference"} projected to ${where}: ` +
            `${bench.referenceTokensPerSecondOn4090} tokens/s reference on 4x4090 / time scale ${scale} x conservative speed-up ${speedup}, ` +
            `bench ${bench.date}` +
            (t.maxSteps > 0
                ? ""
                : `; ${samples} samples x ${Math.min(bench.meanTokensPerSample, t.maxLength)} mean tokens x ${t.epochs} epochs`),
        extraHours: evalHours + setupHours,
        extraHoursBasis:
            `for ${evalPasses} eval pass(es) of ${Number.isFinite(evalSamples) ? evalSamples : "?"} samples` +
            (setupHours > 0 ? ` and ${setupHours} h assumed instance setup, merge and push` : ""),
    });
}

/** `131.53 USD (23.19 h x 5.672 USD/h)`, or `0 USD, 2 h` on hardware already paid for. */
export function formatCostMoney(cost: CostEstimate): string {
    return cost.usdPerHour > 0
        ? `${cost.usd} USD (${cost.hours} h x ${cost.usdPerHour} USD/h)`
        : `0 USD, ${cost.hours} h`;
}

/**
 * The short block `pulumi preview` / `up` shows: money and hours, the basis in a few words, the
 * budget warning; the long basis (every figure and its source) stays in the stack output.
 */
export function formatCostEstimate(cost: CostEstimate): string {
    return [
        `estimated cost: ${formatCostMoney(cost)}`,
        `  basis: ${cost.summary ?? cost.basis}`,
        ...(cost.stoppedByBudget === true
            ? [
                  `  WARNING: the run needs ${cost.expectedHours} h, over budget.maxHours: the watchdog will stop it unfinished`,
              ]
            : []),
        "  every figure and its source: pulumi stack output estimatedCost",
    ].join("\n");
}
