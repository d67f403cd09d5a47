#!/usr/bin/env bash
# The GPU benchmark driver (issue 6). Runs on the accelerator machine from the repository root:
#
#   bash bench/gpu_recipes.sh            # with the run tool: carry [".whl"], any nvidia-h200 kind
#
# Issue 17 (4 GPUs: reference vs new default vs today's b2, NCCL defaults and NCCL_P2P_DISABLE=1),
# two calls on one warm nvidia-h200-x4 machine; bench/README.md has the exact commands.
#
# 1. installs the carried wheels (.whl/: trl, datasets, bitsandbytes, deepspeed, liger-kernel and
#    the few dependencies the machine lacks) into /tmp/site;
# 2. creates, once per machine, the random-weight Llama-3-8B-architecture model (bf16 on disk) with
#    its Llama-3 tokenizer and the synthetic OpenHermes-shaped dataset (bench/make_*.py);
# 3. for each entry of RECIPES ("name" or "name:nop2p"; nop2p adds NCCL_P2P_DISABLE=1) copies
#    bench/rendered/<name>/{accelerate.yaml,training.yaml} (rendered here by the project's renderers:
#    npx tsx bench/render_recipes.ts) into a run directory and runs the project's entry points there:
#      accelerate launch --config_file accelerate.yaml bench/bench_train.py training.yaml  (= -m stacktune_train.train + timing callback)
#    with --num_processes GPUS (default: every GPU nvidia-smi lists) and STACKTUNE_GPU_MEMORY_GIB=24
#    (bench_train.py turns it into each card's fraction from its real total memory: a 24 GB card);
# 4. PROVE="adapter merge": checks the ZeRO-3 adapter of a-reference, then the merge, smoke and publish steps;
# 5. summarises into $OUT (bench/summarize.py) after every recipe, so a cut-off run still reports.
#    (the trainer runs the data prep itself, once; later recipes reuse the prepared set)
# Knobs (env): RECIPES (entries name[:nop2p][+trainer_flag=value,...]), GPUS, GPU_MEMORY_GIB,
# BENCH_PROFILE_STEPS (a-b: torch.profiler kernel breakdown of those steps, untimed), MAX_STEPS (override the rendered max_steps), RECIPE_TIMEOUT (s), DEADLINE
# (s after start by which everything must end),
# STACKTUNE_BENCH_TRAINER (default stacktune_train.train; bench's mini_train as a fallback), PROVE.
set -u
REPO=$(pwd)
OUT=${OUT:-/tmp/stb/out}
W=/tmp/stb
mkdir -p "$OUT" "$W/runs" "$W/logs" "$W/results"
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }

# keep the machine's NCCL settings (NVLink multicast off) in every process
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0} TORCH_SYMM_MEM_DISABLE_MULTICAST=${TORCH_SYMM_MEM_DISABLE_MULTICAST:-1} NVSHMEM_DISABLE_NVLS=${NVSHMEM_DISABLE_NVLS:-1}
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_DISABLED=true
export HF_HOME=$W/hf DS_SKIP_CUDA_CHECK=1

if [ ! -f "$W/site.ok" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  touch "$W/site.ok"
fi
export PYTHONPATH=/tmp/site:$REPO/python:$REPO/bench${PYTHONPATH:+:$PYTHONPATH}
export PATH=/tmp/site/bin:$PATH
el "wheels installed"

python3 - > "$W/results/env.json" <<'PY'
import json, importlib, subprocess, platform
v = {}
for m in ["torch", "transformers", "peft", "accelerate", "trl", "datasets", "bitsandbytes", "deepspeed",
          "liger_kernel", "triton", "pyarrow", "tokenizers", "pydantic", "flash_attn"]:
    try:
        mod = importlib.import_module(m)
        v[m] = getattr(mod, "__version__", "?")
    except Exception as e:
        v[m] = f"ERR {type(e).__name__}: {e}"[:200]
import torch
v["cuda"] = torch.version.cuda
v["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
v["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
v["python"] = platform.python_version()
v["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.split()[:1]
v["topology"] = subprocess.run(["nvidia-smi", "topo", "-m"], capture_output=True, text=True).stdout
try:
    import bitsandbytes as bnb, bitsandbytes.cextension as ce
    v["bnb_lib"] = str(getattr(ce, "lib", None))
except Exception as e:
    v["bnb_lib"] = repr(e)
print(json.dumps(v, indent=1))
PY
grep -v '"topology"' "$W/results/env.json" | head -30

if [ ! -f "$W/model/config.json" ]; then
  (cd bench && python3 make_model.py "$W/model") || exit 1
  el "model created"
fi
if [ ! -f "$W/openhermes-synth.jsonl" ]; then
  if [ -f .benchdata/openhermes-synth.jsonl ]; then  # carried: made here by the same command
    cp .benchdata/openhermes-synth.jsonl .benchdata/dataset.json "$W/" && cp "$W/dataset.json" "$W/results/"
  else
    (cd bench && python3 make_dataset.py "$W/openhermes-synth.jsonl" 16000 100) > "$W/results/dataset.json" || exit 1
  fi
  sha256sum "$W/openhermes-synth.jsonl"; cat "$W/results/dataset.json"
fi
mkdir -p "$W/prepared"

export STACKTUNE_BENCH_TRAINER=${STACKTUNE_BENCH_TRAINER:-stacktune_train.train}
# the whole command must end before the run tool's limit: each step gets at most what is left
DEADLINE=${DEADLINE:-570}
left() { echo $(( DEADLINE - ($(date +%s) - T0) )); }

pack() {
  python3 bench/summarize.py "$W/results" > "$W/results/summary.md" 2>"$W/results/summarize.err"
  cp "$W/results/summary.md" "$W/results/summary.json" "$OUT/" 2>/dev/null
  tar -C "$W" -czf "$OUT/results.tgz" results logs 2>/dev/null
}

# Issue 6 item 3 on the reference (ZeRO-3) run's output. PROVE=adapter: the saved adapter is
# non-empty and reloads onto the 4-bit base; PROVE=merge: the project's merge, smoke and publish steps.
prove() {
prove_run=$(ls -d "$W"/runs/a-reference.p2p "$W"/runs/a-reference.* 2>/dev/null | head -1)
for phase in ${PROVE:-}; do
  [ -n "$prove_run" ] || { el "prove: no a-reference run dir"; break; }
  limit=$(left); if [ "$limit" -lt 40 ]; then el "skip prove $phase: ${limit}s left"; continue; fi
  el "prove $phase in $prove_run (timeout ${limit}s)"
  (
    cd "$prove_run" || exit 1
    export STACKTUNE_EXPERIMENT_HASH=bench-a-reference STACKTUNE_STACK=bench-a-reference
    s=$(date +%s)
    case $phase in
      adapter) timeout "$limit" python3 "$REPO/bench/check_adapter.py" checkpoints "$W/model" || exit 4 ;;
      merge)
        timeout "$limit" python3 -m stacktune_train.merge training.yaml || exit 5
        echo "BENCH_MERGE_S $(( $(date +%s) - s ))"; s=$(date +%s)
        timeout "$(left)" python3 -m stacktune_train.smoke training.yaml || exit 6
        timeout "$(left)" python3 -m stacktune_train.publish training.yaml || exit 7
        ls -la merged "$W/store" | head -20 ;;
    esac
    echo "BENCH_PROVE_${phase}_S $(( $(date +%s) - s ))"
  ) > "$W/logs/prove-$phase.log" 2>&1
  echo "{\"tag\": \"prove-$phase\", \"rc\": $?}" > "$W/results/prove-$phase.rc.json"
  grep -v "Loading weights\|it/s\]" "$W/logs/prove-$phase.log" | tail -12
  pack
done
}
[ "${PROVE_FIRST:-0}" = 1 ] && prove

# one process per visible GPU unless GPUS says otherwise; the rendered configs say 4
GPUS=${GPUS:-$(nvidia-smi -L | grep -c '^GPU')}
el "GPUs: $GPUS, each capped at ${GPU_MEMORY_GIB:-24} GiB of its real memory"
# PARALLEL=1 (the quality guard: loss and adapter, not timing) starts every entry at once on the
# same GPU(s); each run then needs its own rendezvous port and its own prepared-data directory
# (the trainer writes it on first use). Step times measured this way are not speed figures.
run_entry() {
  local entry=$1 idx=$2 flags base name mode tag run extra envs log limit rc
  # name[:mode][+flag=value,flag=value]: the flags go to the trainer's CLI (screening variants)
  flags=; [ "$entry" != "${entry%%+*}" ] && flags=${entry#*+}
  base=${entry%%+*}
  name=${base%%:*}; mode=p2p; [ "$base" != "$name" ] && mode=${base#*:}
  tag=$name.$mode${flags:++${flags//[=,]/-}}; run=$W/runs/$tag
  rm -rf "$run"; mkdir -p "$run"
  cp "bench/rendered/$name/accelerate.yaml" "bench/rendered/$name/training.yaml" "$run/"
  local data=$W/prepared port=()
  if [ "${PARALLEL:-0}" = 1 ]; then
    data=$W/prepared.$tag; rm -rf "$data"; mkdir -p "$data"; port=(--main_process_port $((29500 + idx)))
  fi
  ln -s "$data" "$run/data"
  extra=()
  [ -n "${MAX_STEPS:-}" ] && extra+=(--max_steps "$MAX_STEPS")
  for kv in ${flags//,/ }; do extra+=("--${kv%%=*}" "${kv#*=}"); done
  grep -q "distributed_type: MULTI_GPU" "$run/accelerate.yaml" && extra+=(--ddp_find_unused_parameters false)
  envs=(STACKTUNE_GPU_MEMORY_GIB="${GPU_MEMORY_GIB:-24}" STACKTUNE_BENCH_OUT="$W/results/$tag.json")
  [ "$mode" = nop2p ] && envs+=(NCCL_P2P_DISABLE=1)
  log=$W/logs/$tag.log
  limit=$(left); [ "$limit" -gt "${RECIPE_TIMEOUT:-400}" ] && limit=${RECIPE_TIMEOUT:-400}
  if [ "$limit" -lt 60 ]; then el "skip $tag: ${limit}s left"; return; fi
  el "recipe $tag (${extra[*]:-}) ${envs[*]} timeout ${limit}s"
  (
    cd "$run" || exit 1
    s=$(date +%s)
    env "${envs[@]}" timeout -k 10 "$limit" accelerate launch --config_file accelerate.yaml --num_processes "$GPUS" "${port[@]}" \
      "$REPO/bench/bench_train.py" training.yaml "${extra[@]}"
    rc=$?
    echo "BENCH_LAUNCH_S $(( $(date +%s) - s )) rc=$rc"
    exit $rc
  ) > "$log" 2>&1
  rc=$?
  echo "{\"tag\": \"$tag\", \"rc\": $rc}" > "$W/results/$tag.rc.json"
  grep -E "Error|error:|OutOfMemory|BENCH_|Traceback" "$log" | grep -v -i "warn" | tail -8
  el "recipe $tag rc=$rc"
  [ "${PARALLEL:-0}" = 1 ] || pack
}
idx=0
for entry in ${RECIPES:-a-reference b2-ddp-liger-nonreentrant b5-ddp-liger-bf16-skip8}; do
  if [ "${PARALLEL:-0}" = 1 ]; then run_entry "$entry" $idx & else run_entry "$entry" $idx; fi
  idx=$((idx + 1))
done
wait
pack

[ "${PROVE_FIRST:-0}" = 1 ] || prove
cat "$W/results/summary.md"
el done
