#!/usr/bin/env bash
# stacktune: one detached attempt of launch.sh, bounded by the budget; then status, summary and
# release. Started by start-or-attach.sh under setsid, so it outlives the SSH session.
#
# Writes: job.status (running → succeeded | failed | budget_exceeded | preempted), exit_code, summary.json.
# (launch.sh keeps its own per-phase state in ./status.)
set -uo pipefail
cd "$(dirname "$0")" || exit 64
# shellcheck disable=SC1091
. ./run.env
run_dir=$(pwd)

expand_home() { case $1 in "~") printf '%s' "$HOME" ;; "~/"*) printf '%s/%s' "$HOME" "${1#"~/"}" ;; *) printf '%s' "$1" ;; esac; }
phase() { printf 'STACKTUNE_PHASE {"phase":"%s","detail":"%s"}\n' "$1" "$2"; }

store=$(expand_home "$STACKTUNE_OUTPUT_STORE_DIR")
container="stacktune-${STACKTUNE_EXPERIMENT_HASH:0:12}"
started=$(date +%s)
# The shipped package is what the experiment hash covers: it wins over any installed copy.
export PYTHONPATH="$run_dir/python${PYTHONPATH:+:$PYTHONPATH}"
phase run "attempt $(cat starts) of $STACKTUNE_EXPERIMENT_HASH, runtime $STACKTUNE_RUNTIME, budget ${STACKTUNE_MAX_SECONDS}s"

# Spot instances (STACKTUNE_SPOT_WATCH) and tests with a metadata stand-in: spot-watch.sh writes
# preemption.json on an interruption notice; the trainer then saves and syncs a checkpoint and
# writes preempted.json (python/stacktune_train/preemption.py). A resumed attempt starts clean.
rm -f preemption.json preempted.json
watch_pid=
if [ "${STACKTUNE_SPOT_WATCH:-false}" = true ] || [ -n "${STACKTUNE_IMDS_ENDPOINT:-}" ]; then
    bash ./spot-watch.sh preemption.json &
    watch_pid=$!
fi
# An S3 checkpoint store is mirrored from the host (checkpoint-sync.sh): the trainer writes a
# directory store in the run directory, restored from S3 first and pushed to S3 as it grows.
s3_store=
sync_pid=
case ${STACKTUNE_CHECKPOINT_STORE:-} in
    s3://*)
        s3_store=$STACKTUNE_CHECKPOINT_STORE
        export STACKTUNE_CHECKPOINT_STORE="$run_dir/checkpoint-store"
        bash ./checkpoint-sync.sh restore "$s3_store" "$STACKTUNE_CHECKPOINT_STORE" ||
            phase checkpoints "could not restore checkpoints from $s3_store"
        bash ./checkpoint-sync.sh loop "$s3_store" "$STACKTUNE_CHECKPOINT_STORE" &
        sync_pid=$!
        ;;
esac
store_env=()
if [ -n "${STACKTUNE_CHECKPOINT_STORE:-}" ]; then store_env=(-e "STACKTUNE_CHECKPOINT_STORE=$STACKTUNE_CHECKPOINT_STORE"); fi

# venv runtime without a configured environment: one per pinned requirement set, shared by runs.
prepare_venv() {
    local req_hash venv
    req_hash=$(cat requirements/*.txt | sha256sum | cut -c1-16)
    venv="$(expand_home "$STACKTUNE_VENV_ROOT")/$req_hash"
    if [ ! -f "$venv/.stacktune-ready" ]; then
        phase venv "creating $venv from the pinned requirements"
        rm -rf "$venv" && "$STACKTUNE_PYTHON" -m venv "$venv" || return 1
        "$venv/bin/pip" install --no-deps -r requirements/requirements.txt || return 1
        if [ "${STACKTUNE_GPUS:-0}" != 0 ]; then
            "$venv/bin/pip" install --no-deps -r requirements/requirements-gpu.txt || return 1
            DS_BUILD_OPS=0 "$venv/bin/pip" install --no-deps --no-build-isolation \
                -r requirements/requirements-sdist.txt || return 1
        fi
        touch "$venv/.stacktune-ready"
    fi
    export STACKTUNE_VENV="$venv"
}

if [ "$STACKTUNE_RUNTIME" = docker ]; then
    mkdir -p "$HOME/.cache/huggingface" "$store" "$run_dir/.home"
    gpu_args=()
    if [ "${STACKTUNE_GPUS:-0}" != 0 ]; then gpu_args=(--gpus all); fi
    # Same paths inside and outside, and the caller's uid, so the host can read and prune every file.
    timeout -k 60 "$STACKTUNE_MAX_SECONDS" docker run --rm --name "$container" "${gpu_args[@]}" \
        --ipc=host --network host --user "$(id -u):$(id -g)" \
        -e HOME="$run_dir/.home" -e HF_HOME=/hf-cache -e PYTHONPATH="$PYTHONPATH" "${store_env[@]}" \
        -v "$HOME/.cache/huggingface:/hf-cache" -v "$run_dir:$run_dir" -v "$store:$store" -w "$run_dir" \
        "$STACKTUNE_IMAGE" bash launch.sh
    rc=$?
    # timeout stops the docker client, not the container.
    docker rm -f "$container" >/dev/null 2>&1 || true
else
    rc=0
    if [ -z "${STACKTUNE_VENV:-}" ]; then prepare_venv || rc=$?; fi
    if [ "$rc" = 0 ]; then
        timeout -k 60 "$STACKTUNE_MAX_SECONDS" bash launch.sh
        rc=$?
    fi
fi
elapsed=$(($(date +%s) - started))
rm -f secrets.env
if [ -n "$watch_pid" ]; then kill "$watch_pid" 2>/dev/null; fi
if [ -n "$sync_pid" ]; then
    kill "$sync_pid" 2>/dev/null
    bash ./checkpoint-sync.sh flush "$s3_store" "$STACKTUNE_CHECKPOINT_STORE" ||
        phase checkpoints "could not sync the last checkpoints to $s3_store"
fi

if [ "$rc" = 0 ]; then
    status=succeeded
elif [ -f preempted.json ]; then
    # accelerate launch turns the trainer's own exit code into 1: the file is the signal.
    status=preempted
    rc=85
elif [ "$elapsed" -ge "$STACKTUNE_MAX_SECONDS" ]; then
    status=budget_exceeded
    rc=124
else
    status=failed
fi

metrics=null
if [ -s "$STACKTUNE_METRICS_FILE" ] && head -c1 "$STACKTUNE_METRICS_FILE" | grep -q '{'; then
    metrics=$(tr -d '\n' <"$STACKTUNE_METRICS_FILE")
fi
# Wall time of each finished phase from launch.sh's end events, across attempts (a resumed run skips
# the phases an earlier attempt finished): {"prepare":8,"train":22,...}
phases=$(cat job.[0-9]*.log job.log 2>/dev/null |
    sed -n 's/^STACKTUNE_PHASE {"phase":"\([a-z_]*\)","event":"end","elapsed_s":\([0-9]*\).*/\1 \2/p' |
    awk '{ if (!($1 in t)) order[n++] = $1; t[$1] = $2 }
         END { printf "{"; for (i = 0; i < n; i++) printf "%s\"%s\":%s", (i ? "," : ""), order[i], t[order[i]]; printf "}" }')
printf '{"experiment_hash":"%s","status":"%s","exit_code":%d,"starts":%d,"attempt_seconds":%d,"metrics":%s,"phases":%s,"output_store":"%s","run_dir":"%s"}\n' \
    "$STACKTUNE_EXPERIMENT_HASH" "$status" "$rc" "$(cat starts)" "$elapsed" "$metrics" "$phases" "$store" "$run_dir" >summary.json.partial
mv -f summary.json.partial summary.json
echo "$rc" >exit_code
echo "$status" >job.status
phase end "status $status after ${elapsed}s (exit $rc)"

if [ "$status" = succeeded ]; then
    # A local output store keeps the run's metrics next to the model, so a later `pulumi up` that
    # finds the model (and creates no job) still reports them.
    if [ "$metrics" != null ] && [ -f "$store/stacktune.json" ]; then
        cp -f "$STACKTUNE_METRICS_FILE" "$store/metrics.json"
    fi
    if [ -f "$store/stacktune.json" ]; then
        printf '%s\n' "$phases" >"$store/phases.json"
    fi
    if [ "${STACKTUNE_KEEP_RUN_DIR:-false}" != true ]; then
        # Keep only the receipt (states, start counter, summary, logs, scripts): enough to answer
        # the next `pulumi up` without training; `pulumi destroy` removes the rest.
        find . -mindepth 1 -maxdepth 1 ! -name job.status ! -name status ! -name starts ! -name exit_code \
            ! -name summary.json ! -name 'job*.log' ! -name runner.pid ! -name .lock ! -name run.env \
            ! -name start-or-attach.sh ! -name run-job.sh -exec rm -rf {} +
        phase release "pruned the run directory to its receipt (budget.keepRunDir is false)"
    fi
    if [ "${STACKTUNE_RELEASE:-none}" = poweroff ]; then
        phase release "powering off in 1 minute; the instance terminates on shutdown"
        sudo -n shutdown -h +1 >/dev/null 2>&1 || shutdown -h +1 >/dev/null 2>&1 || phase release "could not schedule shutdown"
    fi
elif [ "${STACKTUNE_RELEASE:-none}" = poweroff ] && [ "${STACKTUNE_RELEASE_ON_FAILURE:-false}" = true ]; then
    # One machine of a multi-host run: the job cannot go on with a machine short, so a failed machine
    # is not kept for inspection (its last log lines went to `pulumi up`); every machine's job fails
    # with the lost peer, so every instance of the cluster releases itself.
    phase release "status $status on a multi-host run: powering off in 1 minute; the instance terminates on shutdown"
    sudo -n shutdown -h +1 >/dev/null 2>&1 || shutdown -h +1 >/dev/null 2>&1 || phase release "could not schedule shutdown"
fi
exit "$rc"
