import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { trainingKeys } from "../../src/contract/training-keys";
import { renderTrainingConfig, trainingConfig } from "../../src/render";
import { loadSettingsFromStackFile } from "../../src/settings";
import { awsSettings, cpuLocalSettings, settingsFrom, sshTarget } from "./fixtures";

/** Every value of the reference run (DESIGN.md) as the trainer reads it. */
const referenceTrainingYaml = {
    model_name_or_path: "meta-llama/Meta-Llama-3-8B-Instruct",
    model_revision: "main",
    attn_implementation: "sdpa",
    load_in_4bit: true,
    bnb_4bit_quant_type: "nf4",
    bnb_4bit_use_double_quant: true,
    bnb_4bit_compute_dtype: "bfloat16",
    bnb_4bit_quant_storage: "bfloat16",
    lora_r: 8,
    lora_alpha: 16,
    lora_dropout: 0.1,
    lora_target_modules: "all-linear",
    upcast_frozen_weights: false,
    checkpoint_skip_layers: 0,
    dataset_source: "teknium/OpenHermes-2.5",
    dataset_revision: "main", // resolved to a commit at plan time (test/program.pinned-inputs.test.ts)
    conversations_field: "conversations",
    role_map: { system: "system", human: "user", gpt: "assistant" },
    chat_format: "llama3",
    test_size: 0.3,
    split_seed: 100,
    max_eval_samples: 2000,
    prepared_dataset_dir: "data",
    merged_output_dir: "merged",
    adapter_repo_id: "your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-adapter",
    merged_repo_id: "your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora",
    hub_private: true,
    smoke_prompt: "Describe the food of Thailand in one sentence.",
    smoke_max_new_tokens: 32,
    gate_enabled: true,
    gate_samples: 32,
    gate_tolerance: 0.05,
    output_dir: "checkpoints",
    seed: 100,
    num_train_epochs: 1,
    max_steps: -1,
    per_device_train_batch_size: 4,
    per_device_eval_batch_size: 4,
    gradient_accumulation_steps: 1, // 16 rows per step on 4 GPUs, as the reference on 2 (docs/reference.md)
    learning_rate: 1e-4,
    lr_scheduler_type: "cosine",
    weight_decay: 1e-4,
    warmup_ratio: 0,
    max_grad_norm: 1.0,
    bf16: true,
    use_cpu: false,
    logging_steps: 5,
    logging_strategy: "steps",
    log_level: "info",
    eval_strategy: "epoch",
    save_strategy: "steps",
    save_steps: 500,
    save_total_limit: 2,
    gradient_checkpointing: true,
    gradient_checkpointing_kwargs: { use_reentrant: true },
    packing: true,
    packing_strategy: "wrapped",
    padding_free: false,
    max_length: 2048,
    dataset_text_field: "text",
    report_to: "wandb",
    run_name: "seed-reference",
    push_to_hub: true,
    hub_model_id: "your-hf-user/Meta-Llama-3-8B-Instruct-OpenHermes-qlora-adapter",
    hub_strategy: "every_save",
    hub_private_repo: true,
    use_liger_kernel: false,
};

describe("renderTrainingConfig", () => {
    const { settings: reference } = loadSettingsFromStackFile("stacks/Pulumi.seed-reference.yaml");
    const referenceText = renderTrainingConfig(reference, "seed-reference");

    it("renders every reference-run value for seed-reference", () => {
        expect(parse(referenceText)).toMatchObject(referenceTrainingYaml);
    });

    it("writes floats the way PyYAML reads them as floats (never 1e-4, never a bare 1)", () => {
        for (const line of [
            "learning_rate: 0.0001",
            "weight_decay: 0.0001",
            "warmup_ratio: 0.0",
            "max_grad_norm: 1.0",
            "num_train_epochs: 1.0",
            "lora_dropout: 0.1",
            "test_size: 0.3",
        ]) {
            expect(referenceText.split("\n")).toContain(line);
        }
    });

    it("uses only the keys of the key table; only optional keys without a value are left out", () => {
        const allowed = trainingKeys.map(({ key }) => key);
        const keys = Object.keys(trainingConfig(reference, "seed-reference"));
        expect(keys.filter((k) => !allowed.includes(k))).toEqual([]);
        // Unset here: no sample cap on train, no prepared-dataset repo, the output store (the merged
        // model goes to its repo), eval_steps (eval each epoch), the benchmarks (none named).
        expect(allowed.filter((k) => !keys.includes(k)).sort()).toEqual([
            "benchmark_limit",
            "benchmark_min_scores",
            "benchmark_tasks",
            "eval_steps",
            "max_train_samples",
            "output_store_dir",
            "prepared_dataset_repo",
            "save_on_each_node",
        ]);
    });

    it("maps a hyperparameter variant: LoRA r 16 / alpha 32, lr 2e-4, explicit target modules", () => {
        const config = trainingConfig(
            awsSettings({
                lora: { r: 16, alpha: 32, targetModules: ["q_proj", "v_proj"] },
                training: { learningRate: 2e-4 },
            }),
            "variant",
        );
        expect(config).toMatchObject({
            lora_r: 16,
            lora_alpha: 32,
            lora_target_modules: "q_proj,v_proj",
            run_name: "variant",
        });
        expect(renderTrainingConfig(awsSettings({ training: { learningRate: 2e-4 } }), "v")).toContain(
            "learning_rate: 0.0002\n",
        );
    });

    it("maps the speed settings: frozen weights in the compute dtype by default, checkpoint skip layers", () => {
        expect(trainingConfig(awsSettings({}), "d")).toMatchObject({
            upcast_frozen_weights: false,
            checkpoint_skip_layers: 0,
        });
        const config = trainingConfig(
            awsSettings({ quantization: { upcastFrozenWeights: true }, training: { checkpointSkipLayers: 8 } }),
            "speed",
        );
        expect(config).toMatchObject({ upcast_frozen_weights: true, checkpoint_skip_layers: 8 });
    });

    it("renders a CPU local run: use_cpu, no bf16, local output store, no Hub push, no W&B", () => {
        const settings = cpuLocalSettings({
            evaluation: { strategy: "steps", steps: 5, maxSamples: 8, gate: { samples: 8, tolerance: 0.1 } },
            dataset: { maxTrainSamples: 30 },
        });
        const config = trainingConfig(settings, "cpu");
        expect(config).toMatchObject({
            use_cpu: true,
            bf16: false,
            load_in_4bit: false,
            attn_implementation: "sdpa",
            output_store_dir: "~/.stacktune/models/cpu",
            push_to_hub: false,
            report_to: "none",
            eval_strategy: "steps",
            eval_steps: 5,
            max_eval_samples: 8,
            max_train_samples: 30,
            gate_enabled: true,
            gate_samples: 8,
        });
        expect(renderTrainingConfig(settings, "cpu")).toContain("\ngate_tolerance: 0.1\n");
        for (const key of ["hub_model_id", "hub_strategy", "hub_private_repo", "adapter_repo_id", "merged_repo_id"]) {
            expect(config).not.toHaveProperty(key);
        }
    });

    it("keeps the model in ~/.stacktune/models/<stack> when no repo and no localDir is set", () => {
        const settings = settingsFrom({ target: sshTarget, budget: { teardown: "keep" } });
        expect(trainingConfig(settings, "on-prem")).toMatchObject({
            output_store_dir: "~/.stacktune/models/on-prem",
            push_to_hub: false,
        });
    });

    it("pushes the adapter with the configured hub strategy and privacy", () => {
        const config = trainingConfig(
            awsSettings({
                hub: { adapterRepo: "me/adapter", mergedRepo: "me/merged", private: false, strategy: "end" },
            }),
            "aws",
        );
        expect(config).toMatchObject({
            push_to_hub: true,
            hub_model_id: "me/adapter",
            adapter_repo_id: "me/adapter",
            merged_repo_id: "me/merged",
            hub_strategy: "end",
            hub_private_repo: false,
            hub_private: false,
        });
    });

    it("omits checkpoint step settings that do not apply and keeps every checkpoint when totalLimit is null", () => {
        const config = trainingConfig(awsSettings({ checkpointing: { strategy: "epoch", totalLimit: null } }), "aws");
        expect(config).toMatchObject({ save_strategy: "epoch" });
        expect(config).not.toHaveProperty("save_steps");
        expect(config).not.toHaveProperty("save_total_limit");
    });

    const python = ".venv/bin/python";
    it.skipIf(!existsSync(python) && !process.env.CI)(
        "reads back with the types the trainer expects under PyYAML",
        () => {
            const out = execFileSync(
                python,
                [
                    "-c",
                    "import json, sys, yaml; print(json.dumps({k: type(v).__name__ for k, v in yaml.safe_load(sys.stdin).items()}))",
                ],
                { input: referenceText, encoding: "utf8" },
            );
            const types = JSON.parse(out) as Record<string, string>;
            expect(types).toMatchObject({
                learning_rate: "float",
                weight_decay: "float",
                warmup_ratio: "float",
                max_grad_norm: "float",
                num_train_epochs: "float",
                lora_dropout: "float",
                test_size: "float",
                gate_tolerance: "float",
                lora_r: "int",
                bf16: "bool",
                gradient_checkpointing_kwargs: "dict",
                role_map: "dict",
                hub_strategy: "str",
            });
        },
    );
});
