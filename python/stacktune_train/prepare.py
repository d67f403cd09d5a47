"""Data prep: ShareGPT conversations -> Llama-3 text, split, saved once per distinct input.

``python -m stacktune_train.prepare training.yaml`` loads ``dataset_source`` (a Hub dataset id or
a local .jsonl/.json/.parquet/.arrow file or save_to_disk directory), encodes every conversation
(:mod:`stacktune_train.chat`), keeps only the text column, splits train/test with ``test_size``
and ``split_seed``, and saves the result under ``prepared_dataset_dir/<input hash>/``. A re-run
with the same inputs (same source bytes for local files) reuses that directory. The caps
(``max_train_samples``, ``max_eval_samples``) take the first N rows of each seeded split when the
set is loaded for training, so changing a cap never re-prepares.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

from stacktune_train.chat import encode_conversation
from stacktune_train.config import DataArguments, StacktuneConfig, parse_cli
from stacktune_train.store import check_output_store

#: Bump when the prepared format changes, so old directories are not reused.
PREPARED_FORMAT = 1
MANIFEST = "stacktune-prepared.json"
LOCAL_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".arrow": "arrow"}


def log(message: str) -> None:
    print(f"[prepare] {message}", flush=True)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with file.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def prepared_key(data: DataArguments, text_field: str) -> str:
    """Hash of everything that changes the prepared set (not the caps: they are applied on load)."""
    source = Path(data.dataset_source).expanduser()
    inputs = {
        "format": PREPARED_FORMAT,
        "source": data.dataset_source,
        "revision": data.dataset_revision,
        "source_sha256": _file_digest(source) if source.exists() else None,
        "conversations_field": data.conversations_field,
        "role_map": dict(sorted(data.role_map.items())),
        "chat_format": data.chat_format,
        "test_size": data.test_size,
        "split_seed": data.split_seed,
        "text_field": text_field,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def load_source(source: str, revision: str = "main") -> Dataset:
    path = Path(source).expanduser()
    if path.is_dir():
        loaded = load_from_disk(str(path))
        if isinstance(loaded, DatasetDict):
            if "train" not in loaded:
                raise ValueError(f"{source}: saved DatasetDict has no 'train' split (has {list(loaded)})")
            loaded = loaded["train"]
        return loaded
    if path.is_file():
        builder = LOCAL_BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise ValueError(
                f"{source}: unsupported file type {path.suffix!r}; use one of {', '.join(sorted(LOCAL_BUILDERS))}"
            )
        return load_dataset(builder, data_files=str(path), split="train")
    if source.startswith((".", "/", "~")) or source.endswith(tuple(LOCAL_BUILDERS)):
        raise FileNotFoundError(f"dataset_source {source!r} looks like a local path but does not exist")
    return load_dataset(source, split="train", revision=revision)


def encode_dataset(dataset: Dataset, data: DataArguments, text_field: str) -> Dataset:
    """Map every row to ``{text_field: llama3 text}``, dropping every other column."""
    if data.conversations_field not in dataset.column_names:
        raise ValueError(
            f"dataset has no column {data.conversations_field!r} (columns: {', '.join(dataset.column_names)}); "
            "set stacktune:dataset.conversationsField"
        )
    role_map = dict(data.role_map)
    field = data.conversations_field

    def encode(row, index):
        return {text_field: encode_conversation(row[field], sample_index=index, role_map=role_map)}

    num_proc = min(8, os.cpu_count() or 1) if len(dataset) >= 50_000 else None
    return dataset.map(
        encode,
        with_indices=True,
        remove_columns=dataset.column_names,
        num_proc=num_proc,
        desc="Encoding conversations as Llama-3 text",
    )


def split_dataset(dataset: Dataset, data: DataArguments) -> DatasetDict:
    return dataset.train_test_split(test_size=data.test_size, seed=data.split_seed)


def apply_caps(splits: DatasetDict, data: DataArguments) -> DatasetDict:
    """First ``max_train_samples`` / ``max_eval_samples`` rows of the seeded splits (a fixed subset)."""
    capped = {}
    for name, cap in (("train", data.max_train_samples), ("test", data.max_eval_samples)):
        split = splits[name]
        capped[name] = split.select(range(min(cap, len(split)))) if cap is not None else split
    return DatasetDict(capped)


def prepare(cfg: StacktuneConfig) -> tuple[DatasetDict, Path, bool]:
    """The prepared (uncapped) splits, their directory, and whether they were reused."""
    data, text_field = cfg.data, cfg.training.dataset_text_field
    key = prepared_key(data, text_field)
    target = Path(data.prepared_dataset_dir).expanduser() / key
    if (target / MANIFEST).is_file():
        log(f"reusing {target} (same inputs, key {key})")
        return load_from_disk(str(target)), target, True
    started = time.monotonic()
    log(f"loading {data.dataset_source}")
    source = load_source(data.dataset_source, data.dataset_revision)
    log(f"encoding {len(source)} conversations (chat format {data.chat_format})")
    splits = split_dataset(encode_dataset(source, data, text_field), data)
    staging = target.with_name(f".{key}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    splits.save_to_disk(str(staging))
    manifest = {"key": key, "source": data.dataset_source, "rows": {k: len(v) for k, v in splits.items()}}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # atomic: a crash mid-save never leaves a directory that looks complete
    log(
        f"saved train {len(splits['train'])} / test {len(splits['test'])} to {target} "
        f"in {time.monotonic() - started:.1f} s"
    )
    return load_from_disk(str(target)), target, False


def push_prepared(splits: DatasetDict, repo_id: str, private: bool) -> None:
    log(f"pushing prepared set to dataset repo {repo_id}")
    splits.push_to_hub(repo_id, private=private, token=os.environ.get("HF_TOKEN"))


def main(argv: list[str] | None = None) -> None:
    cfg = parse_cli(argv)
    # The run's last step publishes there (the main machine's): a destination it may not write is
    # refused now, not after hours of training. A manual run without run.env has no stack to check.
    stack = os.environ.get("STACKTUNE_STACK")
    if stack and os.environ.get("STACKTUNE_MACHINE_RANK", "0") == "0":
        check_output_store(cfg.publish.output_store_dir, stack)
    splits, target, _ = prepare(cfg)
    capped = apply_caps(splits, cfg.data)
    log(f"training on {len(capped['train'])} samples, evaluating on {len(capped['test'])} (caps applied)")
    if cfg.data.prepared_dataset_repo:
        push_prepared(splits, cfg.data.prepared_dataset_repo, cfg.publish.hub_private)


if __name__ == "__main__":
    main()
