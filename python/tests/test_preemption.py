"""Spot preemption on CPU: a token-protected IMDSv2 stand-in on 127.0.0.1 serves an interruption
notice mid-training; the real watcher (src/job/remote/spot-watch.sh) sees it, the real trainer
(``python -m stacktune_train.train``) saves a checkpoint, syncs it to the checkpoint store and
exits as preempted; a fresh run directory (a new instance) resumes from the store and ends at the
same step as an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import cpu_training_values, write_yaml
from stacktune_train import preemption
from stacktune_train.progress import parse_progress_line

REPO = Path(__file__).resolve().parents[2]
SPOT_WATCH = REPO / "src" / "job" / "remote" / "spot-watch.sh"
NOTICE = {"action": "terminate", "time": "2026-11-27T23:00:00Z"}


class ImdsStandIn:
    """IMDSv2 as far as the watcher uses it: PUT a token, GET spot/instance-action with it (401 without)."""

    def __init__(self):
        self.tokens: set[str] = set()
        self.notice: dict | None = None
        self.unauthorized = 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: str = "") -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):
                if self.path != "/latest/api/token" or not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self._send(400)
                token = secrets.token_hex(16)
                stand_in.tokens.add(token)
                self._send(200, token)

            def do_GET(self):
                if self.headers.get("X-aws-ec2-metadata-token") not in stand_in.tokens:
                    stand_in.unauthorized += 1
                    return self._send(401)
                if self.path != "/latest/meta-data/spot/instance-action" or stand_in.notice is None:
                    return self._send(404, "Not Found")
                self._send(200, json.dumps(stand_in.notice))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def imds():
    stand_in = ImdsStandIn()
    yield stand_in
    stand_in.close()


def start_watcher(imds: ImdsStandIn, flag: Path) -> subprocess.Popen:
    env = {**os.environ, "STACKTUNE_IMDS_ENDPOINT": imds.url, "STACKTUNE_SPOT_POLL_SECONDS": "0.2"}
    return subprocess.Popen(["bash", str(SPOT_WATCH), str(flag)], env=env, stdout=subprocess.PIPE, text=True)


def test_stand_in_refuses_requests_without_a_token(imds):
    plain = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{imds.url}/latest/meta-data/spot/instance-action"],
        capture_output=True,
        text=True,
    )
    assert plain.stdout == "401"


def test_watcher_writes_the_notice_only_once_it_is_served(imds, tmp_path):
    flag = tmp_path / "preemption.json"
    watcher = start_watcher(imds, flag)
    try:
        time.sleep(1.0)
        assert not flag.exists() and watcher.poll() is None  # 404: no notice, keeps polling
        imds.notice = NOTICE
        watcher.wait(timeout=10)
    finally:
        watcher.kill()
    assert json.loads(flag.read_text()) == NOTICE
    assert imds.unauthorized == 0 and len(imds.tokens) == 1  # one token, reused for every poll
    assert "spot interruption notice" in watcher.stdout.read()


def test_store_keeps_complete_checkpoints_and_restores_the_newest(tmp_path):
    out, store = tmp_path / "out", tmp_path / "store"
    for step in (2, 4, 6):
        (out / f"checkpoint-{step}").mkdir(parents=True)
        (out / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        (out / f"checkpoint-{step}" / preemption.COMPLETE_MARKER).write_text("")  # as on_save writes it
        preemption.sync_checkpoint(out / f"checkpoint-{step}", str(store))
    assert sorted(p.name for p in store.iterdir()) == ["checkpoint-4", "checkpoint-6"]
    (store / "checkpoint-8").mkdir()  # a copy cut off by the termination: no completion marker
    fresh = tmp_path / "fresh"
    restored = preemption.restore_checkpoints(str(store), fresh)
    assert restored == [fresh / "checkpoint-4", fresh / "checkpoint-6"]
    assert json.loads((fresh / "checkpoint-6" / "trainer_state.json").read_text()) == {"global_step": 6}
    assert preemption.complete_steps(fresh) == [4, 6]
    # An output_dir that already holds them complete (the same host, resuming) gets no copy.
    assert preemption.restore_checkpoints(str(store), out) == []


def run_trainer(run_dir: Path, store: Path, on_progress=None) -> tuple[int, list[dict], str]:
    env = {**os.environ, preemption.STORE_ENV: str(store), "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = str(REPO / "python") + os.pathsep + env.get("PYTHONPATH", "")
    child = subprocess.Popen(
        [sys.executable, "-m", "stacktune_train.train", "training.yaml"],
        cwd=run_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    records, lines = [], []
    for line in child.stdout:
        lines.append(line)
        record = parse_progress_line(line.rstrip("\n"))
        if record is not None:
            records.append(record)
            if on_progress is not None:
                on_progress(record)
    return child.wait(timeout=600), records, "".join(lines)


def final_step(run_dir: Path) -> int:
    states = sorted((run_dir / "out").glob("checkpoint-*/trainer_state.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(states[-1].read_text())["global_step"]


def test_notice_mid_training_checkpoints_to_the_store_and_the_next_run_resumes_there(imds, tmp_path, tiny_model_dir):
    # Epoch-based length (max_steps -1), so "the same total" is the trainer's own count, not a constant.
    values = cpu_training_values(tiny_model_dir, max_steps=-1, num_train_epochs=12, packing=False, save_steps=1000)
    store = tmp_path / "store"

    baseline = tmp_path / "uninterrupted"
    baseline.mkdir()
    write_yaml(baseline / "training.yaml", values)
    code, records, log = run_trainer(baseline, tmp_path / "baseline-store")
    assert code == 0, log
    total = records[-1]["total"]
    assert final_step(baseline) == total and total >= 40

    first = tmp_path / "instance-1"
    first.mkdir()
    write_yaml(first / "training.yaml", values)
    watcher = start_watcher(imds, first / "preemption.json")
    notice_at: list[float] = []

    def serve_notice_mid_training(record):
        if record["step"] >= 5 and not notice_at:
            imds.notice = NOTICE
            notice_at.append(time.monotonic())

    try:
        code, records, log = run_trainer(first, store, serve_notice_mid_training)
    finally:
        watcher.kill()
    assert code == preemption.PREEMPTED_EXIT_CODE, log
    status = json.loads((first / preemption.STATUS_FILE).read_text())
    assert status["status"] == "preempted"
    stopped = status["step"]
    assert 5 <= stopped < total
    assert records[-1]["step"] == stopped  # stopped at the next step boundary, nothing after it
    stored = store / f"checkpoint-{stopped}"
    assert (stored / preemption.COMPLETE_MARKER).is_file()
    assert time.monotonic() - notice_at[0] < 120  # the checkpoint is in the store before AWS's deadline
    assert json.loads((stored / "trainer_state.json").read_text())["global_step"] == stopped

    # The next `up` gets a new instance: an empty run directory, the same store.
    second = tmp_path / "instance-2"
    second.mkdir()
    write_yaml(second / "training.yaml", values)
    code, records, log = run_trainer(second, store)
    assert code == 0, log
    assert f"restored checkpoint-{stopped}" in log and f"resuming from out/checkpoint-{stopped}" in log
    assert records[0]["step"] > stopped  # nothing before the checkpoint is trained again
    assert final_step(second) == total
    assert json.loads((second / "out" / "metrics.json").read_text())["train_tokens"] == pytest.approx(
        json.loads((baseline / "out" / "metrics.json").read_text())["train_tokens"]
    )
    shutil.rmtree(store)


def test_two_ddp_processes_stop_together_at_the_same_step(tmp_path, tiny_model_dir):
    """DDP over gloo on CPU: the ranks agree on the notice (one all-reduce per step), save the same
    checkpoint and exit, instead of one rank waiting forever in a collective the other left."""
    from test_entry_points import free_port

    write_yaml(tmp_path / "training.yaml", cpu_training_values(tiny_model_dir, max_steps=50, save_steps=1000))
    (tmp_path / "preemption.json").write_text(json.dumps(NOTICE))  # the watcher saw a notice before step 1 ended
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONUNBUFFERED": "1",
        preemption.STORE_ENV: str(tmp_path / "store"),
    }
    env["PYTHONPATH"] = str(REPO / "python") + os.pathsep + env.get("PYTHONPATH", "")
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
    assert result.returncode != 0, result.stdout[-4000:]
    assert result.stdout.count("spot interruption notice: saving checkpoint-1 and stopping") == 2, result.stdout[-4000:]
    status = json.loads((tmp_path / preemption.STATUS_FILE).read_text())
    assert status["step"] == 1
    assert (tmp_path / "store" / "checkpoint-1" / preemption.COMPLETE_MARKER).is_file()


def cut_off_save(checkpoint: Path) -> None:
    """What a host lost during a save leaves: the weights written, the rest (and the marker) never."""
    for path in checkpoint.iterdir():
        if path.name not in ("adapter_model.safetensors", "adapter_config.json"):
            path.unlink()


def test_a_half_written_newest_checkpoint_is_skipped_and_resume_takes_the_previous_complete_one(
    run_dir, tiny_model_dir, capfd
):
    from stacktune_train import train
    from stacktune_train.config import parse_config

    path = write_yaml(run_dir / "training.yaml", cpu_training_values(tiny_model_dir, max_steps=6, save_steps=3))
    train.main(parse_config(path, []))
    capfd.readouterr()
    cut_off_save(run_dir / "out" / "checkpoint-6")

    train.main(parse_config(path, ["--max_steps", "9"]))
    out = capfd.readouterr().out
    assert "skipped checkpoint-6: incomplete (the save was cut off before it finished)" in out
    assert "resuming from out/checkpoint-3" in out
    assert [r["step"] for r in map(parse_progress_line, out.splitlines()) if r is not None] == [4, 5, 6, 7, 8, 9]
    assert json.loads((run_dir / "out" / "checkpoint-9" / "trainer_state.json").read_text())["global_step"] == 9
    # The step the cut-off save belonged to was trained again and saved whole.
    assert json.loads((run_dir / "out" / "checkpoint-6" / "trainer_state.json").read_text())["global_step"] == 6


def test_sync_copies_complete_checkpoints_only(tmp_path):
    out, store = tmp_path / "out", tmp_path / "store"
    (out / "checkpoint-2").mkdir(parents=True)
    (out / "checkpoint-2" / "adapter_model.safetensors").write_bytes(b"half")
    assert preemption.sync_checkpoint(out / "checkpoint-2", str(store)) is None
    assert not (store / "checkpoint-2").exists()


# The `aws` CLI stand-in shared with the e2e resilience test.
FAKE_AWS = REPO / "test" / "e2e" / "fixtures" / "fake-aws"


def test_the_s3_mirror_uploads_and_restores_complete_checkpoints_only(tmp_path):
    """The real checkpoint-sync.sh with a stand-in `aws` CLI on PATH (s3://bucket/key -> a directory)."""
    bin_dir, s3 = tmp_path / "bin", tmp_path / "s3"
    bin_dir.mkdir()
    (bin_dir / "aws").symlink_to(FAKE_AWS)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_S3_ROOT": str(s3)}
    sync = REPO / "src" / "job" / "remote" / "checkpoint-sync.sh"
    mirror = tmp_path / "mirror"
    for machine in ("machine-0", "machine-1"):
        (mirror / machine / "checkpoint-4").mkdir(parents=True)
        (mirror / machine / "checkpoint-4" / "trainer_state.json").write_text("{}")
        (mirror / machine / "checkpoint-4" / preemption.COMPLETE_MARKER).write_text("")
        (mirror / machine / "checkpoint-6").mkdir(parents=True)  # being written: no marker yet
        (mirror / machine / "checkpoint-6" / "trainer_state.json").write_text("{}")
    flush = subprocess.run(
        ["bash", str(sync), "flush", "s3://bucket/run", str(mirror)], env=env, capture_output=True, text=True
    )
    assert flush.returncode == 0, flush.stderr
    uploaded = sorted(
        str(p.relative_to(s3 / "bucket" / "run")) for p in (s3 / "bucket" / "run").rglob("*") if p.is_file()
    )
    assert uploaded == [
        f"machine-{r}/checkpoint-4/{name}"
        for r in (0, 1)
        for name in (preemption.COMPLETE_MARKER, "trainer_state.json")
    ]

    (s3 / "bucket" / "run" / "machine-1" / "checkpoint-8").mkdir()  # an upload cut off by the termination
    (s3 / "bucket" / "run" / "machine-1" / "checkpoint-8" / "trainer_state.json").write_text("{}")
    fresh = tmp_path / "fresh"
    restore = subprocess.run(
        ["bash", str(sync), "restore", "s3://bucket/run", str(fresh)], env=env, capture_output=True, text=True
    )
    assert restore.returncode == 0, restore.stderr
    assert sorted(str(p.relative_to(fresh)) for p in fresh.rglob("checkpoint-*")) == [
        "machine-0/checkpoint-4",
        "machine-1/checkpoint-4",
    ]


def run_two_machines(run_dirs: list[Path], store: Path) -> list[str]:
    """Two `torchrun --nnodes 2` launches on this box, each in its own run directory (no shared disk but
    the store), as accelerate's multi-node launch starts them on two machines."""
    from test_entry_points import free_port

    port = str(free_port())
    children = []
    for rank, run_dir in enumerate(run_dirs):
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1", preemption.STORE_ENV: str(store)}
        env["PYTHONPATH"] = str(REPO / "python") + os.pathsep + env.get("PYTHONPATH", "")
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "torch.distributed.run",
                    "--nnodes",
                    "2",
                    "--node_rank",
                    str(rank),
                    "--nproc_per_node",
                    "1",
                    "--master_addr",
                    "127.0.0.1",
                    "--master_port",
                    port,
                    "-m",
                    "stacktune_train.train",
                    "training.yaml",
                ],
                cwd=run_dir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    logs = [child.communicate(timeout=600)[0] for child in children]
    for child, log in zip(children, logs, strict=True):
        assert child.returncode == 0, log[-4000:]
    return logs


def test_every_machine_saves_syncs_and_restores_its_own_checkpoints_and_all_resume_at_one_step(
    tmp_path, tiny_model_dir
):
    values = cpu_training_values(tiny_model_dir, max_steps=6, save_steps=2, save_on_each_node=True)
    store = tmp_path / "store"  # one store for both machines, as one S3 bucket is
    first = [tmp_path / f"machine-{r}" for r in (0, 1)]
    for run_dir in first:
        run_dir.mkdir()
        write_yaml(run_dir / "training.yaml", values)
    run_two_machines(first, store)
    for rank in (0, 1):
        assert sorted(p.name for p in (first[rank] / "out").glob("checkpoint-*")) == [
            "checkpoint-2",
            "checkpoint-4",
            "checkpoint-6",
        ]
        assert sorted(p.name for p in (store / f"machine-{rank}").iterdir()) == ["checkpoint-4", "checkpoint-6"]
        # Each machine's copy holds its own process's RNG state: the machines' checkpoints differ.
        assert (store / f"machine-{rank}" / "checkpoint-6" / f"rng_state_{rank}.pth").is_file()

    # Both machines are replaced (empty disks); machine 1's upload of checkpoint-6 was cut off.
    (store / "machine-1" / "checkpoint-6" / preemption.COMPLETE_MARKER).unlink()
    second = [tmp_path / f"new-machine-{r}" for r in (0, 1)]
    for run_dir in second:
        run_dir.mkdir()
        write_yaml(run_dir / "training.yaml", {**values, "max_steps": 8})
    logs = run_two_machines(second, store)
    assert "restored checkpoint-4, checkpoint-6 from the checkpoint store" in logs[0]
    assert "restored checkpoint-4 from the checkpoint store" in logs[1]
    for rank, log in enumerate(logs):
        assert (
            "checkpoint-6 is not complete on every machine (newest complete: machine 0 checkpoint-6, "
            "machine 1 checkpoint-4)"
        ) in log, log[-4000:]
        assert "resuming from out/checkpoint-4" in log
        steps = [r["step"] for r in map(parse_progress_line, log.splitlines()) if r is not None]
        if rank == 0:
            assert steps == [5, 6, 7, 8]
        state = json.loads((second[rank] / "out" / "checkpoint-8" / "trainer_state.json").read_text())
        assert state["global_step"] == 8
