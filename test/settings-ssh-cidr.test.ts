import { describe, expect, it } from "vitest";
import { sshIngressRules } from "../src/hosts/aws";
import { parseSettings } from "../src/settings";
import { allSecrets, awsTarget, issuesOf, merge } from "./settings/fixtures";

type Raw = Record<string, unknown>;

const aws = (sshCidr: string, extra: Raw = {}): Raw =>
    merge({ target: { ...awsTarget, sshCidr, ...extra }, hub: { mergedRepo: "me/model" } });

/**
 * One rule, in the settings and in the security group: an sshCidr wider than a /16 needs
 * allowOpenSsh: true. (IPv4 only: the instance and its security group rule have no IPv6.)
 */
describe("sshCidr wider than a /16 needs allowOpenSsh", () => {
    it.each([
        ["0.0.0.0/0", "the whole internet"],
        ["0.0.0.0/1", "2147483648 addresses, more than a /16"],
        ["10.0.0.0/8", "16777216 addresses, more than a /16"],
        ["10.0.0.0/15", "131072 addresses, more than a /16"],
    ])("%s is refused without allowOpenSsh, naming the key", (cidr, reach) => {
        expect(issuesOf(aws(cidr))).toEqual([
            {
                path: "target.sshCidr",
                message: `this CIDR opens SSH to ${reach}; set stacktune:target.sshCidr to your IP/32 (or set target.allowOpenSsh: true if you really mean it)`,
            },
        ]);
        expect(() => sshIngressRules(cidr)).toThrow(
            `stacktune:target.sshCidr ${cidr} opens SSH to ${reach}: set it to your IP/32, or set stacktune:target.allowOpenSsh: true if you really mean it`,
        );
    });

    it.each(["10.0.0.0/16", "203.0.113.0/24", "203.0.113.7/32"])("%s is accepted without allowOpenSsh", (cidr) => {
        expect(parseSettings(aws(cidr), allSecrets).target).toMatchObject({ sshCidr: cidr, allowOpenSsh: false });
        expect(sshIngressRules(cidr)[0]?.cidrBlocks).toEqual([cidr]);
    });

    it("0.0.0.0/1 is accepted with allowOpenSsh: true", () => {
        expect(parseSettings(aws("0.0.0.0/1", { allowOpenSsh: true }), allSecrets).target).toMatchObject({
            sshCidr: "0.0.0.0/1",
        });
        expect(sshIngressRules("0.0.0.0/1", true)[0]?.cidrBlocks).toEqual(["0.0.0.0/1"]);
    });
});
