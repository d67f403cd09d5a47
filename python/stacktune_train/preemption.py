"""Spot preemption: stop at the next step boundary with a checkpoint, and keep checkpoints off the host.

On an AWS spot instance the job's watcher (``spot-watch.sh``) polls the metadata service for
``spot/instance-action``. On a notice it writes the notice to the file named by
``STACKTUNE_PREEMPT_FILE`` (default ``preemption.json`` in the run directory). Every rank checks
that file at the end of each optimizer step (ranks agree through one all-reduce, so all of them
save the same step and none waits in a collective the others left); the trainer then saves a
checkpoint, syncs it to the checkpoint store and exits with :data:`PREEMPTED_EXIT_CODE`. AWS gives
two minutes between the notice and the termination; one step plus one checkpoint copy fits in it.

The checkpoint store (``STACKTUNE_CHECKPOINT_STORE``) is a directory. Every saved checkpoint is
copied there too, so a host that disappears without a notice loses at most one checkpoint
interval. For an S3 store, run-job.sh points this at a directory in the run directory and mirrors
it to the bucket from the host (``checkpoint-sync.sh``, the host's AWS CLI and instance role), so
neither the trainer nor the training image needs AWS tools. A Hub repo with ``hub_strategy:
checkpoint`` is another store: TRL pushes every save, the preemption save included.

Before training, :func:`restore_checkpoint` copies the newest complete checkpoint of the store into
an ``output_dir`` that has none (a fresh instance), and the trainer resumes from it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

PREEMPTED_EXIT_CODE = 85
PREEMPT_FILE_ENV = "STACKTUNE_PREEMPT_FILE"
STORE_ENV = "STACKTUNE_CHECKPOINT_STORE"
DEFAULT_PREEMPT_FILE = "preemption.json"
# Written last into a stored checkpoint: a copy cut off by the termination is never restored.
COMPLETE_MARKER = ".stacktune-complete"
# run-job.sh reads it: the run stopped for a preemption, not a failure.
STATUS_FILE = "preempted.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def log(message: str) -> None:
    print(f"[preemption] {message}", flush=True)


def preempt_file() -> Path:
    return Path(os.environ.get(PREEMPT_FILE_ENV) or DEFAULT_PREEMPT_FILE)


def checkpoint_store() -> str | None:
    return os.environ.get(STORE_ENV) or None


def _step_of(name: str) -> int | None:
    match = _CHECKPOINT.match(name)
    return int(match.group(1)) if match else None


def sync_checkpoint(checkpoint_dir: str | Path, store: str) -> str:
    """Copies one checkpoint directory into the store directory; returns where it went."""
    checkpoint_dir = Path(checkpoint_dir)
    name = checkpoint_dir.name
    root = Path(store).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    destination = root / name
    partial = root / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(checkpoint_dir, partial)
    (partial / COMPLETE_MARKER).write_text("", encoding="utf-8")
    shutil.rmtree(destination, ignore_errors=True)
    partial.rename(destination)
    # Keep the newest two: the one just written and the one before, in case this copy is bad.
    steps = sorted(s for s in (_step_of(p.name) for p in root.iterdir()) if s is not None)
    for old in steps[:-2]:
        shutil.rmtree(root / f"checkpoint-{old}", ignore_errors=True)
    return str(destination)


def restore_checkpoint(store: str, output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of the store, copied into ``output_dir`` when it has none."""
    output_dir = Path(output_dir)
    if output_dir.is_dir() and any(_step_of(p.name) is not None for p in output_dir.iterdir()):
        return None
    root = Path(store).expanduser()
    if not root.is_dir():
        return None
    complete = [(s, p) for p in root.iterdir() if (s := _step_of(p.name)) is not None and (p / COMPLETE_MARKER).is_file()]
    if not complete:
        return None
    _, newest = max(complete)
    output_dir.mkdir(parents=True, exist_ok=True)
    destination = output_dir / newest.name
    shutil.copytree(newest, destination, ignore=shutil.ignore_patterns(COMPLETE_MARKER))
    log(f"restored {newest.name} from the checkpoint store {store}")
    return destination


class PreemptionCallback(TrainerCallback):
    """Stops training with a checkpoint when a spot notice arrives; syncs every checkpoint to the store."""

    def __init__(self, store: str | None = None, flag: Path | None = None):
        self.store = store if store is not None else checkpoint_store()
        self.flag = flag if flag is not None else preempt_file()
        self.preempted_at: int | None = None
        self.notice_seen_s: float | None = None

    def _notice_on_any_rank(self, args: TrainingArguments) -> bool:
        seen = self.flag.exists()
        if args.world_size > 1:
            import torch
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():
                flag = torch.tensor([1 if seen else 0], device=args.device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                seen = bool(flag.item())
        return seen

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if self.preempted_at is None and self._notice_on_any_rank(args):
            self.preempted_at = state.global_step
            self.notice_seen_s = time.time()
            log(f"spot interruption notice: saving checkpoint-{state.global_step} and stopping")
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if self.store is None or not state.is_world_process_zero:
            return control
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        started = time.monotonic()
        try:
            where = sync_checkpoint(checkpoint, self.store)
        except OSError as error:
            # A failed copy must not end a healthy run; a preempted one reports it in its status.
            log(f"could not sync {checkpoint} to {self.store}: {error}")
            return control
        log(f"synced {checkpoint.name} to {where} in {time.monotonic() - started:.1f}s")
        return control


def finish_preempted(callback: PreemptionCallback, output_dir: str | Path, is_main_process: bool) -> None:
    """Writes the preempted status (main process) and exits with :data:`PREEMPTED_EXIT_CODE`."""
    if is_main_process:
        status = {
            "status": "preempted",
            "step": callback.preempted_at,
            "checkpoint": str(Path(output_dir) / f"checkpoint-{callback.preempted_at}"),
            "store": callback.store,
            "seconds_after_notice": round(time.time() - (callback.notice_seen_s or time.time()), 1),
        }
        Path(STATUS_FILE).write_text(json.dumps(status) + "\n", encoding="utf-8")
        log("preempted: " + json.dumps(status))
    raise SystemExit(PREEMPTED_EXIT_CODE)
