#!/usr/bin/env bash
# stacktune: start this run detached, or re-attach to it, and exit with its status.
#
# Usage: start-or-attach.sh <run dir>      stdin: the content of secrets.env (read, never echoed)
#
# stdout: one readable line per phase and progress event while the run goes (lib.sh's
#         readable_progress of job.log's `STACKTUNE_PHASE` / `STACKTUNE_PROGRESS` lines), then one
#         JSON summary as the last line.
# exit:   0 the run succeeded (now or earlier: nothing is trained twice)
#         the job's own exit status when it failed (124 = stopped at budget.maxHours, 75 = another
#         run held this host's GPUs for as long: gpus_busy)
#         64 the run directory is incomplete, 75 another start-or-attach held the lock too long
set -uo pipefail

run_dir=$1
if ! cd "$run_dir" 2>/dev/null; then
    echo "stacktune: run directory $run_dir is missing; run 'pulumi up' again to upload it" >&2
    exit 64
fi
for required in run.env run-job.sh lib.sh; do
    if [ ! -f "$required" ]; then
        echo "stacktune: $run_dir/$required is missing; run 'pulumi up' again to upload it" >&2
        exit 64
    fi
done
# shellcheck disable=SC1091
. ./run.env
# shellcheck disable=SC1091
. ./lib.sh

# This script's own events go straight to the operator (job.log is the runner's), readable.
tell() { phase "$1" "$2" | readable_progress; }

# The secrets stay in this shell's memory until a run actually starts; then they go to a 0600 file.
secrets=$(cat)

store_marker_matches() {
    [ "${STACKTUNE_CHECK_OUTPUT_STORE:-false}" = true ] && store_holds_this_run "$(expand_home "$STACKTUNE_OUTPUT_STORE_DIR")"
}

already_complete_summary() {
    local store
    store=$(expand_home "$STACKTUNE_OUTPUT_STORE_DIR")
    summary_json succeeded 0 "$(cat starts 2>/dev/null || echo 0)" "" \
        "$(json_object_or_null "$store/metrics.json")" "$(json_object_or_null "$store/phases.json")" "$store" "$run_dir"
}

# One decision at a time per run directory: two concurrent `pulumi up`s must not both start a run.
if command -v flock >/dev/null 2>&1; then
    exec 9>.lock
    if ! flock -w 600 9; then
        echo "stacktune: another start-or-attach holds $run_dir/.lock; is a second 'pulumi up' running?" >&2
        exit 75
    fi
fi

if [ "$(cat job.status 2>/dev/null)" = succeeded ] && [ -s summary.json ]; then
    tell done "run $STACKTUNE_EXPERIMENT_HASH already succeeded; nothing to train"
    cat summary.json
    exit 0
fi
if store_marker_matches; then
    tell done "output store already holds the model of $STACKTUNE_EXPERIMENT_HASH; nothing to train"
    already_complete_summary
    exit 0
fi

if runner_alive; then
    tell attach "re-attaching to the running job (pid $runner_pid), start #$(cat starts 2>/dev/null || echo '?')"
else
    # A runner that died (killed, OOM) may leave its attempt's processes running: they must not
    # train beside the next attempt (nor hold the GPUs it waits for).
    if [ -n "$(run_processes .)" ]; then
        tell stop "stopping the processes attempt $(cat starts) left (its runner is gone)"
        stop_run_processes .
    fi
    starts=$(($(cat starts 2>/dev/null || echo 0) + 1))
    echo "$starts" >starts
    if [ -f job.log ]; then mv -f job.log "job.$((starts - 1)).log"; fi
    (
        umask 077
        printf '%s\n' "$secrets" >secrets.env.partial && mv -f secrets.env.partial secrets.env
    )
    rm -f exit_code summary.json
    echo running >job.status
    # setsid + nohup + no inherited descriptors (not even the lock): the run survives the SSH
    # session that started it, and a later start-or-attach can take the lock while it runs.
    # The run's identity (lib.sh, runner_alive): the PID with its start time, and a token in its
    # environment that every process of the run inherits.
    token=$(cat /proc/sys/kernel/random/uuid)
    STACKTUNE_RUN_TOKEN=$token setsid nohup bash ./run-job.sh </dev/null >job.log 2>&1 9>&- &
    pid=$!
    # A runner that already ended has no identity: it is then never taken for alive.
    echo "$(process_identity "$pid" || echo "$pid ended -") $token" >runner.pid
    tell start "started run $STACKTUNE_EXPERIMENT_HASH (start #$starts, pid $pid) in $run_dir"
fi
unset secrets
# Let a concurrent start-or-attach in; it will see the runner and attach too.
exec 9>&-

# The job's log keeps the machine-readable lines (the tools read them); the operator gets each one
# as a line to read.
progress_lines() { grep --line-buffered -E '^STACKTUNE_(PROGRESS|PHASE) ' | readable_progress; }
if runner_alive; then
    tail -n +1 -F --pid="$runner_pid" job.log 2>/dev/null | progress_lines
else
    progress_lines <job.log
fi

status=$(cat job.status 2>/dev/null || echo unknown)
code=$(cat exit_code 2>/dev/null || echo 1)
if [ "$status" = succeeded ]; then
    cat summary.json
    exit 0
fi
{
    echo "stacktune: run $STACKTUNE_EXPERIMENT_HASH ended with status '$status' (exit $code). Last log lines:"
    tail -n 30 job.log
    echo "stacktune: the run directory is $run_dir (log: $run_dir/job.log)"
} >&2
if [ -s summary.json ]; then cat summary.json; fi
if [ "$code" = 0 ]; then exit 1; fi
exit "$code"
