"""Compare recipe runs of bench/summarize.py summaries: tokens/s ratio, memory, loss at equal tokens.

usage: python bench/compare.py OUT.json BASE=DIR:TAG NAME=DIR:TAG [NAME=DIR:TAG ...]
Each DIR holds a results/ directory of one device call (bench_train.py's files); every run is
summarised with bench/summarize.py's rules (3 warm-up steps, profiled steps untimed). Loss at equal
tokens: both runs' logged loss at the steps where their cumulative real tokens are equal (the same
data in the same order gives the same tokens at every step); the report gives the largest and the
mean absolute difference, and the difference of the mean over the last 20 such steps; by step: the
mean of the last 20 steps (for runs of other seeds, whose batches differ).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from summarize import load_ranks, summarise  # noqa: E402


def run(spec: str) -> dict:
    directory, tag = spec.rsplit(":", 1)
    ranks = load_ranks(Path(directory) / "results", tag)
    if not ranks:
        raise SystemExit(f"no {tag}.rank*.json under {directory}/results")
    out = summarise(ranks, 3)
    out["source"] = spec
    return out


def equal_token_losses(a: dict, b: dict) -> dict:
    la = {r["cum_tokens"]: r["loss"] for r in a["rows"] if r["cum_tokens"] is not None and r["loss"] is not None}
    lb = {r["cum_tokens"]: r["loss"] for r in b["rows"] if r["cum_tokens"] is not None and r["loss"] is not None}
    common = sorted(set(la) & set(lb))
    if not common:
        return {"steps": 0}
    diffs = [lb[t] - la[t] for t in common]
    tail = common[-20:]
    return {
        "steps": len(common),
        "tokens": common[-1],
        "max_abs_diff": round(max(abs(d) for d in diffs), 4),
        "mean_abs_diff": round(statistics.mean(abs(d) for d in diffs), 4),
        "last_loss": [round(la[common[-1]], 4), round(lb[common[-1]], 4)],
        "mean_last20": [round(statistics.mean(la[t] for t in tail), 4), round(statistics.mean(lb[t] for t in tail), 4)],
    }


def same_step_losses(a: dict, b: dict) -> dict:
    """Loss by optimizer step: for runs that do not see the same batches (another seed), where
    equal-token matching finds few common points. The mean of the last 20 steps is the figure a
    recipe is judged by; another seed's difference there is the run-to-run noise floor."""
    la = [r["loss"] for r in a["rows"] if r["loss"] is not None]
    lb = [r["loss"] for r in b["rows"] if r["loss"] is not None]
    n = min(len(la), len(lb))
    if n == 0:
        return {"steps": 0}
    mean_a, mean_b = statistics.mean(la[n - 20 : n]), statistics.mean(lb[n - 20 : n])
    return {
        "steps": n,
        "mean_last20": [round(mean_a, 4), round(mean_b, 4)],
        "mean_last20_rel_diff": round((mean_b - mean_a) / mean_a, 5),
        "mean_abs_diff_after_step20": round(
            statistics.mean(abs(x - y) for x, y in zip(la[20:n], lb[20:n], strict=True)), 4
        )
        if n > 20
        else None,
    }


def main() -> None:
    out_path, *specs = sys.argv[1:]
    named = dict(s.split("=", 1) for s in specs)
    base_name = next(iter(named))
    runs = {name: run(spec) for name, spec in named.items()}
    base = runs[base_name]
    report = {"base": base_name, "runs": {}}
    for name, r in runs.items():
        report["runs"][name] = {
            "source": r["source"],
            "steps": r["steps"],
            "timed_steps": r["timed_steps"],
            "tokens_per_step": r["tokens_per_step_mean"],
            "median_step_s": round(r["median_step_s"], 3),
            "tokens_per_s": round(r["tokens_per_s"], 1),
            "tokens_per_s_median": round(r["tokens_per_s_median"], 1),
            "ratio_vs_base": round(r["tokens_per_s"] / base["tokens_per_s"], 3),
            "peak_reserved_gib": r["peak_reserved_gib"],
            "peak_allocated_gib": r["peak_allocated_gib"],
            "loss_vs_base_at_equal_tokens": equal_token_losses(base, r) if name != base_name else None,
            "loss_vs_base_by_step": same_step_losses(base, r) if name != base_name else None,
            "profile": r.get("profile"),
            "adapter_update": r.get("adapter_update"),
            "losses": [x["loss"] for x in r["rows"]],
        }
    Path(out_path).write_text(json.dumps(report, indent=1) + "\n")
    print(
        f"| run | steps (timed) | median step s | tokens/s | × {base_name} | peak reserved / alloc GiB | loss Δ at equal tokens (max / mean abs; last) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in report["runs"].items():
        d = r["loss_vs_base_at_equal_tokens"]
        loss = (
            "-"
            if d is None
            else f"{d['max_abs_diff']} / {d['mean_abs_diff']} over {d['steps']} steps; {d['last_loss'][0]} → {d['last_loss'][1]}"
        )
        print(
            f"| {name} | {r['steps']} ({r['timed_steps']}) | {r['median_step_s']} | {r['tokens_per_s']:,.0f} | "
            f"{r['ratio_vs_base']:.3f} | {r['peak_reserved_gib'][0]} / {r['peak_allocated_gib'][0]} | {loss} |"
        )


if __name__ == "__main__":
    main()
