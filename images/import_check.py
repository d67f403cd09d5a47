"""Imports every distribution the given requirement files pin, in the running environment.

    python import_check.py python/requirements.txt images/requirements-gpu.txt ...

Each pinned distribution must be installed at its pinned version, and each top-level module its
RECORD installs must import.
Runs where no GPU is: in `docker build` and in CI. Prints one line per distribution and exits 1
naming every failure at once.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Distributions whose modules cannot be imported without an NVIDIA driver, or that ship none.
# Each is still installed, version-checked and covered by `pip check`; torch imports the CUDA
# libraries it needs lazily, so `import torch` works on CPU all the same.
NOT_IMPORTED = {
    "cuda-toolkit": "a metapackage: it only depends on the nvidia-* wheels",
    "setuptools": "the build backend of sqlitedict, word2number and DeepSpeed, imported by pip, not by the trainer",
    "wheel": "the build backend of sqlitedict, word2number and DeepSpeed, imported by pip, not by the trainer",
}

# Top-level names a RECORD lists that are not modules of the distribution.
NOT_MODULES = {"bin", "share", "include", "lib", "etc", "__pycache__", ".."}


def pinned(files: list[str]) -> dict[str, str]:
    """`name==version` lines (markers evaluated for this interpreter), by canonical name."""
    pins: dict[str, str] = {}
    for file in files:
        for raw in Path(file).read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate():
                continue
            spec = next(iter(req.specifier), None)
            if len(req.specifier) != 1 or spec is None or spec.operator != "==":
                raise SystemExit(f"{file}: {raw!r} is not pinned to one version (name==version)")
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def top_level_modules(dist: metadata.Distribution) -> list[str]:
    """The modules its RECORD installs: top-level packages and modules, and for a namespace
    package shared by several distributions (nvidia/, cuda/) this distribution's own subpackages."""
    files = [f.parts for f in dist.files or [] if f.parts[0] not in NOT_MODULES]
    files = [p for p in files if not p[0].endswith((".dist-info", ".data", ".pth", ".egg-link"))]
    regular = {p[0] for p in files if len(p) == 2 and p[1] == "__init__.py"}
    names = set()
    for parts in files:
        if len(parts) == 1:
            if parts[0].endswith(".py"):
                names.add(parts[0][: -len(".py")])
            elif parts[0].endswith(".so"):
                names.add(parts[0].split(".", 1)[0])
        elif parts[0] in regular:
            names.add(parts[0])
        elif len(parts) > 2:
            names.add(f"{parts[0]}.{parts[1]}")
    return sorted(n for n in names if all(part.isidentifier() for part in n.split(".")))


def main(files: list[str]) -> int:
    failures: list[str] = []
    for name, version in sorted(pinned(files).items()):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            failures.append(f"{name}=={version} is not installed")
            continue
        if dist.version != version:
            failures.append(f"{name} is {dist.version}, pinned {version}")
            continue
        if name in NOT_IMPORTED:
            print(f"{name} {version}: installed, not imported ({NOT_IMPORTED[name]})")
            continue
        modules = top_level_modules(dist)
        if not modules:
            failures.append(f"{name} {version} has no importable module; list it in NOT_IMPORTED with the reason")
            continue
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the check
                failures.append(f"{name} {version}: import {module} failed: {type(exc).__name__}: {exc}")
        print(f"{name} {version}: imported {', '.join(modules)}")
    importlib.import_module("stacktune_train")
    if failures:
        print("import check failed:", *failures, sep="\n  - ", file=sys.stderr)
        return 1
    print(f"import check: every pinned distribution of {', '.join(files)} is installed and imports")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
