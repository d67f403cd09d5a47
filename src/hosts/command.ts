import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { TargetKind } from "../targets";

/**
 * What the image and the job need from a host, whichever target provides it: where to run
 * commands (SSH connection, or this machine) and what must be ready first.
 */
export interface JobHost {
    /** The target that provides the host: its definition (src/targets/) says what the job does there. */
    kind: TargetKind;
    /** Address shown in the stack outputs (`localhost` for the local target). */
    address: pulumi.Output<string>;
    /** SSH connection for `aws` / `ssh`; absent for `local`, whose commands run on this machine. */
    connection?: command.types.input.remote.ConnectionArgs;
    /** GPUs the job may use (0 = CPU). */
    gpus: number;
    /** Resources that must finish before any work on the host (preflight, cloud-init wait). */
    ready: pulumi.Resource[];
    /** What the job does to the host after a successful run: AWS powers off (terminate), others nothing. */
    releaseAction: "poweroff" | "none";
}

/**
 * The inputs a host command takes, for both the remote and the local provider. No `delete`: a
 * remote delete dials a host that may be gone; host-side clean-up is hostCleanup's
 * (src/hosts/reach.ts), which probes with a bound and skips what is moot.
 */
export interface HostCommandArgs {
    create: pulumi.Input<string>;
    update?: pulumi.Input<string>;
    stdin?: pulumi.Input<string>;
    triggers?: pulumi.Input<unknown[]>;
}

/** A command resource on the host: remote.Command over SSH, or local.Command for the local target. */
export type HostCommand = command.remote.Command | command.local.Command;

/**
 * Creates the command on the host. `addPreviousOutputInEnv` is off: a 15-hour job's stdout must
 * not be pushed back into the next command's environment.
 */
export function hostCommand(
    name: string,
    host: JobHost,
    args: HostCommandArgs,
    opts: pulumi.CustomResourceOptions,
): HostCommand {
    const common = { ...args, addPreviousOutputInEnv: false };
    if (host.connection !== undefined) {
        return new command.remote.Command(name, { ...common, connection: host.connection }, opts);
    }
    return new command.local.Command(name, { ...common, interpreter: ["/bin/bash", "-c"] }, opts);
}

// The one shell module's quoting, host-path form and heredoc, re-exported for the command builders.
export { bashHeredoc, hostPath, shellQuote } from "../render/shell";
