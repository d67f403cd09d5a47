import json

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from stacktune_train import merge
from stacktune_train.chat import encode_conversation
from stacktune_train.config import parse_config


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
    text = encode_conversation([{"from": "human", "value": "Why is the sky blue? 为什么"},
                                {"from": "gpt", "value": "Rayleigh scattering."}], sample_index=0)
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


def test_output_store_holds_model_tokenizer_adapter_and_marker(merged_run):
    run, _, _ = merged_run
    store = run / "store"
    assert json.loads((store / "stacktune.json").read_text()) == {"experiment_hash": "0123abcd", "stack": "test-stack"}
    assert (store / "model.safetensors").is_file() and (store / "tokenizer.json").is_file()
    assert (store / "adapter" / "adapter_model.safetensors").is_file()
    assert json.loads((store / "metrics.json").read_text()) == json.loads((run / "out" / "metrics.json").read_text())
    AutoModelForCausalLM.from_pretrained(store)


def test_merge_without_run_env_says_how_to_run_it(monkeypatch):
    monkeypatch.delenv("STACKTUNE_EXPERIMENT_HASH", raising=False)
    monkeypatch.setenv("STACKTUNE_STACK", "s")
    with pytest.raises(SystemExit, match="STACKTUNE_EXPERIMENT_HASH not set: run the merge through launch.sh"):
        merge.experiment_identity()


class RecordingHubApi:
    """Stands in for huggingface_hub.HfApi (no network here); records what would be pushed."""

    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, private, exist_ok):
        self.calls.append(("create_repo", repo_id, private))

    def upload_folder(self, repo_id, folder_path, commit_message, allow_patterns=None, ignore_patterns=None):
        import fnmatch
        from pathlib import Path

        files = sorted(p.name for p in Path(folder_path).iterdir() if p.is_file()
                       and (allow_patterns is None or any(fnmatch.fnmatch(p.name, g) for g in allow_patterns))
                       and not any(fnmatch.fnmatch(p.name, g) for g in ignore_patterns or []))
        self.calls.append(("upload_folder", repo_id, files, commit_message))

    def upload_file(self, repo_id, path_or_fileobj, path_in_repo, commit_message):
        self.calls.append(("upload_file", repo_id, path_in_repo, commit_message))


def test_hub_publish_pushes_model_tokenizer_then_marker_and_the_adapter(trained_run, monkeypatch):
    run, _ = trained_run
    monkeypatch.chdir(run)
    monkeypatch.setenv("STACKTUNE_EXPERIMENT_HASH", "0123abcd")
    monkeypatch.setenv("STACKTUNE_STACK", "hub-stack")
    api = RecordingHubApi()
    monkeypatch.setattr(merge, "hub_api", lambda: api)
    cfg = parse_config(run / "training.yaml", ["--merged_repo_id", "me/merged", "--adapter_repo_id", "me/adapter",
                                               "--merged_output_dir", "merged-hub"])
    merge.main(cfg)
    message = "stacktune hub-stack 0123abcd"
    assert api.calls[0] == ("create_repo", "me/adapter", True)
    assert api.calls[1][:2] == ("upload_folder", "me/adapter")
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json"} <= set(api.calls[1][2])
    assert api.calls[2] == ("create_repo", "me/merged", True)
    kind, repo, files, msg = api.calls[3]
    assert (kind, repo, msg) == ("upload_folder", "me/merged", message)
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "README.md"} <= set(files)
    assert "stacktune.json" not in files
    assert api.calls[4] == ("upload_file", "me/merged", "stacktune.json", message)
