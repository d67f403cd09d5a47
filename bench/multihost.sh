#!/usr/bin/env bash
# Issue 8 item 4: the measured default recipe (b2: DDP + Liger + non-reentrant checkpointing) on two
# "hosts" of 2 GPUs each against one host of 4 GPUs, side by side in one run on the lent 4-GPU box.
#
# Device call (run tool), from the repository root (.whl and .benchdata as bench/README.md says;
# .benchdata is optional, without it the data is generated on the device). Measured 2026-11-28:
# bench/results/2026-11-28-multihost-gpu.md.
#   kind: "nvidia-h100-x4", carry: [".whl", ".benchdata"], timeout_s: 600,
#   command: "bash bench/multihost.sh"
# = VARIANTS="b2 m2x2 m2x2:nop2p". Expected on a fresh machine: ~100-120 s set-up (wheels, the 8B
# random model) + three runs of ~110-160 s each (launch and 4-bit load ~40-90 s, 23 steps of
# ~2.8 s), ~450-560 s in all. A run is started only with at least 120 s left before DEADLINE
# (570 s), and ends by it; a cut run keeps its measured steps (rc 124 in the table).
# Then, on the same warm machine (set-up skipped, results add up in one summary, a repeated
# variant gets its own tag, e.g. b2.p2p-2):
#   VARIANTS="m2x2:net b2:nop2p b2" bash bench/multihost.sh       (~400 s)
# What comes back in $OUT: multihost.md / multihost.json (the comparison), summary.md /
# summary.json (bench/summarize.py), multihost-results.tgz (per-rank files and every log).
#
# Variants ("name" or "name:mode"):
#   b2    bench/rendered/b2-ddp-liger-nonreentrant/accelerate.yaml: one host, 4 GPUs, one
#         `accelerate launch` (4 processes), exactly as bench/gpu_recipes.sh runs it.
#   m2x2  bench/rendered/m2x2-ddp-liger-nonreentrant/: two `accelerate launch` processes on this
#         box, machine 0 with CUDA_VISIBLE_DEVICES=0,1 and accelerate.machine-0.yaml, machine 1
#         with CUDA_VISIBLE_DEVICES=2,3 and accelerate.machine-1.yaml (num_machines 2, static
#         rendezvous at 127.0.0.1:29500), NCCL_SOCKET_IFNAME=GLOO_SOCKET_IFNAME=lo, each machine
#         in its own run directory with its own copy of the prepared data, as real hosts have.
# Modes (NCCL between the GPUs):
#   p2p    (default) NCCL as the machine has it. Inside one box NCCL sees that both "hosts" are the
#          same host, so NVLink (P2P) still links the two "hosts": this measures what the
#          two-machine launch path itself costs, not a network.
#   nop2p  NCCL_P2P_DISABLE=1: every GPU pair, also inside a "host", through host shared memory
#          (26 GB/s bus bandwidth measured, BENCH-NOTES.md). A closer stand-in for two real hosts,
#          whose traffic between them goes over the network, than p2p; still no network, and
#          faster than most Ethernet. Also the 4×4090 (no P2P) stand-in issue 6 used for b2.
#   net    m2x2 only: NCCL_HOSTID differs per machine, so NCCL takes the two "hosts" for two
#          hosts: NVLink inside each, and between them its network transport, TCP sockets over
#          loopback (NCCL_IB_DISABLE=1: no RDMA; ~3 GB/s for sockets alone, BENCH-NOTES.md), i.e.
#          two hosts on ~25 Gbit/s Ethernet. The closest stand-in of the three; compare it with b2.
# Same model, data, seed, steps (23: 3 warm-up + 20 timed), global batch (4 ranks × 4 rows × 2
# accumulation) and 24 GB cap (STACKTUNE_GPU_MEMORY_FRACTION=0.3) for every run; the driver first
# checks that the two rendered recipes differ only in the machine layout. NCCL_DEBUG=INFO on every
# run, so each log names the transports used (counted into <tag>.transports.txt).
#
#   bash bench/multihost.sh --cpu-check
# runs here, on any machine without a GPU, the same launch path on the CPU: recipe
# cpu-m2x1-ddp-nonreentrant (tiny random Llama, demo data, gloo), "cpu-1x2" (one launch of 2
# processes: the machine-0 config with --num_machines 1 --num_processes 2, because the project's
# settings allow one process on a CPU target) against "cpu-2x1" (two launches, one process each,
# the rendered machine-0/machine-1 configs), and writes bench/results/<date>-multihost-cpu-check.{md,json}.
# Its figures prove the launch path only; they say nothing about GPU scaling.
#
# Knobs (env): VARIANTS, MAX_STEPS (override the rendered max_steps), VARIANT_TIMEOUT (s, per run),
# DEADLINE (s after start by which everything must end), RESULT_NAME (--cpu-check's file name).
set -u
REPO=$(pwd)
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
case ${1:-} in
  "") CPU=0 ;;
  --cpu-check) CPU=1 ;;
  *) echo "usage: [VARIANTS=...] bash bench/multihost.sh [--cpu-check]   (see the header of $0)" >&2; exit 2 ;;
esac

if [ "$CPU" = 1 ]; then
  W=/tmp/stb-cpu   # the paths cpu-m2x1-ddp-nonreentrant.yaml names
  VARIANTS=${VARIANTS:-cpu-1x2 cpu-2x1 cpu-1x2 cpu-2x1}
  DEADLINE=${DEADLINE:-3600}
  BASELINE=cpu-1x2
  MIN_RUN_S=30
  [ -x "$REPO/.venv/bin/python" ] && export PATH=$REPO/.venv/bin:$PATH
else
  W=/tmp/stb       # the paths base.yaml names; shared with bench/gpu_recipes.sh
  VARIANTS=${VARIANTS:-b2 m2x2 m2x2:nop2p}
  DEADLINE=${DEADLINE:-570}
  BASELINE=b2
  MIN_RUN_S=120
fi
OUT=${OUT:-$W/out}
MH=$W/multihost
RESULTS=$MH/results
LOGS=$MH/logs
left() { echo $(( DEADLINE - ($(date +%s) - T0) )); }
fail() { el "FAILED: $*"; exit 1; }
# A warm machine keeps earlier calls' results, so one summary covers them; the CPU check starts clean.
[ "$CPU" = 1 ] && rm -rf "$MH"
mkdir -p "$OUT" "$RESULTS" "$LOGS" "$MH/runs"

# The two recipes compared must train the same thing: their training.yaml may differ only in the
# run name and save_on_each_node (set for several machines), their processes in total must match.
same_training() {
  local a=bench/rendered/$1 b=bench/rendered/$2 diffs
  diffs=$(diff <(grep -vE '^#|^run_name:|^save_on_each_node:' "$a/training.yaml") \
               <(grep -vE '^#|^run_name:|^save_on_each_node:' "$b/training.yaml")) \
    || fail "$1 and $2 train differently:"$'\n'"$diffs"
  local pa pb
  pa=$(cat "$a"/accelerate*.yaml | grep -m1 '^num_processes:')
  pb=$(cat "$b"/accelerate*.yaml | grep -m1 '^num_processes:')
  [ "$pa" = "$pb" ] || fail "$1 has $pa, $2 has $pb"
  el "checked: $1 and $2 differ only in the machine layout ($pa)"
}
same_training b2-ddp-liger-nonreentrant m2x2-ddp-liger-nonreentrant

# Every process started here: the device machine's NCCL settings (NVLink multicast off), as in
# bench/gpu_recipes.sh, and nothing fetched from the network.
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0} TORCH_SYMM_MEM_DISABLE_MULTICAST=${TORCH_SYMM_MEM_DISABLE_MULTICAST:-1} NVSHMEM_DISABLE_NVLS=${NVSHMEM_DISABLE_NVLS:-1}
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_DISABLED=true
export HF_HOME=$W/hf DS_SKIP_CUDA_CHECK=1

if [ "$CPU" = 1 ]; then
  if command -v npx >/dev/null && [ -d node_modules ]; then
    npx tsx bench/render_recipes.ts --check || fail "the committed renders are stale: run npx tsx bench/render_recipes.ts"
  fi
  export PYTHONPATH=$REPO/python:$REPO/bench${PYTHONPATH:+:$PYTHONPATH}
  if [ ! -f "$W/tiny-llama/config.json" ]; then
    python3 -m stacktune_train.tiny_model "$W/tiny-llama" > "$LOGS/tiny-model.log" 2>&1 || fail "tiny model: $(tail -5 "$LOGS/tiny-model.log")"
    el "tiny model built in $W/tiny-llama"
  fi
  cp python/stacktune_train/data/demo.jsonl "$W/demo.jsonl"
  # bench_train.py's timing callback calls torch.cuda; on a CPU those calls become a no-op sync,
  # the process's peak RSS as its memory, and "cpu" as the device. Nothing else changes.
  TRAINER=$W/bench_train_cpu.py
  cat > "$TRAINER" <<PY
"""bench/bench_train.py without CUDA (written by bench/multihost.sh --cpu-check)."""
import resource
import runpy
import sys

import torch


def peak_rss(*_args, **_kwargs):
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


torch.cuda.synchronize = lambda *_args, **_kwargs: None
torch.cuda.max_memory_reserved = peak_rss
torch.cuda.max_memory_allocated = peak_rss
torch.cuda.get_device_name = lambda *_args, **_kwargs: "cpu"
sys.argv[0] = "$REPO/bench/bench_train.py"
runpy.run_path(sys.argv[0], run_name="__main__")
PY
  python3 - > "$RESULTS/env.json" <<'PY'
import importlib, json, os, platform
v = {m: getattr(importlib.import_module(m), "__version__", "?")
     for m in ["torch", "transformers", "peft", "accelerate", "trl", "datasets"]}
v["python"] = platform.python_version()
v["cpus"] = os.cpu_count()
v["cpu_model"] = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
v["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
v["kernel"] = platform.release()
print(json.dumps(v, indent=1))
PY
  MACHINE="this CPU box: $(nproc) cores ($(python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print(e["cpu_model"] + ", " + str(e["memory_gib"]) + " GiB, Linux " + e["kernel"])' "$RESULTS/env.json")), no GPU"
  PREP_RECIPE=cpu-m2x1-ddp-nonreentrant
else
  el "set-up: bench/gpu_recipes.sh with no recipe (RECIPES=' '): wheels, env.json, model, data"
  RECIPES=" " PROVE="" PROVE_FIRST=0 OUT=$MH/setup-out bash bench/gpu_recipes.sh > "$LOGS/setup.log" 2>&1
  grep -E '^\[[0-9]+s\]' "$LOGS/setup.log" | sed 's/^/  gpu_recipes.sh: /'
  if [ ! -f "$W/site.ok" ] || [ ! -f "$W/model/config.json" ] || [ ! -f "$W/openhermes-synth.jsonl" ]; then
    fail "set-up incomplete (wheels, model or data); last lines of $LOGS/setup.log:"$'\n'"$(tail -20 "$LOGS/setup.log")"
  fi
  # a broken env.json (e.g. nvidia-smi missing) must not stop the summary: keep it aside
  cp "$W/results/env.json" "$RESULTS/env.json"
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$RESULTS/env.json" 2>/dev/null \
    || mv "$RESULTS/env.json" "$RESULTS/env.json.unreadable"
  [ -f "$W/results/dataset.json" ] && cp "$W/results/dataset.json" "$RESULTS/"
  export PYTHONPATH=/tmp/site:$REPO/python:$REPO/bench${PYTHONPATH:+:$PYTHONPATH}
  export PATH=/tmp/site/bin:$PATH
  TRAINER=$REPO/bench/bench_train.py
  MACHINE="$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print(", ".join(e["gpus"]) + "; torch " + e["torch"] + ", CUDA " + str(e["cuda"]) + ", NCCL " + e["nccl"] + ", driver " + " ".join(e["driver"]))' "$RESULTS/env.json" 2>/dev/null || echo "unknown: env.json unreadable, see $LOGS/setup.log")"
  PREP_RECIPE=b2-ddp-liger-nonreentrant
fi

# The data, prepared once by the project's entry point; every run directory (every "machine") gets
# its own copy, so no two processes write one dataset cache.
if [ ! -d "$W/prepared" ] || [ -z "$(ls "$W/prepared")" ]; then
  prep=$MH/runs/prepare
  rm -rf "$prep"; mkdir -p "$prep" "$W/prepared"
  cp "bench/rendered/$PREP_RECIPE/training.yaml" "$prep/"
  ln -s "$W/prepared" "$prep/data"
  (cd "$prep" && python3 -m stacktune_train.prepare training.yaml) > "$LOGS/prepare.log" 2>&1 \
    || fail "data prep: $(tail -5 "$LOGS/prepare.log")"
  el "data prepared: $(grep -m1 saved "$LOGS/prepare.log")"
fi

# Per variant: recipe, its layout (text), the accelerate config of each machine, extra launch
# flags, and the CUDA_VISIBLE_DEVICES of each machine ("" on a CPU: launch.sh's CPU setting).
variant() {
  launch_flags=()
  case $1 in
    b2)      recipe=b2-ddp-liger-nonreentrant; configs=(accelerate.yaml); devices=("0,1,2,3") ;;
    m2x2)    recipe=m2x2-ddp-liger-nonreentrant; configs=(accelerate.machine-0.yaml accelerate.machine-1.yaml); devices=("0,1" "2,3") ;;
    cpu-1x2) recipe=cpu-m2x1-ddp-nonreentrant; configs=(accelerate.machine-0.yaml); devices=("")
             launch_flags=(--num_machines 1 --num_processes 2) ;;
    cpu-2x1) recipe=cpu-m2x1-ddp-nonreentrant; configs=(accelerate.machine-0.yaml accelerate.machine-1.yaml); devices=("" "") ;;
    *) fail "unknown variant $1 (b2, m2x2 on GPUs; cpu-1x2, cpu-2x1 with --cpu-check)" ;;
  esac
}
declare -A LAYOUT=([b2]="1 host × 4 GPUs" [m2x2]="2 hosts × 2 GPUs" [cpu-1x2]="1 machine × 2 processes" [cpu-2x1]="2 machines × 1 process")

# The last progress line of machine 0, for a person watching a run.
progress() {
  local line
  line=$(grep -h '^STACKTUNE_PROGRESS' "$1" 2>/dev/null | tail -1)
  if [ -n "$line" ]; then echo "${line#STACKTUNE_PROGRESS }"; else echo "loading (no step yet)"; fi
}

if [ "$CPU" = 1 ]; then
  TITLE="Multi-host launch path on CPU: 2 machines × 1 process vs 1 machine × 2 processes"
  STATEMENT="CPU figures say nothing about GPU scaling: gloo processes on a $(nproc)-core box share its cores and memory. They prove the launch path only: two accelerate launches with the rendered machine-0/machine-1 configs meet at the rendezvous on loopback and train the same steps on the same data as one launch of two processes.
Timings here also move with whatever else runs on the box (other sessions' tests share it: see the load column); each layout runs twice, interleaved, to show that spread.
For the GPU comparison (2 hosts × 2 GPUs vs 1 host × 4 GPUs) see bench/README.md, section Multi-host."
  SETUP="Recipe bench/recipes/cpu-m2x1-ddp-nonreentrant.yaml as rendered by the project (bench/rendered/cpu-m2x1-ddp-nonreentrant/): tiny random Llama (python -m stacktune_train.tiny_model), the 40-conversation demo set, wrapped packing at 256 tokens, 2 ranks × 2 rows × 2 accumulation per step, LoRA r 8, fp32, gloo.
cpu-1x2: one accelerate launch of accelerate.machine-0.yaml with --num_machines 1 --num_processes 2 (the settings allow one process on a CPU target, so no rendered one-machine config has two). cpu-2x1: two accelerate launches on this box with accelerate.machine-0.yaml and accelerate.machine-1.yaml, rendezvous 127.0.0.1:29500, GLOO_SOCKET_IFNAME=lo, each machine in its own run directory with its own copy of the prepared data.
Every process: OMP_NUM_THREADS=1 (torchrun sets it only when it starts more than one process per machine; set for both layouts so that they use the cores alike), CUDA_VISIBLE_DEVICES empty, bench/bench_train.py through a shim that turns its torch.cuda calls into no-ops (memory = peak RSS)."
  REPORT_MD=bench/results/${RESULT_NAME:-$(date -u +%F)-multihost-cpu-check}.md
  export OMP_NUM_THREADS=1
else
  TITLE="Multi-host: 2 hosts × 2 GPUs vs 1 host × 4 GPUs, the measured default recipe (b2)"
  STATEMENT="Both hosts are one box: the 4 GPUs of the lent machine, split 0,1 | 2,3. How close each NCCL mode comes to two real hosts: see Modes."
  SETUP="b2: bench/rendered/b2-ddp-liger-nonreentrant (one accelerate launch, 4 processes); m2x2: bench/rendered/m2x2-ddp-liger-nonreentrant (two accelerate launches, machine 0 on GPUs 0,1, machine 1 on GPUs 2,3, rendezvous 127.0.0.1:29500, NCCL_SOCKET_IFNAME=GLOO_SOCKET_IFNAME=lo); training.yaml identical but for run_name and save_on_each_node (checked before the runs).
Random-weight Llama-3-8B architecture, 4-bit NF4, LoRA r 8 all-linear, synthetic OpenHermes-shaped data, wrapped packing at 2048, 4 ranks × 4 rows × 2 accumulation per step, sdpa attention (no flash-attn wheel), STACKTUNE_GPU_MEMORY_FRACTION=0.3 (24 of 80 GB) on every rank, NCCL_DEBUG=INFO."
  REPORT_MD=$OUT/multihost.md
fi
REPORT_JSON=${REPORT_MD%.md}.json
COMMAND="VARIANTS=\"$VARIANTS\"${MAX_STEPS:+ MAX_STEPS=$MAX_STEPS} bash bench/multihost.sh$([ "$CPU" = 1 ] && echo ' --cpu-check')"

# The paths that differ from the commit, named (the device's copy of the tree also shows carried,
# locally ignored folders such as .whl/ here, which change no code).
changed() {
  local paths
  paths=$(git status --porcelain 2>/dev/null | awk '{print $2}' | head -6 | paste -sd' ')
  [ -n "$paths" ] && echo " + uncommitted: $paths"
}

# What the report says about the run, whatever runs follow; every call's command is kept, since a
# warm machine's summary holds the runs of earlier calls too.
echo "$COMMAND" >> "$RESULTS/commands.txt"
MH_MODE=$([ "$CPU" = 1 ] && echo cpu || echo gpu) MH_TITLE=$TITLE MH_STATEMENT=$STATEMENT MH_SETUP=$SETUP \
MH_COMMAND=$COMMAND MH_MACHINE=$MACHINE \
MH_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo "none (not a git checkout)")$(changed) \
MH_LAYOUTS=$(for k in "${!LAYOUT[@]}"; do echo "$k=${LAYOUT[$k]}"; done) \
python3 - "$RESULTS/meta.json" <<'PY'
import datetime, json, os, sys
e = os.environ
json.dump({
    "mode": e["MH_MODE"], "title": e["MH_TITLE"], "statement": e["MH_STATEMENT"].splitlines(),
    "command": e["MH_COMMAND"], "date": datetime.date.today().isoformat(), "commit": e["MH_COMMIT"],
    "machine": e["MH_MACHINE"], "setup": e["MH_SETUP"].splitlines(),
    "layouts": dict(line.split("=", 1) for line in e["MH_LAYOUTS"].splitlines()),
}, open(sys.argv[1], "w"), indent=1)
PY

pack() {
  python3 bench/summarize.py "$RESULTS" > "$RESULTS/summary.md" 2>"$RESULTS/summarize.err"
  python3 bench/multihost_report.py "$RESULTS" "$BASELINE" "$REPORT_MD" "$REPORT_JSON" > "$RESULTS/report.out" 2>&1 \
    || el "report failed: $(tail -3 "$RESULTS/report.out")"
  if [ "$CPU" = 0 ]; then
    cp "$RESULTS/summary.md" "$RESULTS/summary.json" "$OUT/" 2>/dev/null
    tar -C "$MH" -czf "$OUT/multihost-results.tgz" results logs 2>/dev/null
  fi
}

train_args=(--ddp_find_unused_parameters false)   # all of these are DDP (MULTI_GPU) configs
[ -n "${MAX_STEPS:-}" ] && train_args+=(--max_steps "$MAX_STEPS")

for entry in $VARIANTS; do
  name=${entry%%:*}; mode=$([ "$CPU" = 1 ] && echo gloo || echo p2p); [ "$entry" != "$name" ] && mode=${entry#*:}
  variant "$name"
  machines=${#configs[@]}
  case $CPU:$mode in
    1:gloo|0:p2p|0:nop2p) ;;
    0:net) [ "$machines" = 2 ] || fail "$entry: mode net needs two machines" ;;
    *) fail "$entry: mode $mode is not one of p2p, nop2p, net (GPU) or gloo (--cpu-check)" ;;
  esac
  tag=$name.$mode
  # a repeated run (this call or an earlier one on a warm machine) keeps the earlier one's files
  n=1; while [ -f "$RESULTS/$tag.rc.json" ]; do n=$((n + 1)); tag=$name.$mode-$n; done
  limit=$(left); [ "$limit" -gt "${VARIANT_TIMEOUT:-300}" ] && limit=${VARIANT_TIMEOUT:-300}
  if [ "$limit" -lt "$MIN_RUN_S" ]; then el "skip $tag: ${limit}s left"; continue; fi
  rm -rf "$MH/runs/$tag" "$RESULTS/$tag".* "$LOGS/$tag".*
  el "run $tag: ${LAYOUT[$name]}, ${machines} accelerate launch(es), timeout ${limit}s"
  pids=()
  for (( r = 0; r < machines; r++ )); do
    dir=$MH/runs/$tag; [ "$machines" -gt 1 ] && dir=$dir/machine-$r
    mkdir -p "$dir"
    cp "bench/rendered/$recipe/${configs[r]}" "bench/rendered/$recipe/training.yaml" "$dir/"
    cp -r "$W/prepared" "$dir/data"
    envs=(STACKTUNE_BENCH_OUT="$RESULTS/$tag.json" CUDA_VISIBLE_DEVICES="${devices[r]}")
    [ "$CPU" = 0 ] && envs+=(STACKTUNE_GPU_MEMORY_FRACTION=0.3 NCCL_DEBUG=INFO)
    [ "$machines" -gt 1 ] && envs+=(NCCL_SOCKET_IFNAME=lo GLOO_SOCKET_IFNAME=lo)
    [ "$mode" = nop2p ] && envs+=(NCCL_P2P_DISABLE=1)
    [ "$mode" = net ] && envs+=(NCCL_HOSTID="stb-machine-$r" NCCL_IB_DISABLE=1)
    # exec: $! is timeout's pid; timeout passes a TERM on to the whole launch (torchrun + workers)
    ( cd "$dir" && exec env "${envs[@]}" timeout -k 10 "$limit" accelerate launch --config_file "${configs[r]}" \
        "${launch_flags[@]}" "$TRAINER" training.yaml "${train_args[@]}" ) > "$LOGS/$tag.machine-$r.log" 2>&1 &
    pids+=($!)
  done
  # Wait for every machine; the first one that fails stops the others (they would otherwise wait
  # in a collective until the timeout).
  rcs=(); rc=0; started=$(date +%s); next_note=$(( started + 30 )); load_before=$(cut -d' ' -f1 /proc/loadavg)
  while :; do
    running=0
    for r in "${!pids[@]}"; do
      [ -n "${rcs[r]:-}" ] && continue
      if kill -0 "${pids[r]}" 2>/dev/null; then running=1; continue; fi
      wait "${pids[r]}"; rcs[r]=$?
      if [ "${rcs[r]}" != 0 ] && [ "$rc" = 0 ]; then
        rc=${rcs[r]}   # the first failure; the others are then stopped
        for o in "${!pids[@]}"; do [ -z "${rcs[o]:-}" ] && kill -TERM "${pids[o]}" 2>/dev/null; done
      fi
    done
    [ "$running" = 0 ] && break
    if [ "$(date +%s)" -ge "$next_note" ]; then
      el "  $tag $(( $(date +%s) - started ))s: $(progress "$LOGS/$tag.machine-0.log")"; next_note=$(( next_note + 30 ))
    fi
    sleep 2
  done
  echo "{\"tag\": \"$tag\", \"rc\": $rc, \"machines_rc\": [$(IFS=,; echo "${rcs[*]}")], \"launch_s\": $(( $(date +%s) - started )), \"load_1min\": [$load_before, $(cut -d' ' -f1 /proc/loadavg)]}" > "$RESULTS/$tag.rc.json"
  # evidence of the layout: the trainer's rank line from every machine, and NCCL's transports
  for (( r = 0; r < machines; r++ )); do
    grep -h '^\[train\] process ' "$LOGS/$tag.machine-$r.log" | sed "s/^/machine $r: /"
  done > "$RESULTS/$tag.processes.txt"
  [ "$CPU" = 0 ] && { grep -ohE 'via (P2P|SHM|NET)[^ ]*' "$LOGS/$tag".machine-*.log | sort | uniq -c > "$RESULTS/$tag.transports.txt"; }
  grep -hE "Error|error:|OutOfMemory|Traceback" "$LOGS/$tag".machine-*.log | grep -v -i warn | tail -8
  el "run $tag rc=$rc (machines: ${rcs[*]}) in $(( $(date +%s) - started ))s"
  pack
done

pack
cat "$REPORT_MD"
el "done: $REPORT_MD"
