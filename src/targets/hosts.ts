/**
 * The host registry: each target's host factory (src/targets/<kind>/host.ts), one line per target.
 * Apart from src/targets/index.ts because it loads the Pulumi providers, which `render` needs not.
 */
import type { Target } from "../settings";
import { createAwsHosts } from "./aws/host";
import type { HostFactory } from "./hostTypes";
import type { TargetKind } from "./index";
import { createLocalHosts } from "./local/host";
import { createSshHosts } from "./ssh/host";

const hostFactories: { [K in TargetKind]: HostFactory<Extract<Target, { kind: K }>> } = {
    local: createLocalHosts,
    ssh: createSshHosts,
    aws: createAwsHosts,
};

/** The host factory of `target`'s kind, typed for it. */
export function hostsOf<T extends Target>(target: T): HostFactory<T> {
    return hostFactories[target.kind] as unknown as HostFactory<T>;
}

export type { HostFactoryArgs, TargetHosts } from "./hostTypes";
