import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { JobHost } from "./command";
import { preflightCommand } from "./preflight";
import { DEFAULT_RUN_ROOT } from "./ssh";

export interface LocalHostArgs {
    /** GPUs of this machine the job uses; 0 runs on CPU and skips GPU checks. @default 0 */
    gpus?: number;
    /** @default 24 */
    gpuMemoryGb?: number;
    /** @default 1 */
    minFreeDiskGb?: number;
    runtime: "docker" | "venv";
    /** venv runtime: the interpreter that creates the environment, checked by the preflight. @default undefined */
    python?: string;
    /** @default "~/.stacktune/runs" */
    runRoot?: string;
}

/** This machine, through local commands: the same job contract as an SSH host, without SSH. */
export class LocalHost extends pulumi.ComponentResource {
    public readonly address: pulumi.Output<string>;
    public readonly preflight: command.local.Command;
    public readonly jobHost: JobHost;

    constructor(name: string, args: LocalHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("stacktune:local:Host", name, {}, opts);
        const gpus = args.gpus ?? 0;
        this.preflight = new command.local.Command(
            `${name}-preflight`,
            {
                create: preflightCommand({
                    gpus,
                    gpuMemoryGb: args.gpuMemoryGb ?? 24,
                    minFreeDiskGb: args.minFreeDiskGb ?? 1,
                    runtime: args.runtime,
                    python: args.python,
                    runRoot: args.runRoot ?? DEFAULT_RUN_ROOT,
                }),
                interpreter: ["/bin/bash", "-c"],
                addPreviousOutputInEnv: false,
            },
            { parent: this },
        );
        this.address = pulumi.output("localhost");
        this.jobHost = { kind: "local", address: this.address, gpus, ready: [this.preflight], releaseAction: "none" };
        this.registerOutputs({ address: this.address, preflight: this.preflight.stdout });
    }
}
