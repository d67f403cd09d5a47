/** The ssh target's cross-field rules: run by the settings layer on every ssh stack, with its own. */
import type { SettingsIssue } from "../../settings/errors";
import type { TargetRule } from "../types";
import { sshMachines } from "./machines";
import type { SshTarget } from "./settings";

const ok: readonly SettingsIssue[] = [];

export const sshRules: readonly TargetRule<SshTarget>[] = [
    {
        id: "ssh-hosts-distinct-accounts",
        description:
            "two machines of target.hosts must not be the same SSH account: they would share one run directory",
        check: (s) => {
            if (s.target.hosts === undefined) return ok;
            const seen = new Map<string, number>();
            const issues: SettingsIssue[] = [];
            sshMachines(s.target).forEach((m) => {
                const account = `${m.user}@${m.host}:${m.port}`;
                const first = seen.get(account);
                if (first !== undefined)
                    issues.push({
                        path: `target.hosts[${m.rank}]`,
                        message: `has the same host, port and user as target.hosts[${first}], so they would share one run directory; give each machine its own host, port or user`,
                    });
                else seen.set(account, m.rank);
            });
            return issues;
        },
    },
    {
        id: "ssh-needs-one-key",
        description: "an ssh target needs exactly one private key: target.privateKeyPath or the sshPrivateKey secret",
        needsSecrets: true,
        check: (s, secrets) => {
            const fromPath = s.target.privateKeyPath !== undefined;
            if (fromPath && secrets.sshPrivateKey)
                return [
                    {
                        path: "target.privateKeyPath",
                        message: "both privateKeyPath and the sshPrivateKey secret are set; remove one of them",
                    },
                ];
            if (!fromPath && !secrets.sshPrivateKey)
                return [
                    {
                        path: "sshPrivateKey",
                        message:
                            "no SSH key; set stacktune:target.privateKeyPath or run `pulumi config set --secret stacktune:sshPrivateKey < ~/.ssh/id_ed25519`",
                    },
                ];
            return ok;
        },
    },
];
