"""Dtypes of the model's weights around the trainer.

fp32 master weights for the trainable (LoRA) parameters: TRL's SFTTrainer casts the trainable
parameters of a quantized (4-bit) model to bfloat16, following the QLoRA paper's storage
recommendation. With bf16 weights, AdamW's updates at lr 1e-4 under a cosine schedule round to
nothing once they fall below bf16's resolution of the weight (measured: after ~2,000 steps >= 98 %
of them), so the adapter stops learning long before an epoch ends. DeepSpeed keeps fp32 master
copies in its optimizer itself (ZeRO-3, the reference recipe); plain DDP and a single process keep
whatever dtype the parameters have. Autocast (bf16: true) still runs the forward and backward in
bfloat16, so casting the small LoRA tensors back costs little speed.

Frozen weights in the compute dtype: PEFT's prepare_model_for_kbit_training (the 4-bit path
without ZeRO-3) casts every frozen weight that is not quantized (embeddings, norms, LM head: ~1 B
parameters of Llama-3-8B) to float32. The embedding then emits float32, so the whole residual
stream runs in float32 and every linear layer, LoRA dropout and the LM head casts its input (and
the LM head its 128k x 4k weight) back to bf16 on every call, forward, recompute and backward. The
weights on disk are bf16, so casting them back loses nothing; ZeRO-3 never upcasts them.
"""

import torch


def upcast_trainable_parameters(trainer) -> int:
    """Casts every trainable parameter of the trainer's model that is not float32 to float32, unless
    DeepSpeed manages the master weights; logs and returns how many tensors were cast."""
    if trainer.is_deepspeed_enabled:
        return 0
    cast = 0
    for param in trainer.model.parameters():
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.to(torch.float32)
            cast += 1
    if cast:
        print(f"[train] {cast} trainable parameter tensors cast to float32 (fp32 master weights)", flush=True)
    return cast


def frozen_weights_to(model, dtype: torch.dtype) -> int:
    """Casts the frozen float32 weights that are not 4-bit packed (prepare_model_for_kbit_training's
    upcasts) to ``dtype``; logs and returns how many tensors were cast."""
    cast = 0
    for param in model.parameters():
        if not param.requires_grad and param.dtype == torch.float32 and param.__class__.__name__ != "Params4bit":
            param.data = param.data.to(dtype)
            cast += 1
    if cast:
        print(
            f"[train] {cast} frozen weight tensors kept in {str(dtype).removeprefix('torch.')} "
            "(upcast_frozen_weights: false)",
            flush=True,
        )
    return cast
