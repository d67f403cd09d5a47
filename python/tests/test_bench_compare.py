"""bench/compare.py's loss comparisons and bench_train.py's bench-only flag (issue 16's quality guard).

The guard's verdict is read off these figures: the last-20-step mean loss of a recipe against the
base's (the 0.5 % tolerance), and another seed's distance there as the noise floor.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import bench_train  # noqa: E402
import compare  # noqa: E402


def _run(losses: list[float], tokens_per_step: int = 100) -> dict:
    return {
        "rows": [
            {"step": i + 1, "loss": loss, "cum_tokens": (i + 1) * tokens_per_step} for i, loss in enumerate(losses)
        ]
    }


def test_same_step_losses_judges_the_last_20_steps_even_when_the_batches_differ():
    base = _run([10.0] * 20 + [9.0] * 20)
    other_seed = _run([10.5] * 20 + [9.09] * 20, tokens_per_step=101)  # other batches: no equal-token points

    assert compare.equal_token_losses(base, other_seed)["steps"] < 5
    by_step = compare.same_step_losses(base, other_seed)
    assert by_step["steps"] == 40
    assert by_step["mean_last20"] == [9.0, 9.09]
    assert by_step["mean_last20_rel_diff"] == 0.01  # 1 % above the base: outside a 0.5 % tolerance
    assert by_step["mean_abs_diff_after_step20"] == 0.09


def test_same_step_losses_of_runs_of_different_length_use_the_common_steps():
    by_step = compare.same_step_losses(_run([2.0] * 30), _run([2.0] * 25 + [1.0] * 10))
    assert by_step["steps"] == 30
    assert by_step["mean_last20"] == [2.0, 1.75]


def test_bench_compile_flag_is_taken_out_of_the_trainer_flags():
    argv = ["bench_train.py", "training.yaml", "--max_steps", "33", "--bench_compile_layers", "true", "--seed", "1"]
    assert bench_train._pop_flag(argv, "--bench_compile_layers") == "true"
    assert argv == ["bench_train.py", "training.yaml", "--max_steps", "33", "--seed", "1"]
    assert bench_train._pop_flag(argv, "--bench_compile_layers") is None
