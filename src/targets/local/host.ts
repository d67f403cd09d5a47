/** The local target's host: this machine, its preflight and run root. */
import { LocalHost } from "../../hosts/local";
import type { LocalTarget } from "../../settings";
import type { HostFactory } from "../hostTypes";

export const createLocalHosts: HostFactory<LocalTarget> = ({ name, plan, runRoot, parent, runtime, python }) => {
    const host = new LocalHost(name, { gpus: plan.settings.target.gpus, runtime, python, runRoot }, { parent });
    return { primary: host, jobHosts: [host.jobHost] };
};
