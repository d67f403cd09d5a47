"""Pictures of a run, drawn from its history (``stacktune_train.history``) at the end of training.

``python -m stacktune_train.plots <output_dir>`` draws them again from ``<output_dir>/metrics-history.jsonl``.

Three charts, each as PNG (the model card, a file browser) and SVG (scales, diffs as text):
``loss-curve`` (train and eval loss by step), ``throughput`` (tokens/s by elapsed time) and
``memory`` (peak GPU memory by elapsed time; a CPU run shows the process's resident memory and
says so). Each plotted series carries an SVG id (``series-<name>``) so a test can count them.
matplotlib draws through its Agg canvas (``Figure``, no pyplot): no display, no global state.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from stacktune_train.history import HISTORY_FILE, read_history

LOSS_CURVE = "loss-curve"
PICTURES = (LOSS_CURVE, "throughput", "memory")
FORMATS = ("png", "svg")


def picture_files(stem: str | None = None) -> list[str]:
    """File names of the pictures (of one of them when ``stem`` is given), PNG first."""
    return [f"{s}.{fmt}" for s in ([stem] if stem else PICTURES) for fmt in FORMATS]


def _points(history: list[dict[str, Any]], x: str, y: str) -> tuple[list[float], list[float]]:
    rows = [(r[x], r[y]) for r in history if r.get(x) is not None and r.get(y) is not None]
    return [a for a, _ in rows], [b for _, b in rows]


def _figure(title: str, xlabel: str, ylabel: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _plot(ax, xs, ys, gid: str, label: str, **style) -> None:
    (line,) = ax.plot(xs, ys, label=label, **style)
    line.set_gid(f"series-{gid}")


def _save(fig, directory: Path, stem: str) -> list[Path]:
    from matplotlib import rc_context

    paths = []
    # No date or software stamp and fixed SVG ids: the same history draws byte-identical files.
    with rc_context({"svg.hashsalt": "stacktune"}):
        for fmt in FORMATS:
            path = directory / f"{stem}.{fmt}"
            fig.savefig(path, format=fmt, metadata={"Date": None} if fmt == "svg" else {"Software": None})
            paths.append(path)
    return paths


def loss_figure(history: list[dict[str, Any]], title: str):
    fig, ax = _figure(f"{title}: loss", "step", "loss")
    train = _points(history, "step", "loss")
    evaluation = _points(history, "step", "eval_loss")
    if train[0]:
        _plot(ax, *train, gid="train-loss", label="train loss", color="tab:blue")
    if evaluation[0]:
        _plot(ax, *evaluation, gid="eval-loss", label="eval loss", color="tab:orange", marker="o")
    if train[0] or evaluation[0]:
        ax.legend()
    return fig


def throughput_figure(history: list[dict[str, Any]], title: str):
    fig, ax = _figure(f"{title}: throughput", "elapsed (s)", "tokens/s")
    points = _points(history, "elapsed_s", "tokens_per_s")
    if points[0]:
        _plot(ax, *points, gid="tokens-per-s", label="tokens/s", color="tab:green")
    return fig


def memory_figure(history: list[dict[str, Any]], title: str):
    gpu = _points(history, "elapsed_s", "gpu_memory_gib")
    if gpu[0]:
        fig, ax = _figure(f"{title}: GPU memory (peak, main process)", "elapsed (s)", "GiB")
        _plot(ax, *gpu, gid="gpu-memory", label="GPU memory", color="tab:red")
        return fig
    fig, ax = _figure(f"{title}: memory (CPU run: no GPU; process resident memory)", "elapsed (s)", "GiB")
    cpu = _points(history, "elapsed_s", "cpu_memory_gib")
    if cpu[0]:
        _plot(ax, *cpu, gid="cpu-memory", label="process memory", color="tab:purple")
    return fig


def write_run_plots(output_dir: str | Path, title: str) -> list[Path]:
    """Draws the three pictures of ``<output_dir>/metrics-history.jsonl`` into ``output_dir``."""
    directory = Path(output_dir)
    history = read_history(directory / HISTORY_FILE)
    figures = {LOSS_CURVE: loss_figure, "throughput": throughput_figure, "memory": memory_figure}
    return [path for stem in PICTURES for path in _save(figures[stem](history, title), directory, stem)]


if __name__ == "__main__":
    for written in write_run_plots(sys.argv[1], Path(sys.argv[1]).name):
        print(written)
