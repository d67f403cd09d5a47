#!/usr/bin/env bash
# stacktune: mirror the run's checkpoint directory to an S3 checkpoint store, from the host.
#
# Usage: checkpoint-sync.sh restore|flush|loop <s3://bucket/prefix> <mirror dir>
#
# The trainer (in the venv or in the container) only ever writes a directory store: every complete
# checkpoint is copied to <mirror dir>/checkpoint-N (machine-<rank>/checkpoint-N on a multi-host run)
# with a completion marker written last (python/stacktune_train/preemption.py). This script carries
# that directory to S3 with the host's AWS CLI and instance role, so the training image needs neither.
# Only complete checkpoints travel, each marker after the files it vouches for: a copy cut off by the
# termination never counts, in S3 or back on a new instance.
#   restore  S3 → mirror, before training: complete checkpoints only (a new instance resumes from them)
#   flush    mirror → S3 once (after a preemption, and when the job ends)
#   loop     flush every STACKTUNE_CHECKPOINT_SYNC_SECONDS (default 30) until killed
set -uo pipefail
action=${1:?usage: checkpoint-sync.sh restore|flush|loop <s3 url> <dir>}
store=${2:?s3 url}
mirror=${3:?mirror dir}
marker=.stacktune-complete
mkdir -p "$mirror"

# Relative paths of the complete checkpoints under a directory (hidden ones are copies in progress).
complete_in() {
    (cd "$1" && find . -path '*/.*' -prune -o -type d -name 'checkpoint-*' -print |
        while read -r dir; do if [ -f "$dir/$marker" ]; then printf '%s\n' "${dir#./}"; fi; done)
}

flush() {
    local dir rc=0
    while read -r dir; do
        aws s3 sync --only-show-errors "$mirror/$dir" "$store/$dir" --exclude "$marker" &&
            aws s3 sync --only-show-errors "$mirror/$dir" "$store/$dir" --exclude '*' --include "$marker" || rc=1
    done < <(complete_in "$mirror")
    return "$rc"
}

# Downloads into a hidden staging directory, then moves only the complete checkpoints into the mirror.
restore() {
    local staging="$mirror/.restoring" dir
    rm -rf "$staging"
    aws s3 sync --only-show-errors "$store" "$staging" || return 1
    while read -r dir; do
        if [ ! -f "$mirror/$dir/$marker" ]; then
            mkdir -p "$(dirname "$mirror/$dir")" && rm -rf "${mirror:?}/$dir" && mv "$staging/$dir" "$mirror/$dir" || return 1
        fi
    done < <(complete_in "$staging")
    rm -rf "$staging"
}

case $action in
    restore) restore ;;
    flush) flush ;;
    loop) while sleep "${STACKTUNE_CHECKPOINT_SYNC_SECONDS:-30}"; do flush; done ;;
    *) echo "checkpoint-sync.sh: unknown action $action" >&2; exit 64 ;;
esac
