#!/usr/bin/env bash
# stacktune: stop every process of one run and remove its directory per policy.
# Usage: stop-run.sh <run dir> <keep run dir: true|false> [docker container name]
# Runs with lib.sh prepended (the run directory may be pruned). Only this run's processes are
# signalled (lib.sh, run_processes): a PID that now belongs to another process, another run's
# runner included, never is.
set -u
run_dir=$1
keep=$2
container=${3:-}

runner_alive "$run_dir" || true # reads the record: runner_pid, runner_token
if [ -n "$(run_processes "$run_dir")" ]; then
    echo "stacktune: stopping run in $run_dir (session $runner_pid)"
    stop_run_processes "$run_dir"
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
