#!/usr/bin/env bash
# stacktune: watch the instance metadata service for a spot interruption notice and tell the trainer.
#
# Usage: spot-watch.sh <flag file>     (started in the background by run-job.sh; cwd = run dir)
#
# IMDSv2: PUT /latest/api/token (header X-aws-ec2-metadata-token-ttl-seconds) gives a session
# token; GET /latest/meta-data/spot/instance-action with the token answers 404 until AWS schedules
# the interruption, then 200 with {"action":"terminate","time":"..."} two minutes ahead. On a
# notice the body is written to <flag file> (atomically); the trainer checks it at every step end,
# saves a checkpoint, syncs it to the checkpoint store and exits (python/stacktune_train/preemption.py).
#
# Environment: STACKTUNE_IMDS_ENDPOINT (default http://169.254.169.254; tests point it at a stand-in),
# STACKTUNE_SPOT_POLL_SECONDS (default 5).
set -uo pipefail

flag=${1:?usage: spot-watch.sh <flag file>}
endpoint=${STACKTUNE_IMDS_ENDPOINT:-http://169.254.169.254}
interval=${STACKTUNE_SPOT_POLL_SECONDS:-5}
token=
token_time=0

# shellcheck disable=SC1091
. "$(dirname "$0")/lib.sh"

new_token() {
    token=$(curl -sf --max-time 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' \
        "$endpoint/latest/api/token") || token=
    token_time=$(date +%s)
}

phase spot-watch "polling $endpoint for spot interruption notices every ${interval}s"
while true; do
    # Renew the token well before its 6-hour lifetime ends (and after any failure).
    if [ -z "$token" ] || [ $(($(date +%s) - token_time)) -gt 18000 ]; then new_token; fi
    if [ -n "$token" ]; then
        body=$(curl -s --max-time 2 -w '\n%{http_code}' -H "X-aws-ec2-metadata-token: $token" \
            "$endpoint/latest/meta-data/spot/instance-action")
        code=${body##*$'\n'}
        body=${body%$'\n'*}
        case $code in
            200)
                printf '%s\n' "$body" >"$flag.partial" && mv -f "$flag.partial" "$flag"
                phase spot-watch "spot interruption notice: $body"
                exit 0
                ;;
            401) token= ;;  # expired or revoked: get a new one on the next round
        esac
    fi
    sleep "$interval"
done
