"""The evaluation gate after the merge: a merge error fails it, and a failed gate publishes nothing.

The run is the shared tiny training run (conftest.trained_run); the Hub is conftest's recording
stand-in for ``HfApi``, so "nothing published" is asserted as "no Hub call at all".
"""

import json

import pytest
import torch
from peft.tuners.lora import LoraModel

from stacktune_train import gate, merge, publish
from stacktune_train.config import ConfigError, parse_config
from stacktune_train.store import COMPLETION_MARKER


def config(run, tmp_path, *overrides):
    return parse_config(
        run / "training.yaml",
        [
            "--output_store_dir",
            str(tmp_path / "store"),
            "--merged_repo_id",
            "me/merged",
            "--adapter_repo_id",
            "me/a",
            *overrides,
        ],
    )


def test_a_correct_merge_passes_the_gate_with_its_sample_and_losses_recorded(run, tmp_path):
    cfg = config(run, tmp_path)
    merged_dir = merge.main(cfg)
    record = json.loads((merged_dir / gate.GATE_RECORD).read_text())
    assert record["passed"] is True
    # The same weights, merged or not: the losses agree to float precision.
    assert record["merged_loss"] == pytest.approx(record["adapter_loss"], rel=1e-4)
    # The fixed sample: the first rows of the seeded test split, named and digested.
    test_rows = 12  # 40 sample conversations, test_size 0.3 (conftest)
    assert (record["samples"], record["split_seed"], record["indices"]) == (test_rows, 100, list(range(test_rows)))
    assert record["sample_sha256"] == gate.held_out_sample(cfg).digest
    metrics = json.loads((run / "out" / "metrics.json").read_text())
    assert {k: metrics[k] for k in ("gate_samples", "gate_tolerance", "gate_passed")} == {
        "gate_samples": test_rows,
        "gate_tolerance": 0.05,
        "gate_passed": 1,
    }
    assert metrics["gate_merged_loss"] == record["merged_loss"]
    card = (merged_dir / "README.md").read_text()
    assert (
        f"- evaluation gate: passed: merged model loss {record['merged_loss']:.4f}, adapter loss "
        f"{record['adapter_loss']:.4f}, tolerance 0.05 (relative)"
    ) in card
    assert f"texts sha256 `{record['sample_sha256']}`" in card


def test_a_corrupted_merge_fails_the_gate_saying_why_and_publishes_nothing(run, tmp_path, monkeypatch, hub):
    cfg = config(run, tmp_path)
    merge.main(cfg)  # a previous, good merge of this experiment is in the run directory
    merge_and_unload = LoraModel.merge_and_unload  # what PeftModel.merge_and_unload() calls

    def corrupted(self, *args, **kwargs):
        merged = merge_and_unload(self, *args, **kwargs)
        with torch.no_grad():  # a merge that corrupts a weight: the output layer comes out scaled 20x
            merged.lm_head.weight.mul_(20.0)
        return merged

    monkeypatch.setattr(LoraModel, "merge_and_unload", corrupted)
    with pytest.raises(SystemExit) as failed:
        merge.main(cfg)
    message = str(failed.value)
    metrics = json.loads((run / "out" / "metrics.json").read_text())
    assert metrics["gate_passed"] == 0 and metrics["gate_merged_loss"] > metrics["gate_adapter_loss"] * 1.05
    assert message.startswith(
        "stacktune: evaluation gate failed: the merged model loss "
        f"{metrics['gate_merged_loss']:.4f} vs adapter loss {metrics['gate_adapter_loss']:.4f} "
        "on 12 held-out samples (split_seed 100): FAILED (tolerance 0.05: at most "
    )
    assert "nothing is published" in message
    assert "raise stacktune:evaluation.gate.tolerance (now 0.05)" in message
    # No merged model is left for a later step to publish, not even the earlier good one.
    assert not (run / "merged").exists()
    with pytest.raises(SystemExit, match="holds no merged model"):
        publish.main(cfg)
    assert hub.calls == []
    assert not (tmp_path / "store").exists()


def test_publish_refuses_a_merged_model_without_a_passed_gate(run, tmp_path, hub):
    cfg = config(run, tmp_path)
    merged_dir = merge.main(cfg)
    record = json.loads((merged_dir / gate.GATE_RECORD).read_text())
    (merged_dir / gate.GATE_RECORD).write_text(json.dumps({**record, "merged_loss": 9.5, "passed": False}))
    with pytest.raises(
        SystemExit,
        match=r"evaluation gate failed .*merged model loss 9.5 vs adapter loss .*"
        r"stacktune:evaluation\.gate\.tolerance",
    ):
        publish.main(cfg)
    (merged_dir / gate.GATE_RECORD).unlink()
    with pytest.raises(SystemExit, match=r"no evaluation gate record \(stacktune-gate.json\)"):
        publish.main(cfg)
    assert hub.calls == []
    assert not (merged_dir / COMPLETION_MARKER).exists()


def test_the_gate_can_be_turned_off(run, tmp_path):
    cfg = config(run, tmp_path, "--gate_enabled", "false")
    merged_dir = merge.main(cfg)
    assert not (merged_dir / gate.GATE_RECORD).exists()
    assert "- evaluation gate: off (evaluation.gate.enabled: false)" in (merged_dir / "README.md").read_text()


@pytest.mark.parametrize(
    ("flag", "value", "problem"),
    [
        ("--gate_tolerance", "1.5", "gate_tolerance must be a fraction between 0 and 1, got 1.5"),
        ("--gate_samples", "0", "gate_samples must be at least 1, got 0"),
    ],
)
def test_gate_settings_are_validated(run, tmp_path, flag, value, problem):
    with pytest.raises(ConfigError, match=problem):
        config(run, tmp_path, flag, value)
