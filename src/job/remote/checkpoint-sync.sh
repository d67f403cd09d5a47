#!/usr/bin/env bash
# stacktune: mirror the run's checkpoint directory to an S3 checkpoint store, from the host.
#
# Usage: checkpoint-sync.sh restore|flush|loop <s3://bucket/prefix> <mirror dir>
#
# The trainer (in the venv or in the container) only ever writes a directory store: every saved
# checkpoint is copied to <mirror dir>/checkpoint-N with a completion marker written last
# (python/stacktune_train/preemption.py). This script carries that directory to S3 with the host's
# AWS CLI and instance role, so the training image needs neither. Markers are uploaded after the
# files they vouch for, so a copy cut off by the termination is never restored.
#   restore  S3 → mirror, before training (a new instance resumes from the newest complete one)
#   flush    mirror → S3 once (after a preemption, and when the job ends)
#   loop     flush every STACKTUNE_CHECKPOINT_SYNC_SECONDS (default 30) until killed
set -uo pipefail
action=${1:?usage: checkpoint-sync.sh restore|flush|loop <s3 url> <dir>}
store=${2:?s3 url}
mirror=${3:?mirror dir}
marker=.stacktune-complete
mkdir -p "$mirror"

flush() {
    aws s3 sync --only-show-errors "$mirror" "$store" --exclude '.*' --exclude "*/$marker" &&
        aws s3 sync --only-show-errors "$mirror" "$store" --exclude '*' --include "checkpoint-*/$marker"
}

case $action in
    restore) aws s3 sync --only-show-errors "$store" "$mirror" --exclude '.*' ;;
    flush) flush ;;
    loop) while sleep "${STACKTUNE_CHECKPOINT_SYNC_SECONDS:-30}"; do flush; done ;;
    *) echo "checkpoint-sync.sh: unknown action $action" >&2; exit 64 ;;
esac
