import { estimateExperimentCost } from "../cost";
import { knownTestSplitSize, processCount, runsOnCpu, usesHubRepos } from "./derived";
import type { SettingsIssue } from "./errors";
import type { SecretsPresent, Settings } from "./schema";
import { targetOf, targets } from "../targets";
import { clusterMachines, machineCount, targetGpuCount } from "./target";

/** 127.0.0.0/8, ::1 and localhost: addresses only this same machine can reach. */
function isLoopback(address: string): boolean {
    return /^127\./.test(address) || address === "::1" || address === "localhost";
}

/** A cross-field rule: checked on settings that already passed the schema. */
export interface SettingsRule {
    /** Stable id, used in tests and docs. */
    id: string;
    /** One line: what the rule enforces and why. */
    description: string;
    /** Whether the rule reads which secrets are set (skipped when secrets are not known, e.g. by `render`). */
    needsSecrets?: boolean;
    /**
     * Checked only with the secrets, when deploying (`pulumi up`, `stacktune run`), never by `render`:
     * the rule refuses a placeholder that the committed stack files ship so that they render.
     */
    deployOnly?: boolean;
    check(settings: Settings, secrets: SecretsPresent): readonly SettingsIssue[];
}

const usesZero3 = (s: Settings) => s.distributed.strategy === "deepspeed-zero3";
const usesDeepSpeed = (s: Settings) => s.distributed.strategy !== "ddp";
const ok: readonly SettingsIssue[] = [];

/** The rules every stack is checked against, whatever its target. */
const commonRules: readonly SettingsRule[] = [
    {
        id: "zero3-4bit-storage-dtype",
        description: "ZeRO-3 shards the 4-bit weights as storageDtype tensors; they must match computeDtype",
        check: (s) =>
            usesZero3(s) && s.quantization.load4bit && s.quantization.storageDtype !== s.quantization.computeDtype
                ? [
                      {
                          path: "quantization.storageDtype",
                          message: `ZeRO-3 with 4-bit loading needs storageDtype equal to computeDtype; set stacktune:quantization.storageDtype to ${s.quantization.computeDtype}`,
                      },
                  ]
                : ok,
    },
    {
        id: "zero3-qlora-reentrant-checkpointing",
        description: "ZeRO-3 + QLoRA needs gradient checkpointing with use_reentrant: true (the reference run)",
        check: (s) => {
            if (!usesZero3(s) || !s.quantization.load4bit) return ok;
            const issues: SettingsIssue[] = [];
            if (!s.training.gradientCheckpointing)
                issues.push({
                    path: "training.gradientCheckpointing",
                    message:
                        "ZeRO-3 with 4-bit loading (QLoRA) needs gradient checkpointing; set stacktune:training.gradientCheckpointing to true",
                });
            if (!s.training.useReentrant)
                issues.push({
                    path: "training.useReentrant",
                    message:
                        "ZeRO-3 with 4-bit loading (QLoRA) needs reentrant checkpointing; set stacktune:training.useReentrant to true",
                });
            return issues;
        },
    },
    {
        id: "processes-within-gpus",
        description: "processes per host must not exceed the GPUs the target has",
        check: (s) => {
            const gpus = targetGpuCount(s.target);
            const processes = processCount(s);
            return gpus > 0 && processes > gpus
                ? [
                      {
                          path: "distributed.numProcesses",
                          message: `${processes} processes but the target has ${gpus} GPU(s); set stacktune:distributed.numProcesses to at most ${gpus} or remove it (one process per GPU)`,
                      },
                  ]
                : ok;
        },
    },
    {
        id: "cpu-ddp-single-process",
        description: "on a CPU target (gpus: 0) training is ddp with one process; DeepSpeed needs GPUs",
        check: (s) => {
            if (!runsOnCpu(s)) return ok;
            const issues: SettingsIssue[] = [];
            if (usesDeepSpeed(s))
                issues.push({
                    path: "distributed.strategy",
                    message:
                        "DeepSpeed needs GPUs and the target has gpus: 0; set stacktune:distributed.strategy to ddp (or give the target GPUs)",
                });
            if (processCount(s) !== 1)
                issues.push({
                    path: "distributed.numProcesses",
                    message:
                        "a CPU target (gpus: 0) runs one process; set stacktune:distributed.numProcesses to 1 or remove it",
                });
            return issues;
        },
    },
    {
        id: "cpu-no-bf16",
        description: "bf16 mixed precision is a GPU feature here; CPU runs train in float32",
        check: (s) =>
            runsOnCpu(s) && s.training.bf16
                ? [
                      {
                          path: "training.bf16",
                          message:
                              "bf16 is not used on a CPU target (gpus: 0); use bf16: false (set stacktune:training.bf16 to false)",
                      },
                  ]
                : ok,
    },
    {
        id: "cpu-no-flash-attention",
        description: "flash_attention_2 is CUDA-only",
        check: (s) =>
            runsOnCpu(s) && s.attention.implementation === "flash_attention_2"
                ? [
                      {
                          path: "attention.implementation",
                          message:
                              "flash_attention_2 needs a CUDA GPU and the target has gpus: 0; set stacktune:attention.implementation to sdpa",
                      },
                  ]
                : ok,
    },
    {
        id: "flash-attention-needs-provided-env",
        description:
            "flash_attention_2 needs flash-attn, which the image and stacktune's venv do not install (no wheel for the pinned torch)",
        check: (s) =>
            !runsOnCpu(s) &&
            s.attention.implementation === "flash_attention_2" &&
            !(s.runtime.kind === "venv" && s.runtime.path !== undefined)
                ? [
                      {
                          path: "attention.implementation",
                          message:
                              `flash_attention_2 needs the flash-attn package, which ${s.runtime.kind === "docker" ? "the training image" : "stacktune's venv"} does not install ` +
                              "(no flash-attn release has a wheel for the pinned torch 2.11); set stacktune:attention.implementation to sdpa, " +
                              "or stacktune:runtime.path to a Python environment that has flash-attn",
                      },
                  ]
                : ok,
    },
    {
        id: "cpu-no-4bit",
        description: "bitsandbytes 4-bit loading (QLoRA) needs a CUDA GPU",
        check: (s) =>
            runsOnCpu(s) && s.quantization.load4bit
                ? [
                      {
                          path: "quantization.load4bit",
                          message:
                              "4-bit loading needs a CUDA GPU and the target has gpus: 0; set stacktune:quantization.load4bit to false",
                      },
                  ]
                : ok,
    },
    {
        id: "cpu-no-liger",
        description: "Liger kernels are Triton GPU kernels",
        check: (s) =>
            runsOnCpu(s) && s.training.useLigerKernel
                ? [
                      {
                          path: "training.useLigerKernel",
                          message:
                              "Liger kernels need a GPU and the target has gpus: 0; set stacktune:training.useLigerKernel to false",
                      },
                  ]
                : ok,
    },
    {
        id: "flash-attention-needs-half-precision",
        description:
            "flash_attention_2 only runs in bfloat16/float16; without bf16 (and no 4-bit) the model is float32",
        check: (s) =>
            !runsOnCpu(s) &&
            s.attention.implementation === "flash_attention_2" &&
            !s.training.bf16 &&
            !s.quantization.load4bit
                ? [
                      {
                          path: "attention.implementation",
                          message:
                              "flash_attention_2 needs bfloat16 weights but training.bf16 is false; set stacktune:training.bf16 to true or attention.implementation to sdpa",
                      },
                  ]
                : ok,
    },
    {
        id: "bf16-compute-dtype",
        description: "bf16 training with float16 4-bit compute mixes half-precision formats",
        check: (s) =>
            s.training.bf16 && s.quantization.load4bit && s.quantization.computeDtype === "float16"
                ? [
                      {
                          path: "quantization.computeDtype",
                          message:
                              "bf16 training computes in bfloat16; set stacktune:quantization.computeDtype to bfloat16 (or training.bf16 to false)",
                      },
                  ]
                : ok,
    },
    {
        id: "bfd-packing",
        description: "packingStrategy bfd only applies with packing: true",
        check: (s) =>
            s.training.packingStrategy === "bfd" && !s.training.packing
                ? [
                      {
                          path: "training.packingStrategy",
                          message:
                              "bfd is a packing strategy but packing is false; set stacktune:training.packing to true or remove packingStrategy",
                      },
                  ]
                : ok,
    },
    {
        id: "eval-cap-within-test-split",
        description: "evaluation.maxSamples cannot exceed the held-out split when its size is known",
        check: (s) => {
            const split = knownTestSplitSize(s.dataset);
            const cap = s.evaluation.maxSamples;
            return split !== undefined && cap !== null && cap > split
                ? [
                      {
                          path: "evaluation.maxSamples",
                          message: `the test split holds ${split} samples; set stacktune:evaluation.maxSamples to at most ${split} (or null to evaluate the whole split)`,
                      },
                  ]
                : ok;
        },
    },
    {
        id: "eval-steps-needs-steps",
        description: "evaluation.strategy steps needs evaluation.steps; steps with another strategy does nothing",
        check: (s) => {
            if (s.evaluation.strategy === "steps" && s.evaluation.steps === undefined)
                return [
                    {
                        path: "evaluation.steps",
                        message: "strategy steps needs a step interval; set stacktune:evaluation.steps (e.g. 500)",
                    },
                ];
            if (s.evaluation.strategy !== "steps" && s.evaluation.steps !== undefined)
                return [
                    {
                        path: "evaluation.steps",
                        message: `steps is ignored with strategy ${s.evaluation.strategy}; remove stacktune:evaluation.steps or set evaluation.strategy to steps`,
                    },
                ];
            return ok;
        },
    },
    {
        id: "tracking-project-needs-wandb",
        description: "tracking.project only applies to wandb",
        check: (s) =>
            s.tracking.kind === "none" && s.tracking.project !== undefined
                ? [
                      {
                          path: "tracking.project",
                          message:
                              "project is ignored with kind none; set stacktune:tracking.kind to wandb or remove tracking.project",
                      },
                  ]
                : ok,
    },
    {
        id: "delete-store-needs-bucket",
        description: "checkpointing.deleteStoreOnDestroy only applies to the S3 checkpoint store of an aws target",
        check: (s) =>
            s.checkpointing.deleteStoreOnDestroy && !targetOf(s.target).hasCheckpointStore(s.target)
                ? [
                      {
                          path: "checkpointing.deleteStoreOnDestroy",
                          message:
                              "there is no checkpoint store to delete (only an aws target with target.checkpointBucket: true has one); remove stacktune:checkpointing.deleteStoreOnDestroy",
                      },
                  ]
                : ok,
    },
    {
        id: "hub-push-needs-checkpoints",
        description:
            "hub strategy every_save / checkpoint pushes on saves; with checkpointing off nothing is pushed until the end",
        check: (s) =>
            s.hub.adapterRepo !== undefined &&
            s.checkpointing.strategy === "no" &&
            (s.hub.strategy === "every_save" || s.hub.strategy === "checkpoint" || s.hub.strategy === "all_checkpoints")
                ? [
                      {
                          path: "hub.strategy",
                          message: `${s.hub.strategy} pushes on checkpoint saves but checkpointing.strategy is no; set stacktune:hub.strategy to end or enable checkpointing`,
                      },
                  ]
                : ok,
    },
    {
        id: "max-usd-needs-aws",
        description: "budget.maxUsd is checked against the instance price; only aws targets have one",
        check: (s) =>
            !targetOf(s.target).billsByTheHour && s.budget.maxUsd !== undefined
                ? [
                      {
                          path: "budget.maxUsd",
                          message: `a ${s.target.kind} target has no hourly price to check; remove stacktune:budget.maxUsd (budget.maxHours still applies)`,
                      },
                  ]
                : ok,
    },
    {
        id: "max-usd-covers-estimate",
        description:
            "budget.maxUsd refuses a run whose cost estimate (measured throughput x the catalog's price) is over it",
        check: (s) => {
            if (s.budget.maxUsd === undefined) return ok;
            const cost = estimateExperimentCost(s);
            return cost.usd > s.budget.maxUsd
                ? [
                      {
                          path: "budget.maxUsd",
                          message:
                              `the run is estimated at ${cost.usd} USD (${cost.basis}), over budget.maxUsd ${s.budget.maxUsd}: ` +
                              "raise stacktune:budget.maxUsd, lower budget.maxHours, or use spot with a maxPrice",
                      },
                  ]
                : ok;
        },
    },
    {
        id: "hub-repos-need-token",
        description: "a Hub repo (adapter, merged or prepared dataset) needs the hfToken secret",
        needsSecrets: true,
        check: (s, secrets) =>
            usesHubRepos(s) && !secrets.hfToken
                ? [
                      {
                          path: "hfToken",
                          message:
                              "a Hub repo is set; run `pulumi config set --secret stacktune:hfToken` with a token that can write to it",
                      },
                  ]
                : ok,
    },
    {
        id: "wandb-needs-key",
        description: "tracking kind wandb needs the wandbApiKey secret",
        needsSecrets: true,
        check: (s, secrets) =>
            s.tracking.kind === "wandb" && !secrets.wandbApiKey
                ? [
                      {
                          path: "wandbApiKey",
                          message:
                              "tracking.kind is wandb; run `pulumi config set --secret stacktune:wandbApiKey` (from https://wandb.ai/authorize) or set tracking.kind to none",
                      },
                  ]
                : ok,
    },
    {
        id: "main-machine-reachable",
        description:
            "the other machines reach the main machine at its cluster address: a loopback address works only when every machine is this same box",
        check: (s) => {
            const machines = clusterMachines(s.target);
            const main = machines[0];
            if (machines.length < 2 || main === undefined || !isLoopback(main.clusterAddress)) return ok;
            // Only when stacktune itself reaches every machine over loopback are they all this one box.
            if (machines.every((m) => m.host === undefined || isLoopback(m.host))) return ok;
            const worker =
                machines.find((m) => m.rank > 0 && m.host !== undefined && !isLoopback(m.host)) ?? machines[1];
            // Keys, not values: a host or address may be anything the user pasted.
            return [
                {
                    path: "target.hosts[0].clusterAddress",
                    message: `the main machine's cluster address is a loopback address, which target.hosts[${worker?.rank}].host cannot reach; set stacktune:target.hosts[0].clusterAddress to an address the other machines can reach`,
                },
            ];
        },
    },
    {
        id: "multi-host-processes-equal-gpus",
        description:
            "on several machines every machine runs one process per GPU (accelerate multi-node: the same process count on each)",
        check: (s) => {
            if (machineCount(s.target) < 2 || s.distributed.numProcesses === undefined) return ok;
            const perHost = Math.max(1, targetGpuCount(s.target));
            return s.distributed.numProcesses === perHost
                ? ok
                : [
                      {
                          path: "distributed.numProcesses",
                          message: `a multi-host run starts one process per GPU on every machine (${perHost}); remove stacktune:distributed.numProcesses or set it to ${perHost}`,
                      },
                  ];
        },
    },
];

/** Each target's own rules (src/targets/<kind>/rules.ts), checked on the stacks of that target only. */
const targetRules: readonly SettingsRule[] = Object.values(targets).flatMap((definition) =>
    definition.rules.map((rule): SettingsRule => ({
        ...rule,
        check: (s, secrets) => (s.target.kind === definition.kind ? rule.check(s as never, secrets) : ok),
    })),
);

export const settingsRules: readonly SettingsRule[] = [...commonRules, ...targetRules];

/** Every cross-field problem at once; `secrets: undefined` skips the rules that need them. */
export function checkSettingsRules(settings: Settings, secrets: SecretsPresent | undefined): SettingsIssue[] {
    return settingsRules
        .filter((rule) => secrets !== undefined || (rule.needsSecrets !== true && rule.deployOnly !== true))
        .flatMap((rule) => rule.check(settings, secrets ?? {}));
}
