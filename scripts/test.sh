#!/usr/bin/env bash
# The test command (README): installs what is missing, then runs every check CI runs, printing
# how long each stage took so a slow stage is visible in the CI log.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
stage() {
  local name=$1; shift
  local t0=$SECONDS
  echo "::: stage ${name} ..."
  "$@"
  echo "::: stage ${name} done in $((SECONDS - t0)) s"
}

stage setup bash scripts/setup.sh
# The image's Python set on each CPython it must run on (not part of the demo's set-up: ~6 GB a venv).
stage setup-pythons bash scripts/setup.sh --only pythons
# Debian's chromium for the browser tests (not part of the demo's set-up either).
stage setup-browser bash scripts/setup.sh --only browser
# shellcheck source=scripts/env.sh
source scripts/env.sh

stage typecheck npx tsc --noEmit
stage lint npx eslint .
stage format-check npm run --silent format:check
stage render-check npm run --silent render -- --check
stage unit-tests npx vitest run --project unit
stage python-tests .venv/bin/python -m pytest python/tests -q
# The oldest CPython of requires-python has its own closure (markers in python/requirements.txt):
# the Python tests run on it too, in the venv the setup's pythons stage installed the image set into.
oldest_python=$(grep -oP '^requires-python = ">=\K3\.\d+' python/pyproject.toml)
stage "python-tests-${oldest_python}" ".venv-py${oldest_python}/bin/python" -m pytest python/tests -q
stage browser-tests npx vitest run --project browser
echo "::: the report page's screenshot (CI artifact): test-artifacts/report.png"
stage e2e-tests npx vitest run --project e2e

echo "::: all stages passed in $((SECONDS - started)) s"
