import json
import os

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from stacktune_train import merge
from stacktune_train.chat import encode_conversation
from stacktune_train.config import parse_config
from stacktune_train.plots import picture_files


@pytest.fixture
def merged_run(trained_run, monkeypatch):
    run, _ = trained_run
    monkeypatch.chdir(run)
    monkeypatch.setenv("STACKTUNE_EXPERIMENT_HASH", "0123abcd")
    monkeypatch.setenv("STACKTUNE_STACK", "test-stack")
    cfg = parse_config(run / "training.yaml", [])
    merged_dir = merge.main(cfg)
    return run, cfg, merged_dir


def test_merged_logits_equal_adapter_logits(merged_run, tiny_tokenizer):
    run, cfg, merged_dir = merged_run
    text = encode_conversation(
        [{"from": "human", "value": "Why is the sky blue? 为什么"}, {"from": "gpt", "value": "Rayleigh scattering."}],
        sample_index=0,
    )
    ids = torch.tensor([tiny_tokenizer(text, add_special_tokens=False)["input_ids"]])
    base = AutoModelForCausalLM.from_pretrained(cfg.model.model_name_or_path, dtype=torch.float32)
    adapted = PeftModel.from_pretrained(base, run / "out").eval()
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        adapter_logits = adapted(input_ids=ids).logits
        merged_logits = merged(input_ids=ids).logits
    torch.testing.assert_close(merged_logits, adapter_logits, atol=1e-4, rtol=1e-4)
    plain = AutoModelForCausalLM.from_pretrained(cfg.model.model_name_or_path, dtype=torch.float32).eval()
    with torch.no_grad():
        assert not torch.allclose(plain(input_ids=ids).logits, merged_logits, atol=1e-4), "the adapter changed nothing"


def test_merged_dir_loads_as_a_plain_model_with_its_tokenizer(merged_run):
    _, _, merged_dir = merged_run
    model = AutoModelForCausalLM.from_pretrained(merged_dir)
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    assert not any("lora" in name for name, _ in model.named_parameters())
    assert tokenizer.bos_token == "<|begin_of_text|>" and tokenizer.eos_token == "<|eot_id|>"
    assert "<|start_header_id|>" in tokenizer.chat_template


def test_model_card_records_hash_and_settings(merged_run):
    _, cfg, merged_dir = merged_run
    card = (merged_dir / "README.md").read_text()
    assert "experiment hash: `0123abcd`" in card and "stack: `test-stack`" in card
    assert f"base_model: {cfg.model.model_name_or_path}" in card
    assert "learning_rate: 0.005" in card and "packing_strategy: bfd" in card


def test_model_card_shows_the_loss_curve_that_travels_with_the_model(merged_run):
    run, _, merged_dir = merged_run
    card = (merged_dir / "README.md").read_text()
    assert "![Loss curve: train and eval loss by step](loss-curve.png)\n" in card
    assert (
        "Also: [loss-curve.svg](loss-curve.svg), [throughput.png](throughput.png), [throughput.svg](throughput.svg), "
        "[memory.png](memory.png), [memory.svg](memory.svg); every logged step in "
        "[metrics-history.jsonl](metrics-history.jsonl)."
    ) in card
    for name in ["metrics.json", "metrics-history.jsonl", *picture_files()]:
        assert (merged_dir / name).read_bytes() == (run / "out" / name).read_bytes(), name


LLAMA3 = "meta-llama/Meta-Llama-3-8B-Instruct"
LLAMA3_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_model_card_states_base_model_licence_metrics_cost_and_hash(trained_run, monkeypatch):
    run, _ = trained_run
    monkeypatch.chdir(run)
    monkeypatch.setenv("STACKTUNE_ESTIMATED_COST", "131.53 USD (23.19 h x 5.672 USD/h). Basis: b2 on g5.")
    cfg = parse_config(run / "training.yaml", ["--model_name_or_path", LLAMA3, "--model_revision", LLAMA3_COMMIT])
    card = merge.model_card(cfg, {"experiment_hash": "0123abcd", "stack": "test-stack"})
    metrics = json.loads((run / "out" / "metrics.json").read_text())
    assert "license: llama3" in card and f"base_model: {LLAMA3}" in card
    assert f"`{LLAMA3}` at revision `{LLAMA3_COMMIT}`" in card
    assert "**Built with Meta Llama 3**" in card
    assert (
        "Meta Llama 3 is licensed under the Meta Llama 3 Community License, Copyright © Meta Platforms, Inc. "
        "All Rights Reserved."
    ) in card
    assert f"- train loss: {metrics['train_loss']:.4f} (mean over the run)" in card
    assert "- eval loss: - (no evaluation)" in card  # this run has eval_strategy: no
    assert f"- trained tokens: {metrics['train_tokens']}" in card
    assert "- estimated cost: 131.53 USD (23.19 h x 5.672 USD/h). Basis: b2 on g5." in card
    assert "experiment hash: `0123abcd`" in card
    assert "learning_rate: 0.005" in card  # every hyperparameter: the whole training.yaml


def test_a_card_of_another_base_model_claims_no_llama_licence(merged_run):
    _, _, merged_dir = merged_run
    card = (merged_dir / "README.md").read_text()
    assert "llama3" not in card.split("---")[1] and "Built with Meta Llama 3" not in card


def test_merged_dir_holds_a_receipt_of_its_experiment_and_no_completion_marker(merged_run):
    run, _, merged_dir = merged_run
    assert json.loads((merged_dir / merge.MERGE_RECEIPT).read_text()) == {
        "experiment_hash": "0123abcd",
        "stack": "test-stack",
    }
    assert not (merged_dir / "stacktune.json").exists()
    assert json.loads((merged_dir / "metrics.json").read_text()) == json.loads(
        (run / "out" / "metrics.json").read_text()
    )


def test_merge_replaces_its_own_merged_dir_and_refuses_a_foreign_one(trained_run, monkeypatch, tmp_path):
    run, _ = trained_run
    monkeypatch.chdir(run)
    monkeypatch.setenv("STACKTUNE_EXPERIMENT_HASH", "0123abcd")
    monkeypatch.setenv("STACKTUNE_STACK", "test-stack")
    target = tmp_path / "merged"
    cfg = parse_config(run / "training.yaml", ["--merged_output_dir", str(target)])
    merge.main(cfg)
    (target / "leftover.bin").write_text("from the first merge")
    merge.main(cfg)
    assert not (target / "leftover.bin").exists() and (target / "model.safetensors").is_file()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    cfg = parse_config(run / "training.yaml", ["--merged_output_dir", str(foreign)])
    with pytest.raises(SystemExit, match="was not written by stacktune's merge"):
        merge.main(cfg)
    assert os.listdir(foreign) == ["notes.txt"]
    assert sorted(os.listdir(tmp_path)) == ["foreign", "merged"]


def test_merge_without_run_env_says_how_to_run_it(monkeypatch):
    monkeypatch.delenv("STACKTUNE_EXPERIMENT_HASH", raising=False)
    monkeypatch.setenv("STACKTUNE_STACK", "s")
    with pytest.raises(SystemExit, match="STACKTUNE_EXPERIMENT_HASH not set: run the merge through launch.sh"):
        merge.experiment_identity()
