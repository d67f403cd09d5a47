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
#
# Everything this script prints ends up in the error of a failed `pulumi up`: the command provider
# (upstream's and the stand-in) quotes a failed command's WHOLE stdout and stderr. So the live output
# stays bounded whatever the job prints: every phase line, but of the progress lines (one per logging
# step, thousands in a long run) only the first of each whole percent of a phase, and the last step.
# The provider shows the latest line live, so that line still carries step/total, loss and ETA.
sparse_progress() {
    local line phase step total percent
    local -A shown=()
    local re_phase='"phase":"([^"]*)"' re_step='"step":([0-9]+)' re_total='"total":([0-9]+)'
    while IFS= read -r line; do
        if [[ $line == 'STACKTUNE_PROGRESS '* && $line =~ $re_step ]]; then
            step=${BASH_REMATCH[1]} total= phase=
            [[ $line =~ $re_total ]] && total=${BASH_REMATCH[1]}
            [[ $line =~ $re_phase ]] && phase=${BASH_REMATCH[1]}
            if [[ -n $total ]] && ((total > 0 && step < total)); then
                percent=$((step * 100 / total))
                [[ ${shown[$phase]-} == "$percent" ]] && continue
                shown[$phase]=$percent
            fi
        fi
        printf '%s\n' "$line"
    done
}
progress_lines() { grep --line-buffered -E '^STACKTUNE_(PROGRESS|PHASE) ' | sparse_progress | readable_progress; }

# The end of job.log for a failure's error: its last lines, readable, each cut to a line's width (a
# progress bar redrawn with carriage returns is one "line" of megabytes; only its last state counts).
# In a UTF-8 locale so that a cut never splits a character (the error must be valid UTF-8).
# stacktune's own messages ("stacktune: …") say what to do next, so they keep up to 1,000 characters.
LOG_TAIL_LINES=40 LOG_LINE_CHARS=160 OWN_MESSAGE_CHARS=1000
log_tail() {
    local line limit
    tail -n "$LOG_TAIL_LINES" job.log | readable_progress | while IFS= read -r line || [[ -n $line ]]; do
        line=${line%$'\r'} && line=${line##*$'\r'}
        limit=$LOG_LINE_CHARS && [[ $line == stacktune:* ]] && limit=$OWN_MESSAGE_CHARS
        if ((${#line} > limit)); then line="${line:0:limit}…"; fi
        printf '%s\n' "$line"
    done
}
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
    LC_ALL=C.UTF-8 log_tail 2>/dev/null
    echo "stacktune: the run directory is $run_dir (full log: $run_dir/job.log; \`stacktune logs $STACKTUNE_STACK\` shows it)"
} >&2
if [ -s summary.json ]; then cat summary.json; fi
if [ "$code" = 0 ]; then exit 1; fi
exit "$code"
