"""Gradient checkpointing on all but the last N decoder layers (``checkpoint_skip_layers``).

Checkpointing stores each decoder layer's input only and runs the layer's forward a second time in
the backward: about a third of a QLoRA step's compute. Where the card has memory left over, the
last N layers can keep their activations instead; the result is the same (non-reentrant
checkpointing replays the same RNG state, so dropout masks match), the step does N fewer layer
recomputes. A setting too large for the card fails with an out-of-memory error, as any recipe that
does not fit. The Trainer turns checkpointing on for every layer when training starts
(``gradient_checkpointing_enable``), before the callbacks' ``on_train_begin``: that is where the
last N are turned back off.
"""

from transformers import TrainerCallback
from transformers.modeling_layers import GradientCheckpointingLayer


def checkpointed_layers(model) -> list:
    """The model's decoder layers that checkpointing wraps, in forward order."""
    return [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer) and m.gradient_checkpointing]


class CheckpointSkipCallback(TrainerCallback):
    def __init__(self, skip_layers: int) -> None:
        self.skip_layers = skip_layers

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if not self.skip_layers or not args.gradient_checkpointing or model is None:
            return
        layers = checkpointed_layers(model)
        skipped = layers[len(layers) - min(self.skip_layers, len(layers)) :]
        for layer in skipped:
            layer.gradient_checkpointing = False
        print(
            f"[train] gradient checkpointing on {len(layers) - len(skipped)} of {len(layers)} decoder layers "
            f"(checkpoint_skip_layers: {self.skip_layers})",
            flush=True,
        )
