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

case ":$PATH:" in
    *":$STACKTUNE_ROOT/.tools/bin:"*) ;;
    *) export PATH="$STACKTUNE_ROOT/.tools/bin:$PATH" ;;
esac

# Plugins, credentials file and logs of the CLI stay inside the checkout, not in ~/.pulumi.
export PULUMI_HOME="${PULUMI_HOME:-$STACKTUNE_ROOT/.tools/pulumi-home}"
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
# The machine reaches no download site: never try to fetch the CLI or a plugin.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

# ts-node type-checks the whole program on every run (38 s for a preview of this project here, 12 s
# without); `npm run typecheck` already checks it, so the engine only transpiles. Export false to check.
export PULUMI_NODEJS_TRANSPILE_ONLY="${PULUMI_NODEJS_TRANSPILE_ONLY:-true}"

if [ "${PULUMI_BACKEND_URL#file://}" != "$PULUMI_BACKEND_URL" ]; then
    mkdir -p "${PULUMI_BACKEND_URL#file://}"
fi
