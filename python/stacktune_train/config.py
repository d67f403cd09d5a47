"""The one parser for ``training.yaml`` (docs/contracts.md §4), shared by every entry point.

``parse_config(path, argv)`` reads the rendered YAML, rejects every key outside the contract
(naming each), then lets CLI flags (``--learning_rate 2e-4``) override YAML values. The YAML keys
are exactly the contract's; CLI flags may name any field of the four dataclasses (every TRL
``SFTConfig`` argument included), which is what ad-hoc runs and benchmarks want.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml
from transformers import HfArgumentParser
from trl import SFTConfig

from stacktune_train.chat import DEFAULT_ROLE_MAP, check_chat_format

DTYPES = ("bfloat16", "float16", "float32")
ATTENTION_IMPLEMENTATIONS = ("flash_attention_2", "sdpa", "eager")


@dataclass
class ModelArguments:
    """Base model, 4-bit quantization (QLoRA) and LoRA adapter."""

    model_name_or_path: str = field(metadata={"help": "Hub model id or local directory of the base model."})
    model_revision: str = field(default="main", metadata={"help": "Hub revision (branch, tag or commit)."})
    attn_implementation: str = field(
        default="sdpa",
        metadata={"help": "sdpa | flash_attention_2 | eager; flash_attention_2 needs the flash_attn package, "
                  "which the image and stacktune's venv do not install (it falls back to sdpa with a warning)."},
    )
    load_in_4bit: bool = field(default=True, metadata={"help": "Load the base in 4 bit (QLoRA)."})
    bnb_4bit_quant_type: str = field(default="nf4", metadata={"help": "nf4 | fp4"})
    bnb_4bit_use_double_quant: bool = field(default=True, metadata={"help": "Nested quantization."})
    bnb_4bit_compute_dtype: str = field(default="bfloat16", metadata={"help": "Matmul dtype of 4-bit layers."})
    bnb_4bit_quant_storage: str = field(
        default="bfloat16",
        metadata={"help": "Storage dtype of packed 4-bit weights; must equal the compute dtype under ZeRO-3 "
                  "so DeepSpeed can shard them with the other parameters."},
    )
    lora_r: int = field(default=8)
    lora_alpha: int = field(default=16)
    lora_dropout: float = field(default=0.1)
    lora_target_modules: str = field(
        default="all-linear", metadata={"help": "'all-linear' or a comma-separated list of module names."}
    )
    upcast_frozen_weights: bool = field(
        default=False,
        metadata={"help": "4-bit without ZeRO-3: PEFT's prepare_model_for_kbit_training casts the frozen weights "
                  "that are not quantized (embeddings, norms, LM head) to float32, which makes the residual stream "
                  "float32; false casts them back to the compute dtype, as the ZeRO-3 path keeps them."},
    )
    checkpoint_skip_layers: int = field(
        default=0,
        metadata={"help": "With gradient checkpointing: the last N decoder layers keep their activations instead "
                  "of recomputing them (same result, more memory, less compute)."},
    )

    def __post_init__(self) -> None:
        if self.attn_implementation not in ATTENTION_IMPLEMENTATIONS:
            raise ValueError(
                f"attn_implementation {self.attn_implementation!r} is not supported; "
                f"use one of {', '.join(ATTENTION_IMPLEMENTATIONS)}"
            )
        for key in ("bnb_4bit_compute_dtype", "bnb_4bit_quant_storage"):
            if getattr(self, key) not in DTYPES:
                raise ValueError(f"{key} {getattr(self, key)!r} is not a dtype; use one of {', '.join(DTYPES)}")
        if self.bnb_4bit_quant_type not in ("nf4", "fp4"):
            raise ValueError(f"bnb_4bit_quant_type {self.bnb_4bit_quant_type!r}: use nf4 or fp4")
        if self.checkpoint_skip_layers < 0:
            raise ValueError(f"checkpoint_skip_layers must be 0 or more, got {self.checkpoint_skip_layers}")

    def target_modules(self) -> str | list[str]:
        if self.lora_target_modules == "all-linear":
            return "all-linear"
        return [m.strip() for m in self.lora_target_modules.split(",") if m.strip()]


@dataclass
class DataArguments:
    """Where the conversations come from and how they become Llama-3 text."""

    dataset_source: str = field(metadata={"help": "Hub dataset id, or a local .jsonl/.json/.parquet/.arrow file "
                                          "or a directory written by datasets' save_to_disk."})
    dataset_revision: str = field(default="main", metadata={"help": "Hub revision of a Hub dataset (branch, tag or "
                                                          "commit); stacktune pins it to a commit at plan time."})
    conversations_field: str = field(default="conversations")
    role_map: dict | str | None = field(
        default_factory=lambda: dict(DEFAULT_ROLE_MAP),
        metadata={"help": "ShareGPT 'from' -> Llama-3 role (YAML mapping, or JSON on the command line)."},
    )
    chat_format: str = field(default="llama3")
    test_size: float = field(default=0.3, metadata={"help": "Fraction (0-1) of samples held out for eval."})
    split_seed: int = field(default=100)
    max_train_samples: int | None = field(default=None)
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Evaluate on the first N of the seeded test split (a fixed subset)."}
    )
    prepared_dataset_dir: str = field(
        default="prepared", metadata={"help": "Where prepared sets are saved, one subdirectory per input hash."}
    )
    prepared_dataset_repo: str | None = field(default=None, metadata={"help": "Optional dataset repo to push to."})

    def __post_init__(self) -> None:
        if isinstance(self.role_map, str):
            self.role_map = json.loads(self.role_map)
        if not isinstance(self.role_map, dict) or not self.role_map:
            raise ValueError("role_map must be a non-empty mapping of source role -> chat role")
        bad = {k: v for k, v in self.role_map.items() if not isinstance(k, str) or not isinstance(v, str) or not v}
        if bad:
            raise ValueError(f"role_map entries must map a role name to a non-empty role name; fix {bad}")
        check_chat_format(self.chat_format)
        if not 0 < self.test_size < 1:
            raise ValueError(f"test_size must be a fraction between 0 and 1, got {self.test_size}")
        for key in ("max_train_samples", "max_eval_samples"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ValueError(f"{key} must be at least 1 (or omitted for no cap), got {value}")


@dataclass
class PublishArguments:
    """Merge, publish and smoke-test settings."""

    merged_output_dir: str = field(default="merged")
    adapter_repo_id: str | None = field(default=None)
    merged_repo_id: str | None = field(default=None)
    hub_private: bool = field(default=True)
    output_store_dir: str | None = field(
        default=None, metadata={"help": "Local output store used when no hub repo is set."}
    )
    smoke_prompt: str = field(default="Describe the food of Thailand in one sentence.")
    smoke_max_new_tokens: int = field(default=32)
    gate_enabled: bool = field(
        default=True, metadata={"help": "Evaluation gate after the merge (stacktune_train.gate): compare the merged "
                                "model's held-out loss with the adapter's; a failure publishes nothing."},
    )
    gate_samples: int = field(default=32, metadata={"help": "First N rows of the seeded test split the gate scores."})
    gate_tolerance: float = field(
        default=0.05, metadata={"help": "Largest relative increase of the merged loss over the adapter's (0.05 = 5%)."}
    )

    def __post_init__(self) -> None:
        if self.merged_repo_id is None and self.output_store_dir is None:
            raise ValueError(
                "nowhere to publish: set merged_repo_id (stacktune:hub.mergedRepo) or output_store_dir "
                "(stacktune:hub.localDir)"
            )
        if self.smoke_max_new_tokens < 1:
            raise ValueError("smoke_max_new_tokens must be at least 1")
        if self.gate_samples < 1:
            raise ValueError(f"gate_samples must be at least 1, got {self.gate_samples}")
        if not 0 <= self.gate_tolerance <= 1:
            raise ValueError(f"gate_tolerance must be a fraction between 0 and 1, got {self.gate_tolerance}")


@dataclass
class ScheduleArguments:
    """Contract names that transformers 5 no longer has as TrainingArguments fields.

    ``warmup_ratio`` was folded into ``warmup_steps`` (a float below 1 is a fraction of the total
    steps); the contract keeps the old, unambiguous name and :func:`parse_config` translates it.
    """

    warmup_ratio: float = field(default=0.0, metadata={"help": "Fraction (0 <= x < 1) of steps spent warming up."})

    def __post_init__(self) -> None:
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be at least 0 and below 1, got {self.warmup_ratio}")


#: TRL SFTConfig / TrainingArguments names the contract lets training.yaml set (docs/contracts.md §4).
TRAINING_KEYS = frozenset(
    """output_dir seed num_train_epochs max_steps per_device_train_batch_size per_device_eval_batch_size
    gradient_accumulation_steps learning_rate lr_scheduler_type weight_decay max_grad_norm bf16
    use_cpu logging_steps logging_strategy log_level eval_strategy eval_steps save_strategy save_steps
    save_total_limit save_on_each_node gradient_checkpointing gradient_checkpointing_kwargs packing packing_strategy
    padding_free max_length dataset_text_field report_to run_name push_to_hub hub_model_id hub_strategy
    hub_private_repo use_liger_kernel""".split()
)

STACKTUNE_DATACLASSES = (ModelArguments, DataArguments, PublishArguments, ScheduleArguments)


def allowed_yaml_keys() -> frozenset[str]:
    own = {f.name for cls in STACKTUNE_DATACLASSES for f in fields(cls)}
    return frozenset(own) | TRAINING_KEYS


@dataclass
class StacktuneConfig:
    model: ModelArguments
    data: DataArguments
    publish: PublishArguments
    training: SFTConfig
    source: Path


class ConfigError(ValueError):
    """training.yaml (or a CLI flag) does not fit the contract."""


def load_yaml_mapping(path: str | Path) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level")
    unknown = sorted(set(data) - allowed_yaml_keys())
    if unknown:
        raise ConfigError(
            f"{path}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(k) for k in unknown)}; "
            "training.yaml accepts exactly the keys in docs/contracts.md §4 (re-render the stack)"
        )
    return data


def build_parser() -> HfArgumentParser:
    return HfArgumentParser((*STACKTUNE_DATACLASSES, SFTConfig))


def parse_config(path: str | Path, argv: list[str] | None = None) -> StacktuneConfig:
    """Parse ``training.yaml`` at ``path``; ``argv`` flags (e.g. ``["--max_steps", "3"]``) override it."""
    values = load_yaml_mapping(path)
    parser = build_parser()
    # YAML values become argparse defaults so CLI flags win; argparse still type-converts string
    # defaults (YAML 1.1 reads 1e-4 as a string). Mappings go through as JSON like on the CLI.
    parser.set_defaults(**{k: json.dumps(v) if isinstance(v, dict) else v for k, v in values.items()})
    for action in parser._actions:
        if action.dest not in values:
            continue
        action.required = False
        # argparse checks `choices` only for command-line values, not for defaults: check YAML values here.
        if action.choices is not None and str(values[action.dest]) not in {str(c) for c in action.choices}:
            raise ConfigError(
                f"{path}: {action.dest} {values[action.dest]!r} is not one of "
                f"{', '.join(str(c) for c in action.choices)}"
            )
    try:
        model, data, publish, schedule, training = parser.parse_args_into_dataclasses(
            args=list(argv or []), return_remaining_strings=False
        )
    except SystemExit as exc:  # argparse exits on a malformed value; turn it into an error callers can catch
        raise ConfigError(f"{path}: invalid value in the YAML or in {argv} (see the message above)") from exc
    except ValueError as exc:  # unknown CLI flags, and every dataclass's own validation
        raise ConfigError(f"{path}: {exc}") from exc
    if schedule.warmup_ratio and not training.warmup_steps:
        training.warmup_steps = schedule.warmup_ratio
    return StacktuneConfig(model=model, data=data, publish=publish, training=training, source=Path(path))


def parse_cli(argv: list[str] | None = None) -> StacktuneConfig:
    """Entry-point helper: ``python -m stacktune_train.X training.yaml [--flag value ...]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        raise SystemExit("usage: python -m stacktune_train.<step> training.yaml [--key value ...]")
    return parse_config(argv[0], argv[1:])
