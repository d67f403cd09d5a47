"""Synthetic ShareGPT conversations whose token lengths follow OpenHermes-2.5.

OpenHermes-2.5 (the reference run's data): ~1M ShareGPT conversations, mostly one human turn and
one gpt answer, some with a system prompt, a few multi-turn; ~370 tokens per conversation on
average (the reference's own eval figures) with a long tail past 2,048. Here each conversation's
total length in tokens L is drawn from a log-normal with mean 370 and sigma 1.0 (median ~225,
P(L > 2048) ~ 1.4%), clipped to [16, 8192]; 10% get a system prompt, 5% have two exchanges; the
human share of the rest is uniform in [0.1, 0.5]. Words come from a Zipf(1.1) law over the
tokenizer's regular vocabulary (bench/make_tokenizer.py: one word is one token), so the chat
encoding adds only its header tokens (~5 per message + BOS) to the counted words.
Deterministic for a given seed.

usage: python bench/make_dataset.py OUT.jsonl [N=16000] [SEED=100]
"""

from __future__ import annotations

import json
import sys

import numpy as np
from make_tokenizer import FIXED_WORDS, N_REGULAR, word

MEAN_TOKENS = 370.0
SIGMA = 1.0
HEADER_TOKENS = 5  # <|start_header_id|> role <|end_header_id|> ... <|eot_id|> (+ blank line, no token)


def generate(n: int, seed: int):
    rng = np.random.default_rng(seed)
    mu = np.log(MEAN_TOKENS) - SIGMA**2 / 2
    lengths = np.clip(np.round(rng.lognormal(mu, SIGMA, size=n)), 16, 8192).astype(int)
    first = len(FIXED_WORDS)
    span = N_REGULAR - first

    def words(k: int) -> str:
        k = max(1, int(k))
        ids = first + (rng.zipf(1.1, size=k) - 1) % span
        return " ".join(word(int(i)) for i in ids)

    for total in lengths:
        conv = []
        budget = total - 1  # BOS
        if rng.random() < 0.10:
            k = int(rng.integers(10, 60))
            conv.append({"from": "system", "value": words(k)})
            budget -= k + HEADER_TOKENS
        exchanges = 2 if rng.random() < 0.05 else 1
        per = max(8, budget // exchanges)
        for _ in range(exchanges):
            body = max(2, per - 2 * HEADER_TOKENS)
            human = max(1, int(body * rng.uniform(0.1, 0.5)))
            conv.append({"from": "human", "value": words(human)})
            conv.append({"from": "gpt", "value": words(body - human)})
        yield {"conversations": conv}


def main() -> None:
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 16000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    tokens = []
    with open(out, "w", encoding="utf-8") as f:
        for row in generate(n, seed):
            f.write(json.dumps(row) + "\n")
            tokens.append(1 + sum(len(m["value"].split()) + HEADER_TOKENS for m in row["conversations"]))
    t = np.array(tokens)
    print(
        json.dumps(
            {
                "out": out,
                "conversations": n,
                "seed": seed,
                "tokens_mean": round(float(t.mean()), 1),
                "tokens_median": float(np.median(t)),
                "tokens_p99": float(np.percentile(t, 99)),
                "tokens_max": int(t.max()),
                "share_over_2048": round(float((t > 2048).mean()), 4),
                "tokens_total": int(t.sum()),
            }
        )
    )


if __name__ == "__main__":
    main()
