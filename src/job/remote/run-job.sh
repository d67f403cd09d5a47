#!/usr/bin/env bash
# stacktune: one detached attempt of launch.sh, bounded by the budget; then status, summary and
# release. Started by start-or-attach.sh under setsid, so it outlives the SSH session.
#
# Writes: job.status (running [→ waiting for the GPUs → running] → succeeded | failed | budget_exceeded |
# preempted | gpus_busy), exit_code, summary.json.
# (launch.sh keeps its own per-phase state in ./status.)
set -uo pipefail
cd "$(dirname "$0")" || exit 64
# shellcheck disable=SC1091
. ./run.env
# shellcheck disable=SC1091
. ./lib.sh
run_dir=$(pwd)

store=$(expand_home "$STACKTUNE_OUTPUT_STORE_DIR")
container="stacktune-${STACKTUNE_EXPERIMENT_HASH:0:12}"
attempt=$(cat starts)

# budget.maxHours bounds the whole run, not each attempt: budget.spent holds the seconds of the
# attempts that ended, attempt.started the start of the one under way. An attempt that never
# counted itself (its runner was killed, the host went down) counts until its log's last write.
spent=$(cat budget.spent 2>/dev/null || echo 0)
if [ -f attempt.started ]; then
    last_write=$(stat -c %Y "job.$((attempt - 1)).log" 2>/dev/null || cat attempt.started)
    unaccounted=$((last_write - $(cat attempt.started)))
    if [ "$unaccounted" -gt 0 ]; then spent=$((spent + unaccounted)); fi
fi
allowed=$((STACKTUNE_MAX_SECONDS - spent))
if [ "$allowed" -lt 0 ]; then allowed=0; fi

# One GPU job per host: a GPU run holds <run root>/.gpus.lock for its attempt. No setting picks
# GPUs (the docker runtime passes --gpus all, accelerate uses every visible GPU), so any two GPU
# runs on one host would share them. The lock lives on descriptor 8, inherited by everything the
# attempt starts: processes left by a killed runner still hold it. The lock file names its holder.
# A CPU run (gpus: 0) takes none: it shares cores, not device memory. Waiting is bounded by
# budget.maxHours and does not count against it.
gpus_busy=false
if [ "${STACKTUNE_GPUS:-0}" != 0 ] && [ "$allowed" -gt 0 ]; then
    gpu_lock="$(dirname "$run_dir")/.gpus.lock"
    exec 8>>"$gpu_lock"
    if ! flock -n 8; then
        echo waiting >job.status
        wait_start=$(date +%s)
        waited=0
        gpus_busy=true
        while [ "$waited" -lt "$STACKTUNE_MAX_SECONDS" ]; do
            holder=$(cat "$gpu_lock" 2>/dev/null)
            phase gpus "waiting for the GPUs of this host: ${holder:-another run} holds them; this run starts when they are free (waited ${waited}s of at most ${STACKTUNE_MAX_SECONDS}s, budget.maxHours)"
            step=$((STACKTUNE_MAX_SECONDS - waited))
            if [ "$step" -gt 60 ]; then step=60; fi
            if flock -w "$step" 8; then gpus_busy=false && break; fi
            waited=$(($(date +%s) - wait_start))
        done
        waited=$(($(date +%s) - wait_start))
        if [ "$gpus_busy" = false ]; then
            echo running >job.status
            phase gpus "got the GPUs of this host after ${waited}s"
        fi
    fi
    if [ "$gpus_busy" = false ]; then
        printf 'stack %s (run %s, pid %s, since %s)\n' "$STACKTUNE_STACK" "$STACKTUNE_EXPERIMENT_HASH" "$$" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$gpu_lock"
    fi
fi

# A host with a budget watchdog (aws) powers itself off at its deadline, first boot + budget.maxHours,
# which is earlier than this run's own budget end (the run started after the boot). The attempt stops
# gracefully STACKTUNE_WATCHDOG_MARGIN_S before it (checkpoint synced, status budget_exceeded), so the
# watchdog stays the backstop it is meant to be.
watchdog_cut=false
if [ -n "${STACKTUNE_WATCHDOG_DEADLINE_FILE:-}" ] && [ -r "$STACKTUNE_WATCHDOG_DEADLINE_FILE" ]; then
    before_watchdog=$(($(cat "$STACKTUNE_WATCHDOG_DEADLINE_FILE") - STACKTUNE_WATCHDOG_MARGIN_S - $(date +%s)))
    if [ "$before_watchdog" -lt "$allowed" ]; then
        allowed=$((before_watchdog > 0 ? before_watchdog : 0))
        watchdog_cut=true
        phase budget "this attempt stops ${STACKTUNE_WATCHDOG_MARGIN_S}s before the budget watchdog powers the host off (first boot + budget.maxHours): it may run ${allowed}s"
    fi
fi

started=$(date +%s)
echo "$spent" >budget.spent
echo "$started" >attempt.started
# The shipped package is what the experiment hash covers: it wins over any installed copy.
export PYTHONPATH="$run_dir/python${PYTHONPATH:+:$PYTHONPATH}"
phase run "attempt $attempt of $STACKTUNE_EXPERIMENT_HASH, runtime $STACKTUNE_RUNTIME, budget ${STACKTUNE_MAX_SECONDS}s (${spent}s used by earlier attempts: this one may run ${allowed}s)"

# Spot instances (STACKTUNE_SPOT_WATCH) and tests with a metadata stand-in: spot-watch.sh writes
# preemption.json on an interruption notice; the trainer then saves and syncs a checkpoint and
# writes preempted.json (python/stacktune_train/preemption.py). A resumed attempt starts clean.
rm -f preemption.json preempted.json
watch_pid=
if [ "${STACKTUNE_SPOT_WATCH:-false}" = true ] || [ -n "${STACKTUNE_IMDS_ENDPOINT:-}" ]; then
    bash ./spot-watch.sh preemption.json 8>&- &
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
        bash ./checkpoint-sync.sh loop "$s3_store" "$STACKTUNE_CHECKPOINT_STORE" 8>&- &
        sync_pid=$!
        ;;
esac
store_env=()
if [ -n "${STACKTUNE_CHECKPOINT_STORE:-}" ]; then store_env=(-e "STACKTUNE_CHECKPOINT_STORE=$STACKTUNE_CHECKPOINT_STORE"); fi

# venv runtime without a configured environment: one per pinned set (CPU or GPU), shared by runs.
# The set is installed by the image's own install script from the shipped manifests, so a venv
# holds exactly what the image and CI hold.
prepare_venv() {
    local set=cpu set_hash venv
    if [ "${STACKTUNE_GPUS:-0}" != 0 ]; then set=gpu; fi
    set_hash=$({ echo "$set"; cat python/*.txt images/*; } | sha256sum | cut -c1-16)
    venv="$(expand_home "$STACKTUNE_VENV_ROOT")/$set_hash"
    if [ ! -f "$venv/.stacktune-ready" ]; then
        phase venv "creating $venv from the pinned $set set"
        rm -rf "$venv" && "$STACKTUNE_PYTHON" -m venv "$venv" || return 1
        PYTHON="$venv/bin/python" bash images/install-python-deps.sh requirements "$set" || return 1
        touch "$venv/.stacktune-ready"
    fi
    export STACKTUNE_VENV="$venv"
}

if [ "$gpus_busy" = true ]; then
    phase gpus "the GPUs of this host stayed held by ${holder:-another run} for ${waited}s (at most budget.maxHours, ${STACKTUNE_MAX_SECONDS}s); let that run end or stop it ('pulumi destroy' on its stack), then run 'pulumi up' again"
    rc=75
elif [ "$allowed" = 0 ] && [ "$watchdog_cut" = true ]; then
    phase budget "the budget watchdog powers this host off in less than ${STACKTUNE_WATCHDOG_MARGIN_S}s (first boot + budget.maxHours), so attempt $attempt does not start; raise stacktune:budget.maxHours and run 'pulumi up' again to go on"
    rc=124
elif [ "$allowed" = 0 ]; then
    phase budget "budget.maxHours is used up: earlier attempts ran ${spent}s of ${STACKTUNE_MAX_SECONDS}s, so attempt $attempt does not start; raise stacktune:budget.maxHours and run 'pulumi up' again to go on"
    rc=124
elif [ "$STACKTUNE_RUNTIME" = docker ]; then
    # The publish step stages the model beside the store and renames it into place: the container
    # sees the store's parent (the store itself may not exist yet, and a mount point cannot be renamed).
    store_parent=$(dirname "$store")
    mkdir -p "$HOME/.cache/huggingface" "$store_parent" "$run_dir/.home"
    gpu_args=()
    if [ "${STACKTUNE_GPUS:-0}" != 0 ]; then gpu_args=(--gpus all); fi
    # Same paths inside and outside, and the caller's uid, so the host can read and prune every file.
    timeout -k 60 "$allowed" docker run --rm --name "$container" "${gpu_args[@]}" \
        --ipc=host --network host --user "$(id -u):$(id -g)" \
        -e HOME="$run_dir/.home" -e HF_HOME=/hf-cache -e PYTHONPATH="$PYTHONPATH" "${store_env[@]}" \
        -v "$HOME/.cache/huggingface:/hf-cache" -v "$run_dir:$run_dir" -v "$store_parent:$store_parent" -w "$run_dir" \
        "$STACKTUNE_IMAGE" bash launch.sh
    rc=$?
    # timeout stops the docker client, not the container.
    docker rm -f "$container" >/dev/null 2>&1 || true
else
    rc=0
    if [ -z "${STACKTUNE_VENV:-}" ]; then prepare_venv || rc=$?; fi
    if [ "$rc" = 0 ]; then
        timeout -k 60 "$allowed" bash launch.sh
        rc=$?
    fi
fi
elapsed=$(($(date +%s) - started))
echo "$((spent + elapsed))" >budget.spent
rm -f attempt.started secrets.env
if [ -n "$watch_pid" ]; then kill "$watch_pid" 2>/dev/null; fi
if [ -n "$sync_pid" ]; then
    kill "$sync_pid" 2>/dev/null
    bash ./checkpoint-sync.sh flush "$s3_store" "$STACKTUNE_CHECKPOINT_STORE" ||
        phase checkpoints "could not sync the last checkpoints to $s3_store"
fi

# The GPUs go to the next run now: the summary and release below need none.
exec 8>&-
if [ "$rc" = 0 ]; then
    status=succeeded
elif [ "$gpus_busy" = true ]; then
    status=gpus_busy
elif [ -f preempted.json ]; then
    # accelerate launch turns the trainer's own exit code into 1: the file is the signal.
    status=preempted
    rc=85
elif [ "$allowed" = 0 ] || [ "$elapsed" -ge "$allowed" ]; then
    status=budget_exceeded
    rc=124
else
    status=failed
fi

metrics=$(json_object_or_null "$STACKTUNE_METRICS_FILE")
# Wall time of each finished phase from launch.sh's end events, across attempts (a resumed run skips
# the phases an earlier attempt finished): {"prepare":8,"train":22,...}
phases=$(cat job.[0-9]*.log job.log 2>/dev/null |
    sed -n 's/^STACKTUNE_PHASE {"phase":"\([a-z_]*\)","event":"end","elapsed_s":\([0-9]*\).*/\1 \2/p' |
    awk '{ if (!($1 in t)) order[n++] = $1; t[$1] = $2 }
         END { printf "{"; for (i = 0; i < n; i++) printf "%s\"%s\":%s", (i ? "," : ""), order[i], t[order[i]]; printf "}" }')
summary_json "$status" "$rc" "$(cat starts)" "$elapsed" "$metrics" "$phases" "$store" "$run_dir" >summary.json.partial
mv -f summary.json.partial summary.json
echo "$rc" >exit_code
echo "$status" >job.status
phase end "status $status after ${elapsed}s (exit $rc)"

if [ "$status" = succeeded ]; then
    # A local output store keeps the run's metrics and phase times next to the model, so a later
    # `pulumi up` that finds the model (and creates no job) still reports them. The publish phase put
    # the model and its marker there last; these extras join only a store whose marker is this run's,
    # each replaced whole (the phase times exist only now, after launch.sh).
    if store_holds_this_run "$store"; then
        if [ "$metrics" != null ]; then
            cp -f "$STACKTUNE_METRICS_FILE" "$store/metrics.json.partial" && mv -f "$store/metrics.json.partial" "$store/metrics.json"
        fi
        printf '%s\n' "$phases" >"$store/phases.json.partial" && mv -f "$store/phases.json.partial" "$store/phases.json"
    fi
    if [ "${STACKTUNE_KEEP_RUN_DIR:-false}" != true ]; then
        # Keep only the receipt (states, start counter, summary, logs, scripts): enough to answer
        # the next `pulumi up` without training; `pulumi destroy` removes the rest. wandb/ too: under
        # WANDB_MODE=offline it is the run's only W&B record until `wandb sync` uploads it.
        find . -mindepth 1 -maxdepth 1 ! -name job.status ! -name status ! -name starts ! -name exit_code \
            ! -name summary.json ! -name 'job*.log' ! -name runner.pid ! -name .lock ! -name run.env ! -name wandb \
            ! -name start-or-attach.sh ! -name run-job.sh ! -name lib.sh -exec rm -rf {} +
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
