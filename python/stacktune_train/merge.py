"""Merge the LoRA adapter into the base model and save it with its tokenizer, in the run directory.

``python -m stacktune_train.merge training.yaml``

Unlike the reference run, the merged model is the *return value* of ``merge_and_unload()``, the
tokenizer is saved with it, and a model card records the inputs, licence, settings, results, cost and
experiment hash. Nothing
leaves the run directory here: the smoke test runs on ``merged_output_dir`` next, and only then
does ``stacktune_train.publish`` move it to the Hub or the output store and write the completion
marker. Before anything is saved, the evaluation gate (``stacktune_train.gate``) compares the merged
model's loss on a fixed held-out sample with the adapter's: a merge error fails this step, so a
failed gate publishes nothing. The benchmark tasks of ``benchmark_tasks`` (``stacktune_train.benchmark``)
run next on the merged model; a score below its threshold fails this step the same way. ``merged_output_dir`` is staged and renamed into place
(``stacktune_train.store``) and holds
a receipt (``stacktune-merge.json``, the experiment's identity) so that a re-run of the merge
replaces only its own output.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import torch
import yaml
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from stacktune_train import benchmark, gate
from stacktune_train.config import StacktuneConfig, parse_cli
from stacktune_train.history import HISTORY_FILE
from stacktune_train.plots import LOSS_CURVE, picture_files
from stacktune_train.store import occupant, read_json_object, replace_directory, write_json

# Identity of the experiment whose merge fills the directory; not the completion marker (publish writes that).
MERGE_RECEIPT = "stacktune-merge.json"


def log(message: str) -> None:
    print(f"[merge] {message}", flush=True)


def experiment_identity() -> dict[str, str]:
    missing = [k for k in ("STACKTUNE_EXPERIMENT_HASH", "STACKTUNE_STACK") if not os.environ.get(k)]
    if missing:
        raise SystemExit(
            f"{' and '.join(missing)} not set: run the merge through launch.sh, which sources run.env, "
            "or export them for a manual run"
        )
    return {"experiment_hash": os.environ["STACKTUNE_EXPERIMENT_HASH"], "stack": os.environ["STACKTUNE_STACK"]}


def load_adapted(cfg: StacktuneConfig, dtype: torch.dtype | None = None) -> PeftModel:
    """Base model (bf16 on GPU, fp32 on CPU) with the adapter from output_dir, not yet merged.

    The base is loaded unquantized: merging into 4-bit weights would round the adapter away.
    """
    on_gpu = torch.cuda.is_available()
    if dtype is None:
        dtype = torch.bfloat16 if on_gpu else torch.float32
    base = AutoModelForCausalLM.from_pretrained(
        cfg.model.model_name_or_path,
        revision=cfg.model.model_revision,
        dtype=dtype,
        device_map="auto" if on_gpu else None,
    )
    return PeftModel.from_pretrained(base, cfg.training.output_dir)


def merged_weights(adapted: PeftModel) -> PreTrainedModel:
    merged = adapted.merge_and_unload()
    merged.config.use_cache = True  # training switched it off; generation wants it
    return merged


def merge_adapter(cfg: StacktuneConfig, dtype: torch.dtype | None = None) -> PreTrainedModel:
    """Base model + adapter from output_dir, merged into plain weights."""
    return merged_weights(load_adapted(cfg, dtype))


def tokenizer_source(cfg: StacktuneConfig) -> str:
    """The trainer saves the tokenizer it trained with next to the adapter; else the base's."""
    trained_tokenizer = Path(cfg.training.output_dir) / "tokenizer_config.json"
    return cfg.training.output_dir if trained_tokenizer.is_file() else cfg.model.model_name_or_path


def merge_and_gate(cfg: StacktuneConfig) -> tuple[PreTrainedModel, gate.GateResult | None]:
    """The merged model and, unless gate_enabled is false, the evaluation gate's result (gate.py).

    The adapter is scored before merge_and_unload(), which merges in place, and the merged model
    after it, on the same rows: no second copy of the model is held.
    """
    adapted = load_adapted(cfg)
    if not cfg.publish.gate_enabled:
        return merged_weights(adapted), None
    sample = gate.held_out_sample(cfg)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source(cfg))
    max_length = cfg.training.max_length or tokenizer.model_max_length
    adapter_loss = gate.mean_token_loss(adapted, tokenizer, sample.texts, max_length)
    merged = merged_weights(adapted)
    merged_loss = gate.mean_token_loss(merged, tokenizer, sample.texts, max_length)
    return merged, gate.result_of(cfg, sample, adapter_loss, merged_loss)


def record_gate_metrics(cfg: StacktuneConfig, result: gate.GateResult | benchmark.BenchmarkResult) -> None:
    """Adds the gate's numbers to the run's metrics.json, which the run summary reports (pass or fail)."""
    path = Path(cfg.training.output_dir) / "metrics.json"
    write_json(path, {**(read_json_object(path) or {}), **result.metrics()})


def run_benchmarks(cfg: StacktuneConfig, merged: PreTrainedModel) -> benchmark.BenchmarkResult | None:
    """The benchmark tasks of ``benchmark_tasks`` on the merged model (benchmark.py); None when none are named."""
    tasks = benchmark.task_names(cfg.publish.benchmark_tasks)
    if not tasks:
        return None
    log(f"benchmarks: {', '.join(tasks)} through lm-eval, {cfg.publish.benchmark_limit} examples each")
    return benchmark.run(
        tasks,
        cfg.publish.benchmark_limit,
        cfg.publish.benchmark_min_scores or {},
        merged,
        AutoTokenizer.from_pretrained(tokenizer_source(cfg)),
        cfg.training.per_device_eval_batch_size,
    )


# The Meta Llama 3 Community License (section 1.b.i) asks a distributed derivative to say
# "Built with Meta Llama 3" prominently and to carry this notice.
LLAMA3_NOTICE = (
    "Meta Llama 3 is licensed under the Meta Llama 3 Community License, Copyright © Meta Platforms, Inc. "
    "All Rights Reserved."
)
ESTIMATED_COST_ENV = "STACKTUNE_ESTIMATED_COST"


def is_llama3(model_id: str) -> bool:
    return re.search(r"llama-?3", model_id, flags=re.IGNORECASE) is not None


def metric_lines(output_dir: str | Path) -> list[str]:
    """The run's metrics.json as card lines; the last logging window is what W&B shows as train/loss."""
    metrics = read_json_object(Path(output_dir) / "metrics.json") or {}

    def number(key: str, digits: int) -> str | None:
        value = metrics.get(key)
        return f"{value:.{digits}f}" if isinstance(value, (int, float)) else None

    train, last, evaluation = number("train_loss", 4), number("train_loss_last_window", 4), number("eval_loss", 4)
    return [
        f"- train loss: {train or '-'} (mean over the run)" + (f"; last logging window: {last}" if last else ""),
        f"- eval loss: {evaluation}" if evaluation else "- eval loss: - (no evaluation)",
        f"- trained tokens: {metrics.get('train_tokens', '-')}, {number('tokens_per_s', 1) or '-'} tokens/s, "
        f"{number('train_runtime_s', 0) or '-'} s of training",
    ]


def gate_lines(result: gate.GateResult | None) -> list[str]:
    if result is None:
        return ["- evaluation gate: off (evaluation.gate.enabled: false)"]
    rows = f"rows {result.indices[0]}-{result.indices[-1]}" if result.indices else "no rows"
    return [
        f"- evaluation gate: {'passed' if result.passed else 'failed'}: merged model loss {result.merged_loss:.4f}, "
        f"adapter loss {result.adapter_loss:.4f}, tolerance {result.tolerance:g} (relative)",
        f"  on {result.samples} held-out samples: {rows} of the test split with split_seed {result.split_seed}, "
        f"texts sha256 `{result.sample_sha256}`",
    ]


def benchmark_lines(result: benchmark.BenchmarkResult | None) -> list[str]:
    if result is None:
        return []
    return [f"- benchmark {line}" for line in result.lines()]


def run_files(output_dir: str | Path) -> list[Path]:
    """What travels with the model from the training output: metrics, history and pictures of the run."""
    names = ["metrics.json", HISTORY_FILE, *picture_files()]
    return [Path(output_dir) / name for name in names if (Path(output_dir) / name).is_file()]


def picture_lines(output_dir: str | Path) -> list[str]:
    """The loss curve shown in the card, the other pictures linked; paths relative to the card."""
    present = {path.name for path in run_files(output_dir)}
    if f"{LOSS_CURVE}.png" not in present:
        return []
    others = [name for name in picture_files() if name in present and not name.startswith(LOSS_CURVE)]
    return [
        f"![Loss curve: train and eval loss by step]({LOSS_CURVE}.png)",
        "",
        "Also: "
        + ", ".join(f"[{name}]({name})" for name in [f"{LOSS_CURVE}.svg", *others] if name in present)
        + (f"; every logged step in [{HISTORY_FILE}]({HISTORY_FILE})." if HISTORY_FILE in present else "."),
        "",
    ]


def model_card(
    cfg: StacktuneConfig,
    identity: dict[str, str],
    gate_result: gate.GateResult | None = None,
    benchmarks: benchmark.BenchmarkResult | None = None,
) -> str:
    """README.md of both repos: inputs at their revisions, licence, every setting, results, cost, hash."""
    settings = yaml.safe_load(cfg.source.read_text(encoding="utf-8")) or {}
    base, data = cfg.model.model_name_or_path, cfg.data.dataset_source
    llama3 = is_llama3(base)
    metadata = {
        "base_model": base,
        **({"license": "llama3"} if llama3 else {}),
        "datasets": [data],
        "library_name": "transformers",
        "tags": ["stacktune", "qlora"],
    }
    licence = (
        [
            "## Licence",
            "",
            "**Built with Meta Llama 3**",
            "",
            LLAMA3_NOTICE,
            "Use of this model is governed by the Meta Llama 3 Community License and its Acceptable Use Policy.",
            "",
        ]
        if llama3
        else []
    )
    cost = os.environ.get(ESTIMATED_COST_ENV)
    lines = [
        f"# {identity['stack']}",
        "",
        f"Fine-tuned by stacktune from `{base}` at revision `{cfg.model.model_revision}` "
        f"on `{data}` at revision `{cfg.data.dataset_revision}` with LoRA r={cfg.model.lora_r}, alpha={cfg.model.lora_alpha} "
        f"({'4-bit QLoRA' if cfg.model.load_in_4bit else 'LoRA'}), adapter merged into the base weights.",
        "",
        f"- experiment hash: `{identity['experiment_hash']}`",
        f"- stack: `{identity['stack']}`",
        "",
        "Prompt format: Llama-3 chat (`<|start_header_id|>assistant<|end_header_id|>` followed by a blank line).",
        "",
        *licence,
        "## Results",
        "",
        *metric_lines(cfg.training.output_dir),
        *gate_lines(gate_result),
        *benchmark_lines(benchmarks),
        f"- estimated cost: {cost}" if cost else "- estimated cost: - (not given to this run)",
        "",
        *picture_lines(cfg.training.output_dir),
        "## Training settings (training.yaml)",
        "",
        "```yaml",
    ]
    return (
        "---\n"
        + yaml.safe_dump(metadata, sort_keys=False)
        + "---\n\n"
        + "\n".join(lines)
        + "\n"
        + yaml.safe_dump(settings, sort_keys=True, allow_unicode=True)
        + "```\n"
    )


def save_merged(
    cfg: StacktuneConfig,
    merged: PreTrainedModel,
    identity: dict[str, str],
    gate_result: gate.GateResult | None = None,
    benchmarks: benchmark.BenchmarkResult | None = None,
) -> Path:
    out = Path(cfg.publish.merged_output_dir)
    problem = occupant(out)
    if problem is not None and read_json_object(out / MERGE_RECEIPT) is None:
        raise SystemExit(
            f"stacktune: {out.resolve()} {problem} and was not written by stacktune's merge; move it away "
            "(merged_output_dir is replaced only when it holds a previous merge)"
        )

    def write(directory: Path) -> None:
        merged.save_pretrained(directory)
        AutoTokenizer.from_pretrained(tokenizer_source(cfg)).save_pretrained(directory)
        (directory / "README.md").write_text(model_card(cfg, identity, gate_result, benchmarks), encoding="utf-8")
        if gate_result is not None:
            write_json(directory / gate.GATE_RECORD, gate_result.record())
        if benchmarks is not None:
            write_json(directory / benchmark.BENCHMARK_RECORD, benchmarks.record())
        # Travels with the model: the output store's reader reports the metrics, the card shows the
        # pictures, `stacktune report` reads the history.
        for path in run_files(cfg.training.output_dir):
            shutil.copy2(path, directory / path.name)
        write_json(directory / MERGE_RECEIPT, identity)

    replace_directory(out, write)
    log(f"merged model + tokenizer saved to {out}")
    return out


def remove_previous_merge(out: Path) -> None:
    """After a failed gate no merged model of an earlier attempt stays behind for publish to find.

    Only a directory with stacktune's merge receipt is removed (save_merged replaces only those too).
    """
    if read_json_object(out / MERGE_RECEIPT) is not None:
        shutil.rmtree(out)
        log(f"removed the earlier merge in {out}: this merge failed the evaluation gate")


def main(cfg: StacktuneConfig) -> Path:
    identity = experiment_identity()
    log(f"merging adapter {cfg.training.output_dir} into {cfg.model.model_name_or_path}")
    merged, result = merge_and_gate(cfg)
    if result is not None:
        record_gate_metrics(cfg, result)
        log("evaluation gate: " + result.verdict())
        if not result.passed:
            remove_previous_merge(Path(cfg.publish.merged_output_dir))
            raise SystemExit(result.failure())
    scores = run_benchmarks(cfg, merged)
    if scores is not None:
        record_gate_metrics(cfg, scores)
        for line in scores.lines():
            log(f"benchmark {line}")
        if not scores.passed:
            remove_previous_merge(Path(cfg.publish.merged_output_dir))
            raise SystemExit(scores.failure())
    return save_merged(cfg, merged, identity, result, scores)


if __name__ == "__main__":
    main(parse_cli(sys.argv[1:]))
