# stacktune training image: the pinned Python set of python/requirements.txt plus the GPU-only
# packages, on the CUDA toolkit torch 2.11 is built against (CUDA 13: the host needs NVIDIA driver
# 580.65.06 or newer, which the preflight checks). Built on the GPU host by `docker build`
# (src/image.ts), so no registry is involved; the build context is images/ plus python/.
# Attention is PyTorch's sdpa (its FlashAttention-2 and cuDNN kernels): flash-attn is not installed,
# since no flash-attn release ships a wheel for torch 2.11 and PyPI has only its source.
#
#   docker build -f train.Dockerfile -t stacktune-train:<inputs hash> <context>
FROM nvidia/cuda:13.0.2-cudnn-devel-ubuntu24.04

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/stacktune \
    PATH=/opt/stacktune/bin:$PATH

# Ubuntu 24.04's CPython 3.12; git for Hub pushes of large files, ninja/build tools for DeepSpeed's
# just-in-time ops.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3.12=3.12.* python3.12-venv=3.12.* python3.12-dev=3.12.* \
        git=1:2.* git-lfs=3.* build-essential=12.* ca-certificates=* \
    && rm -rf /var/lib/apt/lists/* \
    && python3.12 -m venv /opt/stacktune

WORKDIR /opt/stacktune-src

# images/install-python-deps.sh is the one install of the Python set: CI runs the same script in a
# venv of each CPython the set supports (scripts/setup.sh --only pythons), so the two cannot drift.
# Dependencies first, the package last: editing python/ rebuilds one thin layer.
COPY python/requirements.txt python/requirements.txt
COPY images/requirements-eval.txt images/requirements-gpu.txt images/requirements-sdist.txt images/install-python-deps.sh images/import_check.py images/
RUN bash images/install-python-deps.sh requirements

COPY python/ python/
RUN bash images/install-python-deps.sh package

WORKDIR /workspace
CMD ["bash"]
