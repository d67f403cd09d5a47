import { type Settings, clusterMachines, runsOnCpu } from "../settings";
import { accelerateFileName } from "./accelerate";
import { generatedHeader } from "./header";
import { shellQuote } from "./shell";

/**
 * The phases of a run and the exact command of each (docs/contracts.md §3), in order. Every
 * command runs in the run directory and reads the same `training.yaml`. Nothing leaves the run
 * directory before `publish`, which runs only after the smoke test passed and writes the completion
 * marker last: "complete" means published and smoke-tested.
 */
export const launchPhases = [
    { phase: "prepare", command: "python -m stacktune_train.prepare training.yaml" },
    {
        phase: "train",
        command: "accelerate launch --config_file accelerate.yaml -m stacktune_train.train training.yaml",
    },
    { phase: "merge", command: "python -m stacktune_train.merge training.yaml" },
    { phase: "smoke", command: "python -m stacktune_train.smoke training.yaml" },
    { phase: "publish", command: "python -m stacktune_train.publish training.yaml" },
] as const;

export type LaunchPhase = (typeof launchPhases)[number]["phase"];

/**
 * Non-secret environment of the run, in the order written. Secrets never appear here: they come
 * from `secrets.env` on the host, by name.
 */
export function launchEnvironment(settings: Settings): [name: string, value: string, why: string][] {
    const env: [string, string, string][] = [
        ["PYTHONUNBUFFERED", "1", "progress lines reach the log as they happen"],
        ["TOKENIZERS_PARALLELISM", "false", "no tokenizer thread pools inside forked dataloader workers"],
    ];
    if (settings.runtime.kind === "docker") {
        // The training image installs hf_transfer; the venv runtime's pinned set does not.
        env.push(["HF_HUB_ENABLE_HF_TRANSFER", "1", "parallel Hub downloads (hf_transfer is in the image)"]);
    }
    if (settings.tracking.kind === "wandb" && settings.tracking.project !== undefined) {
        env.push(["WANDB_PROJECT", settings.tracking.project, "W&B project of the run"]);
    }
    if (runsOnCpu(settings)) {
        env.push(["CUDA_VISIBLE_DEVICES", "", "a CPU run must not pick up a GPU of this machine"]);
    }
    const iface = settings.distributed.socketInterface;
    if (iface !== undefined && clusterMachines(settings.target).length > 1) {
        env.push(["NCCL_SOCKET_IFNAME", iface, "NCCL traffic between machines on this interface"]);
        env.push(["GLOO_SOCKET_IFNAME", iface, "gloo (CPU collectives, barriers) on the same interface"]);
    }
    return env;
}

/**
 * The phase lines of launch.sh. One machine: {@link launchPhases}. Several: every machine prepares
 * its own copy of the data (deterministic: same inputs, same split) and trains with its own
 * accelerate config; the workers first wait for the main machine's rendezvous port (a clear error
 * instead of torch's timeout); only the main machine merges, smoke-tests and publishes.
 */
function phaseLines(settings: Settings): string[] {
    const machines = clusterMachines(settings.target);
    if (machines.length === 1) return launchPhases.map(({ phase, command }) => `run_phase ${phase} ${command}`);
    const [prepare, train, ...mainOnly] = launchPhases;
    const trainCommand = train.command.replace(
        `--config_file ${accelerateFileName(1, 0)}`,
        `--config_file "${accelerateFileName(machines.length, "${STACKTUNE_MACHINE_RANK}")}"`,
    );
    return [
        `run_phase ${prepare.phase} ${prepare.command}`,
        "if (( STACKTUNE_MACHINE_RANK > 0 )); then run_phase rendezvous wait_for_main; fi",
        `run_phase ${train.phase} ${trainCommand}`,
        ...mainOnly.map(({ phase, command }) => `main_only ${phase} ${command}`),
    ];
}

/** Shell functions of a multi-host launch.sh: the machine's rank, the rendezvous wait, main-only phases. */
function multiHostFunctions(settings: Settings): string[] {
    const machines = clusterMachines(settings.target);
    if (machines.length === 1) return [];
    const main = machines[0];
    const port = settings.distributed.rendezvousPort;
    return [
        `# Machines 0..${machines.length - 1} train this run together; run.env sets STACKTUNE_MACHINE_RANK on each.`,
        'STACKTUNE_MACHINE_RANK="${STACKTUNE_MACHINE_RANK:?run.env must set STACKTUNE_MACHINE_RANK on a multi-host run}"',
        `STACKTUNE_RENDEZVOUS_WAIT_S="\${STACKTUNE_RENDEZVOUS_WAIT_S:-1200}"`,
        `STACKTUNE_MAIN_ADDRESS=${shellQuote(main?.clusterAddress ?? "")}`,
        "",
        "# The main machine opens the rendezvous when its own data is prepared; wait for it here, so an",
        "# unreachable main machine is a clear error rather than a torch timeout.",
        "wait_for_main() {",
        "  local deadline=$((SECONDS + STACKTUNE_RENDEZVOUS_WAIT_S)) started=${SECONDS}",
        "  # Each probe is bounded: a firewall that drops packets would otherwise hold one connect for minutes.",
        `  until timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2"' rendezvous-probe "\${STACKTUNE_MAIN_ADDRESS}" ${port} 2>/dev/null; do`,
        "    if (( SECONDS >= deadline )); then",
        `      echo "stacktune: machine \${STACKTUNE_MACHINE_RANK} cannot reach the main machine at \${STACKTUNE_MAIN_ADDRESS}:${port} after $((SECONDS - started))s;" \\`,
        `        "check that it runs, stacktune:target.hosts[0].clusterAddress, stacktune:distributed.rendezvousPort and the firewall" >&2`,
        "      return 1",
        "    fi",
        "    sleep 2",
        "  done",
        `  echo "stacktune: machine \${STACKTUNE_MACHINE_RANK} reached the rendezvous at \${STACKTUNE_MAIN_ADDRESS}:${port}"`,
        "}",
        "",
        "# Merge, smoke test and publish happen once, on the main machine, which holds the checkpoint.",
        "main_only() {",
        "  if (( STACKTUNE_MACHINE_RANK == 0 )); then",
        '    run_phase "$@"',
        "  else",
        `    printf 'STACKTUNE_PHASE {"phase":"%s","event":"skip","elapsed_s":0,"detail":"main machine only"}\\n' "$1"`,
        "  fi",
        "}",
        "",
    ];
}

/**
 * `launch.sh`: runs one experiment in its run directory — prepare, train, merge, smoke test,
 * publish — printing a `STACKTUNE_PHASE` line at the start and end of each phase and keeping the
 * run's state in `./status` and `./phase`. A phase already finished in this run directory is
 * skipped, so starting the script again after a failure resumes at the failed phase (the
 * directory is keyed by the experiment hash, so its inputs never change).
 */
export function renderLaunchScript(settings: Settings, stackName: string): string {
    const header = generatedHeader(stackName).map((line) => `# ${line}`);
    const env = launchEnvironment(settings).map(
        ([name, value, why]) => `export ${name}=${shellQuote(value)}  # ${why}`,
    );
    const venvDefault =
        settings.runtime.kind === "venv" && settings.runtime.path !== undefined
            ? [`if [[ -z "\${STACKTUNE_VENV:-}" ]]; then STACKTUNE_VENV=${shellQuote(settings.runtime.path)}; fi`]
            : [];
    const phases = phaseLines(settings);

    return [
        "#!/usr/bin/env bash",
        ...header,
        "#",
        `# Experiment ${stackName}: prepare the data, train, merge the adapter, smoke-test, then publish.`,
        '# Progress: a `STACKTUNE_PHASE {"phase":…,"event":"start"|"end"|"fail"|"skip","elapsed_s":…}` line per',
        "# phase event and `STACKTUNE_PROGRESS {…}` lines from the Python steps on stdout; ./status",
        "# (running, succeeded or failed) and ./phase (the phase running or failed) in the run directory.",
        "# Secrets are read from secrets.env by name only; this script never prints them.",
        "set -euo pipefail",
        'cd -- "$(dirname -- "${BASH_SOURCE[0]}")"',
        "",
        "# run.env (STACKTUNE_EXPERIMENT_HASH, STACKTUNE_STACK, optional STACKTUNE_VENV) and secrets.env",
        "# (mode 0600: HF_TOKEN, WANDB_API_KEY) are written by `pulumi up`; exported for the Python steps.",
        "set -a",
        "# shellcheck source=/dev/null",
        "if [[ -f run.env ]]; then source ./run.env; fi",
        "# shellcheck source=/dev/null",
        "if [[ -f secrets.env ]]; then source ./secrets.env; fi",
        "set +a",
        "",
        ...env,
        ...venvDefault,
        'if [[ -n "${STACKTUNE_VENV:-}" ]]; then',
        '  STACKTUNE_VENV="${STACKTUNE_VENV/#\\~/${HOME}}"',
        '  export VIRTUAL_ENV="${STACKTUNE_VENV}"',
        '  export PATH="${STACKTUNE_VENV}/bin:${PATH}"',
        "fi",
        "",
        "# ./status holds one word (running, then succeeded or failed), ./phase the phase that runs or",
        "# failed; both are replaced atomically, so a reader never sees half a file.",
        "write_file() {",
        '  printf \'%s\\n\' "$2" > "$1.partial"',
        '  mv -f "$1.partial" "$1"',
        "}",
        "",
        "finish() {",
        "  local rc=$?",
        "  if (( rc == 0 )); then write_file status succeeded; else write_file status failed; fi",
        "}",
        "trap finish EXIT",
        "trap 'exit 143' TERM",
        "trap 'exit 130' INT",
        "",
        "run_phase() {",
        "  local name=$1",
        "  shift",
        '  if [[ -f "phases/${name}.done" ]]; then',
        `    printf 'STACKTUNE_PHASE {"phase":"%s","event":"skip","elapsed_s":0}\\n' "\${name}"`,
        "    return 0",
        "  fi",
        '  write_file phase "${name}"',
        "  write_file status running",
        "  local started=${SECONDS} rc=0 event=end",
        `  printf 'STACKTUNE_PHASE {"phase":"%s","event":"start","elapsed_s":0}\\n' "\${name}"`,
        '  "$@" || rc=$?',
        "  if (( rc != 0 )); then event=fail; fi",
        `  printf 'STACKTUNE_PHASE {"phase":"%s","event":"%s","elapsed_s":%d,"exit_code":%d}\\n' \\`,
        '    "${name}" "${event}" "$((SECONDS - started))" "${rc}"',
        '  if (( rc != 0 )); then exit "${rc}"; fi',
        "  mkdir -p phases",
        '  touch "phases/${name}.done"',
        "}",
        "",
        ...multiHostFunctions(settings),
        ...phases,
        "",
    ].join("\n");
}
