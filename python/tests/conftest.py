"""Shared fixtures: a tiny random Llama with a Llama-3 tokenizer, built locally, and training.yaml files.

CPU runs take the same code path as GPU runs with ``load_in_4bit: false`` (bitsandbytes needs a
GPU); the 4-bit and DeepSpeed paths are exercised on the accelerator machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from stacktune_train.tiny_model import write_tiny_model

DATA_DIR = Path(__file__).parent / "data"
SAMPLE = DATA_DIR / "openhermes_sample.jsonl"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_DISABLED", "true")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny-llama"), corpus_path=SAMPLE)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def cpu_training_values(model_dir: Path, **overrides) -> dict:
    """A CPU-sized training.yaml in contract keys (relative paths resolve against the run dir)."""
    values = {
        "model_name_or_path": str(model_dir),
        "attn_implementation": "sdpa",
        "load_in_4bit": False,
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "lora_target_modules": "all-linear",
        "dataset_source": str(SAMPLE),
        "conversations_field": "conversations",
        "role_map": {"system": "system", "human": "user", "gpt": "assistant"},
        "chat_format": "llama3",
        "test_size": 0.3,
        "split_seed": 100,
        "max_eval_samples": 4,
        "prepared_dataset_dir": "prepared",
        "merged_output_dir": "merged",
        "output_store_dir": "store",
        "smoke_prompt": "Describe the food of Thailand in one sentence.",
        "smoke_max_new_tokens": 24,
        "output_dir": "out",
        "seed": 100,
        "max_steps": 6,
        "per_device_train_batch_size": 2,
        "per_device_eval_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "learning_rate": 5e-3,
        "lr_scheduler_type": "constant",
        "bf16": False,
        "use_cpu": True,
        "logging_steps": 1,
        "eval_strategy": "no",
        "save_strategy": "steps",
        "save_steps": 3,
        "gradient_checkpointing": True,
        "gradient_checkpointing_kwargs": {"use_reentrant": True},
        "packing": True,
        "packing_strategy": "bfd",
        "max_length": 256,
        "dataset_text_field": "text",
        "report_to": "none",
    }
    values.update(overrides)
    return values


def write_yaml(path: Path, values: dict) -> Path:
    path.write_text(yaml.safe_dump(values, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def run_dir(tmp_path, monkeypatch) -> Path:
    """A fresh run directory as launch.sh uses it: the working directory of every step."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STACKTUNE_EXPERIMENT_HASH", "0123abcd")
    monkeypatch.setenv("STACKTUNE_STACK", "test-stack")
    return tmp_path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, tiny_model_dir):
    """One short training run shared by the merge and smoke tests: (run dir, config, metrics)."""
    from stacktune_train import train
    from stacktune_train.config import parse_config

    directory = tmp_path_factory.mktemp("trained-run")
    previous = Path.cwd()
    os.chdir(directory)
    try:
        cfg = parse_config(write_yaml(directory / "training.yaml", cpu_training_values(tiny_model_dir)), [])
        metrics = train.main(cfg)
    finally:
        os.chdir(previous)
    return directory, metrics


# The publish, gate and benchmark tests share the run identity, the recording Hub and the run fixture.
IDENTITY = {"experiment_hash": "0123abcd", "stack": "test-stack"}


class RecordingHubApi:
    """Stands in for huggingface_hub.HfApi (no network here); records what would be pushed."""

    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, private, exist_ok):
        self.calls.append(("create_repo", repo_id, private))

    def upload_folder(self, repo_id, folder_path, commit_message, allow_patterns=None, ignore_patterns=None):
        import fnmatch
        from pathlib import Path

        files = sorted(
            p.name
            for p in Path(folder_path).iterdir()
            if p.is_file()
            and (allow_patterns is None or any(fnmatch.fnmatch(p.name, g) for g in allow_patterns))
            and not any(fnmatch.fnmatch(p.name, g) for g in ignore_patterns or [])
        )
        self.calls.append(("upload_folder", repo_id, files, commit_message))

    def upload_file(self, repo_id, path_or_fileobj, path_in_repo, commit_message):
        self.calls.append(("upload_file", repo_id, path_in_repo, commit_message))

    def delete_file(self, path_in_repo, repo_id, commit_message):
        self.calls.append(("delete_file", repo_id, path_in_repo, commit_message))

    def create_commit(self, repo_id, operations, commit_message):
        added = []
        for op in operations:
            content = op.path_or_fileobj
            if isinstance(content, (bytes, bytearray)):
                added.append((op.path_in_repo, bytes(content)))
            else:
                added.append((op.path_in_repo, None))
        self.calls.append(("create_commit", repo_id, added, commit_message))


@pytest.fixture
def run(trained_run, monkeypatch, tmp_path):
    """The shared trained run, its store redirected to this test's own directory."""
    directory, _ = trained_run
    monkeypatch.chdir(directory)
    for key, value in IDENTITY.items():
        monkeypatch.setenv(f"STACKTUNE_{key.upper()}", value)
    return directory


@pytest.fixture
def hub(monkeypatch):
    """The recording Hub in place of publish's HfApi: a test asserts the exact calls, or none."""
    from stacktune_train import publish

    api = RecordingHubApi()
    monkeypatch.setattr(publish, "hub_api", lambda: api)
    return api
