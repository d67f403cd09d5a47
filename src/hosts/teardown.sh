#!/usr/bin/env bash
# stacktune: host-side clean-up when Pulumi deletes a host command, run on the operator's machine
# (src/hosts/reach.ts, hostCleanup). A host that is gone or refuses logins (terminated after a
# successful run, spot-interrupted, powered off by the budget watchdog, /run/nologin while it
# shuts down) is skipped with a line that says so: there is nothing left to stop on it, and a
# delete that fails or hangs would keep every other resource of the stack alive.
# Usage: bash -c <this> teardown <user@host:port> <host> <port> <user> <host key> <probe deadline s>
#        <attempt s> <what stays if the machine is still there> <ssh-probe.js> <remote command>
# The SSH private key arrives on stdin and lives in a 0700 temp dir until the script exits.
set -u
label=$1 host=$2 port=$3 user=$4 host_key=$5 deadline=$6 attempt=$7 left=$8 probe=$9 remote=${10}

umask 077
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/key"
# A key read back from Pulumi config has lost its last newline, without which OpenSSH cannot load it.
if [ -n "$(tail -c 1 "$tmp/key")" ]; then echo >>"$tmp/key"; fi

skip() {
    echo "stacktune: skipped the clean-up on $label: $1. $left"
    exit 0
}

# The probe's source arrives as an argument (a delete runs with the inputs stored at create time, so
# it must not depend on a checkout that may have moved since); node runs it as a file.
printf '%s\n' "$probe" >"$tmp/ssh-probe.js"
if ! node "$tmp/ssh-probe.js" "$label" "$host" "$port" "$deadline" "$attempt" "nothing: the clean-up is skipped" >/dev/null 2>"$tmp/probe"; then
    skip "it does not answer SSH ($(sed -e 's/^stacktune: //' -e 's/\. Check nothing.*//' "$tmp/probe"))"
fi

# OpenSSH looks a host on port 22 up by its bare name, any other port as [host]:port.
if [ "$port" = 22 ]; then known=$host; else known="[$host]:$port"; fi
printf '%s %s\n' "$known" "$host_key" >"$tmp/known_hosts"
ssh -F /dev/null -i "$tmp/key" -p "$port" -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$tmp/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o ConnectTimeout="$attempt" -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o LogLevel=ERROR \
    "$user@$host" "$remote" </dev/null 2>"$tmp/ssh"
rc=$?
if [ "$rc" = 255 ] && grep -q '^Load key' "$tmp/ssh"; then
    echo "stacktune: the clean-up on $label cannot use the SSH key of the stack (stacktune:sshPrivateKey):" >&2
    cat "$tmp/ssh" >&2
    exit 1
fi
if [ "$rc" = 255 ]; then
    # ssh's own failure (the remote command never ran, or lost its connection): logins refused
    # while the host shuts down, or a different machine now at that address.
    if grep -q 'Host key verification failed\|REMOTE HOST IDENTIFICATION HAS CHANGED' "$tmp/ssh"; then
        skip "it did not present the host key stacktune verified before (another machine holds that address now; nothing was sent to it)"
    fi
    skip "it refuses SSH logins, as a host that is shutting down does ($(tr '\n' ' ' <"$tmp/ssh" | sed 's/ *$//'))"
fi
if [ "$rc" != 0 ]; then
    echo "stacktune: the clean-up on $label failed (exit $rc):" >&2
    cat "$tmp/ssh" >&2
    exit "$rc"
fi
exit 0
