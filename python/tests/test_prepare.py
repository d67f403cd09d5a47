import json
import shutil

import pytest
from datasets import load_dataset

from conftest import SAMPLE, cpu_training_values, write_yaml
from stacktune_train import prepare as prep
from stacktune_train.chat import encode_conversation
from stacktune_train.config import parse_config


def config(run_dir, tiny_model_dir, **overrides):
    return parse_config(write_yaml(run_dir / "training.yaml", cpu_training_values(tiny_model_dir, **overrides)), [])


def sample_rows():
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


def test_prepared_set_is_llama3_text_only_split_70_30(run_dir, tiny_model_dir):
    splits, target, reused = prep.prepare(config(run_dir, tiny_model_dir))
    assert not reused and target.resolve().parent == run_dir / "prepared"
    assert {name: split.column_names for name, split in splits.items()} == {"train": ["text"], "test": ["text"]}
    assert (len(splits["train"]), len(splits["test"])) == (28, 12)
    expected = {encode_conversation(r["conversations"], sample_index=i) for i, r in enumerate(sample_rows())}
    assert set(splits["train"]["text"]) | set(splits["test"]["text"]) == expected


def test_split_is_deterministic_for_a_seed_and_changes_with_it(run_dir, tiny_model_dir):
    first, _, _ = prep.prepare(config(run_dir, tiny_model_dir, prepared_dataset_dir="a"))
    second, _, _ = prep.prepare(config(run_dir, tiny_model_dir, prepared_dataset_dir="b"))
    other, _, _ = prep.prepare(config(run_dir, tiny_model_dir, prepared_dataset_dir="c", split_seed=7))
    assert first["train"]["text"] == second["train"]["text"] and first["test"]["text"] == second["test"]["text"]
    assert first["test"]["text"] != other["test"]["text"]


def test_rerun_with_same_inputs_reuses_the_prepared_set(run_dir, tiny_model_dir, capsys):
    cfg = config(run_dir, tiny_model_dir)
    _, target, reused = prep.prepare(cfg)
    assert not reused
    again, target_again, reused_again = prep.prepare(cfg)
    assert reused_again and target_again == target
    assert "reusing" in capsys.readouterr().out
    # Caps are applied on load, so changing one keeps the key; a different test size does not.
    assert prep.prepared_key(config(run_dir, tiny_model_dir, max_eval_samples=2).data, "text") == target.name
    assert prep.prepared_key(config(run_dir, tiny_model_dir, test_size=0.2).data, "text") != target.name


def test_changed_local_source_bytes_change_the_key(run_dir, tiny_model_dir):
    copy = run_dir / "data.jsonl"
    shutil.copy(SAMPLE, copy)
    key = prep.prepared_key(config(run_dir, tiny_model_dir, dataset_source=str(copy)).data, "text")
    copy.write_text(copy.read_text().replace("Paris", "Lyon"))
    assert prep.prepared_key(config(run_dir, tiny_model_dir, dataset_source=str(copy)).data, "text") != key


def test_a_hub_dataset_is_read_at_its_pinned_revision_and_the_revision_keys_the_prepared_set(
    run_dir, tiny_model_dir, monkeypatch
):
    commit = "89abcdef" * 5
    requested = []
    monkeypatch.setattr(prep, "load_dataset", lambda *args, **kwargs: requested.append((args, kwargs)))
    prep.load_source("teknium/OpenHermes-2.5", revision=commit)
    assert requested == [(("teknium/OpenHermes-2.5",), {"split": "train", "revision": commit})]
    pinned = config(run_dir, tiny_model_dir, dataset_revision=commit).data
    assert pinned.dataset_revision == commit
    assert prep.prepared_key(pinned, "text") != prep.prepared_key(config(run_dir, tiny_model_dir).data, "text")


def test_caps_take_the_first_rows_of_each_seeded_split(run_dir, tiny_model_dir):
    cfg = config(run_dir, tiny_model_dir, max_train_samples=5, max_eval_samples=3)
    splits, _, _ = prep.prepare(cfg)
    capped = prep.apply_caps(splits, cfg.data)
    assert capped["train"]["text"] == splits["train"]["text"][:5]
    assert capped["test"]["text"] == splits["test"]["text"][:3]
    assert len(prep.apply_caps(splits, config(run_dir, tiny_model_dir, max_eval_samples=500).data)["test"]) == 12


@pytest.mark.parametrize("kind", ["parquet", "arrow", "save_to_disk"])
def test_parquet_arrow_and_saved_sources_prepare_the_same_text(run_dir, tiny_model_dir, kind):
    source = load_dataset("json", data_files=str(SAMPLE), split="train")
    if kind == "parquet":
        path = run_dir / "src.parquet"
        source.to_parquet(str(path))
    elif kind == "arrow":
        path = run_dir / "src"
        source.save_to_disk(str(path))
        path = next(path.glob("*.arrow"))
    else:
        path = run_dir / "saved"
        source.save_to_disk(str(path))
    from_jsonl, _, _ = prep.prepare(config(run_dir, tiny_model_dir, prepared_dataset_dir="j"))
    other, _, _ = prep.prepare(config(run_dir, tiny_model_dir, dataset_source=str(path), prepared_dataset_dir="o"))
    assert other["test"]["text"] == from_jsonl["test"]["text"]


def test_unknown_role_in_the_data_fails_naming_the_sample(run_dir, tiny_model_dir):
    rows = sample_rows()
    rows[5]["conversations"][0]["from"] = "narrator"
    bad = run_dir / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(Exception, match=r"sample 5, message 0: unknown role 'narrator'"):
        prep.prepare(config(run_dir, tiny_model_dir, dataset_source=str(bad)))
    assert not list((run_dir / "prepared").glob("*/stacktune-prepared.json"))


def test_missing_conversations_column_names_the_setting(run_dir, tiny_model_dir):
    with pytest.raises(ValueError, match=r"no column 'messages'.*conversationsField"):
        prep.prepare(config(run_dir, tiny_model_dir, conversations_field="messages"))


def test_missing_local_file_is_reported_as_such(run_dir, tiny_model_dir):
    with pytest.raises(FileNotFoundError, match="looks like a local path"):
        prep.prepare(config(run_dir, tiny_model_dir, dataset_source="./nope.jsonl"))


def test_entry_point_prints_sizes_after_caps(run_dir, tiny_model_dir, capsys):
    write_yaml(run_dir / "training.yaml", cpu_training_values(tiny_model_dir, max_train_samples=10))
    prep.main(["training.yaml"])
    assert "training on 10 samples, evaluating on 4 (caps applied)" in capsys.readouterr().out
