#!/usr/bin/env bash
# stacktune: stop every process of one run and remove its directory per policy.
# Usage: stop-run.sh <run dir> <keep run dir: true|false> [docker container name]
# Only this run's processes (the session started by start-or-attach) are touched.
set -u
run_dir=$1
keep=$2
container=${3:-}

pid=$(cat "$run_dir/runner.pid" 2>/dev/null || true)
if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'run-job.sh'; then
    echo "stacktune: stopping run in $run_dir (session $pid)"
    kill -TERM -- "-$pid" 2>/dev/null
    pkill -TERM -s "$pid" 2>/dev/null
    for _ in $(seq 1 30); do
        pgrep -s "$pid" >/dev/null 2>&1 || break
        sleep 1
    done
    kill -KILL -- "-$pid" 2>/dev/null
    pkill -KILL -s "$pid" 2>/dev/null
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
