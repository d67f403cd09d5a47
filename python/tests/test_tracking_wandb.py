"""W&B tracking (`tracking.kind: wandb`, rendered as `report_to: [wandb]`): a real wandb run in offline
mode, as a GPU host without network would make it. The training step runs as its own process, as
launch.sh runs it, so wandb finishes the run at exit as it does on a host. The API key reaches the
job only through secrets.env (launch.sh exports it); a canary key proves the run writes it nowhere."""

import json
import os
import subprocess
import sys

import pytest

from conftest import cpu_training_values, write_yaml

CANARY_KEY = "wandb-canary-0123456789abcdef0123456789abcdef01234567"


def wandb_records(path):
    """The records of an offline run's `run-*.wandb` log: wandb's LevelDB-style log (a 7-byte
    ':W&B' header, 32 KiB blocks, each record a 7-byte header of checksum, length and type:
    1 full, 2 first, 3 middle, 4 last) of `wandb_internal_pb2.Record` protobufs. wandb ships no
    Python reader for it any more (its Go core writes it)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind in (2, 3):
            pending += chunk
        elif kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending + chunk)
            pending = b""
            yield record


def items(entries):
    """History/summary items as {"train/loss": 6.47, ...}."""
    return {(e.key or "/".join(e.nested_key)): json.loads(e.value_json) for e in entries}


def test_report_to_wandb_writes_the_runs_train_and_eval_metrics_offline(run_dir, tiny_model_dir):
    values = cpu_training_values(
        tiny_model_dir,
        max_steps=4,
        save_strategy="no",
        eval_strategy="steps",
        eval_steps=4,
        max_eval_samples=2,
        report_to=["wandb"],
        run_name="wandb-offline",
    )
    write_yaml(run_dir / "training.yaml", values)
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(run_dir / "wandb-home"),
        "WANDB_PROJECT": "stacktune-test",
        "WANDB_API_KEY": CANARY_KEY,
    }
    result = subprocess.run(
        [sys.executable, "-m", "stacktune_train.train", "training.yaml"],
        cwd=run_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-6000:]
    metrics = json.loads((run_dir / "out" / "metrics.json").read_text())

    runs = sorted((run_dir / "wandb-home" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, f"expected one offline run, found {runs}"
    [log] = runs[0].glob("run-*.wandb")  # what `wandb sync` uploads later
    records = list(wandb_records(log))
    history = [items(r.history.item) for r in records if r.WhichOneof("record_type") == "history"]
    train_rows = [row for row in history if "train/loss" in row]
    assert [row["train/global_step"] for row in train_rows] == [1, 2, 3, 4]
    [eval_row] = [row for row in history if "eval/loss" in row]
    assert eval_row["train/global_step"] == 4
    assert eval_row["eval/loss"] == pytest.approx(metrics["eval_loss"])
    summary = {}
    for r in records:
        if r.WhichOneof("record_type") == "summary":
            summary.update(items(r.summary.update))
    assert summary["train_loss"] == pytest.approx(metrics["train_loss"])
    [exit_record] = [r for r in records if r.WhichOneof("record_type") == "exit"]
    assert exit_record.exit.exit_code == 0

    leaked = [p for p in run_dir.rglob("*") if p.is_file() and CANARY_KEY.encode() in p.read_bytes()]
    assert leaked == []
