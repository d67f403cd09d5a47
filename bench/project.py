"""Project one epoch of OpenHermes-2.5 from the measured ratio (BENCH-NOTES method).

usage: python bench/project.py SUMMARY_JSON REF_TAG CANDIDATE_TAG  -> JSON on stdout

Two estimates for the candidate on 4x RTX 4090:
* method (BENCH-NOTES): reference training time (51,487 s - 7,533 s eval = 43,954 s) divided by the
  measured tokens/s ratio, plus the eval of a capped eval set (2,000 samples instead of ~300k, at
  the reference's own eval rate);
* conservative: the per-step time the candidate saves on the H100 is taken as a fixed amount that
  does not grow on a slower card (only the compute-proportional part scales), applied to the
  reference's 4090 step time (from ~700k training conversations x ~370 tokens).
A10G / L4 hosts: the 4090 times scaled by peak dense bf16 tensor throughput (assumptions below).
Instance types, their GPUs' peak TFLOPS and prices: the AWS instance catalog the program reads,
src/targets/aws/instance-types.json (AWS on-demand, us-east-1, 2024 list prices, not re-checked).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CATALOG = json.loads(
    (Path(__file__).resolve().parent.parent / "src" / "targets" / "aws" / "instance-types.json").read_text()
)

REF_TOTAL_S = 51_487.0
REF_EVAL_S = 7_533.0
REF_TRAIN_S = REF_TOTAL_S - REF_EVAL_S
REF_EVAL_SAMPLES = 300_000  # ~30% of ~1M conversations
EVAL_CAP = 2_000  # evaluation.maxSamples default
TRAIN_CONVERSATIONS = 700_000  # 70% of ~1M
TOKENS_PER_CONVERSATION = 370  # the reference's own eval figures (BENCH-NOTES)


def _gpu(row: dict) -> str:
    return row["gpuModel"].removeprefix("NVIDIA ")


# peak dense bf16 tensor TFLOPS (FP32 accumulate); assumptions, not measurements
TFLOPS = {"RTX 4090": 165.2, **{_gpu(row): row["peakBf16Tflops"] for row in CATALOG["instanceTypes"].values()}}
HOSTS = {
    "4x RTX 4090 (reference box)": ("RTX 4090", None),
    **{
        f"{name} ({row['gpus']}x {_gpu(row)})": (_gpu(row), row["onDemandUsdPerHour"])
        for name, row in CATALOG["instanceTypes"].items()
    },
}


def main() -> None:
    summary = json.load(open(sys.argv[1]))
    ref, cand = summary["recipes"][sys.argv[2]], summary["recipes"][sys.argv[3]]
    ratio = cand["tokens_per_s"] / ref["tokens_per_s"]
    eval_capped_s = REF_EVAL_S * EVAL_CAP / REF_EVAL_SAMPLES
    method_train_s = REF_TRAIN_S / ratio

    train_tokens = TRAIN_CONVERSATIONS * TOKENS_PER_CONVERSATION
    ref_tps_4090 = train_tokens / REF_TRAIN_S
    tokens_per_step = ref["tokens_per_step_mean"]
    ref_step_4090 = tokens_per_step / ref_tps_4090
    saved_step_h100 = tokens_per_step / ref["tokens_per_s"] - tokens_per_step / cand["tokens_per_s"]
    cons_ratio = ref_step_4090 / (ref_step_4090 - saved_step_h100)
    cons_train_s = REF_TRAIN_S / cons_ratio

    rows = {}
    for host, (gpu, price) in HOSTS.items():
        scale = TFLOPS["RTX 4090"] / TFLOPS[gpu]
        est = {
            "reference recipe, full eval (300k)": (REF_TRAIN_S + REF_EVAL_S) * scale,
            "reference recipe, capped eval (2k)": (REF_TRAIN_S + eval_capped_s) * scale,
            "candidate, capped eval (method)": (method_train_s + eval_capped_s) * scale,
            "candidate, capped eval (conservative)": (cons_train_s + eval_capped_s) * scale,
        }
        rows[host] = {
            "gpu": gpu,
            "time_scale_vs_4090": round(scale, 3),
            "usd_per_hour": price,
            **{
                k: {"hours": round(v / 3600, 2), "usd": None if price is None else round(v / 3600 * price, 1)}
                for k, v in est.items()
            },
        }
    print(
        json.dumps(
            {
                "reference": sys.argv[2],
                "candidate": sys.argv[3],
                "tokens_per_s_ratio": round(ratio, 3),
                "conservative_ratio_on_4090": round(cons_ratio, 3),
                "assumptions": {
                    "reference_train_s": REF_TRAIN_S,
                    "reference_eval_s": REF_EVAL_S,
                    "eval_capped_s": round(eval_capped_s, 1),
                    "train_tokens_estimate": train_tokens,
                    "reference_tokens_per_s_4090_estimate": round(ref_tps_4090),
                    "reference_step_s_4090_estimate": round(ref_step_4090, 2),
                    "candidate_saving_per_step_h100_s": round(saved_step_h100, 3),
                    "peak_dense_bf16_tflops": TFLOPS,
                    "prices": "src/targets/aws/instance-types.json: AWS EC2 on-demand, us-east-1 Linux, 2024 list prices, not re-checked",
                },
                "hosts": rows,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
