"""fp32 master weights for the LoRA parameters (issue 14 item 6).

TRL's SFTTrainer casts the trainable parameters of a 4-bit (quantized) model to bfloat16, and
under plain DDP (and a single process) nothing casts them back: AdamW then updates bf16 weights,
whose 8-bit mantissa rounds small lr-1e-4 updates to nothing. DeepSpeed ZeRO-3 (the reference
recipe) keeps fp32 master copies in its optimizer itself, so it needs no cast and gets none; it
needs GPUs, so it is not run here. The 4-bit model is real: bitsandbytes' CPU backend quantizes
the tiny Llama to nf4 on this machine, the same code path (`load_in_4bit`) a GPU host takes.
"""

import torch

from conftest import cpu_training_values, write_yaml
from stacktune_train import train
from stacktune_train.config import parse_config


def trainable_dtypes_at_train_start(monkeypatch, run_dir, tiny_model_dir, **overrides):
    """Runs one training step and returns the trainable parameters' dtypes as `train()` starts."""
    seen = {}
    original = train.SFTTrainer.train

    def train_spy(self, *args, **kwargs):
        seen["dtypes"] = {p.dtype for p in self.model.parameters() if p.requires_grad}
        seen["count"] = sum(1 for p in self.model.parameters() if p.requires_grad)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(train.SFTTrainer, "train", train_spy)
    values = cpu_training_values(tiny_model_dir, max_steps=1, save_strategy="no", **overrides)
    train.main(parse_config(write_yaml(run_dir / "training.yaml", values), []))
    return seen


def test_qlora_lora_weights_train_in_float32_with_bf16_compute(monkeypatch, run_dir, tiny_model_dir, capfd):
    seen = trainable_dtypes_at_train_start(
        monkeypatch,
        run_dir,
        tiny_model_dir,
        load_in_4bit=True,
        bf16=True,
        bnb_4bit_compute_dtype="bfloat16",
        bnb_4bit_quant_storage="bfloat16",
    )
    assert seen["count"] == 2 * 7 * 2  # lora_A and lora_B on every linear layer of 2 layers
    assert seen["dtypes"] == {torch.float32}
    assert "[train] 28 trainable parameter tensors cast to float32 (fp32 master weights)" in capfd.readouterr().out


def test_full_precision_lora_stays_float32_and_nothing_is_cast(monkeypatch, run_dir, tiny_model_dir, capfd):
    seen = trainable_dtypes_at_train_start(monkeypatch, run_dir, tiny_model_dir)
    assert seen["dtypes"] == {torch.float32}
    assert "cast to float32" not in capfd.readouterr().out


def test_two_process_ddp_qlora_casts_on_every_rank(tmp_path, tiny_model_dir):
    """DDP over gloo on CPU, as `accelerate launch` starts the ranks: each rank casts its own copy."""
    import os
    import subprocess
    import sys

    from test_entry_points import free_port

    write_yaml(
        tmp_path / "training.yaml",
        cpu_training_values(tiny_model_dir, max_steps=2, save_strategy="no", load_in_4bit=True, bf16=True),
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(free_port()),
            "-m",
            "stacktune_train.train",
            "training.yaml",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-6000:]
    assert result.stdout.count("[train] 28 trainable parameter tensors cast to float32 (fp32 master weights)") == 2


def frozen_dtypes_at_train_start(monkeypatch, run_dir, tiny_model_dir, **overrides):
    """The dtypes of the frozen weights that are not 4-bit packed, and of the embedding's output, as `train()` starts."""
    seen = {}
    original = train.SFTTrainer.train

    def train_spy(self, *args, **kwargs):
        frozen = [p for p in self.model.parameters() if not p.requires_grad and p.__class__.__name__ != "Params4bit"]
        seen["frozen"] = {p.dtype for p in frozen}
        seen["trainable"] = {p.dtype for p in self.model.parameters() if p.requires_grad}
        embed = self.model.get_input_embeddings()
        seen["embedding_out"] = embed(torch.tensor([[1, 2]], device=embed.weight.device)).dtype
        return original(self, *args, **kwargs)

    monkeypatch.setattr(train.SFTTrainer, "train", train_spy)
    values = cpu_training_values(
        tiny_model_dir, max_steps=1, save_strategy="no", load_in_4bit=True, bf16=True, **overrides
    )
    train.main(parse_config(write_yaml(run_dir / "training.yaml", values), []))
    return seen


def test_qlora_frozen_weights_are_upcast_to_float32_when_asked(monkeypatch, run_dir, tiny_model_dir):
    """PEFT's prepare_model_for_kbit_training (the default before 2026-12): embeddings, norms and LM head in float32."""
    seen = frozen_dtypes_at_train_start(monkeypatch, run_dir, tiny_model_dir, upcast_frozen_weights=True)
    assert seen["frozen"] == {torch.float32}
    assert seen["embedding_out"] == torch.float32


def test_qlora_frozen_weights_stay_in_compute_dtype_by_default(monkeypatch, run_dir, tiny_model_dir, capfd):
    """upcast_frozen_weights: false: the residual stream starts in bf16 (as under ZeRO-3), the LoRA weights stay fp32."""
    seen = frozen_dtypes_at_train_start(monkeypatch, run_dir, tiny_model_dir)
    assert seen["frozen"] == {torch.bfloat16}
    assert seen["embedding_out"] == torch.bfloat16
    assert seen["trainable"] == {torch.float32}
    # tiny Llama, 2 layers: embed_tokens, lm_head, final norm, 2 norms per layer
    assert "[train] 7 frozen weight tensors kept in bfloat16 (upcast_frozen_weights: false)" in capfd.readouterr().out
