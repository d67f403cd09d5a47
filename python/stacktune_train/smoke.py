"""Smoke test of the merged model: one generation from a correct Llama-3 prompt.

``python -m stacktune_train.smoke training.yaml``

The prompt ends with the assistant header *and its blank line* (the reference's prompt lacked
it). Sampling follows the reference (temperature 0.7) under the run's seed, so a re-run prints
the same sample. Fails (exit 1) on empty or degenerate output; prints the sample either way.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

from stacktune_train.chat import generation_prompt
from stacktune_train.config import StacktuneConfig, parse_cli


@dataclass
class SmokeResult:
    prompt: str
    text: str
    token_ids: list[int]
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def degeneracy(text: str, token_ids: list[int]) -> str | None:
    """Why the output is unusable, or None: empty, or stuck repeating one or two tokens."""
    if not text.strip():
        return "the model generated no text"
    if len(token_ids) >= 8:
        longest = run = 1
        for previous, current in zip(token_ids, token_ids[1:], strict=False):
            run = run + 1 if current == previous else 1
            longest = max(longest, run)
        if longest >= max(8, len(token_ids) // 2):
            return f"the output repeats one token {longest} times in a row"
        if len(set(token_ids)) <= 2:
            return f"the output cycles through {len(set(token_ids))} distinct tokens"
    return None


def run_smoke(cfg: StacktuneConfig, model_dir: str | None = None) -> SmokeResult:
    model_dir = model_dir or cfg.publish.merged_output_dir
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).eval()
    prompt = generation_prompt([("user", cfg.publish.smoke_prompt)])
    inputs = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").to(device)
    set_seed(cfg.training.seed)
    with torch.no_grad():
        output = model.generate(
            **inputs,
            do_sample=True,
            temperature=0.7,
            max_new_tokens=cfg.publish.smoke_max_new_tokens,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        )
    new_ids = output[0, inputs["input_ids"].shape[1] :].tolist()
    text = tokenizer.decode(new_ids, skip_special_tokens=True)
    return SmokeResult(prompt=prompt, text=text, token_ids=new_ids, problem=degeneracy(text, new_ids))


def main(cfg: StacktuneConfig) -> SmokeResult:
    result = run_smoke(cfg)
    print(f"[smoke] prompt: {cfg.publish.smoke_prompt!r}", flush=True)
    print(f"[smoke] sample ({len(result.token_ids)} tokens): {result.text!r}", flush=True)
    if not result.ok:
        print(f"[smoke] FAILED: {result.problem}", flush=True)
        raise SystemExit(1)
    print("[smoke] passed", flush=True)
    return result


if __name__ == "__main__":
    main(parse_cli(sys.argv[1:]))
