"""Merge the LoRA adapter into the base model, then publish the merged model and its tokenizer.

``python -m stacktune_train.merge training.yaml``

Unlike the reference run, the merged model is the *return value* of ``merge_and_unload()``, the
tokenizer is saved and published with it, and a model card records the experiment hash and the
settings. Publishing: the Hub (``merged_repo_id``, and the adapter to ``adapter_repo_id``) when
set, else a copy into ``output_store_dir``. Either way ``stacktune.json``
(``{"experiment_hash", "stack"}``) lies next to the merged weights; it is written last, so its
presence means the artifact is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import torch
import yaml
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from stacktune_train.config import StacktuneConfig, parse_cli

COMPLETION_MARKER = "stacktune.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


def log(message: str) -> None:
    print(f"[merge] {message}", flush=True)


def experiment_identity() -> dict[str, str]:
    missing = [k for k in ("STACKTUNE_EXPERIMENT_HASH", "STACKTUNE_STACK") if not os.environ.get(k)]
    if missing:
        raise SystemExit(
            f"{' and '.join(missing)} not set: run the merge through launch.sh, which sources run.env, "
            "or export them for a manual run"
        )
    return {"experiment_hash": os.environ["STACKTUNE_EXPERIMENT_HASH"], "stack": os.environ["STACKTUNE_STACK"]}


def merge_adapter(cfg: StacktuneConfig, dtype: torch.dtype | None = None) -> PreTrainedModel:
    """Base model (bf16 on GPU, fp32 on CPU) + adapter from output_dir, merged into plain weights.

    The base is loaded unquantized: merging into 4-bit weights would round the adapter away.
    """
    on_gpu = torch.cuda.is_available()
    if dtype is None:
        dtype = torch.bfloat16 if on_gpu else torch.float32
    base = AutoModelForCausalLM.from_pretrained(
        cfg.model.model_name_or_path, revision=cfg.model.model_revision, dtype=dtype,
        device_map="auto" if on_gpu else None,
    )
    adapted = PeftModel.from_pretrained(base, cfg.training.output_dir)
    merged = adapted.merge_and_unload()
    merged.config.use_cache = True  # training switched it off; generation wants it
    return merged


def model_card(cfg: StacktuneConfig, identity: dict[str, str]) -> str:
    settings = yaml.safe_load(cfg.source.read_text(encoding="utf-8")) or {}
    return (
        "---\n"
        + yaml.safe_dump(
            {
                "base_model": cfg.model.model_name_or_path,
                "library_name": "transformers",
                "tags": ["stacktune", "qlora"],
            },
            sort_keys=False,
        )
        + "---\n\n"
        + f"# {identity['stack']}\n\n"
        + f"Fine-tuned by stacktune from `{cfg.model.model_name_or_path}` (revision `{cfg.model.model_revision}`) "
        + f"on `{cfg.data.dataset_source}` with LoRA r={cfg.model.lora_r}, alpha={cfg.model.lora_alpha} "
        + f"({'4-bit QLoRA' if cfg.model.load_in_4bit else 'LoRA'}), adapter merged into the base weights.\n\n"
        + f"- experiment hash: `{identity['experiment_hash']}`\n"
        + f"- stack: `{identity['stack']}`\n\n"
        + "Prompt format: Llama-3 chat (`<|start_header_id|>assistant<|end_header_id|>` followed by a blank line).\n\n"
        + "## Training settings (training.yaml)\n\n```yaml\n"
        + yaml.safe_dump(settings, sort_keys=True, allow_unicode=True)
        + "```\n"
    )


def save_merged(cfg: StacktuneConfig, merged: PreTrainedModel, identity: dict[str, str]) -> Path:
    out = Path(cfg.publish.merged_output_dir)
    if out.exists():
        shutil.rmtree(out)
    merged.save_pretrained(out)
    # The trainer saves the tokenizer it trained with next to the adapter; fall back to the base's.
    trained_tokenizer = Path(cfg.training.output_dir) / "tokenizer_config.json"
    tokenizer_source = cfg.training.output_dir if trained_tokenizer.is_file() else cfg.model.model_name_or_path
    AutoTokenizer.from_pretrained(tokenizer_source).save_pretrained(out)
    (out / "README.md").write_text(model_card(cfg, identity), encoding="utf-8")
    metrics = Path(cfg.training.output_dir) / "metrics.json"
    if metrics.is_file():  # travels with the model: the output store's reader reports it
        shutil.copy2(metrics, out / "metrics.json")
    (out / COMPLETION_MARKER).write_text(json.dumps(identity) + "\n", encoding="utf-8")
    log(f"merged model + tokenizer saved to {out}")
    return out


def hub_api():
    from huggingface_hub import HfApi

    return HfApi(token=os.environ.get("HF_TOKEN"))


def commit_message(identity: dict[str, str]) -> str:
    return f"stacktune {identity['stack']} {identity['experiment_hash']}"


def push_adapter(cfg: StacktuneConfig, identity: dict[str, str]) -> None:
    api = hub_api()
    api.create_repo(cfg.publish.adapter_repo_id, private=cfg.publish.hub_private, exist_ok=True)
    api.upload_folder(
        repo_id=cfg.publish.adapter_repo_id,
        folder_path=str(Path(cfg.training.output_dir)),
        allow_patterns=[*ADAPTER_FILES, *TOKENIZER_FILES, "README.md"],
        commit_message=commit_message(identity),
    )
    log(f"adapter pushed to {cfg.publish.adapter_repo_id}")


def publish_to_hub(cfg: StacktuneConfig, merged_dir: Path, identity: dict[str, str]) -> None:
    api = hub_api()
    message = commit_message(identity)
    # The marker goes in its own, last commit: a repo holding it holds the whole model.
    api.create_repo(cfg.publish.merged_repo_id, private=cfg.publish.hub_private, exist_ok=True)
    api.upload_folder(
        repo_id=cfg.publish.merged_repo_id, folder_path=str(merged_dir), ignore_patterns=[COMPLETION_MARKER],
        commit_message=message,
    )
    api.upload_file(
        repo_id=cfg.publish.merged_repo_id, path_or_fileobj=str(merged_dir / COMPLETION_MARKER),
        path_in_repo=COMPLETION_MARKER, commit_message=message,
    )
    log(f"merged model + tokenizer pushed to {cfg.publish.merged_repo_id}")


def publish_to_store(cfg: StacktuneConfig, merged_dir: Path) -> Path:
    store = Path(cfg.publish.output_store_dir).expanduser()
    if store.exists():
        shutil.rmtree(store)
    shutil.copytree(merged_dir, store, ignore=shutil.ignore_patterns(COMPLETION_MARKER))
    adapter_dir = store / "adapter"
    adapter_dir.mkdir()
    for name in ADAPTER_FILES:
        shutil.copy2(Path(cfg.training.output_dir) / name, adapter_dir / name)
    shutil.copy2(merged_dir / COMPLETION_MARKER, store / COMPLETION_MARKER)
    log(f"merged model + tokenizer + adapter copied to {store}")
    return store


def main(cfg: StacktuneConfig) -> Path:
    identity = experiment_identity()
    log(f"merging adapter {cfg.training.output_dir} into {cfg.model.model_name_or_path}")
    merged_dir = save_merged(cfg, merge_adapter(cfg), identity)
    if cfg.publish.adapter_repo_id:
        push_adapter(cfg, identity)
    if cfg.publish.merged_repo_id:
        publish_to_hub(cfg, merged_dir, identity)
    else:
        publish_to_store(cfg, merged_dir)
    return merged_dir


if __name__ == "__main__":
    main(parse_cli(sys.argv[1:]))
