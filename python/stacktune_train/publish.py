"""Publish the smoke-tested merged model, then mark the experiment complete: the run's last step.

``python -m stacktune_train.publish training.yaml``

launch.sh runs it after the smoke test passed, so "complete" means published *and* smoke-tested.
Destinations: the adapter (with its tokenizer, the model card and the pictures it shows) to
``adapter_repo_id`` when set, first; the merged model, its tokenizer, model card, metrics, history, pictures and
``stacktune.json`` (``{"experiment_hash", "stack"}``, the completion marker) to ``merged_repo_id``
when set, else to ``output_store_dir``.

- Output store: model, tokenizer, adapter and marker (written last) go into a staging directory
  beside the destination, which is then renamed into place; a destination stacktune did not write
  for this stack is refused, untouched (``stacktune_train.store``).
- Hub: one commit holds the weights, the tokenizer and the marker, so ``main`` shows the previous
  complete model or the new one, never new weights beside the previous experiment's marker (nor
  the reverse), and a failed upload changes nothing. Deleting the old marker first, then uploading
  weights and marker in two more commits, is safe too, but takes three commits and leaves a
  complete previous model unmarked whenever an upload fails.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from stacktune_train.benchmark import BENCHMARK_RECORD, check_published_benchmarks, task_names
from stacktune_train.config import StacktuneConfig, parse_cli
from stacktune_train.gate import GATE_RECORD, check_published_gate
from stacktune_train.merge import MERGE_RECEIPT, experiment_identity
from stacktune_train.plots import picture_files
from stacktune_train.store import COMPLETION_MARKER, check_output_store, read_json_object, replace_directory, write_json

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


def log(message: str) -> None:
    print(f"[publish] {message}", flush=True)


def hub_api():
    from huggingface_hub import HfApi

    return HfApi(token=os.environ.get("HF_TOKEN"))


def commit_message(identity: dict[str, str]) -> str:
    return f"stacktune {identity['stack']} {identity['experiment_hash']}"


def merged_model_files(merged_dir: Path) -> list[Path]:
    """Every file of the merged model, in a stable order, without the merge's receipt."""
    return sorted(p for p in merged_dir.rglob("*") if p.is_file() and p.name != MERGE_RECEIPT)


def merged_dir_of(cfg: StacktuneConfig, identity: dict[str, str]) -> Path:
    """The smoke-tested merged directory, checked to be this experiment's (a stale one is never published)."""
    merged_dir = Path(cfg.publish.merged_output_dir)
    receipt = read_json_object(merged_dir / MERGE_RECEIPT)
    if receipt is None:
        raise SystemExit(f"stacktune: {merged_dir} holds no merged model; run the merge step first")
    if receipt.get("experiment_hash") != identity["experiment_hash"]:
        raise SystemExit(
            f"stacktune: the merged model in {merged_dir} is of experiment {receipt.get('experiment_hash')}, "
            f"not {identity['experiment_hash']}; run the merge and smoke steps again"
        )
    return merged_dir


def push_adapter(cfg: StacktuneConfig, merged_dir: Path, identity: dict[str, str]) -> None:
    """The adapter, its tokenizer and stacktune's model card, in one commit to the adapter repo.

    Explicit operations rather than ``upload_folder``: the card is the merged model's (the trainer's
    own README in output_dir names none of the inputs), and nothing else of output_dir travels.
    """
    from huggingface_hub import CommitOperationAdd

    output_dir = Path(cfg.training.output_dir)
    api = hub_api()
    api.create_repo(cfg.publish.adapter_repo_id, private=cfg.publish.hub_private, exist_ok=True)
    files = [(output_dir / name, name) for name in (*ADAPTER_FILES, *TOKENIZER_FILES) if (output_dir / name).is_file()]
    # The card shows the loss curve by a relative link: the pictures travel with it.
    files += [(merged_dir / name, name) for name in ("README.md", *picture_files()) if (merged_dir / name).is_file()]
    api.create_commit(
        repo_id=cfg.publish.adapter_repo_id,
        operations=[CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path)) for path, name in files],
        commit_message=commit_message(identity),
    )
    log(f"adapter + tokenizer + model card pushed to {cfg.publish.adapter_repo_id} in one commit")


def publish_to_hub(cfg: StacktuneConfig, merged_dir: Path, identity: dict[str, str]) -> None:
    from huggingface_hub import CommitOperationAdd

    api = hub_api()
    api.create_repo(cfg.publish.merged_repo_id, private=cfg.publish.hub_private, exist_ok=True)
    operations = [
        CommitOperationAdd(path_in_repo=path.relative_to(merged_dir).as_posix(), path_or_fileobj=str(path))
        for path in merged_model_files(merged_dir)
    ]
    operations.append(
        CommitOperationAdd(
            path_in_repo=COMPLETION_MARKER, path_or_fileobj=(json.dumps(identity) + "\n").encode("utf-8")
        )
    )
    api.create_commit(
        repo_id=cfg.publish.merged_repo_id, operations=operations, commit_message=commit_message(identity)
    )
    log(f"merged model + tokenizer + {COMPLETION_MARKER} pushed to {cfg.publish.merged_repo_id} in one commit")


def publish_to_store(cfg: StacktuneConfig, merged_dir: Path, identity: dict[str, str]) -> Path:
    store = Path(cfg.publish.output_store_dir).expanduser()
    check_output_store(cfg.publish.output_store_dir, identity["stack"])

    def write(staging: Path) -> None:
        for path in merged_model_files(merged_dir):
            target = staging / path.relative_to(merged_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        adapter_dir = staging / "adapter"
        adapter_dir.mkdir()
        for name in ADAPTER_FILES:
            shutil.copy2(Path(cfg.training.output_dir) / name, adapter_dir / name)
        write_json(staging / COMPLETION_MARKER, identity)  # last: the rename shows a complete store or none

    replace_directory(store, write)
    log(f"merged model + tokenizer + adapter moved into {store}")
    return store


def main(cfg: StacktuneConfig) -> Path | str:
    """Publishes; returns the output store, or the merged repo id."""
    identity = experiment_identity()
    merged_dir = merged_dir_of(cfg, identity)
    if cfg.publish.gate_enabled:  # before any Hub call or store write
        check_published_gate(read_json_object(merged_dir / GATE_RECORD), merged_dir)
    if task_names(cfg.publish.benchmark_tasks):
        check_published_benchmarks(read_json_object(merged_dir / BENCHMARK_RECORD), merged_dir)
    if cfg.publish.merged_repo_id is None:
        # Before anything leaves the host: a refused store must not leave a half-published adapter.
        check_output_store(cfg.publish.output_store_dir, identity["stack"])
    if cfg.publish.adapter_repo_id:
        push_adapter(cfg, merged_dir, identity)
    if cfg.publish.merged_repo_id:
        publish_to_hub(cfg, merged_dir, identity)
        return cfg.publish.merged_repo_id
    return publish_to_store(cfg, merged_dir, identity)


if __name__ == "__main__":
    main(parse_cli(sys.argv[1:]))
