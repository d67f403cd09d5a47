// Type-level tests of the public settings API. `tsc --noEmit` checks the `expectTypeOf` and
// `@ts-expect-error` lines (tsconfig.json includes test/); vitest runs the runtime halves.
import type * as pulumi from "@pulumi/pulumi";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
    type AwsInstanceType,
    type SecretsPresent,
    type Settings,
    type SettingsInput,
    type SettingsIssue,
    SettingsError,
    type StackFileSettings,
    awsInstanceTypes,
    loadSettingsFromPulumiConfig,
    loadSettingsFromStackFile,
    parseSettings,
    settingsDefaults,
    targetGpuCount,
} from "../src/settings";
import { sshTarget } from "./settings/fixtures";

describe("settings types", () => {
    it("parseSettings returns Settings and takes which secrets are set, never their values", () => {
        expectTypeOf(parseSettings).returns.toEqualTypeOf<Settings>();
        expectTypeOf(parseSettings).parameter(1).toEqualTypeOf<SecretsPresent>();
        expectTypeOf<SecretsPresent>().toEqualTypeOf<{
            hfToken?: boolean;
            wandbApiKey?: boolean;
            sshPrivateKey?: boolean;
        }>();
        // @ts-expect-error a secret's value is not accepted where its presence is
        expect(() => parseSettings({}, { hfToken: "hf_x" })).toThrow(SettingsError);
        expect(() => parseSettings({ target: sshTarget }, { sshPrivateKey: true })).not.toThrow();
    });

    it("loaders return Pulumi secret outputs (Pulumi) and presence flags (stack file)", () => {
        expectTypeOf(loadSettingsFromPulumiConfig).returns.toEqualTypeOf<{
            settings: Settings;
            secrets: {
                hfToken?: pulumi.Output<string>;
                wandbApiKey?: pulumi.Output<string>;
                sshPrivateKey?: pulumi.Output<string>;
            };
        }>();
        expectTypeOf(loadSettingsFromStackFile).returns.toEqualTypeOf<StackFileSettings>();
        expectTypeOf<StackFileSettings["secrets"]>().toEqualTypeOf<SecretsPresent>();
    });

    it("the target is a union discriminated on kind, with each kind’s own fields", () => {
        expectTypeOf<Settings["target"]["kind"]>().toEqualTypeOf<"local" | "ssh" | "aws">();
        type Aws = Extract<Settings["target"], { kind: "aws" }>;
        type Ssh = Extract<Settings["target"], { kind: "ssh" }>;
        expectTypeOf<Aws["instanceType"]>().toEqualTypeOf<"g5.12xlarge" | "g6.12xlarge">();
        expectTypeOf<Aws["instanceType"]>().toEqualTypeOf<AwsInstanceType>();
        expectTypeOf<Aws["sshCidr"]>().toEqualTypeOf<string>();
        expectTypeOf<Aws["spot"]>().toEqualTypeOf<{ enabled: boolean; maxPrice?: number | undefined }>();
        expectTypeOf<Ssh["port"]>().toEqualTypeOf<number>();
        expectTypeOf<Ssh["privateKeyPath"]>().toEqualTypeOf<string | undefined>();
        expectTypeOf(targetGpuCount).parameter(0).toEqualTypeOf<Settings["target"]>();
        expect(awsInstanceTypes["g6.12xlarge"].gpus).toBe(4);
    });

    it("defaults are applied in the output type: no optional recipe field", () => {
        expectTypeOf<Settings["lora"]>().toEqualTypeOf<{
            r: number;
            alpha: number;
            dropout: number;
            targetModules: "all-linear" | string[];
        }>();
        expectTypeOf<Settings["training"]["learningRate"]>().toEqualTypeOf<number>();
        expectTypeOf<Settings["training"]["packingStrategy"]>().toEqualTypeOf<"wrapped" | "bfd">();
        expectTypeOf<Settings["distributed"]["strategy"]>().toEqualTypeOf<
            "deepspeed-zero3" | "deepspeed-zero2" | "ddp"
        >();
        expectTypeOf<Settings["evaluation"]["maxSamples"]>().toEqualTypeOf<number | null>();
        expectTypeOf<Settings["runtime"]>().toEqualTypeOf<
            { kind: "docker" } | { kind: "venv"; path?: string | undefined; python: string }
        >();
    });

    it("the input type needs only a target; everything else has a default", () => {
        const minimal: SettingsInput = { target: { kind: "local" } };
        const partial: SettingsInput = { target: { kind: "ssh", host: "h", user: "u" }, lora: { r: 16 } };
        expect(minimal.target.kind).toBe("local");
        expect(partial.lora?.r).toBe(16);
        // @ts-expect-error the target has no default
        const noTarget: SettingsInput = {};
        // @ts-expect-error lora.rank is not a key (PEFT calls it r)
        const rank: SettingsInput = { target: { kind: "local" }, lora: { rank: 8 } };
        // @ts-expect-error an aws target must say which CIDR may reach SSH
        const openAws: SettingsInput = { target: { kind: "aws", publicKey: "ssh-ed25519 AAAA" } };
        const p4: SettingsInput = {
            // @ts-expect-error instance types are the two 4 x 24 GB ones
            target: { kind: "aws", sshCidr: "203.0.113.7/32", publicKey: "k", instanceType: "p4d.24xlarge" },
        };
        // @ts-expect-error host is an ssh field, not a local one
        const localHost: SettingsInput = { target: { kind: "local", host: "h" } };
        expect([noTarget, rank, openAws, p4, localHost]).toHaveLength(5);
    });

    it("each concern of settingsDefaults fits the settings type it defaults", () => {
        expectTypeOf(settingsDefaults.lora).toExtend<Settings["lora"]>();
        expectTypeOf(settingsDefaults.quantization).toExtend<Settings["quantization"]>();
        expectTypeOf(settingsDefaults.training).toExtend<Settings["training"]>();
        expectTypeOf(settingsDefaults.dataset).toExtend<Partial<Settings["dataset"]>>();
        expectTypeOf(settingsDefaults.evaluation).toExtend<Partial<Settings["evaluation"]>>();
        expectTypeOf(settingsDefaults.checkpointing).toExtend<Settings["checkpointing"]>();
        expectTypeOf(settingsDefaults.hub).toExtend<Partial<Settings["hub"]>>();
        expectTypeOf(settingsDefaults.budget).toExtend<Partial<Settings["budget"]>>();
        expectTypeOf(settingsDefaults.runtime).toExtend<Settings["runtime"]>();
        expectTypeOf(settingsDefaults.target.aws).toExtend<Partial<Extract<Settings["target"], { kind: "aws" }>>>();
        expectTypeOf(settingsDefaults.target.ssh).toExtend<Partial<Extract<Settings["target"], { kind: "ssh" }>>>();
        expect(settingsDefaults.training.learningRate).toBe(1e-4);
    });

    it("SettingsError exposes the issues as data", () => {
        expectTypeOf<SettingsError["issues"]>().toEqualTypeOf<readonly SettingsIssue[]>();
        expectTypeOf<SettingsIssue>().toEqualTypeOf<{ path: string; message: string }>();
        const error = new SettingsError([{ path: "lora.rank", message: "unknown key" }]);
        expect(error.issues[0]?.path).toBe("lora.rank");
        // @ts-expect-error issues are read-only
        error.issues = [];
    });
});
