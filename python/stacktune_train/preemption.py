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

A checkpoint counts only once it is complete: :class:`PreemptionCallback` writes
:data:`COMPLETE_MARKER` into it from ``on_save`` (which the Trainer calls after ``_save_checkpoint``
returned: weights, optimizer, scheduler, every process's RNG state, trainer state), after a barrier
so that every process has written its part. A marker rather than a manifest of names and hashes:
the Trainer's file set varies (ZeRO-3 shards, one RNG file per process, a scaler), and hashing
gigabytes of shards does not fit in the two minutes of a spot notice. A checkpoint without the
marker was cut off (host lost during a save) and is never resumed from, synced or restored.

Several machines (``torchrun --nnodes N``, ``save_on_each_node``): each machine saves its own
checkpoints (DDP: a full copy with its own processes' RNG states; ZeRO-3: its own shards), syncs them
to ``machine-<rank>/`` of the store (machines may share one store: a bucket, a shared directory) and
restores them from there. Before training, :func:`resume_step` gathers every process's list of
complete checkpoints and all resume from the newest step complete on every machine (computed the same
way on every process from the same gathered lists, so no process's answer differs and none waits on
another's choice).
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
# Checkpoints kept in a store and restored from it: the newest, and the one before in case it is bad.
STORE_KEEP = 2


def log(message: str) -> None:
    print(f"[preemption] {message}", flush=True)


def preempt_file() -> Path:
    return Path(os.environ.get(PREEMPT_FILE_ENV) or DEFAULT_PREEMPT_FILE)


def checkpoint_store() -> str | None:
    return os.environ.get(STORE_ENV) or None


def _step_of(name: str) -> int | None:
    match = _CHECKPOINT.match(name)
    return int(match.group(1)) if match else None


def checkpoints(folder: str | Path) -> list[tuple[int, Path]]:
    """Every ``checkpoint-N`` directory of ``folder``, oldest step first (complete or not)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted((step, p) for p in folder.iterdir() if (step := _step_of(p.name)) is not None and p.is_dir())


def is_complete(checkpoint: Path) -> bool:
    return (checkpoint / COMPLETE_MARKER).is_file()


def complete_steps(folder: str | Path) -> list[int]:
    return [step for step, path in checkpoints(folder) if is_complete(path)]


def _remove(checkpoint: Path) -> None:
    # The marker goes first: a removal cut short, or a mirror upload racing it, never leaves a
    # marker vouching for a partial directory.
    (checkpoint / COMPLETE_MARKER).unlink(missing_ok=True)
    shutil.rmtree(checkpoint, ignore_errors=True)


def _copy_complete(source: Path, destination: Path) -> None:
    """Copies a checkpoint beside ``destination`` and renames it into place, the marker written last."""
    partial = destination.parent / f".{destination.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial, ignore=shutil.ignore_patterns(COMPLETE_MARKER))
    (partial / COMPLETE_MARKER).write_text("", encoding="utf-8")
    if destination.exists():
        _remove(destination)
    partial.rename(destination)


def this_machine() -> tuple[int, int]:
    """(machine rank, number of machines) from torchrun's environment (GROUP_RANK is the node rank)."""
    world = int(os.environ.get("WORLD_SIZE") or 1)
    local = int(os.environ.get("LOCAL_WORLD_SIZE") or world)
    return int(os.environ.get("GROUP_RANK") or 0), max(1, world // max(1, local))


def machine_store(store: str) -> Path:
    """This machine's part of the store: the store itself on one machine, ``machine-<rank>/`` on several."""
    rank, machines = this_machine()
    root = Path(store).expanduser()
    return root / f"machine-{rank}" if machines > 1 else root


def sync_checkpoint(checkpoint_dir: str | Path, store: str | Path) -> str | None:
    """Copies one complete checkpoint into the store directory; returns where it went (None: incomplete)."""
    checkpoint_dir = Path(checkpoint_dir)
    if not is_complete(checkpoint_dir):
        log(f"not syncing {checkpoint_dir.name}: it is incomplete (no {COMPLETE_MARKER})")
        return None
    root = Path(store).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    destination = root / checkpoint_dir.name
    _copy_complete(checkpoint_dir, destination)
    # Keep the newest STORE_KEEP: the one just written and the one before, in case this copy is bad.
    for _, old in checkpoints(root)[:-STORE_KEEP]:
        _remove(old)
    return str(destination)


def restore_checkpoints(store: str | Path, output_dir: str | Path) -> list[Path]:
    """Copies the store's newest complete checkpoints that ``output_dir`` lacks (complete) into it."""
    root, output_dir = Path(store).expanduser(), Path(output_dir)
    local = set(complete_steps(output_dir))
    wanted = [(step, path) for step, path in checkpoints(root) if is_complete(path)][-STORE_KEEP:]
    restored = []
    for step, path in wanted:
        if step in local:
            continue
        output_dir.mkdir(parents=True, exist_ok=True)
        _copy_complete(path, output_dir / path.name)
        restored.append(output_dir / path.name)
    if restored:
        log(f"restored {', '.join(p.name for p in restored)} from the checkpoint store {root}")
    return restored


def _gather(value, args: TrainingArguments) -> list:
    """``value`` of every process, in rank order (just ``[value]`` without torch.distributed)."""
    if args.world_size > 1:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            gathered = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, value)
            return gathered
    return [value]


def _barrier(args: TrainingArguments) -> None:
    if args.world_size > 1:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()


def resume_step(output_dir: str | Path, args: TrainingArguments) -> int | None:
    """The newest step complete on every machine (every process lists its machine's ``output_dir``)."""
    rank, _ = this_machine()
    listed = _gather((rank, complete_steps(output_dir)), args)
    common = set.intersection(*(set(steps) for _, steps in listed))
    step = max(common) if common else None
    newest = dict(sorted((machine, max(steps, default=None)) for machine, steps in listed))
    if len(set(newest.values())) > 1:
        per_machine = ", ".join(
            f"machine {m} " + (f"checkpoint-{s}" if s is not None else "none") for m, s in newest.items()
        )
        ahead = max(s for s in newest.values() if s is not None)
        log(
            f"checkpoint-{ahead} is not complete on every machine (newest complete: {per_machine}); "
            + (
                f"every machine resumes from checkpoint-{step}"
                if step is not None
                else "every machine starts from step 0"
            )
        )
    return step


def discard_unusable(output_dir: str | Path, step: int | None) -> None:
    """Removes checkpoints that resume must not see: incomplete ones, and ones newer than ``step``.

    The Trainer would later save into a directory of the same name (a stale marker would then vouch
    for a half-overwritten directory) and its rotation, ordered by time, could delete the checkpoint
    just saved instead of such a leftover.
    """
    for found, path in checkpoints(output_dir):
        if not is_complete(path):
            log(f"skipped {path.name}: incomplete (the save was cut off before it finished)")
        elif step is None or found > step:
            log(f"skipped {path.name}: not complete on every machine")
        else:
            continue
        _remove(path)


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
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        # Every process writes part of a checkpoint (its RNG state, its ZeRO shards): it is complete
        # only once all of them returned from the save.
        _barrier(args)
        # should_save: the process that writes this machine's checkpoints (each machine's first with
        # save_on_each_node, else the main process).
        if not args.should_save:
            return control
        (checkpoint / COMPLETE_MARKER).write_text("", encoding="utf-8")
        if self.store is None:
            return control
        started = time.monotonic()
        try:
            where = sync_checkpoint(checkpoint, machine_store(self.store))
        except OSError as error:
            # A failed copy must not end a healthy run; a preempted one reports it in its status.
            log(f"could not sync {checkpoint} to {self.store}: {error}")
            return control
        log(f"synced {checkpoint.name} to {where} in {time.monotonic() - started:.1f}s")
        return control


def finish_preempted(callback: PreemptionCallback, output_dir: str | Path, is_machine_main: bool) -> None:
    """Writes the preempted status (each machine's first process: every machine's run-job.sh reads its
    own) and exits with :data:`PREEMPTED_EXIT_CODE`."""
    if is_machine_main:
        status = {
            "status": "preempted",
            "step": callback.preempted_at,
            "checkpoint": str(Path(output_dir) / f"checkpoint-{callback.preempted_at}"),
            "store": str(machine_store(callback.store)) if callback.store is not None else None,
            "seconds_after_notice": round(time.time() - (callback.notice_seen_s or time.time()), 1),
        }
        Path(STATUS_FILE).write_text(json.dumps(status) + "\n", encoding="utf-8")
        log("preempted: " + json.dumps(status))
    raise SystemExit(PREEMPTED_EXIT_CODE)
