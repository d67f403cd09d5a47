import { z } from "zod";
import { settingsDefaults } from "./defaults";
import { TextSchema } from "./grammar";

/** Training image built on the host; the job runs in it with all GPUs. */
export const DockerRuntimeSchema = z.strictObject({
    kind: z.literal("docker"),
});

/** A pinned Python environment on the host. */
export const VenvRuntimeSchema = z.strictObject({
    kind: z.literal("venv"),
    /** An existing environment to use as is; unset = stacktune creates one in the run root. */
    path: TextSchema.optional(),
    /** Interpreter that creates the environment. @default python3 */
    python: TextSchema.default(settingsDefaults.runtime.python),
});

/** Where the job's Python comes from: `docker` or `venv`. @default venv */
export const RuntimeSchema = z
    .discriminatedUnion("kind", [DockerRuntimeSchema, VenvRuntimeSchema])
    .prefault({ kind: settingsDefaults.runtime.kind });

export type Runtime = z.infer<typeof RuntimeSchema>;
