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

``--bench_compile_layers true`` (taken out of the flags before the trainer parses them) is a
candidate measured here only, not a setting: regional ``torch.compile`` of every decoder layer,
in place, when training starts (issue 16).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import time


def _cap_memory() -> None:
    """STACKTUNE_GPU_MEMORY_GIB (e.g. 24 for an RTX 4090) becomes this card's fraction, computed
    from its real total memory; it is exported as STACKTUNE_GPU_MEMORY_FRACTION, which the trainer
    applies again (same value) and logs. A plain STACKTUNE_GPU_MEMORY_FRACTION is used as given."""
    import torch

    if not torch.cuda.is_available():
        return
    dev = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(dev)
    gib = os.environ.get("STACKTUNE_GPU_MEMORY_GIB")
    if gib:
        total = torch.cuda.get_device_properties(dev).total_memory
        os.environ["STACKTUNE_GPU_MEMORY_FRACTION"] = f"{float(gib) * 2**30 / total:.6f}"
        print(
            f"[bench] GPU {dev}: {total / 2**30:.2f} GiB; cap {gib} GiB = fraction "
            f"{os.environ['STACKTUNE_GPU_MEMORY_FRACTION']}",
            flush=True,
        )
    frac = os.environ.get("STACKTUNE_GPU_MEMORY_FRACTION")
    if frac:
        torch.cuda.set_per_process_memory_fraction(float(frac), dev)


# kernel-name patterns per category, first match wins (lower case)
KERNEL_CATEGORIES = (
    ("attention", ("flash", "fmha", "cudnn", "sdpa", "attention")),
    ("bitsandbytes dequant", ("kdequantize", "dequant")),
    ("liger / triton", ("liger", "_rms_norm", "_swiglu", "_rope", "triton")),
    ("matrix products", ("gemm", "nvjet", "cutlass", "sm90_", "matmul", "cublas", "xmma")),
    ("copies and casts", ("copy", "cast", "catarray", "memcpy", "memset", "fill")),
    ("dropout", ("fused_dropout", "bernoulli", "dropout")),
    ("elementwise", ("elementwise", "vectorized", "unrolled", "reduce")),
)


def kernel_breakdown(prof, steps: int) -> dict:
    """GPU kernel time of the profiled steps by category (ms per step) and the 15 largest kernels."""
    totals, kernels = {}, []
    for evt in prof.key_averages():
        t = getattr(evt, "self_device_time_total", None) or getattr(evt, "self_cuda_time_total", 0)
        if not t or evt.device_type.name != "CUDA":
            continue
        name = evt.key.lower()
        cat = next((c for c, pats in KERNEL_CATEGORIES if any(p in name for p in pats)), "other")
        totals[cat] = totals.get(cat, 0.0) + t / 1000 / steps
        kernels.append((t / 1000 / steps, evt.count // steps, evt.key[:120], cat))
    kernels.sort(reverse=True)
    total = sum(totals.values())
    return {
        "steps": steps,
        "kernel_ms_per_step": round(total, 1),
        "by_category_ms": {k: round(v, 1) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])},
        "by_category_pct": {k: round(100 * v / total, 1) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])},
        "top_kernels": [{"ms": round(ms, 2), "calls": n, "name": k, "category": c} for ms, n, k, c in kernels[:15]],
    }


def _pop_flag(argv: list[str], name: str) -> str | None:
    """Remove ``--name VALUE`` from argv (a bench-only flag the trainer's parser would reject)."""
    if name not in argv:
        return None
    i = argv.index(name)
    value = argv[i + 1] if i + 1 < len(argv) else ""
    del argv[i : i + 2]
    return value


def compile_layers(model) -> int:
    """Regional torch.compile: each decoder layer's own call is compiled in place (Module.compile),
    so the checkpointing wrapper around it (transformers' GradientCheckpointingLayer) stays eager
    and the 32 identical layers share one compiled graph. A frame that fails to compile runs
    eagerly (suppress_errors) so the candidate reports a speed rather than a trace error."""
    import torch
    from transformers.modeling_layers import GradientCheckpointingLayer

    torch._dynamo.config.suppress_errors = True
    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    for layer in layers:
        layer.compile()
    return len(layers)


def _trainable(model):
    """(name, full tensor) of every trainable parameter; under ZeRO-3 each is gathered first."""
    import contextlib

    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        gather = contextlib.nullcontext()
        if hasattr(param, "ds_id"):  # a ZeRO-3 partitioned parameter
            import deepspeed

            gather = deepspeed.zero.GatheredParameters([param], modifier_rank=None)
        with gather:
            yield name, param.detach().float().cpu().clone()


def adapter_snapshot(model) -> dict:
    return dict(_trainable(model))


def update_norm(model, before: dict) -> dict:
    """How far training moved the adapter: ||W_end - W_begin|| over all trainable tensors, relative to
    ||W_begin||, and the share of elements that did not change at all (bf16 updates that round to
    nothing show up there)."""
    diff_sq = base_sq = 0.0
    unchanged = total = 0
    for name, after in _trainable(model):
        d = after - before[name]
        diff_sq += float((d * d).sum())
        base_sq += float((before[name] * before[name]).sum())
        unchanged += int((d == 0).sum())
        total += d.numel()
    return {
        "update_norm": diff_sq**0.5,
        "initial_norm": base_sq**0.5,
        "relative": (diff_sq / base_sq) ** 0.5 if base_sq else None,
        "unchanged_share": unchanged / total if total else None,
        "elements": total,
    }


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
            rng = os.environ.get("BENCH_PROFILE_STEPS")
            self.profile_range = tuple(int(x) for x in rng.split("-")) if rng else None
            self.prof = None
            self.profile = None
            self.snapshot = None
            self.update = None

        def on_train_begin(self, args, state, control, model=None, **kw):
            if model is not None:
                self.snapshot = adapter_snapshot(model)
                if COMPILE_LAYERS:
                    print(f"[bench] torch.compile on {compile_layers(model)} decoder layers", flush=True)
            torch.cuda.synchronize()
            self.load_peak = {
                "reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
                "allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
            }
            self.t_begin = self.t_last = time.perf_counter()

        def on_step_begin(self, args, state, control, **kw):
            # BENCH_PROFILE_STEPS=a-b: torch.profiler over optimizer steps a..b (1-based) on rank 0;
            # those steps are marked "profiled" and left out of the timing by summarize.py
            if self.profile_range and self.rank == 0 and state.global_step + 1 == self.profile_range[0]:
                from torch.profiler import ProfilerActivity, profile

                self.prof = profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])
                self.prof.__enter__()

        def on_step_end(self, args, state, control, **kw):
            torch.cuda.synchronize()
            now = time.perf_counter()
            self.steps.append(
                {
                    "step": state.global_step,
                    "time_s": now - self.t_last,
                    "reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
                    "allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
                    "profiled": self.prof is not None,
                }
            )
            if self.prof is not None and state.global_step == self.profile_range[1]:
                self.prof.__exit__(None, None, None)
                self.profile = kernel_breakdown(self.prof, self.profile_range[1] - self.profile_range[0] + 1)
                self.prof = None
                self.t_last = time.perf_counter()  # leave the profiler's own export time out
            else:
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
                "profile": self.profile,
                "adapter_update": self.update,
            }
            path = out.replace(".json", f".rank{self.rank}.json")
            with open(path + ".tmp", "w") as f:
                json.dump(mine, f)
            os.replace(path + ".tmp", path)

        def on_log(self, args, state, control, logs=None, **kw):
            if logs:
                self.logs.append(
                    {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
                )

        def on_train_end(self, args, state, control, model=None, **kw):
            torch.cuda.synchronize()
            if model is not None and self.snapshot is not None:
                try:
                    self.update = update_norm(model, self.snapshot)
                except Exception as exc:  # a figure of the report, never a reason to fail the run
                    self.update = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            if COMPILE_LAYERS:
                from torch._dynamo.utils import counters

                print(
                    f"[bench] dynamo: {dict(counters['stats'])}, graph breaks "
                    f"{sum(counters['graph_break'].values())}: {dict(counters['graph_break'])}"[:2000],
                    flush=True,
                )
            self._dump(final={})

    original_init = transformers.Trainer.__init__

    def patched_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.add_callback(BenchCallback())

    transformers.Trainer.__init__ = patched_init


COMPILE_LAYERS = False


def main() -> None:
    global COMPILE_LAYERS
    COMPILE_LAYERS = (_pop_flag(sys.argv, "--bench_compile_layers") or "false").lower() == "true"
    _cap_memory()
    _install_callback()
    module = os.environ.get("STACKTUNE_BENCH_TRAINER", "stacktune_train.train")
    sys.argv = [module, *sys.argv[1:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
