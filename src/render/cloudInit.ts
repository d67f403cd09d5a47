import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type AwsTarget, type Settings, awsInstanceTypes } from "../settings";
import { isAwsTarget } from "../targets/aws/target";
import { generatedHeader } from "./header";
import { toYaml } from "./yaml";

/** Login user of the Deep Learning GPU AMI (Ubuntu); the run directories live in its home. */
export const awsLoginUser = "ubuntu";

/**
 * How long the host waits for `nvidia-smi` to answer at first boot before it gives up: the AMI's
 * driver module can take a few minutes to load on a fresh instance.
 */
export const driverTimeoutSeconds = 900;

/** Where the host scripts live on the instance (written by cloud-init). */
export const hostPaths = {
    env: "/etc/stacktune/host.env",
    prepareHost: "/usr/local/sbin/stacktune-prepare-host",
    budgetWatchdog: "/usr/local/sbin/stacktune-budget-watchdog",
    budgetService: "/etc/systemd/system/stacktune-budget.service",
    budgetTimer: "/etc/systemd/system/stacktune-budget.timer",
    /** Exists once the host is ready for a run; `host-failed` holds the reason when it is not. */
    readyMarker: "/var/lib/stacktune/host-ready",
    /** The budget watchdog's power-off time (epoch seconds: first boot + budget.maxHours), world-readable. */
    budgetDeadline: "/var/lib/stacktune/deadline",
} as const;

/**
 * How long before the budget watchdog's deadline the job stops itself (run-job.sh): the trainer's
 * SIGTERM grace (60 s), the last checkpoint sync to the store and the summary must all fit, so the
 * documented `budget_exceeded` stop, checkpoint kept, comes first and the watchdog is only the
 * backstop. The one home of that margin.
 */
export const budgetWatchdogMarginSeconds = 900;

const templateDir = join(__dirname, "..", "..", "cloud-init");

function template(name: string): string {
    return readFileSync(join(templateDir, name), "utf8");
}

/** Whole minutes of the budget, rounded up so the watchdog never cuts a run short of it. */
export function budgetMinutes(settings: Pick<Settings, "budget">): number {
    return Math.ceil(settings.budget.maxHours * 60);
}

function awsTarget(settings: Settings): AwsTarget {
    if (!isAwsTarget(settings.target)) {
        throw new TypeError(`cloud-init is rendered for aws targets only, not ${settings.target.kind}`);
    }
    return settings.target;
}

/**
 * The cloud-config object for an aws host. Order matters in `runcmd`: the budget watchdog is
 * armed before anything that can hang (the driver wait), so even a host that never becomes ready
 * powers off at `budget.maxHours` — by a systemd timer that survives reboots and the operator's
 * disconnection, backed by a plain `shutdown -P`.
 */
export function cloudInitConfig(settings: Settings): Record<string, unknown> {
    const target = awsTarget(settings);
    const runtime = settings.runtime.kind;
    const minutes = budgetMinutes(settings);
    const hostEnv = [
        `STACKTUNE_USER=${awsLoginUser}`,
        `STACKTUNE_RUNTIME=${runtime}`,
        `STACKTUNE_GPUS=${awsInstanceTypes[target.instanceType].gpus}`,
        `STACKTUNE_BUDGET_SECONDS=${minutes * 60}`,
        `STACKTUNE_DRIVER_TIMEOUT_S=${driverTimeoutSeconds}`,
        "",
    ].join("\n");

    return {
        // The AMI ships docker and the NVIDIA container toolkit; a venv needs python3-venv.
        ...(runtime === "venv" ? { package_update: true, packages: ["python3-venv"] } : {}),
        write_files: [
            { path: hostPaths.env, owner: "root:root", permissions: "0644", content: hostEnv },
            {
                path: hostPaths.budgetWatchdog,
                owner: "root:root",
                permissions: "0755",
                content: template("budget-watchdog.sh"),
            },
            {
                path: hostPaths.budgetService,
                owner: "root:root",
                permissions: "0644",
                content: template("stacktune-budget.service"),
            },
            {
                path: hostPaths.budgetTimer,
                owner: "root:root",
                permissions: "0644",
                content: template("stacktune-budget.timer"),
            },
            {
                path: hostPaths.prepareHost,
                owner: "root:root",
                permissions: "0755",
                content: template("prepare-host.sh"),
            },
        ],
        runcmd: [
            [hostPaths.budgetWatchdog],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "stacktune-budget.timer"],
            ["shutdown", "-P", `+${minutes}`, `stacktune: budget of ${settings.budget.maxHours} h reached`],
            [hostPaths.prepareHost],
        ],
    };
}

/** `cloud-init.yaml`: the instance's user-data (`#cloud-config`), valid for `cloud-init schema`. */
export function renderCloudInit(settings: Settings, stackName: string): string {
    const target = awsTarget(settings);
    const body = toYaml(cloudInitConfig(settings), {
        header: [
            ...generatedHeader(stackName),
            `User-data of the ${target.instanceType} host: arms the budget watchdog (${settings.budget.maxHours} h),`,
            `waits for the NVIDIA driver, prepares the ${settings.runtime.kind} runtime, creates ~${awsLoginUser}/.stacktune.`,
        ],
    });
    return `#cloud-config\n${body}`;
}
