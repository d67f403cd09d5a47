"""The five steps exactly as launch.sh runs them (contracts §3), in a fresh run directory.

Training goes through ``accelerate launch`` with a CPU accelerate config like the local-demo
stack's; the model is the tiny Llama written by ``python -m stacktune_train.tiny_model``.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import cpu_training_values, write_yaml
from stacktune_train.progress import parse_progress_line
from stacktune_train.tiny_model import demo_dataset_path

ACCELERATE_CPU = """\
compute_environment: LOCAL_MACHINE
distributed_type: "NO"
mixed_precision: "no"
num_machines: 1
num_processes: 1
use_cpu: true
"""


def run_step(args, cwd, env):
    """Run a step with stdout and stderr in one stream, as launch.sh's job log has them."""
    result = subprocess.run(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300
    )
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout[-6000:]}"
    return result.stdout


def test_prepare_train_merge_smoke_publish_as_launch_sh_runs_them(tmp_path):
    env = {
        **os.environ,
        "STACKTUNE_EXPERIMENT_HASH": "feedbeef",
        "STACKTUNE_STACK": "local-demo",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONUNBUFFERED": "1",
    }
    python = sys.executable
    out = run_step([python, "-m", "stacktune_train.tiny_model", str(tmp_path / "tiny")], tmp_path, env)
    assert "tiny Llama + Llama-3 tokenizer written to" in out
    run = tmp_path / "run"
    run.mkdir()
    (run / "accelerate.yaml").write_text(ACCELERATE_CPU)
    write_yaml(
        run / "training.yaml",
        cpu_training_values(
            tmp_path / "tiny",
            dataset_source=str(demo_dataset_path()),
            max_steps=4,
            save_steps=4,
            eval_strategy="steps",
            eval_steps=4,
            output_store_dir=str(tmp_path / "store"),
        ),
    )

    out = run_step([python, "-m", "stacktune_train.prepare", "training.yaml"], run, env)
    assert "[prepare] saved train 28 / test 12" in out
    accelerate = Path(python).parent / "accelerate"
    out = run_step(
        [str(accelerate), "launch", "--config_file", "accelerate.yaml", "-m", "stacktune_train.train", "training.yaml"],
        run,
        env,
    )
    assert "[prepare] reusing" in out
    # The job log's reader (grep '^STACKTUNE_PROGRESS ') sees every progress line: none shares a
    # line with a progress bar.
    lines = [line for line in out.split("\n") if "STACKTUNE_PROGRESS" in line]
    assert all(line.startswith("STACKTUNE_PROGRESS ") for line in lines), lines
    assert [parse_progress_line(line)["step"] for line in lines] == [1, 2, 3, 4]
    metrics = json.loads((run / "out" / "metrics.json").read_text())
    assert metrics["eval_loss"] is not None

    run_step([python, "-m", "stacktune_train.merge", "training.yaml"], run, env)
    assert not (tmp_path / "store").exists()  # nothing is published before the smoke test passes
    assert "[smoke] passed" in run_step([python, "-m", "stacktune_train.smoke", "training.yaml"], run, env)
    assert "[publish] merged model + tokenizer + adapter moved into" in run_step(
        [python, "-m", "stacktune_train.publish", "training.yaml"], run, env
    )
    assert json.loads((tmp_path / "store" / "stacktune.json").read_text()) == {
        "experiment_hash": "feedbeef",
        "stack": "local-demo",
    }


def test_entry_point_without_a_config_prints_usage(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "stacktune_train.train"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "usage: python -m stacktune_train.<step> training.yaml" in result.stderr


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp_with_reentrant_checkpointing(tmp_path, tiny_model_dir):
    """DDP over gloo on CPU: the multi-GPU path (PEFT + reentrant gradient checkpointing) minus CUDA."""
    write_yaml(
        tmp_path / "training.yaml",
        cpu_training_values(tiny_model_dir, max_steps=3, eval_strategy="steps", eval_steps=3, save_steps=3),
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1"}
    out = run_step(
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
        tmp_path,
        env,
    )
    assert out.count("[train] 28 training samples") == 2  # both ranks ran
    assert [r["step"] for r in map(parse_progress_line, out.split("\n")) if r] == [1, 2, 3]  # rank 0 reports
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["eval_loss"] is not None and metrics["train_tokens"] > 0
