"""The evaluation gate: the merged model must score as the adapter did, or nothing is published.

The merge step (``stacktune_train.merge``) measures the loss of the adapter (base + LoRA, unmerged)
and of the merged model on one fixed held-out sample: the first ``gate_samples`` conversations of
the seeded test split (``split_seed``), the same rows ``max_eval_samples`` evaluates first. Both
run on the same base weights, so any difference is the merge's own: a merge error (lost or
corrupted weights, a wrong dtype, a discarded ``merge_and_unload()`` result) shows up as a jump.
When the merged loss exceeds the adapter's by more than ``gate_tolerance`` (relative), the merge
step fails and says so; the run then never reaches the smoke test or publish, and publish itself
refuses a merged directory whose gate record did not pass.

The record (``stacktune-gate.json`` in the merged directory) names the sample (seed, row indices
of the test split, a digest of their texts) so anyone can re-measure it; the losses also go into
``metrics.json`` (the run summary) and the model card. The gate's second half, optional benchmark
tasks through lm-evaluation-harness with score thresholds, is ``stacktune_train.benchmark``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from stacktune_train.config import StacktuneConfig

GATE_RECORD = "stacktune-gate.json"
#: The settings key a user changes when the gate fails (docs/contracts.md §4: gate_tolerance).
TOLERANCE_KEY = "stacktune:evaluation.gate.tolerance"
ENABLED_KEY = "stacktune:evaluation.gate.enabled"


@dataclass(frozen=True)
class HeldOutSample:
    """The gate's fixed sample: rows ``indices`` of the test split made with ``split_seed``."""

    texts: list[str]
    split_seed: int
    indices: list[int]

    @property
    def digest(self) -> str:
        return hashlib.sha256("\0".join(self.texts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class GateResult:
    adapter_loss: float
    merged_loss: float
    tolerance: float
    samples: int
    split_seed: int
    indices: list[int]
    sample_sha256: str

    @property
    def limit(self) -> float:
        return self.adapter_loss * (1 + self.tolerance)

    @property
    def passed(self) -> bool:
        return math.isfinite(self.merged_loss) and self.merged_loss <= self.limit

    def record(self) -> dict:
        return {**asdict(self), "passed": self.passed}

    def metrics(self) -> dict[str, float]:
        """The numbers the run summary shows (metrics.json holds numbers only)."""
        return {
            "gate_adapter_loss": self.adapter_loss,
            "gate_merged_loss": self.merged_loss,
            "gate_tolerance": self.tolerance,
            "gate_samples": self.samples,
            "gate_passed": 1 if self.passed else 0,
        }

    def verdict(self) -> str:
        return (
            f"merged model loss {self.merged_loss:.4f} vs adapter loss {self.adapter_loss:.4f} on {self.samples} "
            f"held-out samples (split_seed {self.split_seed}): "
            + ("passed" if self.passed else "FAILED")
            + f" (tolerance {self.tolerance:g}: at most {self.limit:.4f})"
        )

    def failure(self) -> str:
        return (
            f"stacktune: evaluation gate failed: the {self.verdict()}. The merged weights do not reproduce the "
            f"adapter's results (a merge error), so nothing is published. Look for the cause in the merge step's "
            f"log; if the difference is expected, raise {TOLERANCE_KEY} (now {self.tolerance:g}) or set "
            f"{ENABLED_KEY} to false"
        )


def held_out_sample(cfg: StacktuneConfig) -> HeldOutSample:
    """The first ``gate_samples`` rows of the prepared, seeded test split (prepare reuses the saved set)."""
    from stacktune_train.prepare import prepare

    splits, _, _ = prepare(cfg)
    test = splits["test"]
    count = min(cfg.publish.gate_samples, len(test))
    field = cfg.training.dataset_text_field
    indices = list(range(count))
    return HeldOutSample(texts=[test[i][field] for i in indices], split_seed=cfg.data.split_seed, indices=indices)


@torch.no_grad()
def mean_token_loss(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int
) -> float:
    """Cross-entropy per predicted token over all texts, one unpadded sequence at a time."""
    model.eval()
    device = next(model.parameters()).device
    total, tokens = 0.0, 0
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False, truncation=True, max_length=max_length, return_tensors="pt")[
            "input_ids"
        ].to(device)
        if ids.shape[1] < 2:
            continue
        loss = model(input_ids=ids, labels=ids).loss.float().item()
        total += loss * (ids.shape[1] - 1)
        tokens += ids.shape[1] - 1
    if tokens == 0:
        raise SystemExit("stacktune: the evaluation gate's held-out sample has no tokens; check the test split")
    return total / tokens


def result_of(cfg: StacktuneConfig, sample: HeldOutSample, adapter_loss: float, merged_loss: float) -> GateResult:
    return GateResult(
        adapter_loss=adapter_loss,
        merged_loss=merged_loss,
        tolerance=cfg.publish.gate_tolerance,
        samples=len(sample.texts),
        split_seed=sample.split_seed,
        indices=sample.indices,
        sample_sha256=sample.digest,
    )


def check_published_gate(record: dict | None, merged_dir: Path) -> None:
    """Publish's own check: a merged directory is published only with a passed gate record."""
    if record is None:
        raise SystemExit(
            f"stacktune: {merged_dir} has no evaluation gate record ({GATE_RECORD}); run the merge step again "
            f"(it measures the gate), or set {ENABLED_KEY} to false"
        )
    if record.get("passed") is not True:
        raise SystemExit(
            f"stacktune: evaluation gate failed for {merged_dir}: merged model loss {record.get('merged_loss')} vs "
            f"adapter loss {record.get('adapter_loss')} (tolerance {record.get('tolerance')}); nothing is published. "
            f"Raise {TOLERANCE_KEY} or set {ENABLED_KEY} to false if the difference is expected"
        )
