/**
 * The aws target's network rules: which CIDRs AWS takes and how wide an SSH opening may be. The one
 * home of these rules for the settings (target.sshCidr) and the security group of AwsGpuHost.
 */

/**
 * The network address of an IPv4 CIDR (`203.0.113.7/24` → `203.0.113.0/24`). AWS and its provider
 * take only network addresses (terraform-provider-aws verify.ValidCIDRNetworkAddress).
 */
export function cidrNetworkAddress(cidr: string): string {
    const [address = "", prefixText = "32"] = cidr.split("/");
    const prefix = Number(prefixText);
    const value = address.split(".").reduce((a, o) => a * 256 + Number(o), 0);
    const network = value - (value % 2 ** (32 - prefix));
    const octets = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
    return `${octets.join(".")}/${prefix}`;
}

/**
 * What to write instead of a CIDR with host bits (`setIt`: how the message names the key), or
 * undefined for a network address. The one rule of the settings and the security group.
 */
export function cidrHostBitsProblem(cidr: string, setIt = "set stacktune:target.sshCidr to"): string | undefined {
    // Only a well-formed CIDR is judged (and quoted back): anything else is the format check's to refuse.
    if (!/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(cidr)) return undefined;
    const network = cidrNetworkAddress(cidr);
    if (network === cidr) return undefined;
    const address = cidr.split("/")[0] ?? "";
    return `has host bits set, and AWS takes only a network address: ${setIt} your IP as ${address}/32, or to the network ${network}`;
}

/**
 * The widest sshCidr accepted without `allowOpenSsh`: a /16 (65,536 addresses) covers a site's
 * network; anything wider is a large part of the internet.
 */
export const WIDEST_SSH_CIDR_PREFIX = 16;

/**
 * Whom `cidr` (an IPv4 CIDR) opens SSH to when that is more than a /16, e.g. `the whole internet`;
 * undefined when it is a /16 or narrower. The one rule of the settings and the security group.
 */
export function sshCidrTooWide(cidr: string): string | undefined {
    const prefix = Number(cidr.split("/")[1]);
    if (prefix >= WIDEST_SSH_CIDR_PREFIX) return undefined;
    return prefix === 0
        ? "the whole internet"
        : `${2 ** (32 - prefix)} addresses, more than a /${WIDEST_SSH_CIDR_PREFIX}`;
}
