"""The one parser for ``training.yaml`` (docs/contracts.md §4), shared by every entry point.

The keys come from one table, ``training_keys.json`` (package data; the renderer and the docs read
the same file). ``parse_config(path, argv)`` reads the rendered YAML, rejects every key outside the
table (naming each), then lets CLI flags (``--learning_rate 2e-4``) override YAML values. The YAML
keys are exactly the table's; CLI flags may name any field of the parser's dataclasses (every TRL
``SFTConfig`` argument included), which is what ad-hoc runs and benchmarks want.

Built on TRL's own classes: the training arguments *are* ``SFTConfig`` (table rows of trainer
``SFTConfig`` must name its fields; TRL owns their types and defaults) and the parser is
``TrlParser``, whose ``set_defaults_with_config`` applies the YAML values. The other rows become
stacktune's dataclasses, built here from the table, because TRL's counterparts do not fit the
contract: ``ModelConfig`` names the same settings differently (``use_bnb_nested_quant`` for
``bnb_4bit_use_double_quant``, ``dtype`` for ``bnb_4bit_compute_dtype``), takes
``lora_target_modules`` as a list and has other defaults (no 4-bit, no PEFT), so using it would
change every rendered training.yaml; ``ScriptArguments`` describes a Hub dataset with splits, not
a ShareGPT source with a seeded split and a role map; nothing in TRL covers merge, publish and the
smoke test. ``TrlParser.parse_args_and_config`` itself is not used: it reads the file behind
``--config`` and reports unknown keys only as leftover ``--key value`` strings, where the contract
wants a positional ``training.yaml`` and an error naming the keys and the fix.
"""

from __future__ import annotations

import json
import sys
from dataclasses import MISSING, dataclass, field, fields, make_dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from trl import SFTConfig, TrlParser

from stacktune_train import benchmark
from stacktune_train.chat import check_chat_format

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

DTYPES = ("bfloat16", "float16", "float32")
ATTENTION_IMPLEMENTATIONS = ("flash_attention_2", "sdpa", "eager")


class ConfigError(ValueError):
    """training.yaml (or a CLI flag, or the key table) does not fit the contract."""


class ModelChecks:
    """Base model, 4-bit quantization (QLoRA) and LoRA adapter."""

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


class DataChecks:
    """Where the conversations come from and how they become Llama-3 text."""

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


class PublishChecks:
    """Merge, publish and smoke-test settings."""

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
        benchmark.check_settings(self)


class ScheduleChecks:
    """Contract names that transformers 5 no longer has as TrainingArguments fields.

    ``warmup_ratio`` was folded into ``warmup_steps`` (a float below 1 is a fraction of the total
    steps); the contract keeps the old, unambiguous name and :func:`parse_config` translates it.
    """

    def __post_init__(self) -> None:
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be at least 0 and below 1, got {self.warmup_ratio}")


#: stacktune's argument classes, in parser order: table rows of these trainers become their fields,
#: these classes give them their checks and helpers.
STACKTUNE_CLASSES = {
    "ModelArguments": ModelChecks,
    "DataArguments": DataChecks,
    "PublishArguments": PublishChecks,
    "ScheduleArguments": ScheduleChecks,
}
#: Field types of the table's YAML kinds; a mapping may also arrive as JSON text from the command line.
FIELD_TYPES: dict[str, Any] = {"str": str, "int": int, "float": float, "bool": bool, "mapping": dict | str}

TABLE = resources.files("stacktune_train").joinpath("training_keys.json")


@dataclass(frozen=True)
class Contract:
    """The key table as the trainer uses it: the YAML keys and the parser's dataclasses."""

    keys: frozenset[str]
    #: The keys that are TRL ``SFTConfig`` arguments.
    sft_keys: frozenset[str]
    #: ModelArguments, DataArguments, PublishArguments, ScheduleArguments (built from the table).
    dataclasses: tuple[type, ...]


def _field(row: dict[str, Any]) -> tuple[str, Any, Any]:
    """One dataclass field of a stacktune row: its type, and its default unless it is required."""
    kind = FIELD_TYPES[row["type"]]
    metadata = {"help": row["doc"]}
    if row.get("required"):
        return row["key"], kind, field(metadata=metadata)
    default = row["default"]
    if default is None:
        return row["key"], kind | None, field(default=None, metadata=metadata)
    if isinstance(default, dict):
        return row["key"], kind | None, field(default_factory=lambda: dict(default), metadata=metadata)
    return row["key"], kind, field(default=default, metadata=metadata)


def load_contract(path: str | Path | Traversable = TABLE) -> Contract:
    """Reads the key table at ``path`` (the package's own by default).

    A row the trainer cannot follow fails, naming it: an SFTConfig row naming no SFTConfig field, a
    stacktune row without a default, a key listed twice.
    """
    table = Path(path) if isinstance(path, str) else path
    name = table.name
    rows = json.loads(table.read_text(encoding="utf-8"))["rows"]
    sft_fields = {f.name for f in fields(SFTConfig)}
    seen: set[str] = set()
    own: dict[str, list[tuple[str, Any, Any]]] = {trainer: [] for trainer in STACKTUNE_CLASSES}
    for row in rows:
        key, trainer = row["key"], row["trainer"]
        if key in seen:
            raise ConfigError(f"{name}: {key} is listed twice")
        seen.add(key)
        if row["type"] not in FIELD_TYPES:
            raise ConfigError(f"{name}: {key}: type {row['type']!r} is not one of {', '.join(FIELD_TYPES)}")
        if trainer == "SFTConfig":
            if key not in sft_fields:
                raise ConfigError(
                    f"{name}: {key} is listed as an SFTConfig argument, but TRL's SFTConfig has no such field"
                )
            if "default" in row:
                raise ConfigError(f"{name}: {key}: TRL's SFTConfig owns the default of its arguments; drop default")
        elif trainer in own:
            if "default" not in row and not row.get("required"):
                raise ConfigError(f"{name}: {key}: a {trainer} row needs a default (or required: true)")
            own[trainer].append(_field(row))
        else:
            raise ConfigError(f"{name}: {key}: trainer {trainer!r} is not one of SFTConfig, {', '.join(own)}")
    classes = []
    for trainer, checks in STACKTUNE_CLASSES.items():
        # Required fields first: a dataclass field without a default may not follow one with a default.
        ordered = sorted(own[trainer], key=lambda f: f[2].default is not MISSING or f[2].default_factory is not MISSING)
        cls = make_dataclass(trainer, ordered, bases=(checks,))
        cls.__module__ = __name__
        cls.__doc__ = checks.__doc__
        classes.append(cls)
    sft_keys = frozenset(row["key"] for row in rows if row["trainer"] == "SFTConfig")
    return Contract(keys=frozenset(seen), sft_keys=sft_keys, dataclasses=tuple(classes))


CONTRACT = load_contract()
ModelArguments, DataArguments, PublishArguments, ScheduleArguments = CONTRACT.dataclasses

#: TRL SFTConfig / TrainingArguments names the table lets training.yaml set (docs/contracts.md §4).
TRAINING_KEYS = CONTRACT.sft_keys


def allowed_yaml_keys(contract: Contract = CONTRACT) -> frozenset[str]:
    return contract.keys


@dataclass
class StacktuneConfig:
    model: ModelArguments
    data: DataArguments
    publish: PublishArguments
    training: SFTConfig
    source: Path


def load_yaml_mapping(path: str | Path, contract: Contract = CONTRACT) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level")
    unknown = sorted(set(data) - allowed_yaml_keys(contract))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(k) for k in unknown)}; "
            "training.yaml accepts exactly the keys in docs/contracts.md §4 (re-render the stack)"
        )
    return data


def build_parser(contract: Contract = CONTRACT) -> TrlParser:
    return TrlParser((*contract.dataclasses, SFTConfig))


def parse_config(path: str | Path, argv: list[str] | None = None, contract: Contract = CONTRACT) -> StacktuneConfig:
    """Parse ``training.yaml`` at ``path``; ``argv`` flags (e.g. ``["--max_steps", "3"]``) override it."""
    values = load_yaml_mapping(path, contract)
    parser = build_parser(contract)
    # YAML values become argparse defaults (no longer required) so CLI flags win; argparse still
    # type-converts string defaults (YAML 1.1 reads 1e-4 as a string). Mappings go through as JSON
    # like on the CLI. Every key is a field of the parser (load_contract checked the table): none is left over.
    parser.set_defaults_with_config(**{k: json.dumps(v) if isinstance(v, dict) else v for k, v in values.items()})
    for action in parser._actions:
        if action.dest not in values:
            continue
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
