/**
 * The Node.js language host of the chosen toolchain (the repo's stand-in or upstream's binary),
 * asked over its gRPC contract what the engine asks it: the packages a program requires are the
 * resource-plugin packages in its node_modules (upstream: every package.json with
 * `"pulumi": {"resource": true}`), with their plugin versions, so the engine knows them up front.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { toolchain } from "./helpers/project";

const REPO = resolve(__dirname, "..", "..");
/* eslint-disable @typescript-eslint/no-require-imports -- the SDK's generated gRPC stubs are CommonJS without types */
const grpc = require("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
const languageGrpc = require("@pulumi/pulumi/proto/language_grpc_pb") as {
    LanguageRuntimeClient: new (address: string, creds: unknown) => LanguageClient;
};
const language = require("@pulumi/pulumi/proto/language_pb") as {
    GetRequiredPackagesRequest: new () => { setInfo(info: unknown): void };
    ProgramInfo: new () => ProgramInfo;
};
/* eslint-enable @typescript-eslint/no-require-imports */

interface ProgramInfo {
    setRootDirectory(v: string): ProgramInfo;
    setProgramDirectory(v: string): ProgramInfo;
    setEntryPoint(v: string): ProgramInfo;
}
interface PackageDependency {
    getName(): string;
    getKind(): string;
    getVersion(): string;
}
interface LanguageClient {
    getRequiredPackages(
        req: unknown,
        cb: (err: Error | null, resp: { getPackagesList(): PackageDependency[] }) => void,
    ): void;
    close(): void;
}

let host: ChildProcess | undefined;
afterAll(() => {
    host?.kill();
});

/** Starts the toolchain's `pulumi-language-nodejs` and resolves with its gRPC address (its first stdout line). */
function startLanguageHost(): Promise<string> {
    const child = spawn("pulumi-language-nodejs", [], {
        env: { ...process.env, PATH: `${toolchain(REPO).pathPrefix}${process.env.PATH ?? ""}` },
        stdio: ["ignore", "pipe", "inherit"],
    });
    host = child;
    return new Promise((resolvePort, reject) => {
        let out = "";
        child.once("error", reject);
        child.stdout?.on("data", (b: Buffer) => {
            out += b.toString("utf8");
            const line = out.split("\n")[0];
            if (out.includes("\n") && line !== undefined) resolvePort(`127.0.0.1:${line.trim()}`);
        });
    });
}

describe("language host (real binary of the chosen toolchain)", () => {
    it("reports the program's resource plugins as required packages: aws and command at their package versions", async () => {
        const client = new languageGrpc.LanguageRuntimeClient(
            await startLanguageHost(),
            grpc.credentials.createInsecure(),
        );
        const req = new language.GetRequiredPackagesRequest();
        req.setInfo(new language.ProgramInfo().setRootDirectory(REPO).setProgramDirectory(REPO).setEntryPoint("."));
        const packages = await new Promise<PackageDependency[]>((ok, fail) =>
            client.getRequiredPackages(req, (err, resp) => (err ? fail(err) : ok(resp.getPackagesList()))),
        );
        client.close();
        const version = (name: string): string =>
            (
                JSON.parse(readFileSync(join(REPO, "node_modules", "@pulumi", name, "package.json"), "utf8")) as {
                    version: string;
                }
            ).version;
        expect(packages.map((p) => `${p.getKind()} ${p.getName()} ${p.getVersion()}`).sort()).toEqual(
            ["aws", "command"].map((name) => `resource ${name} v${version(name)}`),
        );
    });
});
