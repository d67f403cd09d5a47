import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { filesDigest, readSourceTree } from "./hash";
import { HostCommand, hostCommand, JobHost } from "./hosts/command";
import { bashHeredoc, shellQuote } from "./render/shell";
import { hostCleanup } from "./hosts/reach";
import { deterministicTarGz } from "./job/tarball";

/** The Dockerfile, relative to the repository root (and to the build context). */
export const TRAINING_DOCKERFILE = "images/train.Dockerfile";

/**
 * Everything `docker build` sees, by context path: images/ (Dockerfile + pinned requirements) and
 * the python/ package (tests excluded: they are not in the image).
 */
export function trainingImageInputs(repoRoot: string): Map<string, string> {
    const files = new Map<string, string>();
    for (const [name, content] of readSourceTree(path.join(repoRoot, "images"), "images")) {
        files.set(name, content);
    }
    for (const [name, content] of readSourceTree(path.join(repoRoot, "python"), "python", ["tests"])) {
        files.set(name, content);
    }
    if (!files.has(TRAINING_DOCKERFILE)) {
        throw new Error(`${TRAINING_DOCKERFILE} is missing under ${repoRoot}`);
    }
    return files;
}

/**
 * The pinned Python set's install script and manifests under images/, by repository path (its
 * python/requirements.txt travels with python/): a venv run's directory holds them as the
 * repository does, so run-job.sh installs the venv with the image's own script.
 */
export function pythonSetFiles(repoRoot: string): Map<string, string> {
    const files = readSourceTree(path.join(repoRoot, "images"), "images");
    files.delete(TRAINING_DOCKERFILE);
    return files;
}

/** The image tag: content-addressed, so the same inputs on the same host are built once. */
export function trainingImageTag(inputs: ReadonlyMap<string, string>): string {
    return `stacktune-train:${filesDigest(inputs).slice(0, 16)}`;
}

/** The build command: unpack the context sent on stdin, build unless the tag exists, print the image id. */
export function imageBuildCommand(tag: string): string {
    const script = [
        "set -euo pipefail",
        "tag=$1",
        'if docker image inspect "$tag" >/dev/null 2>&1; then',
        '    echo "stacktune: image $tag already on this host" >&2',
        "    cat >/dev/null",
        "else",
        '    ctx=$(mktemp -d "${TMPDIR:-/tmp}/stacktune-image.XXXXXX")',
        "    trap 'rm -rf \"$ctx\"' EXIT",
        '    base64 -d | tar -xzmf - -C "$ctx"',
        `    docker build --progress=plain -f "$ctx/${TRAINING_DOCKERFILE}" -t "$tag" "$ctx" >&2`,
        "fi",
        "docker image inspect --format '{{.Id}}' \"$tag\"",
    ].join("\n");
    // The context arrives on stdin, so the script itself cannot: it is passed with `bash -c`.
    return `bash -c ${shellQuote(script)} stacktune-image ${shellQuote(tag)}`;
}

export interface TrainingImageArgs {
    host: JobHost;
    /** Build context by path, from {@link trainingImageInputs}. */
    inputs: ReadonlyMap<string, string>;
    /** Remove the image from the host on `pulumi destroy`. @default false */
    removeOnDestroy?: boolean;
}

/**
 * The training image, built with `docker build` on the host itself (no registry). Its trigger is
 * the digest of the build inputs, so it is rebuilt exactly when the Dockerfile, a pinned
 * requirement or the python/ package changes.
 */
export class TrainingImage extends pulumi.ComponentResource {
    public readonly tag: string;
    /** The image id (`sha256:…`) printed by the build. */
    public readonly imageId: pulumi.Output<string>;
    public readonly build: HostCommand;

    constructor(name: string, args: TrainingImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("stacktune:image:TrainingImage", name, {}, opts);
        this.tag = trainingImageTag(args.inputs);
        const context = new Map([...args.inputs].map(([file, content]) => [file, { content }]));
        this.build = hostCommand(
            `${name}-build`,
            args.host,
            {
                create: imageBuildCommand(this.tag),
                stdin: deterministicTarGz(context).toString("base64"),
                triggers: [this.tag],
            },
            { parent: this, dependsOn: args.host.ready },
        );
        if (args.removeOnDestroy) {
            // Deleted after the build (it depends on it); skipped when the host is gone (src/hosts/reach.ts).
            hostCleanup(
                `${name}-remove`,
                args.host,
                {
                    script: bashHeredoc('docker image rm "$1" >/dev/null 2>&1 || true\n', [shellQuote(this.tag)]),
                    leftBehind: `If that machine is still in use, remove the image ${this.tag} there once it answers again.`,
                    triggers: [this.tag],
                },
                { parent: this, dependsOn: [this.build] },
            );
        }
        this.imageId = this.build.stdout.apply((out) => out.trim().split("\n").pop() ?? "");
        this.registerOutputs({ tag: this.tag, imageId: this.imageId });
    }
}
