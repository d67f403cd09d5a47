"""checkpoint_skip_layers: the last N decoder layers keep their activations, the rest are recomputed."""

import torch

from conftest import cpu_training_values, write_yaml
from stacktune_train import train
from stacktune_train.config import parse_config


def run_counting_layer_forwards(monkeypatch, run_dir, tiny_model_dir, **overrides):
    """One optimizer step of one micro-batch; returns how often each decoder layer's forward ran, and the losses."""
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer

    calls = {}
    original = LlamaDecoderLayer.forward

    def counting_forward(self, *args, **kwargs):
        if self.training and torch.is_grad_enabled():
            calls[self.self_attn.layer_idx] = calls.get(self.self_attn.layer_idx, 0) + 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LlamaDecoderLayer, "forward", counting_forward)
    values = cpu_training_values(
        tiny_model_dir,
        max_steps=1,
        save_strategy="no",
        gradient_checkpointing=True,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        **overrides,
    )
    metrics = train.main(parse_config(write_yaml(run_dir / "training.yaml", values), []))
    return calls, metrics


def test_last_layer_is_not_recomputed_and_the_loss_is_the_same(monkeypatch, run_dir, tiny_model_dir, tmp_path, capfd):
    full, full_metrics = run_counting_layer_forwards(monkeypatch, run_dir, tiny_model_dir)
    assert full == {0: 2, 1: 2}  # forward + recompute in the backward, every layer
    other = tmp_path / "skip"
    other.mkdir()
    skip, skip_metrics = run_counting_layer_forwards(monkeypatch, other, tiny_model_dir, checkpoint_skip_layers=1)
    assert skip == {0: 2, 1: 1}
    assert (
        "[train] gradient checkpointing on 1 of 2 decoder layers (checkpoint_skip_layers: 1)" in capfd.readouterr().out
    )
    assert skip_metrics["train_loss"] == full_metrics["train_loss"]


def test_negative_skip_is_refused_naming_the_key(run_dir, tiny_model_dir):
    import pytest

    from stacktune_train.config import ConfigError

    values = cpu_training_values(tiny_model_dir, checkpoint_skip_layers=-1)
    with pytest.raises(ConfigError, match="checkpoint_skip_layers must be 0 or more, got -1"):
        parse_config(write_yaml(run_dir / "training.yaml", values), [])
