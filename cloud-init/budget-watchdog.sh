#!/usr/bin/env bash
# stacktune budget watchdog, run every minute by stacktune-budget.timer (and once at first boot).
# Powers the instance off once budget.maxHours have passed since its first boot, whether or not
# anyone is still connected. The instance's shutdown behaviour is terminate, so powering off ends
# the bill; counting from the first boot means a reboot does not extend the budget.
set -euo pipefail
# The two paths are variables only so tests can run this script outside an instance.
# shellcheck source=/dev/null
source "${STACKTUNE_HOST_ENV:-/etc/stacktune/host.env}"
state=${STACKTUNE_STATE_DIR:-/var/lib/stacktune}
mkdir -p "${state}"
if [[ ! -f "${state}/deadline" ]]; then
  uptime_s=$(cut -d. -f1 /proc/uptime)
  echo $(( $(date +%s) - uptime_s + STACKTUNE_BUDGET_SECONDS )) > "${state}/deadline"
fi
deadline=$(cat "${state}/deadline")
if (( $(date +%s) >= deadline )); then
  echo "budget of ${STACKTUNE_BUDGET_SECONDS} s exceeded at $(date -u +%Y-%m-%dT%H:%M:%SZ)" > "${state}/budget-exceeded"
  logger -t stacktune "budget of ${STACKTUNE_BUDGET_SECONDS} s exceeded: powering off"
  systemctl poweroff
fi
