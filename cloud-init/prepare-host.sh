#!/usr/bin/env bash
# Prepares a fresh Deep Learning AMI instance for a stacktune run (cloud-init runcmd, as root):
# waits for the NVIDIA driver, makes the runtime usable, creates the run directories.
# Success: /var/lib/stacktune/host-ready. Failure: the reason in /var/lib/stacktune/host-failed
# and a non-zero exit, which `cloud-init status --wait` reports to `pulumi up`.
set -euo pipefail
# The two paths are variables only so tests can run this script outside an instance.
# shellcheck source=/dev/null
source "${STACKTUNE_HOST_ENV:-/etc/stacktune/host.env}"
state=${STACKTUNE_STATE_DIR:-/var/lib/stacktune}
mkdir -p "${state}"
rm -f "${state}/host-ready" "${state}/host-failed"

fail() {
  echo "stacktune host preparation failed: $*" | tee "${state}/host-failed" >&2
  exit 1
}

# The AMI ships the driver, but at first boot its kernel module may still be loading.
waited=0
until nvidia-smi > /dev/null 2>&1; do
  if (( waited >= STACKTUNE_DRIVER_TIMEOUT_S )); then
    fail "the NVIDIA driver did not answer within ${STACKTUNE_DRIVER_TIMEOUT_S} s (nvidia-smi fails); use the Deep Learning GPU AMI (leave stacktune:target.amiId unset) or pin one that has the driver"
  fi
  sleep 5
  waited=$((waited + 5))
done
gpus=$(nvidia-smi --list-gpus | wc -l)
if (( gpus < STACKTUNE_GPUS )); then
  fail "nvidia-smi lists ${gpus} GPU(s), the instance type has ${STACKTUNE_GPUS}"
fi

case "${STACKTUNE_RUNTIME}" in
  docker)
    command -v docker > /dev/null || fail "docker is missing; use the Deep Learning GPU AMI, which ships it"
    command -v nvidia-ctk > /dev/null \
      || fail "the NVIDIA container toolkit (nvidia-ctk) is missing; use the Deep Learning GPU AMI, which ships it"
    systemctl enable --now docker
    if ! docker info --format '{{json .Runtimes}}' | grep -q nvidia; then
      nvidia-ctk runtime configure --runtime=docker
      systemctl restart docker
    fi
    usermod -aG docker "${STACKTUNE_USER}"
    ;;
  venv)
    probe=$(mktemp -d)
    python3 -m venv "${probe}/venv" > /dev/null || fail "python3 cannot create a venv; install python3-venv"
    rm -rf "${probe}"
    ;;
  *)
    fail "unknown runtime ${STACKTUNE_RUNTIME}"
    ;;
esac

home=$(getent passwd "${STACKTUNE_USER}" | cut -d: -f6)
group=$(id -gn "${STACKTUNE_USER}")
install -d -o "${STACKTUNE_USER}" -g "${group}" -m 0700 "${home}/.stacktune"
install -d -o "${STACKTUNE_USER}" -g "${group}" -m 0755 \
  "${home}/.stacktune/runs" "${home}/.stacktune/models" "${home}/.stacktune/cache"

echo "gpus=${gpus} runtime=${STACKTUNE_RUNTIME} ready_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "${state}/host-ready"
