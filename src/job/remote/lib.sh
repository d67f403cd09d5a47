# stacktune: the functions every on-host script shares. Sourced from the run directory by
# start-or-attach.sh, run-job.sh and spot-watch.sh; prepended to the scripts that run without one
# (stop-run.sh: the directory may be pruned; the CLI's status and logs scripts).

expand_home() { case $1 in "~") printf '%s' "$HOME" ;; "~/"*) printf '%s/%s' "$HOME" "${1#"~/"}" ;; *) printf '%s' "$1" ;; esac; }

# $1 as a JSON string literal, whatever it holds: \ and " escaped, and every control character
# (U+0001-001F; bash strings cannot hold U+0000). Byte-wise (LC_ALL=C): in a multibyte locale a
# backslash byte inside a character would escape nothing, and UTF-8 never has an ASCII byte inside one.
json_string() {
    local LC_ALL=C s=$1 i hex c esc
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    s=${s//$'\r'/\\r}
    s=${s//$'\t'/\\t}
    for ((i = 1; i < 32; i++)); do
        printf -v hex '%02x' "$i"
        printf -v c "\\x$hex"
        if [[ $s == *"$c"* ]]; then
            printf -v esc '\\u%04x' "$i"
            s=${s//"$c"/$esc}
        fi
    done
    printf '"%s"' "$s"
}

# The flat JSON object in file $1 as one line, or null when the file is missing, empty or not an
# object (metrics.json, phases.json: the summary embeds them as they are).
json_object_or_null() {
    if [ -s "$1" ] && head -c1 "$1" | grep -q '{'; then tr -d '\n' <"$1"; else printf null; fi
}

# Whether the output store $1 holds the model of this run's experiment: its completion marker
# (stacktune.json, written last by the publish step) names STACKTUNE_EXPERIMENT_HASH.
store_holds_this_run() {
    grep -Eqs "\"experiment_hash\"[[:space:]]*:[[:space:]]*\"$STACKTUNE_EXPERIMENT_HASH\"" "$1/stacktune.json"
}

# The job summary (src/contract/job-protocol.ts JobSummarySchema) as one JSON line, for this run's
# experiment: STATUS EXIT_CODE STARTS ATTEMPT_SECONDS (empty: no attempt ran, the field is left
# out) METRICS PHASES (JSON objects or null) OUTPUT_STORE RUN_DIR. The one writer of the summary
# on the host: run-job.sh after an attempt, start-or-attach.sh for a model already in the store.
summary_json() {
    local attempt=
    if [ -n "$4" ]; then attempt=$(printf ',"attempt_seconds":%d' "$4"); fi
    printf '{"experiment_hash":%s,"status":%s,"exit_code":%d,"starts":%d%s,"metrics":%s,"phases":%s,"output_store":%s,"run_dir":%s}\n' \
        "$(json_string "$STACKTUNE_EXPERIMENT_HASH")" "$(json_string "$1")" "$2" "$3" "$attempt" "$5" "$6" \
        "$(json_string "$7")" "$(json_string "$8")"
}

# One progress event for the operator: `STACKTUNE_PHASE {"phase":...,"detail":...}`.
phase() { printf 'STACKTUNE_PHASE {"phase":%s,"detail":%s}\n' "$(json_string "$1")" "$(json_string "$2")"; }

# $1 seconds as 42s, 3m05s or 2h07m (as the CLI's summary writes wall times, formatDuration).
human_duration() {
    local s=${1%%.*}
    if ((s < 60)); then printf '%ds' "$s"
    elif ((s < 3600)); then printf '%dm%02ds' $((s / 60)) $((s % 60))
    else printf '%dh%02dm' $((s / 3600)) $((s % 3600 / 60)); fi
}

# The number or the text of key $2 in the flat JSON object $1 (the progress and phase lines: no
# nesting), empty when absent or null. A text is unescaped; control characters become spaces, so a
# line printed for a terminal cannot carry escape sequences.
json_number() {
    local re="\"$2\":(-?[0-9][0-9.eE+-]*)"
    [[ $1 =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}"
}
json_text() {
    local re="\"$2\":\"(([^\"\\\\]|\\\\.)*)\"" s out= c
    [[ $1 =~ $re ]] || return 0
    s=${BASH_REMATCH[1]}
    while [[ -n $s ]]; do
        c=${s:0:1}
        if [[ $c == '\' ]]; then
            case ${s:1:1} in
                u) printf -v c "\\u${s:2:4}"; s=${s:4} ;;
                b | f | n | r | t) c=' ' ;;
                *) c=${s:1:1} ;;
            esac
            s=${s:2}
        else
            s=${s:1}
        fi
        [[ $c == [[:cntrl:]] ]] && c=' '
        out+=$c
    done
    printf '%s' "$out"
}

# stdin -> stdout: every `STACKTUNE_PROGRESS` / `STACKTUNE_PHASE` line as the one line a person
# reads, e.g. `[train] step 5/100 (5%)  loss 1.2346  457 tokens/s  elapsed 1m02s  eta 1h02m`; every
# other line as it is. What `pulumi up` (through start-or-attach.sh), `stacktune logs` and `status`
# show: each line names its phase and state, because upstream's status display shows only the last.
readable_progress() {
    local LC_NUMERIC=C line json p step total loss tps elapsed eta event detail took code out
    while IFS= read -r line || [[ -n $line ]]; do
        json=${line#STACKTUNE_PROGRESS }
        if [[ $json != "$line" && $json == '{'*'}' ]]; then
            p=$(json_text "$json" phase) step=$(json_number "$json" step) total=$(json_number "$json" total)
            loss=$(json_number "$json" loss) tps=$(json_number "$json" tokens_per_s)
            elapsed=$(json_number "$json" elapsed_s) eta=$(json_number "$json" eta_s)
            out="[${p:-train}] step ${step:-?}/${total:-?}"
            if [[ -n $step && -n $total ]] && ((total > 0)); then out+=" ($((step * 100 / total))%)"; fi
            [[ -z $loss ]] || out+=$(printf '  loss %.4f' "$loss")
            [[ -z $tps ]] || out+=$(printf '  %.0f tokens/s' "$tps")
            [[ -z $elapsed ]] || out+="  elapsed $(human_duration "$elapsed")"
            [[ -z $eta ]] || out+="  eta $(human_duration "$eta")"
            printf '%s\n' "$out"
            continue
        fi
        json=${line#STACKTUNE_PHASE }
        if [[ $json != "$line" && $json == '{'*'}' ]]; then
            p=$(json_text "$json" phase) event=$(json_text "$json" event) detail=$(json_text "$json" detail)
            took=$(json_number "$json" elapsed_s) code=$(json_number "$json" exit_code)
            case $event in
                start) out=started ;;
                end) out="done after $(human_duration "${took:-0}")" ;;
                fail) out="FAILED after $(human_duration "${took:-0}") (exit ${code:-?})" ;;
                skip) out=${detail:+"skipped: $detail"}; out=${out:-"skipped (done by an earlier attempt)"} ;;
                *) out=${detail:-$event} ;;
            esac
            printf '[%s] %s\n' "$p" "$out"
            continue
        fi
        printf '%s\n' "$line"
    done
}

# "<pid> <start time> <boot id>" of a live process. The start time (field 22 of /proc/<pid>/stat, in
# clock ticks since boot) and the boot id tell a process from a later one that got the same PID. A
# zombie (state Z: ended, not yet reaped by its parent) has none: it is not alive.
process_identity() {
    local stat boot
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) || boot=unknown
    # Field 2, the command name in parentheses, may itself hold spaces and ')': cut after the last ')'.
    stat=${stat##*) }
    # shellcheck disable=SC2086 # word splitting into fields is the point
    set -- "$1" $stat
    [ "$2" != Z ] || return 1
    printf '%s %s %s' "$1" "${21}" "$boot"
}

# runner.pid: "<pid> <start time> <boot id> <run token>", written by start-or-attach.sh when it
# starts the runner. The token is also in the runner's environment (STACKTUNE_RUN_TOKEN), inherited
# by everything it starts.

# Whether the runner recorded in <run dir>/runner.pid (default: the current directory) is alive: the
# PID names a process with the recorded start time on this boot. A PID alone is not enough: after
# the runner ends, the number may go to any process, another run's runner included. Sets runner_pid
# and runner_token.
runner_alive() {
    local record=${1:-.}/runner.pid start boot
    runner_pid= runner_token=
    [ -f "$record" ] || return 1
    read -r runner_pid start boot runner_token <"$record" || return 1
    [ -n "$runner_token" ] && [ "$(process_identity "$runner_pid")" = "$runner_pid $start $boot" ]
}

# Whether process $1 carries the run token $2 in its environment (was started by that run's runner).
carries_run_token() {
    tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -qxF "STACKTUNE_RUN_TOKEN=$2"
}

# This run's live processes (run directory $1): the runner's whole session while the runner is
# alive (its live runner holds the session's number, so every member is this run's), else only the
# members of that session carrying the run token (left by a runner that died). Never a process that
# merely got a PID once recorded.
run_processes() {
    local p
    if runner_alive "$1"; then
        pgrep -s "$runner_pid"
    elif [ -n "$runner_pid" ] && [ -n "$runner_token" ]; then
        for p in $(pgrep -s "$runner_pid"); do
            if carries_run_token "$p" "$runner_token"; then echo "$p"; fi
        done
    fi
}

# Stops run_processes of run directory $1: TERM, then KILL what is left after 30 s.
stop_run_processes() {
    local pids
    pids=$(run_processes "$1")
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086 # one PID per word
    kill -TERM $pids 2>/dev/null
    for _ in $(seq 1 30); do
        pids=$(run_processes "$1")
        [ -n "$pids" ] || return 0
        sleep 1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    return 0
}
