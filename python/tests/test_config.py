import json
from pathlib import Path

import pytest
import transformers.training_args
import yaml

from conftest import DATA_DIR, cpu_training_values, write_yaml
from stacktune_train.config import TRAINING_KEYS, ConfigError, allowed_yaml_keys, load_contract, parse_config

REPO_ROOT = Path(__file__).resolve().parents[2]
RENDERED = sorted(REPO_ROOT.glob("rendered/*/training.yaml"))
FULL = DATA_DIR / "training.full.yaml"

#: The one table of training.yaml keys (docs/contracts.md §4), read here as plain JSON.
TABLE = json.loads((REPO_ROOT / "python/stacktune_train/training_keys.json").read_text())
CONTRACT_KEYS = {row["key"] for row in TABLE["rows"]}


@pytest.fixture
def as_on_a_gpu_host(monkeypatch):
    """TrainingArguments refuses bf16 without a bf16-capable GPU; parse as the GPU host would."""
    monkeypatch.setattr(transformers.training_args, "is_torch_bf16_gpu_available", lambda: True)


def test_parser_accepts_exactly_the_table_keys():
    assert len(CONTRACT_KEYS) == len(TABLE["rows"])
    assert allowed_yaml_keys() == CONTRACT_KEYS
    assert set(yaml.safe_load(FULL.read_text())) <= CONTRACT_KEYS


def write_table(path: Path, *extra_rows: dict) -> Path:
    path.write_text(json.dumps({"rows": [*TABLE["rows"], *extra_rows]}))
    return path


def test_a_table_row_alone_adds_a_trainer_argument(tmp_path, tiny_model_dir):
    contract = load_contract(
        write_table(
            tmp_path / "keys.json",
            {
                "key": "neftune_noise_alpha",
                "trainer": "SFTConfig",
                "type": "float",
                "setting": "training.x",
                "doc": "d",
            },
            {
                "key": "lora_bias",
                "trainer": "ModelArguments",
                "type": "str",
                "value": "none",
                "default": "none",
                "doc": "d",
            },
        )
    )
    values = cpu_training_values(tiny_model_dir, neftune_noise_alpha=5.0, lora_bias="all")
    path = write_yaml(tmp_path / "t.yaml", values)
    cfg = parse_config(path, [], contract=contract)
    assert (cfg.training.neftune_noise_alpha, cfg.model.lora_bias) == (5.0, "all")
    assert (
        parse_config(
            write_yaml(tmp_path / "d.yaml", cpu_training_values(tiny_model_dir)), [], contract=contract
        ).model.lora_bias
        == "none"
    )
    with pytest.raises(ConfigError, match=r"unknown keys 'lora_bias', 'neftune_noise_alpha'"):
        parse_config(path, [])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"key": "neftune_alpha", "trainer": "SFTConfig", "type": "float", "value": 1.0, "doc": "d"},
            "neftune_alpha is listed as an SFTConfig argument, but TRL's SFTConfig has no such field",
        ),
        (
            {"key": "lora_bias", "trainer": "ModelArguments", "type": "str", "value": "none", "doc": "d"},
            "lora_bias: a ModelArguments row needs a default (or required: true)",
        ),
        (
            {"key": "lora_r", "trainer": "ModelArguments", "type": "int", "value": 1, "default": 1, "doc": "d"},
            "lora_r is listed twice",
        ),
        (
            {
                "key": "neftune_noise_alpha",
                "trainer": "SFTConfig",
                "type": "float",
                "value": 5.0,
                "default": 5.0,
                "doc": "d",
            },
            "neftune_noise_alpha: TRL's SFTConfig owns the default of its arguments; drop default",
        ),
    ],
)
def test_a_table_the_trainer_cannot_follow_is_refused_naming_the_row(tmp_path, row, message):
    with pytest.raises(ConfigError) as error:
        load_contract(write_table(tmp_path / "keys.json", row))
    assert message in str(error.value)


def test_full_fixture_parses_to_the_reference_values(as_on_a_gpu_host):
    cfg = parse_config(FULL, [])
    m, d, p, t = cfg.model, cfg.data, cfg.publish, cfg.training
    assert (m.model_name_or_path, m.attn_implementation, m.load_in_4bit) == (
        "meta-llama/Meta-Llama-3-8B-Instruct",
        "flash_attention_2",
        True,
    )
    assert (m.bnb_4bit_quant_type, m.bnb_4bit_use_double_quant, m.bnb_4bit_compute_dtype, m.bnb_4bit_quant_storage) == (
        "nf4",
        True,
        "bfloat16",
        "bfloat16",
    )
    assert (m.lora_r, m.lora_alpha, m.lora_dropout, m.target_modules()) == (8, 16, 0.1, "all-linear")
    assert d.role_map == {"system": "system", "human": "user", "gpt": "assistant"}
    assert (d.test_size, d.split_seed, d.max_train_samples, d.max_eval_samples) == (0.3, 100, None, 2000)
    assert (p.merged_repo_id, p.output_store_dir, p.smoke_max_new_tokens) == ("someone/llama3-openhermes-2.5", None, 35)
    assert t.learning_rate == 1e-4 and t.weight_decay == 1e-4  # YAML 1.1 reads 1e-4 as a string
    assert (t.lr_scheduler_type, t.eval_strategy, t.hub_strategy, t.save_strategy) == (
        "cosine",
        "epoch",
        "every_save",
        "steps",
    )
    assert (t.per_device_train_batch_size, t.gradient_accumulation_steps, t.max_length, t.seed) == (4, 2, 2048, 100)
    assert t.gradient_checkpointing and t.gradient_checkpointing_kwargs == {"use_reentrant": True}
    assert (t.packing, t.packing_strategy, t.padding_free, t.dataset_text_field) == (True, "bfd", False, "text")
    assert t.report_to == ["wandb"] and t.push_to_hub and t.hub_private_repo and t.bf16
    assert t.warmup_steps == 0


@pytest.mark.skipif(not RENDERED, reason="no rendered/<stack>/training.yaml yet (run `npm run render`)")
@pytest.mark.parametrize("path", RENDERED, ids=[p.parent.name for p in RENDERED])
def test_every_rendered_stack_parses(path, as_on_a_gpu_host):
    values = yaml.safe_load(path.read_text())
    cfg = parse_config(path, [])
    assert cfg.model.model_name_or_path == values["model_name_or_path"]
    assert cfg.training.output_dir == values["output_dir"]
    assert cfg.training.packing_strategy == values.get("packing_strategy", "bfd")
    assert cfg.data.role_map == values.get("role_map", cfg.data.role_map)


def test_unknown_key_is_rejected_naming_it(tmp_path, tiny_model_dir):
    path = write_yaml(tmp_path / "t.yaml", cpu_training_values(tiny_model_dir, learning_rat=1e-4))
    with pytest.raises(ConfigError, match=r"unknown key 'learning_rat'"):
        parse_config(path, [])


def test_every_unknown_key_is_named_at_once(tmp_path, tiny_model_dir):
    path = write_yaml(tmp_path / "t.yaml", cpu_training_values(tiny_model_dir, optim="adamw", use_peft_lora=True))
    with pytest.raises(ConfigError, match=r"unknown keys 'optim', 'use_peft_lora'"):
        parse_config(path, [])


def test_sftconfig_field_outside_the_contract_is_rejected_in_yaml(tmp_path, tiny_model_dir):
    assert "packing" in TRAINING_KEYS and "completion_only_loss" not in TRAINING_KEYS
    path = write_yaml(tmp_path / "t.yaml", cpu_training_values(tiny_model_dir, completion_only_loss=True))
    with pytest.raises(ConfigError, match="completion_only_loss"):
        parse_config(path, [])


def test_cli_flags_override_yaml(tmp_path, tiny_model_dir):
    path = write_yaml(tmp_path / "t.yaml", cpu_training_values(tiny_model_dir))
    cfg = parse_config(
        path,
        [
            "--max_steps",
            "2",
            "--learning_rate",
            "3e-4",
            "--lora_r",
            "4",
            "--role_map",
            '{"human": "user", "gpt": "assistant"}',
            "--packing",
            "false",
        ],
    )
    assert (cfg.training.max_steps, cfg.training.learning_rate, cfg.model.lora_r) == (2, 3e-4, 4)
    assert cfg.data.role_map == {"human": "user", "gpt": "assistant"}
    assert cfg.training.packing is False
    untouched = parse_config(path, [])
    assert (untouched.training.max_steps, untouched.model.lora_r, untouched.training.packing) == (6, 8, True)


def test_unknown_cli_flag_is_rejected(tmp_path, tiny_model_dir):
    path = write_yaml(tmp_path / "t.yaml", cpu_training_values(tiny_model_dir))
    with pytest.raises(ConfigError, match="--no_such_flag"):
        parse_config(path, ["--no_such_flag", "1"])


def test_null_optional_keys_are_accepted(tmp_path, tiny_model_dir):
    values = cpu_training_values(
        tiny_model_dir,
        max_train_samples=None,
        prepared_dataset_repo=None,
        adapter_repo_id=None,
        merged_repo_id=None,
        eval_steps=None,
    )
    cfg = parse_config(write_yaml(tmp_path / "t.yaml", values), [])
    assert cfg.data.max_train_samples is None and cfg.publish.merged_repo_id is None


def test_warmup_ratio_becomes_a_fractional_warmup_steps(tmp_path, tiny_model_dir):
    # transformers 5 dropped TrainingArguments.warmup_ratio; warmup_steps < 1 is a fraction.
    cfg = parse_config(write_yaml(tmp_path / "t.yaml", cpu_training_values(tiny_model_dir, warmup_ratio=0.1)), [])
    assert cfg.training.warmup_steps == 0.1
    assert cfg.training.get_warmup_steps(100) == 10


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"test_size": 1.5}, "test_size must be a fraction between 0 and 1"),
        ({"chat_format": "chatml"}, "chat_format 'chatml' is not supported"),
        ({"attn_implementation": "flash_attention_3"}, "attn_implementation 'flash_attention_3' is not supported"),
        ({"bnb_4bit_quant_storage": "uint4"}, "bnb_4bit_quant_storage 'uint4' is not a dtype"),
        ({"max_eval_samples": 0}, "max_eval_samples must be at least 1"),
        ({"role_map": {"human": ""}}, "role_map entries must map a role name"),
        ({"warmup_ratio": 1.0}, "warmup_ratio must be at least 0 and below 1"),
        ({"output_store_dir": None}, "nowhere to publish: set merged_repo_id"),
        ({"packing_strategy": "greedy"}, "packing_strategy"),
    ],
)
def test_bad_values_are_rejected_with_the_key_named(tmp_path, tiny_model_dir, override, message, capsys):
    path = write_yaml(tmp_path / "t.yaml", cpu_training_values(tiny_model_dir, **override))
    with pytest.raises(ConfigError) as error:
        parse_config(path, [])
    assert message in str(error.value) + capsys.readouterr().err


def test_top_level_must_be_a_mapping(tmp_path):
    (tmp_path / "t.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_config(tmp_path / "t.yaml", [])
