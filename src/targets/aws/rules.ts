/** The aws target's cross-field rules: run by the settings layer on every aws stack, with its own. */
import type { SettingsIssue } from "../../settings/errors";
import type { TargetRule } from "../types";
import { sshCidrTooWide } from "./network";
import { type AwsTarget, isPlaceholderPublicKey } from "./settings";

const ok: readonly SettingsIssue[] = [];

export const awsRules: readonly TargetRule<AwsTarget>[] = [
    {
        id: "open-ssh-refused",
        description: "an sshCidr wider than a /16 opens SSH to much of the internet; refused unless allowOpenSsh: true",
        check: (s) => {
            if (s.target.allowOpenSsh) return ok;
            const reach = sshCidrTooWide(s.target.sshCidr);
            return reach === undefined
                ? ok
                : [
                      {
                          path: "target.sshCidr",
                          message: `this CIDR opens SSH to ${reach}; set stacktune:target.sshCidr to your IP/32 (or set target.allowOpenSsh: true if you really mean it)`,
                      },
                  ];
        },
    },
    {
        id: "spot-price-needs-spot",
        description: "a spot maxPrice only applies to spot capacity",
        check: (s) =>
            !s.target.spot.enabled && s.target.spot.maxPrice !== undefined
                ? [
                      {
                          path: "target.spot.maxPrice",
                          message:
                              "maxPrice is ignored with spot disabled; set stacktune:target.spot.enabled to true or remove target.spot.maxPrice",
                      },
                  ]
                : ok,
    },
    {
        id: "spot-keeps-checkpoints",
        description: "a spot instance is reclaimed with its root volume: spot needs the S3 checkpoint store to resume",
        check: (s) =>
            s.target.spot.enabled && !s.target.checkpointBucket
                ? [
                      {
                          path: "target.checkpointBucket",
                          message:
                              "spot capacity is reclaimed at 2 minutes' notice and the instance's root volume, with the checkpoints on it, is deleted with it; " +
                              "set stacktune:target.checkpointBucket to true (or remove it: spot keeps checkpoints in S3 by default), or target.spot.enabled to false",
                      },
                  ]
                : ok,
    },
    {
        id: "aws-output-survives-teardown",
        description:
            "an aws instance released after the run takes its disk with it: the merged model and its completion marker must go to a Hub repo",
        check: (s) =>
            s.budget.teardown === "release-after-push" && s.hub.mergedRepo === undefined
                ? [
                      {
                          path: "hub.mergedRepo",
                          message:
                              "the instance is terminated after the run, so the merged model and its completion marker would be lost with its disk " +
                              "(an adapter repo holds neither) and the next `pulumi up` would train again; set stacktune:hub.mergedRepo, or budget.teardown to keep",
                      },
                  ]
                : ok,
    },
    {
        id: "aws-key-not-placeholder",
        description:
            "the publicKey placeholder of the shipped stack files matches no private key: the instance would be unreachable",
        deployOnly: true,
        check: (s) =>
            isPlaceholderPublicKey(s.target.publicKey)
                ? [
                      {
                          path: "target.publicKey",
                          message:
                              "is the placeholder of the shipped stack files, which no private key matches; set stacktune:target.publicKey " +
                              "to your own key (the contents of ~/.ssh/id_ed25519.pub, the pair of the stacktune:sshPrivateKey secret)",
                      },
                  ]
                : ok,
    },
    {
        id: "aws-needs-private-key",
        description: "an aws target is reached with the private key matching target.publicKey (sshPrivateKey secret)",
        needsSecrets: true,
        check: (s, secrets) =>
            !secrets.sshPrivateKey
                ? [
                      {
                          path: "sshPrivateKey",
                          message:
                              "stacktune reaches the instance over SSH; run `pulumi config set --secret stacktune:sshPrivateKey < ~/.ssh/id_ed25519` (the key matching target.publicKey)",
                      },
                  ]
                : ok,
    },
];
