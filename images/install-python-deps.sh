#!/usr/bin/env bash
# The one install of the pinned Python set, run by images/train.Dockerfile, by CI
# (scripts/setup.sh --only pythons) and by the venv runtime on a host (src/job/remote/run-job.sh,
# from the run directory, which holds python/ and images/ as the repository does), so none can
# drift. It installs into the environment of the python on PATH (or $PYTHON): the image's
# /opt/stacktune, a CI venv of each CPython the pinned set supports, or a host's run venv.
#
#   install-python-deps.sh requirements   python/requirements.txt, lm-eval, the GPU wheels, DeepSpeed; pip check
#   install-python-deps.sh requirements cpu
#                                         python/requirements.txt and lm-eval (a CPU run); pip check
#   install-python-deps.sh package        the stacktune_train package (python/), then imports every
#                                         pinned distribution (images/import_check.py)
#
# Two steps so the image caches the dependency layer: editing python/ re-runs only `package`.
# Every install is --no-deps: the manifests are the whole resolved closure, and `pip check` proves it.
#
# STACKTUNE_WHEELHOUSE (CI): a directory that keeps every downloaded file, so a second install of
# the same pins downloads nothing (the package index here sends responses pip's own cache does not
# keep). Unset (the image): pip installs from the index as usual.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python}
pip=("$python" -m pip --disable-pip-version-check)

# install_pinned REQUIREMENTS [pip install options...]
install_pinned() {
    local requirements=$1
    shift
    if [ -n "${STACKTUNE_WHEELHOUSE:-}" ]; then
        # pip download skips a file already in the wheelhouse; the install then reads only it.
        "${pip[@]}" download --no-deps --quiet -d "$STACKTUNE_WHEELHOUSE" "$@" -r "$requirements"
        "${pip[@]}" install --no-deps --no-index --find-links "$STACKTUNE_WHEELHOUSE" "$@" -r "$requirements"
    else
        "${pip[@]}" install --no-deps "$@" -r "$requirements"
    fi
}

case ${1:-} in
    requirements)
        case ${2:-gpu} in
            gpu | cpu) ;;
            *)
                echo "usage: install-python-deps.sh requirements [gpu|cpu]" >&2
                exit 2
                ;;
        esac
        install_pinned "$root/python/requirements.txt"
        # lm-eval and its source-only dependencies, built with the setuptools just installed.
        install_pinned "$root/images/requirements-eval.txt" --no-build-isolation
        if [ "${2:-gpu}" = gpu ]; then
            install_pinned "$root/images/requirements-gpu.txt"
            # Source only: built against the torch installed above (no build isolation, which would
            # fetch an unpinned torch), with DeepSpeed's ops compiled just in time on the GPU host.
            DS_BUILD_OPS=0 install_pinned "$root/images/requirements-sdist.txt" --no-build-isolation
        fi
        "${pip[@]}" check
        ;;
    package)
        "${pip[@]}" install --no-deps "$root/python"
        "$python" "$root/images/import_check.py" "$root/python/requirements.txt" "$root/images/requirements-eval.txt" \
            "$root/images/requirements-gpu.txt" "$root/images/requirements-sdist.txt"
        ;;
    *)
        echo "usage: install-python-deps.sh requirements|package" >&2
        exit 2
        ;;
esac
