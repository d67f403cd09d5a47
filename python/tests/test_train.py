"""Training on CPU with the tiny Llama: real TRL SFTTrainer, LoRA on all-linear, packing, checkpoints.

4-bit (bitsandbytes) and DeepSpeed need a GPU; on CPU the same code path runs with
``load_in_4bit: false`` and no DeepSpeed, and the GPU-only checks are tested as functions.
"""

import json
import warnings

import pytest
import torch
from safetensors.torch import save_file

from conftest import cpu_training_values, write_yaml
from stacktune_train import train
from stacktune_train.config import ConfigError, parse_config
from stacktune_train.history import HISTORY_FILE, read_history
from stacktune_train.plots import picture_files
from stacktune_train.progress import parse_progress_line


def progress_records(text):
    return [r for r in map(parse_progress_line, text.splitlines()) if r is not None]


def test_a_few_steps_lower_the_loss_and_write_metrics(trained_run):
    run, metrics = trained_run
    written = json.loads((run / "out" / "metrics.json").read_text())
    # The merge step adds the evaluation gate's gate_* and benchmark_* numbers to this file (the shared
    # run may have been merged by an earlier test).
    written = {k: v for k, v in written.items() if not k.startswith(("gate_", "benchmark_"))}
    assert set(written) == {
        "train_loss",
        "train_loss_last_window",
        "eval_loss",
        "train_tokens",
        "tokens_per_s",
        "train_runtime_s",
    }
    assert written == pytest.approx(metrics)
    history = json.loads((run / "out" / "checkpoint-6" / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert len(losses) == 6
    assert losses[-1] < losses[0] - 0.05, f"loss did not go down: {losses}"
    assert metrics["eval_loss"] is None  # eval_strategy: no
    assert metrics["train_tokens"] > 0 and metrics["tokens_per_s"] > 0


def test_the_run_keeps_its_history_and_draws_its_pictures(trained_run):
    run, _ = trained_run
    history = read_history(run / "out" / HISTORY_FILE)
    logged = json.loads((run / "out" / "checkpoint-6" / "trainer_state.json").read_text())["log_history"]
    assert [(r["step"], r["loss"]) for r in history] == [(e["step"], e["loss"]) for e in logged if "loss" in e]
    assert all(r["tokens_per_s"] > 0 and r["cpu_memory_gib"] > 0 and r["gpu_memory_gib"] is None for r in history)
    assert [r["elapsed_s"] for r in history] == sorted(r["elapsed_s"] for r in history)
    for name in picture_files():
        assert (run / "out" / name).stat().st_size > 0, name


def test_saved_adapter_is_lora_on_every_linear_layer(trained_run):
    run, _ = trained_run
    adapter = json.loads((run / "out" / "adapter_config.json").read_text())
    assert len(adapter["target_modules"]) == 2 * 7  # 2 layers x every linear layer but lm_head
    assert {name.rsplit(".", 1)[-1] for name in adapter["target_modules"]} == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }
    assert (adapter["r"], adapter["lora_alpha"]) == (8, 16)
    # r * (in + out) per layer: q, o 64->64; k, v 64->32; gate, up 64->128; down 128->64
    per_layer = 8 * ((64 + 64) * 2 + (64 + 32) * 2 + (64 + 128) * 3)
    assert train.check_saved_adapter(run / "out") == 2 * per_layer


def test_progress_lines_and_resume_from_the_last_checkpoint(run_dir, tiny_model_dir, capfd):
    values = cpu_training_values(
        tiny_model_dir,
        max_steps=3,
        save_steps=3,
        packing_strategy="wrapped",
        eval_strategy="steps",
        eval_steps=3,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        max_eval_samples=2,
    )
    path = write_yaml(run_dir / "training.yaml", values)
    first = train.main(parse_config(path, []))
    records = progress_records(capfd.readouterr().out)
    assert [r["step"] for r in records] == [1, 2, 3]
    for record in records:
        assert set(record) == {"phase", "step", "total", "loss", "tokens_per_s", "elapsed_s", "eta_s"}
        assert record["phase"] == "train" and record["total"] == 3 and record["tokens_per_s"] > 0
        assert isinstance(record["eta_s"], int) and record["eta_s"] >= 0
    assert records[-1]["eta_s"] == 0
    assert first["eval_loss"] is not None

    second = train.main(parse_config(path, ["--max_steps", "5"]))
    out = capfd.readouterr().out
    assert "resuming from out/checkpoint-3" in out
    assert [r["step"] for r in progress_records(out)] == [4, 5]
    state = json.loads((run_dir / "out" / "checkpoint-5" / "trainer_state.json").read_text())
    assert state["global_step"] == 5
    assert second["train_tokens"] > first["train_tokens"]  # counts the steps before the resume too


def test_flash_attention_falls_back_to_sdpa_with_a_warning(monkeypatch):
    monkeypatch.setattr(train.importlib.util, "find_spec", lambda name: None)
    with pytest.warns(RuntimeWarning, match="flash_attn package is not installed; falling back to sdpa"):
        assert train.resolve_attn_implementation("flash_attention_2") == "sdpa"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert train.resolve_attn_implementation("eager") == "eager"


def test_4bit_without_bitsandbytes_says_what_to_install(monkeypatch, tmp_path, tiny_model_dir):
    monkeypatch.setattr(train.importlib.util, "find_spec", lambda name: None)
    cfg = parse_config(write_yaml(tmp_path / "t.yaml", cpu_training_values(tiny_model_dir, load_in_4bit=True)), [])
    with pytest.raises(
        ConfigError, match=r"bitsandbytes is not installed; install the pinned set \(python/requirements.txt\)"
    ):
        train.quantization_config(cfg.model)


def test_liger_without_the_package_says_what_to_install(monkeypatch, tmp_path, tiny_model_dir):
    monkeypatch.setattr(train.importlib.util, "find_spec", lambda name: None)
    cfg = parse_config(write_yaml(tmp_path / "t.yaml", cpu_training_values(tiny_model_dir, use_liger_kernel=True)), [])
    with pytest.raises(ConfigError, match="liger-kernel is not installed"):
        train.check_optional_packages(cfg.training)


def test_zero3_with_4bit_requires_one_dtype(monkeypatch, tmp_path, tiny_model_dir):
    monkeypatch.setattr(train, "is_deepspeed_zero3_enabled", lambda: True)
    values = cpu_training_values(
        tiny_model_dir, load_in_4bit=True, bnb_4bit_compute_dtype="bfloat16", bnb_4bit_quant_storage="float32"
    )
    cfg = parse_config(write_yaml(tmp_path / "t.yaml", values), [])
    with pytest.raises(ConfigError, match="bnb_4bit_quant_storage=float32, bnb_4bit_compute_dtype=bfloat16"):
        train.check_dtypes(cfg.model, cfg.training)
    cfg.model.bnb_4bit_quant_storage = "bfloat16"
    cfg.training.bf16 = True
    train.check_dtypes(cfg.model, cfg.training)  # consistent: no error


def test_empty_adapter_from_zero3_is_caught(tmp_path):
    placeholder = {"base_model.model.layers.0.q_proj.lora_A.weight": torch.empty(0)}
    save_file(placeholder, tmp_path / "adapter_model.safetensors")
    with pytest.raises(RuntimeError, match="zero3_save_16bit_model: true"):
        train.check_saved_adapter(tmp_path)
    with pytest.raises(RuntimeError, match="was not saved"):
        train.check_saved_adapter(tmp_path / "missing")
