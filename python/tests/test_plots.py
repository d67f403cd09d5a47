"""The run's history file and its pictures: what the host writes at the end of training."""

import json
import re

from stacktune_train.history import HISTORY_FILE, HistoryCallback, read_history
from stacktune_train.plots import picture_files, write_run_plots

# The shape HistoryCallback writes: train logs every step, an evaluation at steps 2 and 4.
HISTORY = [
    {
        "step": 1,
        "elapsed_s": 1.0,
        "loss": 6.5,
        "num_tokens": 100,
        "tokens_per_s": 100.0,
        "gpu_memory_gib": 10.5,
        "cpu_memory_gib": 2.0,
    },
    {
        "step": 2,
        "elapsed_s": 2.0,
        "loss": 5.0,
        "num_tokens": 220,
        "tokens_per_s": 120.0,
        "gpu_memory_gib": 11.0,
        "cpu_memory_gib": 2.1,
    },
    {"step": 2, "elapsed_s": 2.5, "eval_loss": 5.2, "gpu_memory_gib": 9.0, "cpu_memory_gib": 2.1},
    {
        "step": 3,
        "elapsed_s": 3.5,
        "loss": None,
        "num_tokens": 330,
        "tokens_per_s": 110.0,
        "gpu_memory_gib": 11.0,
        "cpu_memory_gib": 2.1,
    },
    {
        "step": 4,
        "elapsed_s": 4.5,
        "loss": 3.0,
        "num_tokens": 440,
        "tokens_per_s": 110.0,
        "gpu_memory_gib": 11.0,
        "cpu_memory_gib": 2.2,
    },
    {"step": 4, "elapsed_s": 5.0, "eval_loss": 3.4, "gpu_memory_gib": 9.0, "cpu_memory_gib": 2.2},
]


def write_history(directory, records):
    (directory / HISTORY_FILE).write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def series_ids(svg_text):
    return re.findall(r'<g id="series-([a-z-]+)"', svg_text)


def svg_path_points(svg_text, series):
    """How many points the series' line has (its path's M/L commands)."""
    block = svg_text.split(f'<g id="series-{series}"', 1)[1].split("</g>", 1)[0]
    path = re.search(r'<path d="([^"]+)"', block).group(1)
    return len(re.findall(r"[ML] ", path))


def test_the_pictures_are_png_and_svg_with_one_series_per_curve(tmp_path):
    write_history(tmp_path, HISTORY)
    written = write_run_plots(tmp_path, "demo")
    assert (
        [p.name for p in written]
        == picture_files()
        == ["loss-curve.png", "loss-curve.svg", "throughput.png", "throughput.svg", "memory.png", "memory.svg"]
    )
    for path in written:
        head = path.read_bytes()[:8]
        assert head == b"\x89PNG\r\n\x1a\n" if path.suffix == ".png" else b"<svg" in path.read_bytes()[:400]
    loss = (tmp_path / "loss-curve.svg").read_text()
    assert series_ids(loss) == ["train-loss", "eval-loss"]
    assert "demo: loss" in loss
    # A diverged (null) loss leaves a gap rather than a point: three train points, two eval points.
    assert svg_path_points(loss, "train-loss") == 3 and svg_path_points(loss, "eval-loss") == 2
    assert series_ids((tmp_path / "throughput.svg").read_text()) == ["tokens-per-s"]
    assert series_ids((tmp_path / "memory.svg").read_text()) == ["gpu-memory"]


def test_the_same_history_draws_the_same_files(tmp_path):
    write_history(tmp_path, HISTORY)
    first = {p.name: p.read_bytes() for p in write_run_plots(tmp_path, "demo")}
    again = {p.name: p.read_bytes() for p in write_run_plots(tmp_path, "demo")}
    assert first == again


def test_a_cpu_run_plots_process_memory_and_says_it_has_no_gpu(tmp_path):
    write_history(tmp_path, [{**r, "gpu_memory_gib": None} for r in HISTORY])
    write_run_plots(tmp_path, "cpu")
    memory = (tmp_path / "memory.svg").read_text()
    assert series_ids(memory) == ["cpu-memory"]
    assert "CPU run: no GPU" in memory


class State:
    def __init__(self, step):
        self.global_step, self.is_world_process_zero = step, True


def test_the_history_of_a_resumed_run_drops_what_is_trained_again_and_keeps_the_clock(tmp_path):
    write_history(tmp_path, HISTORY)  # written up to step 4; the checkpoint is of step 2
    ticks = iter([100.0, 101.5])
    callback = HistoryCallback(tmp_path, clock=lambda: next(ticks), memory=lambda: (None, 1.5))
    callback.on_train_begin(None, State(2), None)
    callback.on_log(
        None, State(3), None, logs={"loss": 4.0, "num_tokens": 90, "learning_rate": 1e-3, "train_runtime": 9}
    )
    records = read_history(tmp_path / HISTORY_FILE)
    assert records[:3] == HISTORY[:3]
    assert records[3] == {
        "step": 3,
        "elapsed_s": 4.0,
        "loss": 4.0,
        "learning_rate": 1e-3,
        "num_tokens": 90,
        "tokens_per_s": 60.0,
        "gpu_memory_gib": None,
        "cpu_memory_gib": 1.5,
    }
    assert len(records) == 4
