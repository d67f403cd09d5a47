"""Directories stacktune writes a model into: staged beside the destination, renamed into place.

A destination is replaced only when stacktune wrote it: the output store when its completion marker
names the same stack, the merged directory when it holds the merge's receipt. Anything else there is
refused and left as it was. The new content is written into a fresh staging directory next to the
destination (same filesystem, so the rename is atomic); the completion marker, when there is one, is
written into it last, so the destination appears complete or not at all.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

COMPLETION_MARKER = "stacktune.json"


def read_json_object(path: Path) -> dict | None:
    """The JSON object in ``path``, or None when it is missing, unreadable or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json(path: Path, value: dict) -> None:
    """Writes ``value`` with a JSON encoder, via a temporary file and a rename (never half a file)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value) + "\n", encoding="utf-8")
    os.replace(partial, path)


def occupant(destination: Path) -> str | None:
    """What is at ``destination`` that is not ours to replace, described; None when nothing is."""
    if destination.is_symlink():
        return "is a symbolic link"
    if not destination.exists():
        return None
    if not destination.is_dir():
        return "is a file"
    if not any(destination.iterdir()):
        return None
    return "already holds files"


def store_refusal(store: Path, stack: str) -> str | None:
    """Why the output store of ``stack`` cannot be written at ``store``, or None."""
    problem = occupant(store)
    if problem is None:
        return None
    advice = (
        "stacktune replaces only this stack's own output and left everything as it was; set stacktune:hub.localDir "
        f"to a directory of its own (e.g. ~/.stacktune/models/{stack}), or move those files away"
    )
    marker = read_json_object(store / COMPLETION_MARKER) if problem == "already holds files" else None
    if marker is None:
        return f"{store} {problem} that stacktune did not write; {advice}"
    if marker.get("stack") != stack:
        return f"{store} holds the model of stack {marker.get('stack')} (its {COMPLETION_MARKER}), not of {stack}; {advice}"
    return None


def check_output_store(store_dir: str | None, stack: str) -> None:
    """Fails (exit with the reason) when the output store would replace what stacktune did not write."""
    if store_dir is None:
        return
    refusal = store_refusal(Path(store_dir).expanduser(), stack)
    if refusal is not None:
        raise SystemExit(f"stacktune: {refusal}")


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def replace_directory(destination: Path, write: Callable[[Path], None]) -> None:
    """Writes a new ``destination`` through ``write(staging)`` and renames it into place.

    The caller has established that whatever is at ``destination`` may be replaced. A previous
    directory moves aside first (a non-empty directory cannot be renamed over) and is removed once
    the new one is in place; a failed ``write`` removes its own staging directory and nothing else.
    """
    parent = destination.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.staging-", dir=parent))
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700 would outlive the rename
        write(staging)
        aside = None
        if destination.exists() and any(destination.iterdir()):
            aside = Path(tempfile.mkdtemp(prefix=f".{destination.name}.previous-", dir=parent))
            os.rename(destination, aside)  # onto the empty directory mkdtemp made
        try:
            os.rename(staging, destination)
        except BaseException:
            if aside is not None:
                os.rename(aside, destination)  # the previous output stays where it was
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if aside is not None:
        shutil.rmtree(aside)
