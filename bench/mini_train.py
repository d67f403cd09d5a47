"""Stop-gap trainer with the same libraries and the same training.yaml keys (contracts §4).

Used for the first device call (package smoke test) before `stacktune_train.train` existed, and
as a fallback; bench/gpu_recipes.sh runs the project's trainer unless STACKTUNE_BENCH_TRAINER
names this module. It does what the reference run's script does: Llama-3 chat encoding of the
ShareGPT conversations, seeded train/test split, 4-bit nf4 base (BitsAndBytesConfig), LoRA on
all-linear, TRL SFTTrainer with the rendered SFTConfig values.
"""

from __future__ import annotations

import json
import sys

import torch
import yaml
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from trl import SFTConfig, SFTTrainer

OWN = {
    "model_name_or_path",
    "model_revision",
    "attn_implementation",
    "load_in_4bit",
    "bnb_4bit_quant_type",
    "bnb_4bit_use_double_quant",
    "bnb_4bit_compute_dtype",
    "bnb_4bit_quant_storage",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "dataset_source",
    "dataset_revision",
    "conversations_field",
    "role_map",
    "chat_format",
    "test_size",
    "split_seed",
    "max_train_samples",
    "max_eval_samples",
    "prepared_dataset_dir",
    "prepared_dataset_repo",
    "merged_output_dir",
    "adapter_repo_id",
    "merged_repo_id",
    "hub_private",
    "output_store_dir",
    "smoke_prompt",
    "smoke_max_new_tokens",
    "warmup_ratio",
}


def encode(conv, role_map):
    out = "<|begin_of_text|>"
    for m in conv:
        out += f"<|start_header_id|>{role_map[m['from']]}<|end_header_id|>\n\n{m['value'].strip()}<|eot_id|>"
    return out


def main() -> None:
    cfg = yaml.safe_load(open(sys.argv[1]))
    rest = sys.argv[2:]
    while rest:  # --key value | --key=value
        flag = rest.pop(0).lstrip("-")
        k, v = flag.split("=", 1) if "=" in flag else (flag, rest.pop(0))
        cfg[k] = yaml.safe_load(v)
    if cfg.get("attn_implementation") == "flash_attention_2":
        try:
            import flash_attn  # noqa: F401
        except ImportError:
            print("mini_train: flash_attn not importable; attn_implementation sdpa", flush=True)
            cfg["attn_implementation"] = "sdpa"
    own = {k: cfg.pop(k) for k in list(cfg) if k in OWN}
    cfg["warmup_steps"] = own.get("warmup_ratio", 0.0)
    args = SFTConfig(**cfg)  # before the model: under ZeRO-3 this activates zero.Init for from_pretrained
    tok = AutoTokenizer.from_pretrained(own["model_name_or_path"])
    ds = load_dataset("json", data_files=own["dataset_source"], split="train")
    role_map = own.get("role_map") or {"system": "system", "human": "user", "gpt": "assistant"}
    field = own.get("conversations_field", "conversations")
    ds = ds.map(lambda r: {"text": encode(r[field], role_map)}, remove_columns=ds.column_names)
    split = ds.train_test_split(test_size=own["test_size"], seed=own["split_seed"])
    dt = getattr(torch, own["bnb_4bit_compute_dtype"])
    qc = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=own["bnb_4bit_quant_type"],
        bnb_4bit_use_double_quant=own["bnb_4bit_use_double_quant"],
        bnb_4bit_compute_dtype=dt,
        bnb_4bit_quant_storage=getattr(torch, own["bnb_4bit_quant_storage"]),
    )
    model = AutoModelForCausalLM.from_pretrained(
        own["model_name_or_path"], quantization_config=qc, attn_implementation=own["attn_implementation"], dtype=dt
    )
    model.config.use_cache = False
    peft = LoraConfig(
        r=own["lora_r"],
        lora_alpha=own["lora_alpha"],
        lora_dropout=own["lora_dropout"],
        target_modules=own["lora_target_modules"],
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=split["train"], processing_class=tok, peft_config=peft)
    result = trainer.train()
    if args.save_strategy != "no":
        trainer.save_model()
    if trainer.is_world_process_zero():
        print("MINI_TRAIN_RESULT " + json.dumps(result.metrics))


if __name__ == "__main__":
    main()
