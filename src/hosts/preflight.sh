#!/usr/bin/env bash
# stacktune preflight: can this machine run the job? Lists everything missing at once.
# Usage: preflight.sh <gpus> <gpu memory GB> <min free disk GB> <runtime: docker|venv> <run root>
#                     <min NVIDIA driver, e.g. 580.65.06> <CUDA major it is the minimum for>
#                     <venv interpreter, empty when none is created> <min CPython> <max CPython>
set -u
gpus=$1
gpu_memory_gb=$2
min_free_disk_gb=$3
runtime=$4
# The run root arrives expanded: preflightCommand passes it through hostPath (src/render/shell.ts).
run_root=$5
min_driver=$6
cuda_major=$7
python=$8
python_min=$9
python_max=${10}

missing=()
report() { echo "stacktune preflight: $*"; }
# version_at_least A B: dotted version A >= B, comparing each field as a number (570.172 < 580.65).
version_at_least() {
    local -a a b
    local i
    IFS=. read -ra a <<<"$1"
    IFS=. read -ra b <<<"$2"
    for ((i = 0; i < ${#b[@]}; i++)); do
        if ((10#${a[i]:-0} != 10#${b[i]})); then ((10#${a[i]:-0} > 10#${b[i]})); return; fi
    done
}

if [ "$gpus" -gt 0 ]; then
    if ! command -v nvidia-smi >/dev/null 2>&1; then
        missing+=("nvidia-smi (install the NVIDIA driver)")
    elif ! gpu_rows=$(nvidia-smi --query-gpu=memory.total,driver_version --format=csv,noheader,nounits 2>&1); then
        missing+=("a working NVIDIA driver (nvidia-smi failed: ${gpu_rows//$'\n'/ })")
    else
        count=$(printf '%s\n' "$gpu_rows" | grep -c .)
        driver=$(printf '%s\n' "$gpu_rows" | head -n1 | cut -d, -f2 | tr -d ' ')
        report "driver $driver, $count GPU(s)"
        if ! [[ $driver =~ ^[0-9]+(\.[0-9]+)*$ ]] || ! version_at_least "$driver" "$min_driver"; then
            missing+=("NVIDIA driver >= $min_driver (found $driver): the image and the pinned torch are built for CUDA $cuda_major; install driver ${min_driver%%.*} or newer (Ubuntu: sudo apt install nvidia-driver-${min_driver%%.*}, then reboot)")
        fi
        if [ "$count" -lt "$gpus" ]; then
            missing+=("$gpus GPUs (found $count)")
        fi
        # Cards report less than their nominal size (an A10G shows 23028 MiB): require 92% of it.
        need_mib=$((gpu_memory_gb * 1024 * 92 / 100))
        small=0
        while IFS=, read -r mem _; do
            mem=${mem// /}
            if [ "${mem%.*}" -lt "$need_mib" ]; then small=$((small + 1)); fi
        done <<<"$gpu_rows"
        if [ "$small" -gt 0 ]; then
            missing+=("${gpu_memory_gb} GB per GPU ($small GPU(s) have less than ${need_mib} MiB)")
        fi
    fi
fi

probe=$run_root
while [ ! -d "$probe" ]; do probe=$(dirname "$probe"); done
free_kb=$(df -Pk "$probe" | awk 'NR==2 {print $4}')
free_gb=$((free_kb / 1024 / 1024))
report "${free_gb} GB free under $probe"
if [ "$free_gb" -lt "$min_free_disk_gb" ]; then
    missing+=("${min_free_disk_gb} GB free disk for $run_root (found ${free_gb} GB)")
fi

if [ "$runtime" = docker ]; then
    if ! command -v docker >/dev/null 2>&1; then
        missing+=("docker (the docker runtime builds and runs the training image)")
    elif ! docker info >/dev/null 2>&1; then
        missing+=("access to the docker daemon for user $(id -un) (add it to the docker group)")
    elif [ "$gpus" -gt 0 ] && ! docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q nvidia &&
        ! command -v nvidia-ctk >/dev/null 2>&1; then
        missing+=("the NVIDIA container toolkit (nvidia-ctk / nvidia runtime for docker)")
    fi
elif [ -n "$python" ]; then
    if ! command -v "$python" >/dev/null 2>&1; then
        missing+=("$python (the venv runtime creates a virtual environment with it; set stacktune:runtime.python)")
    elif ! python_version=$("$python" -c 'import sys, venv, ensurepip; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); then
        missing+=("$python with the venv module and ensurepip (e.g. apt-get install python3-venv)")
    elif ! [[ $python_version =~ ^[0-9]+\.[0-9]+$ ]] || ! version_at_least "$python_version" "$python_min" ||
        ! version_at_least "$python_max" "$python_version"; then
        missing+=("CPython $python_min to $python_max for the venv runtime ($python is $python_version; the pinned set in python/requirements.txt is for $python_min to $python_max): install one and set stacktune:runtime.python to it (Ubuntu 22.04's and 24.04's python3 are in range: sudo apt install python3-venv, then runtime.python: python3), or set stacktune:runtime.kind to docker")
    else
        report "$python is Python $python_version"
    fi
fi

for tool in bash setsid nohup tail base64 tar timeout pkill pgrep flock; do
    if ! command -v "$tool" >/dev/null 2>&1; then missing+=("$tool"); fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    echo "stacktune preflight failed on $(hostname): missing" >&2
    for item in "${missing[@]}"; do echo "  - $item" >&2; done
    exit 1
fi
report "ok ($runtime runtime, $gpus GPU(s) required)"
