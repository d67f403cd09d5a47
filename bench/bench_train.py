"""Run the project's trainer with a timing callback injected; nothing in python/ is changed.

usage (what bench/gpu_recipes.sh runs, cwd = the recipe's run directory):
  accelerate launch --config_file accelerate.yaml /path/to/bench/bench_train.py training.yaml [flags]

Before the trainer is imported it caps this process's GPU memory at
STACKTUNE_GPU_MEMORY_FRACTION of the card (set_per_process_memory_fraction: an allocation past
it raises OOM as a 24 GB card would), then wraps ``transformers.Trainer.__init__`` so every
Trainer gets :class:`BenchCallback`, and runs STACKTUNE_BENCH_TRAINER (default
``stacktune_train.train``) as ``__main__``.

BenchCallback, per optimizer step on every rank: wall time between consecutive step ends (after a
CUDA sync), the loss and TRL's cumulative ``num_tokens`` (real tokens: attention-mask sum, or
the flattened length with padding-free) from the step's log, and max_memory_reserved /
max_memory_allocated; each rank rewrites STACKTUNE_BENCH_OUT with ``.rank<N>`` before ``.json`` after
every step (bench/summarize.py merges them), so a run cut off by a timeout keeps its steps.
"""
from __future__ import annotations

import json
import os
import runpy
import sys
import time


def _cap_memory() -> None:
    frac = os.environ.get("STACKTUNE_GPU_MEMORY_FRACTION")
    import torch

    if frac and torch.cuda.is_available():
        dev = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(dev)
        torch.cuda.set_per_process_memory_fraction(float(frac), dev)


def _install_callback() -> None:
    import torch
    import transformers
    from transformers import TrainerCallback

    class BenchCallback(TrainerCallback):
        def __init__(self) -> None:
            self.rank = int(os.environ.get("RANK", "0"))
            self.steps: list[dict] = []
            self.logs: list[dict] = []
            self.t_last: float | None = None
            self.t_begin = None
            self.load_peak = None

        def on_train_begin(self, args, state, control, **kw):
            torch.cuda.synchronize()
            self.load_peak = {
                "reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
                "allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
            }
            self.t_begin = self.t_last = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            torch.cuda.synchronize()
            now = time.perf_counter()
            self.steps.append({
                "step": state.global_step,
                "time_s": now - self.t_last,
                "reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
                "allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
            })
            self.t_last = now
            self._dump()

        def _dump(self, final: dict | None = None) -> None:
            """Every rank rewrites its own file after each step, so a run cut off by a timeout still
            leaves its measured steps (OUT.rank<N>.json; rank 0's also has the logs)."""
            out = os.environ.get("STACKTUNE_BENCH_OUT")
            if not out:
                return
            mine = {
                "rank": self.rank,
                "device": torch.cuda.get_device_name(),
                "load_peak": self.load_peak,
                "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
                "peak_allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
                "steps": self.steps,
                "logs": self.logs,
                "train_wall_s": time.perf_counter() - self.t_begin,
                "finished": final is not None,
            }
            path = out.replace(".json", f".rank{self.rank}.json")
            with open(path + ".tmp", "w") as f:
                json.dump(mine, f)
            os.replace(path + ".tmp", path)

        def on_log(self, args, state, control, logs=None, **kw):
            if logs:
                self.logs.append({"step": state.global_step, **{k: v for k, v in logs.items()
                                                                 if isinstance(v, (int, float))}})

        def on_train_end(self, args, state, control, **kw):
            torch.cuda.synchronize()
            self._dump(final={})

    original_init = transformers.Trainer.__init__

    def patched_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.add_callback(BenchCallback())

    transformers.Trainer.__init__ = patched_init


def main() -> None:
    _cap_memory()
    _install_callback()
    module = os.environ.get("STACKTUNE_BENCH_TRAINER", "stacktune_train.train")
    sys.argv = [module, *sys.argv[1:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
