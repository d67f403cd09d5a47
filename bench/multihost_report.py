"""Compare one-host and two-host runs of bench/multihost.sh: tokens/s ratio, step time, memory, loss.

usage: python bench/multihost_report.py RESULTS_DIR BASELINE OUT.md OUT.json

RESULTS_DIR holds bench/summarize.py's summary.json (run it first), the driver's meta.json and, per
run, ``<tag>.rc.json``, ``<tag>.processes.txt`` (the trainer's rank line from each machine) and
``<tag>.transports.txt`` (NCCL's "via ..." lines counted; GPU only). A tag is ``<variant>.<mode>``,
``-<n>`` added for the n-th run of the same; BASELINE names the one-host variant (``b2`` on GPUs,
``cpu-1x2`` on CPU). Every other run is compared with the baseline run of the same mode and
repetition, else of the same mode, else the baseline's first run: tokens/s ratio (real tokens, the
timed steps after the warm-up), the same ratio of the medians over those steps (steady state: one
slow step moves the mean, not the median), the largest loss difference over the steps both logged,
and whether both trained the same number of tokens. A warm machine keeps earlier calls' runs, so
``commands.txt`` (one line per call, written by the driver) names every command behind the table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MODE_TEXT = {
    "p2p": "NCCL default: NVLink (P2P) between all 4 GPUs, also between the two 'hosts'",
    "nop2p": "NCCL_P2P_DISABLE=1: every GPU pair through host shared memory (the 4×4090 stand-in of issue 6)",
    "net": "NCCL_HOSTID per machine + NCCL_IB_DISABLE=1: NCCL sees two hosts, NVLink inside each, "
    "TCP sockets over loopback between them",
    "gloo": "CPU, gloo over loopback",
}


def fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def losses(entry: dict) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in entry.get("rows", []) if r.get("loss") is not None}


def last_tokens(entry: dict) -> int | None:
    cums = [r["cum_tokens"] for r in entry.get("rows", []) if r.get("cum_tokens") is not None]
    return int(cums[-1]) if cums else None


def compare(run: dict, base: dict) -> dict:
    mine, theirs = losses(run), losses(base)
    common = sorted(set(mine) & set(theirs))
    diffs = [abs(mine[s] - theirs[s]) for s in common]

    def ratio(key: str) -> float | None:
        return run[key] / base[key] if run.get(key) and base.get(key) else None

    return {
        "tokens_per_s_ratio": ratio("tokens_per_s"),
        "median_tokens_per_s_ratio": ratio("tokens_per_s_median"),
        "loss_steps_compared": len(common),
        "max_abs_loss_diff": max(diffs) if diffs else None,
        "same_tokens": last_tokens(run) is not None and last_tokens(run) == last_tokens(base),
        "tokens": [last_tokens(run), last_tokens(base)],
    }


def base_mode(tag: str) -> str:
    """``p2p`` of ``m2x2.p2p-2``."""
    return tag.split(".", 1)[1].split("-")[0]


def read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def main() -> None:
    results, baseline, out_md, out_json = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    summary = json.loads((results / "summary.json").read_text())
    meta = json.loads((results / "meta.json").read_text())
    runs: dict[str, dict] = summary["recipes"]
    base_tags = [t for t in runs if t.split(".")[0] == baseline]

    comparisons = {}
    for tag, entry in runs.items():
        if tag in base_tags:
            continue
        mode = tag.split(".", 1)[1]
        candidates = [f"{baseline}.{mode}", f"{baseline}.{base_mode(tag)}", *base_tags]
        base_tag = next((t for t in candidates if t in runs), None)
        if base_tag is not None:
            comparisons[tag] = {"baseline": base_tag, **compare(entry, runs[base_tag])}
    transports = {
        tag: read_lines(results / f"{tag}.transports.txt")
        for tag in runs
        if (results / f"{tag}.transports.txt").exists()
    }
    processes = {tag: read_lines(results / f"{tag}.processes.txt") for tag in runs}
    launches = {
        tag: json.loads((results / f"{tag}.rc.json").read_text())
        for tag in runs
        if (results / f"{tag}.rc.json").exists()
    }

    cpu = meta["mode"] == "cpu"
    unit = "process" if cpu else "GPU"
    memory = "peak RSS GiB per process (CPU shim)" if cpu else "peak reserved / allocated GiB per GPU"
    lines = [f"# {meta['title']}", ""]
    lines += ["\n>\n".join(f"> {line}" for line in meta["statement"]), ""]
    commands = read_lines(results / "commands.txt") or [meta["command"]]
    lines += [
        f"Command{'s, one device call each, in this order' if len(commands) > 1 else ''} (repository root):",
        "",
        "```",
        *commands,
        "```",
        "",
    ]
    lines += [f"- Date: {meta['date']}; repository commit {meta['commit']}.", f"- Machine: {meta['machine']}."]
    lines += [f"- {line}" for line in meta["setup"]] + [""]
    lines += [
        f"| run | layout | rc | steps | median step s | real tokens/s | vs one host | median tokens/s | vs one host "
        f"| tokens/s/{unit} | {memory} | loss@last | launch s | load (1 min) before → after |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def ratio_text(tag: str, key: str) -> str:
        ratio = comparisons.get(tag, {}).get(key)
        return "baseline" if tag in base_tags else ("-" if ratio is None else f"{ratio:.3f}×")

    for tag, e in runs.items():
        mem = "-"
        if e.get("peak_reserved_gib"):
            reserved, allocated = e["peak_reserved_gib"], e["peak_allocated_gib"]
            mem = ", ".join(map(str, reserved)) if cpu else f"{max(reserved)} / {min(allocated)}–{max(allocated)}"
        last = next((r["loss"] for r in reversed(e.get("rows", [])) if r.get("loss") is not None), None)
        launch = launches.get(tag, {})
        cells = [
            tag,
            meta["layouts"].get(tag.split(".")[0], "?"),
            e["rc"],
            e.get("steps", "-"),
            fmt(e.get("median_step_s"), 3),
            fmt(e.get("tokens_per_s")),
            ratio_text(tag, "tokens_per_s_ratio"),
            fmt(e.get("tokens_per_s_median")),
            ratio_text(tag, "median_tokens_per_s_ratio"),
            fmt(e.get("tokens_per_s_per_gpu")),
            mem,
            fmt(last, 4),
            launch.get("launch_s", "-"),
            " → ".join(map(str, launch.get("load_1min", []))),
        ]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    lines += ["", "Modes:"] + [
        f"- `{m}`: {text}" for m, text in MODE_TEXT.items() if any(base_mode(t) == m for t in runs)
    ]
    if comparisons:
        lines += ["", "Same training on both layouts (against the one-host run named):", ""]
        for tag, c in comparisons.items():
            lines.append(
                f"- {tag} vs {c['baseline']}: loss differs by at most {fmt(c['max_abs_loss_diff'], 6)} over "
                f"{c['loss_steps_compared']} steps; trained tokens {c['tokens'][0]} vs {c['tokens'][1]} "
                f"({'equal' if c['same_tokens'] else 'NOT equal'})."
            )
    lines += ["", "Ranks as the trainer reported them (`[train] process ...` on each machine):", ""]
    for tag, found in processes.items():
        lines.append(f"- {tag}: " + ("; ".join(found) or "none logged"))
    if transports:
        lines += ["", "NCCL transports seen in the logs (`via ...` lines, all ranks and channels):", ""]
        lines += [f"- {tag}: {'; '.join(t) if t else 'none logged'}" for tag, t in transports.items()]
    lines += ["", "Loss per step:", ""]
    for tag, e in runs.items():
        per_step = ("-" if r.get("loss") is None else f"{r['loss']:.4f}" for r in e.get("rows", []))
        lines.append(f"- {tag}: " + " ".join(per_step))
    lines += ["", f"Step time per step, rank 0, s (the first {summary['warmup_steps']} are warm-up, not timed):", ""]
    for tag, e in runs.items():
        lines.append(f"- {tag}: " + " ".join(fmt(r.get("time_s"), 2) for r in e.get("rows", [])))
    lines += [
        "",
        f"Timed steps: all after the first {summary['warmup_steps']}; "
        "tokens/s = real tokens / time over them; median tokens/s = the median of each timed step's "
        "real tokens / its time.",
    ]
    out_md.write_text("\n".join(lines) + "\n")
    out_json.write_text(
        json.dumps(
            {
                "meta": meta,
                "comparisons": comparisons,
                "launches": launches,
                "processes": processes,
                "transports": transports,
                "summary": summary,
            },
            indent=1,
        )
        + "\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
