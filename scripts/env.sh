# shellcheck shell=bash
# Source this file (bash) to use the project's Pulumi toolchain from any shell:
#   source scripts/env.sh
# It only sets variables; scripts/setup.sh builds what they point at. Values already set in the
# environment win, so CI and tests can point the backend or the passphrase elsewhere.

_stacktune_env_file="${BASH_SOURCE[0]}"
STACKTUNE_ROOT="$(cd "$(dirname "$_stacktune_env_file")/.." && pwd)"
unset _stacktune_env_file
export STACKTUNE_ROOT

# Pinned versions: @pulumi/pulumi and @pulumi/command in package.json must say the same.
export STACKTUNE_PULUMI_VERSION="3.248.0"
export STACKTUNE_COMMAND_PROVIDER_VERSION="1.2.1"
export STACKTUNE_ACTIONLINT_VERSION="1.7.12"

# Which Pulumi toolchain runs the stacks (README, "Toolchain"):
#   repo    the CLI built from source, with the repo's language host and command provider stand-ins,
#           in .tools (scripts/setup.sh builds it): for machines with no Pulumi installation.
#   system  a normal installation: `pulumi` on PATH, its plugins in PULUMI_HOME (default ~/.pulumi),
#           left as they are; setup.sh only checks that the command plugin is installed.
# Unset: `system` when a `pulumi` is on PATH and .tools holds none, else `repo`.
if [ -z "${STACKTUNE_TOOLCHAIN:-}" ]; then
    if [ ! -x "$STACKTUNE_ROOT/.tools/bin/pulumi" ] && command -v pulumi >/dev/null 2>&1; then
        STACKTUNE_TOOLCHAIN=system
    else
        STACKTUNE_TOOLCHAIN=repo
    fi
fi
case "$STACKTUNE_TOOLCHAIN" in
    repo | system) export STACKTUNE_TOOLCHAIN ;;
    *)
        echo "scripts/env.sh: STACKTUNE_TOOLCHAIN is '$STACKTUNE_TOOLCHAIN'; set it to repo or system (README, \"Toolchain\")" >&2
        return 1
        ;;
esac

# .tools/bin holds the `stacktune` command and actionlint in both cases; with the repo toolchain it
# comes first (its pulumi and language host), with the system one last (it must shadow nothing).
case ":$PATH:" in
    *":$STACKTUNE_ROOT/.tools/bin:"*) ;;
    *) if [ "$STACKTUNE_TOOLCHAIN" = repo ]; then
        export PATH="$STACKTUNE_ROOT/.tools/bin:$PATH"
    else
        export PATH="$PATH:$STACKTUNE_ROOT/.tools/bin"
    fi ;;
esac

if [ "$STACKTUNE_TOOLCHAIN" = repo ]; then
    # Plugins, credentials file and logs of the CLI stay inside the checkout, not in ~/.pulumi.
    export PULUMI_HOME="${PULUMI_HOME:-$STACKTUNE_ROOT/.tools/pulumi-home}"
fi
# State in a local directory: no Pulumi Cloud account, nothing leaves the machine.
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$STACKTUNE_ROOT/.stacktune/state}"
# Stack secrets are encrypted with a passphrase. The default is the demo one in
# src/demo-passphrase.txt (its one home: the program reads the same file), public in this
# repository: it keeps the secret-free local demo non-interactive on a fresh clone and protects
# nothing, so `pulumi preview`/`up` and `stacktune run`/`new` refuse it for a stack that holds a
# secret. For a real experiment export your own PULUMI_CONFIG_PASSPHRASE_FILE (a file only you can
# read) or PULUMI_CONFIG_PASSPHRASE, or give the stack a KMS provider (README, "Secrets").
if [ -z "${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    export PULUMI_CONFIG_PASSPHRASE_FILE="$STACKTUNE_ROOT/src/demo-passphrase.txt"
fi
if [ "$STACKTUNE_TOOLCHAIN" = repo ]; then
    # The source-built toolchain is for machines that reach no download site: never try to fetch
    # the CLI or a plugin. A normal installation keeps its own update checks and plugin downloads.
    export PULUMI_SKIP_UPDATE_CHECK=true
    export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
fi

# ts-node type-checks the whole program on every run (38 s for a preview of this project here, 12 s
# without); `npm run typecheck` already checks it, so the engine only transpiles. Export false to check.
export PULUMI_NODEJS_TRANSPILE_ONLY="${PULUMI_NODEJS_TRANSPILE_ONLY:-true}"

if [ "${PULUMI_BACKEND_URL#file://}" != "$PULUMI_BACKEND_URL" ]; then
    mkdir -p "${PULUMI_BACKEND_URL#file://}"
fi
