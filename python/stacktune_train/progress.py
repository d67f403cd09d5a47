"""Machine-readable progress: one ``STACKTUNE_PROGRESS {json}`` line per logging step (contracts §3).

The Pulumi side streams these lines into the ``pulumi up`` output; a person reading the raw log
sees the same numbers. ``tokens_per_s`` counts real (non-padding) tokens across all processes,
as TRL's ``num_tokens`` does.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

PREFIX = "STACKTUNE_PROGRESS "


def format_progress_line(record: dict[str, Any]) -> str:
    return PREFIX + json.dumps(record, separators=(",", ":"), allow_nan=False)


def parse_progress_line(line: str) -> dict[str, Any] | None:
    """The record on a progress line, or None for any other line."""
    if not line.startswith(PREFIX):
        return None
    return json.loads(line[len(PREFIX) :])


def emit(record: dict[str, Any]) -> None:
    # One write per line: stdout and stderr share the job log, and launch.sh's reader only takes
    # lines that *start* with the prefix.
    sys.stdout.write(format_progress_line(record) + "\n")
    sys.stdout.flush()


def summarize_log_history(log_history: list[dict[str, Any]]) -> tuple[float | None, int]:
    """(mean training loss over every logged step, total trained tokens) from ``TrainerState.log_history``.

    The history survives a resume (it is saved with each checkpoint), so both cover the whole
    training, not only the steps since the resume. TRL's ``num_tokens`` restarts at 0 in a resumed
    process; a drop marks that restart and the tokens counted before it are carried over.
    """
    weighted_loss, loss_steps, previous_step = 0.0, 0, 0
    carried, last_tokens = 0, 0
    for entry in log_history:
        if "loss" in entry and "step" in entry:
            steps = entry["step"] - previous_step
            if steps > 0 and math.isfinite(entry["loss"]):
                weighted_loss += entry["loss"] * steps
                loss_steps += steps
            previous_step = entry["step"]
        if "num_tokens" in entry and "eval_loss" not in entry:
            tokens = int(entry["num_tokens"])
            if tokens < last_tokens:
                carried += last_tokens
            last_tokens = tokens
    return (weighted_loss / loss_steps if loss_steps else None), carried + last_tokens


def last_window_loss(log_history: list[dict[str, Any]]) -> float | None:
    """The loss of the last logging window (the last ``logging_steps`` steps), or None.

    What W&B and the Trainer show as ``train/loss`` at the end of a run, and so what the reference
    run's summary reports (0.9674); the run mean of :func:`summarize_log_history` weighs every step.
    """
    losses = [entry["loss"] for entry in log_history if "loss" in entry and "step" in entry]
    return float(losses[-1]) if losses and math.isfinite(losses[-1]) else None


class ProgressCallback(TrainerCallback):
    """Prints a progress line on every training log and keeps the totals for ``metrics.json``."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._start_time = 0.0
        self._start_step = 0
        self._last_time = 0.0
        self._last_tokens = 0
        self.train_tokens = 0
        self.last_eval_loss: float | None = None

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._start_time = self._last_time = self._clock()
        self._start_step = state.global_step  # non-zero when resuming from a checkpoint
        self._last_tokens = 0

    def on_log(self, args, state: TrainerState, control, logs: dict[str, float] | None = None, **kwargs):
        logs = logs or {}
        if "num_tokens" in logs:
            self.train_tokens = max(self.train_tokens, int(logs["num_tokens"]))
        if "eval_loss" in logs:
            self.last_eval_loss = float(logs["eval_loss"])
        if "loss" not in logs or not state.is_world_process_zero:
            return
        now = self._clock()
        elapsed = max(now - self._last_time, 1e-9)
        tokens = int(logs.get("num_tokens", self._last_tokens))
        tokens_per_s = (tokens - self._last_tokens) / elapsed
        self._last_time, self._last_tokens = now, tokens
        done = state.global_step - self._start_step
        per_step = (now - self._start_time) / done if done > 0 else 0.0
        loss = float(logs["loss"])
        emit(
            {
                "phase": "train",
                "step": state.global_step,
                "total": state.max_steps,
                "loss": round(loss, 4) if math.isfinite(loss) else None,
                "tokens_per_s": round(tokens_per_s, 1),
                "elapsed_s": int(round(now - self._start_time)),
                "eta_s": int(round(per_step * max(state.max_steps - state.global_step, 0))),
            }
        )
