#!/usr/bin/env bash
# stacktune: stop every process of one run and remove its directory per policy.
# Usage: stop-run.sh <run dir> <keep run dir: true|false> [docker container name]
# Runs with lib.sh prepended (the run directory may be pruned). Only this run's processes are
# signalled: its runner's session while the runner's identity checks out (runner_alive), else only
# the processes of that session that carry the run's token (left by a runner that died). A PID
# that now belongs to another process, another run's runner included, is never signalled.
set -u
run_dir=$1
keep=$2
container=${3:-}

run_processes() {
    local p
    if runner_alive "$run_dir"; then
        # The live runner holds its session's number: every process in the session is this run's.
        pgrep -s "$runner_pid"
    elif [ -n "$runner_pid" ] && [ -n "$runner_token" ]; then
        for p in $(pgrep -s "$runner_pid"); do
            if carries_run_token "$p" "$runner_token"; then echo "$p"; fi
        done
    fi
}

runner_alive "$run_dir" || true # reads the record: runner_pid, runner_token
pids=$(run_processes)
if [ -n "$pids" ]; then
    echo "stacktune: stopping run in $run_dir (session $runner_pid)"
    # shellcheck disable=SC2086 # one PID per word
    kill -TERM $pids 2>/dev/null
    for _ in $(seq 1 30); do
        pids=$(run_processes)
        [ -n "$pids" ] || break
        sleep 1
    done
    # shellcheck disable=SC2086
    if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null; fi
fi
if [ -n "$container" ] && command -v docker >/dev/null 2>&1; then
    docker rm -f "$container" >/dev/null 2>&1 || true
fi
if [ "$keep" = true ]; then
    rm -f "$run_dir/secrets.env"
    echo "stacktune: kept $run_dir (budget.keepRunDir is true)"
else
    rm -rf "$run_dir"
    echo "stacktune: removed $run_dir"
fi
exit 0
