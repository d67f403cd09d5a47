import { z } from "zod";
import { settingsDefaults } from "./defaults";
import { InterfaceListSchema } from "./grammar";
import { MAX_GPUS_PER_MACHINE } from "./numbers";

export const DistributedStrategySchema = z.enum(["deepspeed-zero3", "deepspeed-zero2", "ddp"]);

/** The rendezvous port: a TCP port above the privileged ones. The one rule of the settings and AwsGpuHost's cluster security group. */
export const RendezvousPortSchema = z.number().int().min(1024).max(65535);

export const DistributedSchema = z.strictObject({
    /** @default deepspeed-zero3 (the reference run) */
    strategy: DistributedStrategySchema.default(settingsDefaults.distributed.strategy),
    /** Training processes on the host; unset = one per GPU of the target (1 on a CPU). */
    numProcesses: z.number().int().positive().max(MAX_GPUS_PER_MACHINE).optional(),
    /** Port of the rendezvous (torch.distributed store) on the main machine of a multi-host run. @default 29500 */
    rendezvousPort: RendezvousPortSchema.default(settingsDefaults.distributed.rendezvousPort),
    /**
     * Network interface for NCCL and gloo traffic between machines (NCCL_SOCKET_IFNAME,
     * GLOO_SOCKET_IFNAME); unset = the libraries pick one.
     */
    socketInterface: InterfaceListSchema.optional(),
});

export type DistributedSettings = z.infer<typeof DistributedSchema>;
