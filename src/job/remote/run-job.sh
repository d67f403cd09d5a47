#!/usr/bin/env bash
# stacktune: one detached attempt of launch.sh, bounded by the budget; then status, summary and
# release. Started by start-or-attach.sh under setsid, so it outlives the SSH session.
#
# Writes: status (running → succeeded | failed | budget_exceeded), exit_code, summary.json.
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
phase run "attempt $(cat starts) of $STACKTUNE_EXPERIMENT_HASH, runtime $STACKTUNE_RUNTIME, budget ${STACKTUNE_MAX_SECONDS}s"

if [ "$STACKTUNE_RUNTIME" = docker ]; then
    mkdir -p "$HOME/.cache/huggingface" "$store" "$run_dir/.home"
    gpu_args=()
    if [ "${STACKTUNE_GPUS:-0}" != 0 ]; then gpu_args=(--gpus all); fi
    # Same paths inside and outside, and the caller's uid, so the host can read and prune every file.
    timeout -k 60 "$STACKTUNE_MAX_SECONDS" docker run --rm --name "$container" "${gpu_args[@]}" \
        --ipc=host --network host --user "$(id -u):$(id -g)" \
        -e HOME="$run_dir/.home" -e HF_HOME=/hf-cache -v "$HOME/.cache/huggingface:/hf-cache" \
        -v "$run_dir:$run_dir" -v "$store:$store" -w "$run_dir" \
        "$STACKTUNE_IMAGE" bash launch.sh
    rc=$?
    # timeout stops the docker client, not the container.
    docker rm -f "$container" >/dev/null 2>&1 || true
else
    timeout -k 60 "$STACKTUNE_MAX_SECONDS" bash launch.sh
    rc=$?
fi
elapsed=$(($(date +%s) - started))
rm -f secrets.env

if [ "$rc" = 0 ]; then
    status=succeeded
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
printf '{"experiment_hash":"%s","status":"%s","exit_code":%d,"starts":%d,"attempt_seconds":%d,"metrics":%s,"output_store":"%s","run_dir":"%s"}\n' \
    "$STACKTUNE_EXPERIMENT_HASH" "$status" "$rc" "$(cat starts)" "$elapsed" "$metrics" "$store" "$run_dir" >summary.json.partial
mv -f summary.json.partial summary.json
echo "$rc" >exit_code
echo "$status" >status
phase end "status $status after ${elapsed}s (exit $rc)"

if [ "$status" = succeeded ]; then
    if [ "${STACKTUNE_KEEP_RUN_DIR:-false}" != true ]; then
        # Keep only the receipt (status, start counter, summary, logs, scripts): enough to answer
        # the next `pulumi up` without training; destroy removes the rest.
        find . -mindepth 1 -maxdepth 1 ! -name status ! -name starts ! -name exit_code ! -name summary.json \
            ! -name 'job*.log' ! -name runner.pid ! -name .lock ! -name run.env ! -name start-or-attach.sh \
            ! -name run-job.sh -exec rm -rf {} +
        phase release "pruned the run directory to its receipt (budget.keepRunDir is false)"
    fi
    if [ "${STACKTUNE_RELEASE:-none}" = poweroff ]; then
        phase release "powering off in 1 minute; the instance terminates on shutdown"
        sudo -n shutdown -h +1 >/dev/null 2>&1 || shutdown -h +1 >/dev/null 2>&1 || phase release "could not schedule shutdown"
    fi
fi
exit "$rc"
