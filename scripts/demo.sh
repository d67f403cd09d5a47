#!/usr/bin/env bash
# The main command: the whole stacktune pipeline on this machine's CPU, as one `pulumi up` of the
# `local-demo` stack (stacks/Pulumi.local-demo.yaml): prepare the 40-conversation demo set, train a
# tiny Llama a few steps, merge the adapter, smoke-test it, write the model to
# ~/.stacktune/models/local-demo, release. Then it prints where the model is, its metrics, each phase's
# wall time and, last, the path of the run's loss-curve image.
#
#   bash scripts/demo.sh             set up what is missing, run (again: trains nothing), report
#   bash scripts/demo.sh --destroy   remove what the demo created: the stack's resources and state,
#                                    the run directory, the model it wrote, the tiny base model
#
# State is local (.stacktune/state, file backend). The stack holds no secret, so it is always
# encrypted with the public demo passphrase: stacks/Pulumi.local-demo.yaml carries the matching
# `encryptionsalt`, committed, so `stack init` finds it and leaves the tracked file untouched.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

STACK=local-demo
TINY_MODEL=.stacktune/tiny-llama
started=$SECONDS
log() { printf '[demo %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

destroy=false
case "${1:-}" in
    "") ;;
    --destroy) destroy=true ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: bash scripts/demo.sh [--destroy]" >&2; exit 2 ;;
esac

# shellcheck source=scripts/env.sh
source scripts/env.sh
# The salt committed in the stack file belongs to the demo passphrase (see above): any other fails.
export PULUMI_CONFIG_PASSPHRASE_FILE="$STACKTUNE_ROOT/src/demo-passphrase.txt"
unset PULUMI_CONFIG_PASSPHRASE

stack_exists() { pulumi stack ls --json 2>/dev/null | grep -q "\"name\": \"$STACK\""; }

if [ "$destroy" = true ]; then
    if [ -x .tools/bin/pulumi ] && stack_exists; then
        store=$(pulumi stack output model --json --stack "$STACK" 2>/dev/null |
            node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).localDir??"")}catch{}})')
        log "pulumi destroy --stack $STACK"
        pulumi destroy --yes --non-interactive --stack "$STACK"
        # --preserve-config: `stack rm` would otherwise delete the tracked stack file.
        pulumi stack rm --yes --non-interactive --preserve-config "$STACK"
        # `stack rm` keeps the stack's update history, state backups and a .bak of its state file.
        if [ "${PULUMI_BACKEND_URL#file://}" != "$PULUMI_BACKEND_URL" ]; then
            backend="${PULUMI_BACKEND_URL#file://}/.pulumi"
            rm -rf "$backend/history/stacktune/$STACK" "$backend/backups/stacktune/$STACK" \
                "$backend/stacks/stacktune/$STACK.json.bak" "$backend/stacks/stacktune/$STACK.json.bak.attrs"
        fi
        if [ -n "$store" ] && [ -d "$store" ]; then
            log "removing the demo model $store"
            rm -rf "$store"
        fi
        # The directories the run made on the way, when nothing else is in them.
        for dir in "$(dirname "${store:-$HOME/.stacktune/models/x}")" "$HOME/.stacktune/runs" "$HOME/.stacktune"; do
            rmdir "$dir" 2>/dev/null || true
        done
    else
        log "no $STACK stack in .stacktune/state: nothing to destroy"
    fi
    if [ -d "$TINY_MODEL" ]; then
        log "removing the tiny base model $TINY_MODEL"
        rm -rf "$TINY_MODEL"
    fi
    log "done in $((SECONDS - started)) s (the toolchain from scripts/setup.sh stays: .tools, .venv, node_modules)"
    exit 0
fi

t=$SECONDS
log "setup (installs only what is missing)"
bash scripts/setup.sh
setup_s=$((SECONDS - t))

t=$SECONDS
if [ ! -f "$TINY_MODEL/config.json" ]; then
    log "building the tiny base model in $TINY_MODEL"
    .venv/bin/python -m stacktune_train.tiny_model "$TINY_MODEL"
fi
model_s=$((SECONDS - t))

if ! stack_exists; then
    pulumi stack init --non-interactive "$STACK" >/dev/null
fi
t=$SECONDS
log "pulumi up --stack $STACK"
pulumi up --yes --non-interactive --stack "$STACK"
up_s=$((SECONDS - t))

# shellcheck disable=SC2016 # a JavaScript program, not a shell expansion
pulumi stack output --json --stack "$STACK" | node -e '
let s = "";
process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const o = JSON.parse(s);
    const [setupS, modelS, upS, totalS] = process.argv.slice(1).map(Number);
    const line = (k, v) => console.log(`  ${k.padEnd(16)} ${v}`);
    console.log("\nstacktune local-demo");
    line("status", o.model?.completedBefore ? `${o.status} (found in the output store: nothing trained)` : o.status);
    line("model", o.model?.localDir);
    line("experiment", o.experimentHash);
    for (const [k, v] of Object.entries(o.metrics ?? {})) line(k, typeof v === "number" ? Number(v.toPrecision(6)) : v);
    const order = ["prepare", "train", "merge", "smoke", "publish"];
    const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
    const phases = Object.entries(o.phases ?? {}).sort(([a], [b]) => rank(a) - rank(b));
    if (phases.length > 0) console.log("  wall time per phase (s): " + phases.map(([k, v]) => `${k} ${v}`).join(", "));
    console.log(`  this command (s): setup ${setupS}, tiny model ${modelS}, pulumi up ${upS}, total ${totalS}`);
    // Last, so the end of the output is the picture to open (the training run draws it, plots.py).
    const curve = o.model?.localDir ? require("path").join(o.model.localDir, "loss-curve.png") : undefined;
    line("loss curve", curve && require("fs").existsSync(curve) ? curve : "none (the model directory holds no loss-curve.png)");
});' "$setup_s" "$model_s" "$up_s" "$((SECONDS - started))"
