/**
 * Where a stack's model goes (its Hub repos and its output store directory), and the rule that no
 * two stacks share one: two stacks publishing to one place overwrite each other's model, and each
 * finds the other's completion marker missing, so each retrains after the other ran. `stacktune
 * new` and `sweep` derive every new stack's own destinations here, and refuse taken ones;
 * `npm run render` (so CI) refuses committed stacks that share one.
 */
import { type HubSettings, defaultOutputStoreDir } from "../settings";

/** The `stacktune:hub` keys that name where a model is written. */
export const destinationKeys = ["adapterRepo", "mergedRepo", "localDir"] as const;
export type DestinationKey = (typeof destinationKeys)[number];
export type ModelDestinations = Partial<Record<DestinationKey, string>>;
/** The destination keys of a stack's hub settings, as set (no default applied). */
export type HubDestinations = Pick<HubSettings, DestinationKey>;

/**
 * What a stack writes to: its repos as set, and the output store directory where the merged model
 * is kept on the host (hub.localDir, else the per-stack default when there is no merged repo).
 */
export function modelDestinations(hub: HubDestinations, stack: string): ModelDestinations {
    const localDir = hub.localDir ?? (hub.mergedRepo === undefined ? defaultOutputStoreDir(stack) : undefined);
    return {
        ...(hub.adapterRepo !== undefined ? { adapterRepo: hub.adapterRepo } : {}),
        ...(hub.mergedRepo !== undefined ? { mergedRepo: hub.mergedRepo } : {}),
        ...(localDir !== undefined ? { localDir } : {}),
    };
}

/**
 * The destinations a stack `name` made from `from` gets instead of the source's: each one the source
 * sets, with `-<suffix>` appended, where the suffix is what `name` adds to `from-` (a sweep stack
 * `aws-g5-r8` from `aws-g5`: `-r8`), else all of `name` (`x` from `aws-g5`: `…-g5-x`). A default
 * output store needs nothing: it is per stack already.
 */
export function ownDestinations(sourceHub: HubDestinations, from: string, name: string): ModelDestinations {
    const suffix = name.startsWith(`${from}-`) ? name.slice(from.length + 1) : name;
    const own: ModelDestinations = {};
    for (const key of destinationKeys) {
        const value = sourceHub[key];
        if (value !== undefined) own[key] = `${value.replace(/\/+$/, "")}-${suffix}`;
    }
    return own;
}

/** Two stacks naming one destination. */
export interface DestinationClash {
    /** The value both name, as the first stack writes it. */
    value: string;
    /** The two stacks, sorted, each with the key that names the destination and whether it is the default. */
    stacks: [DestinationUse, DestinationUse];
}

export interface DestinationUse {
    stack: string;
    key: DestinationKey;
    /** The default output store directory (the stack sets neither hub.localDir nor hub.mergedRepo). */
    isDefault: boolean;
}

/**
 * Repos are one namespace on the Hub, whichever key names them, and the Hub compares repo ids
 * without case; directories compare as written, less trailing slashes. A directory is compared as
 * a string on whatever machine the stack runs: a `~/x` of two hosts is refused too, to keep the
 * rule one a reviewer can check in the stack files alone.
 */
function identity(key: DestinationKey, value: string): string {
    return key === "localDir" ? `dir:${value.replace(/\/+$/, "")}` : `repo:${value.toLowerCase()}`;
}

/** Every pair of different stacks that name one destination, in stack order. Pure. */
export function findDestinationClashes(stacks: readonly { stack: string; hub: HubDestinations }[]): DestinationClash[] {
    const seen = new Map<string, { use: DestinationUse; value: string }[]>();
    const clashes: DestinationClash[] = [];
    const sorted = [...stacks].sort((a, b) => (a.stack < b.stack ? -1 : a.stack > b.stack ? 1 : 0));
    for (const { stack, hub } of sorted) {
        const destinations = modelDestinations(hub, stack);
        for (const key of destinationKeys) {
            const value = destinations[key];
            if (value === undefined) continue;
            const use: DestinationUse = { stack, key, isDefault: key === "localDir" && hub.localDir === undefined };
            const id = identity(key, value);
            const before = seen.get(id) ?? [];
            for (const other of before) {
                if (other.use.stack !== stack) clashes.push({ value: other.value, stacks: [other.use, use] });
            }
            seen.set(id, [...before, { use, value }]);
        }
    }
    return clashes;
}

/**
 * `stacks a and b both set stacktune:hub.mergedRepo to me/m`, or with two keys
 * `stacktune:hub.mergedRepo of stack a and stacktune:hub.adapterRepo of stack b are both me/m`;
 * a default store says so (`(b: its default, having no hub.mergedRepo)`).
 */
export function describeClash(clash: DestinationClash): string {
    const [a, b] = clash.stacks;
    const defaults = clash.stacks
        .filter((use) => use.isDefault)
        .map((use) => `${use.stack}: its default, having no hub.mergedRepo`);
    const note = defaults.length > 0 ? ` (${defaults.join("; ")})` : "";
    return a.key === b.key
        ? `stacks ${a.stack} and ${b.stack} both set stacktune:hub.${a.key} to ${clash.value}${note}`
        : `stacktune:hub.${a.key} of stack ${a.stack} and stacktune:hub.${b.key} of stack ${b.stack} are both ${clash.value}${note}`;
}
