import { z } from "zod";
import { settingsDefaults } from "./defaults";
import { TextSchema } from "./grammar";

export const ModelSchema = z.strictObject({
    /** Hub model id or a local directory on the host (`model_name_or_path`). @default meta-llama/Meta-Llama-3-8B-Instruct */
    id: TextSchema.default(settingsDefaults.model.id),
    /**
     * Hub revision: branch, tag or commit (`model_revision`). On aws/ssh a branch or tag is resolved to
     * its commit at plan time, printed and trained on (src/hub.ts `resolveRevision`). @default main
     */
    revision: TextSchema.default(settingsDefaults.model.revision),
});

export type ModelSettings = z.infer<typeof ModelSchema>;
