"""Publishing after the smoke test: the output store and the Hub get the model, the marker last.

The phases run as launch.sh orders them (merge, smoke, publish); the Hub is a recording stand-in
for ``HfApi`` (no network here), so the tests assert the exact calls a publish makes.
"""

import json
import os

import pytest
from transformers import AutoModelForCausalLM, GenerationConfig

from conftest import IDENTITY
from stacktune_train import merge, prepare, publish, smoke
from stacktune_train.config import parse_config
from stacktune_train.plots import picture_files
from stacktune_train.store import COMPLETION_MARKER


def config(run, *overrides):
    return parse_config(run / "training.yaml", list(overrides))


def test_merge_publishes_nothing_and_writes_no_marker(run, tmp_path, hub):
    store = tmp_path / "store"
    cfg = config(run, "--output_store_dir", str(store), "--merged_repo_id", "me/merged", "--adapter_repo_id", "me/a")
    merged_dir = merge.main(cfg)
    assert (merged_dir / "model.safetensors").is_file()
    assert not (merged_dir / COMPLETION_MARKER).exists()
    assert not store.exists()
    assert hub.calls == []


def test_publish_into_a_new_store_writes_model_tokenizer_adapter_metrics_and_the_marker(run, tmp_path):
    store = tmp_path / "models" / "test-stack"
    cfg = config(run, "--output_store_dir", str(store))
    merge.main(cfg)
    assert publish.main(cfg) == store
    assert json.loads((store / COMPLETION_MARKER).read_text()) == IDENTITY
    assert (store / "model.safetensors").is_file() and (store / "tokenizer.json").is_file()
    assert (store / "adapter" / "adapter_model.safetensors").is_file()
    assert json.loads((store / "metrics.json").read_text()) == json.loads((run / "out" / "metrics.json").read_text())
    for name in ["metrics-history.jsonl", *picture_files()]:  # the card's pictures, the report's history
        assert (store / name).read_bytes() == (run / "out" / name).read_bytes(), name
    assert sorted(os.listdir(store.parent)) == ["test-stack"]  # no staging directory left beside it
    AutoModelForCausalLM.from_pretrained(store)


def test_publish_refuses_a_folder_holding_a_file_stacktune_did_not_write(run, tmp_path):
    store = tmp_path / "mine"
    store.mkdir()
    (store / "thesis.tex").write_text("years of work\n")
    cfg = config(run, "--output_store_dir", str(store))
    merge.main(cfg)
    with pytest.raises(SystemExit, match=r"stacktune:hub\.localDir") as refused:
        publish.main(cfg)
    assert str(store) in str(refused.value) and "~/.stacktune/models/test-stack" in str(refused.value)
    assert os.listdir(store) == ["thesis.tex"]
    assert (store / "thesis.tex").read_text() == "years of work\n"
    assert sorted(os.listdir(tmp_path)) == ["mine"]


def test_the_prepare_step_refuses_a_foreign_store_before_any_work(run, tmp_path):
    store = tmp_path / "mine"
    store.mkdir()
    (store / "notes.txt").write_text("keep me\n")
    with pytest.raises(SystemExit, match=r"stacktune:hub\.localDir"):
        prepare.main(["training.yaml", "--output_store_dir", str(store), "--prepared_dataset_dir", str(tmp_path / "p")])
    assert not (tmp_path / "p").exists()
    assert (store / "notes.txt").read_text() == "keep me\n"


def test_publish_refuses_the_output_of_another_stack(run, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / COMPLETION_MARKER).write_text(json.dumps({"experiment_hash": "ffff", "stack": "other-stack"}))
    (store / "model.safetensors").write_text("other stack's weights")
    cfg = config(run, "--output_store_dir", str(store))
    merge.main(cfg)
    with pytest.raises(SystemExit, match=r"holds the model of stack other-stack.*stacktune:hub\.localDir"):
        publish.main(cfg)
    assert (store / "model.safetensors").read_text() == "other stack's weights"
    assert json.loads((store / COMPLETION_MARKER).read_text())["stack"] == "other-stack"


def test_publish_replaces_a_previous_output_of_the_same_stack_by_staging_and_rename(run, tmp_path, monkeypatch):
    store = tmp_path / "store"
    store.mkdir()
    (store / COMPLETION_MARKER).write_text(json.dumps({"experiment_hash": "0ld", "stack": "test-stack"}))
    (store / "model-00001-of-00002.safetensors").write_text("previous experiment's shard")
    cfg = config(run, "--output_store_dir", str(store))
    merge.main(cfg)
    renames = []
    real_rename = os.rename

    def recording_rename(src, dst):
        renames.append(
            (os.path.basename(src), os.path.basename(dst), os.path.isfile(os.path.join(src, COMPLETION_MARKER)))
        )
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", recording_rename)
    publish.main(cfg)
    # The previous output moves aside, the staged one (marker already inside) takes its name.
    assert len(renames) == 2, renames
    (aside_src, aside_dst, _), (staged_src, staged_dst, staged_has_marker) = renames
    assert aside_src == "store" and aside_dst.startswith(".store.previous-")
    assert staged_src.startswith(".store.staging-") and staged_dst == "store" and staged_has_marker
    assert json.loads((store / COMPLETION_MARKER).read_text()) == IDENTITY
    assert not (store / "model-00001-of-00002.safetensors").exists()
    assert sorted(os.listdir(tmp_path)) == ["store"]


def test_publish_into_an_empty_directory(run, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    cfg = config(run, "--output_store_dir", str(store))
    merge.main(cfg)
    publish.main(cfg)
    assert json.loads((store / COMPLETION_MARKER).read_text()) == IDENTITY


def silence(model_dir):
    """The merged model answers nothing: every token but end-of-turn suppressed (a real, empty reply)."""
    generation = GenerationConfig.from_pretrained(model_dir)
    eos = generation.eos_token_id if isinstance(generation.eos_token_id, list) else [generation.eos_token_id]
    vocab = AutoModelForCausalLM.from_pretrained(model_dir).config.vocab_size
    generation.suppress_tokens = [i for i in range(vocab) if i not in eos]
    generation.save_pretrained(model_dir)


def test_a_failed_smoke_test_leaves_no_marker_in_the_store(run, tmp_path, hub, capsys):
    store = tmp_path / "store"
    cfg = config(run, "--output_store_dir", str(store))
    silence(merge.main(cfg))
    with pytest.raises(SystemExit) as failed:
        smoke.main(cfg)
    assert failed.value.code == 1
    assert "[smoke] FAILED: the model generated no text" in capsys.readouterr().out
    assert not store.exists()
    assert hub.calls == []


def test_a_failed_smoke_test_leaves_the_hub_untouched(run, hub, capsys):
    cfg = config(run, "--merged_repo_id", "me/merged", "--adapter_repo_id", "me/adapter")
    silence(merge.main(cfg))
    with pytest.raises(SystemExit):
        smoke.main(cfg)
    assert hub.calls == []


def test_hub_publish_is_one_commit_holding_weights_and_the_marker_last(run, hub):
    cfg = config(
        run, "--merged_repo_id", "me/merged", "--adapter_repo_id", "me/adapter", "--merged_output_dir", "merged-hub"
    )
    merged_dir = merge.main(cfg)
    publish.main(cfg)
    message = "stacktune test-stack 0123abcd"
    assert [call[:2] for call in hub.calls] == [
        ("create_repo", "me/adapter"),
        ("create_commit", "me/adapter"),
        ("create_repo", "me/merged"),
        ("create_commit", "me/merged"),
    ]
    assert hub.calls[0] == ("create_repo", "me/adapter", True)
    # The adapter's card links the loss curve relatively: the pictures are in the same commit, nothing else is.
    assert sorted(p for p, _ in hub.calls[1][2]) == sorted(
        [
            "adapter_config.json",
            "adapter_model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
            "chat_template.jinja",
            "README.md",
            *picture_files(),
        ]
    )
    assert "](loss-curve.png)" in (merged_dir / "README.md").read_text()
    assert hub.calls[2] == ("create_repo", "me/merged", True)
    _, _, added, msg = hub.calls[3]
    assert msg == message
    paths = [path for path, _ in added]
    assert paths[-1] == COMPLETION_MARKER and paths.count(COMPLETION_MARKER) == 1
    assert sorted(paths[:-1]) == sorted(p.name for p in merged_dir.iterdir() if p.name != merge.MERGE_RECEIPT)
    assert {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "README.md",
        "metrics-history.jsonl",
        *picture_files(),
    } <= set(paths)
    assert json.loads(added[-1][1]) == IDENTITY


def test_publish_refuses_a_merged_model_of_another_experiment(run, tmp_path, monkeypatch):
    cfg = config(run, "--output_store_dir", str(tmp_path / "store"))
    merge.main(cfg)
    monkeypatch.setenv("STACKTUNE_EXPERIMENT_HASH", "99999999")
    with pytest.raises(SystemExit, match="merged model .* is of experiment 0123abcd, not 99999999"):
        publish.main(cfg)
    assert not (tmp_path / "store").exists()
