"""Summarise bench_train.py outputs: per recipe step time, real tokens/s, peak memory, loss curve.

usage: python bench/summarize.py RESULTS_DIR [WARMUP=3]   -> RESULTS_DIR/summary.json, markdown on stdout
Timed steps are those after the first WARMUP optimizer steps. Tokens per step are the increase of
TRL's cumulative ``num_tokens`` (all ranks; attention-mask sum, or the flattened length with
padding-free: real tokens, no padding). tokens/s = sum(tokens) / sum(step time) over the timed
steps; the median step time and the median per-step tokens/s are given too.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def load_ranks(results: Path, tag: str) -> list[dict]:
    """bench_train.py's per-rank files for one recipe run, rank order."""
    files = sorted(results.glob(f"{tag}.rank*.json"), key=lambda p: int(p.name.rsplit("rank", 1)[1].split(".")[0]))
    return [json.loads(p.read_text()) for p in files]


def summarise(ranks: list[dict], warmup: int) -> dict:
    data = ranks[0]
    steps = data["steps"]
    logs = {entry["step"]: entry for entry in data["logs"] if "loss" in entry}
    rows, prev_tokens = [], 0
    for s in steps:
        log = logs.get(s["step"], {})
        cum = log.get("num_tokens")
        tokens = None if cum is None else cum - prev_tokens
        if cum is not None:
            prev_tokens = cum
        rows.append(
            {
                "step": s["step"],
                "time_s": s["time_s"],
                "tokens": tokens,
                "cum_tokens": cum,
                "loss": log.get("loss"),
                "grad_norm": log.get("grad_norm"),
                "profiled": s.get("profiled", False),
            }
        )
    timed = [r for r in rows[warmup:] if r["tokens"] and not r["profiled"]]
    tot_t = sum(r["time_s"] for r in timed)
    tot_tok = sum(r["tokens"] for r in timed)
    out = {
        "finished": all(r.get("finished") for r in ranks),
        "steps": len(rows),
        "timed_steps": len(timed),
        "median_step_s": statistics.median(r["time_s"] for r in timed) if timed else None,
        "tokens_per_step_mean": tot_tok / len(timed) if timed else None,
        "tokens_per_s": tot_tok / tot_t if tot_t else None,
        "tokens_per_s_median": statistics.median(r["tokens"] / r["time_s"] for r in timed) if timed else None,
        "peak_reserved_gib": [round(r["peak_reserved_gib"], 2) for r in ranks],
        "peak_allocated_gib": [round(r["peak_allocated_gib"], 2) for r in ranks],
        "load_peak_reserved_gib": [round((r.get("load_peak") or {}).get("reserved_gib", 0), 2) for r in ranks],
        "train_wall_s": data.get("train_wall_s"),
        "profile": data.get("profile"),
        "adapter_update": data.get("adapter_update"),
        "rows": rows,
    }
    if timed:
        out["tokens_per_s_per_gpu"] = out["tokens_per_s"] / max(1, len(ranks))
    return out


def main() -> None:
    results = Path(sys.argv[1])
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    summary = {"warmup_steps": warmup, "recipes": {}}
    for rc_file in sorted(results.glob("*.rc.json"), key=lambda p: p.stat().st_mtime):
        rc = json.loads(rc_file.read_text())
        tag = rc["tag"]
        entry = {"rc": rc["rc"]}
        ranks = load_ranks(results, tag)
        if ranks:
            entry.update(summarise(ranks, warmup))
        summary["recipes"][tag] = entry
    env = results / "env.json"
    if env.exists():
        summary["env"] = json.loads(env.read_text())
    ds = results / "dataset.json"
    if ds.exists():
        summary["dataset"] = json.loads(ds.read_text())
    (results / "summary.json").write_text(json.dumps(summary, indent=1))

    print(
        "| recipe | rc | steps | median step s | real tokens/s | tokens/s/GPU | peak reserved GiB (per rank) | peak alloc GiB | loss@last |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for tag, e in summary["recipes"].items():
        last = next((r["loss"] for r in reversed(e.get("rows", [])) if r["loss"] is not None), None)
        f = lambda x, p=1: "-" if x is None else f"{x:.{p}f}"  # noqa: E731
        print(
            f"| {tag} | {e['rc']} | {e.get('steps', '-')} | {f(e.get('median_step_s'), 2)} | "
            f"{f(e.get('tokens_per_s'), 0)} | {f(e.get('tokens_per_s_per_gpu'), 0)} | "
            f"{e.get('peak_reserved_gib', '-')} | {e.get('peak_allocated_gib', '-')} | {f(last, 4)} |"
        )
    for tag, e in summary["recipes"].items():
        losses = [r["loss"] for r in e.get("rows", [])]
        if losses:
            print(f"loss {tag}: " + " ".join("-" if x is None else f"{x:.3f}" for x in losses))


if __name__ == "__main__":
    main()
