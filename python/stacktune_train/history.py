"""The run's per-step history: one JSON object a line in ``<output_dir>/metrics-history.jsonl``.

Each training log adds ``{"step", "elapsed_s", "loss", "learning_rate", "num_tokens", "tokens_per_s",
"gpu_memory_gib", "cpu_memory_gib"}`` and each evaluation ``{"step", "elapsed_s", "eval_loss", ...}``
(the Trainer's ``log_history`` keys, plus throughput and memory, which it does not keep). The file
travels with the model (merge, publish) so the plots (``stacktune_train.plots``) and the CLI's
comparison report (``stacktune report``) read the same numbers. Memory is the peak since the
previous line: ``gpu_memory_gib`` of this process's GPU (None on a CPU run), ``cpu_memory_gib`` the
process's resident memory.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

HISTORY_FILE = "metrics-history.jsonl"
# Trainer log keys kept as they are; everything else it logs (runtime summaries) is left out.
KEPT_KEYS = ("epoch", "loss", "eval_loss", "learning_rate", "grad_norm", "num_tokens")
GIB = 1024**3


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """The records of a history file, in order; an absent file is an empty history."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _finite(value: Any) -> Any:
    # JSON has no NaN: a diverged loss is written as null (the plots leave a gap).
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _memory() -> tuple[float | None, float | None]:
    import psutil
    import torch

    gpu = None
    if torch.cuda.is_available():
        gpu = torch.cuda.max_memory_allocated() / GIB
        torch.cuda.reset_peak_memory_stats()
    return gpu, psutil.Process().memory_info().rss / GIB


class HistoryCallback(TrainerCallback):
    """Appends one history record per Trainer log on the world's main process."""

    def __init__(self, output_dir: str | Path, clock=time.monotonic, memory=_memory) -> None:
        self.path = Path(output_dir) / HISTORY_FILE
        self._clock, self._memory = clock, memory
        self._start = self._last_time = 0.0
        self._offset = 0.0
        self._last_tokens = 0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._start = self._last_time = self._clock()
        if not state.is_world_process_zero:
            return
        # A resumed run keeps the records up to its checkpoint; later ones are trained again.
        kept = [r for r in read_history(self.path) if r.get("step", 0) <= state.global_step]
        self._offset = max((r.get("elapsed_s", 0.0) for r in kept), default=0.0)
        self._last_tokens = 0  # TRL's num_tokens restarts at 0 in a resumed process
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")

    def on_log(self, args, state: TrainerState, control, logs: dict[str, float] | None = None, **kwargs):
        logs = logs or {}
        if not state.is_world_process_zero or not ("loss" in logs or "eval_loss" in logs):
            return
        now = self._clock()
        record: dict[str, Any] = {"step": state.global_step, "elapsed_s": round(self._offset + now - self._start, 3)}
        record.update({key: _finite(logs[key]) for key in KEPT_KEYS if key in logs})
        if "loss" in logs:
            tokens = int(logs.get("num_tokens", self._last_tokens))
            record["tokens_per_s"] = round(max(tokens - self._last_tokens, 0) / max(now - self._last_time, 1e-9), 1)
            self._last_time, self._last_tokens = now, tokens
        gpu, cpu = self._memory()
        record["gpu_memory_gib"] = None if gpu is None else round(gpu, 3)
        record["cpu_memory_gib"] = None if cpu is None else round(cpu, 3)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
