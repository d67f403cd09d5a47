import { z } from "zod";
import { settingsDefaults } from "./defaults";
import { LocalDirSchema } from "./local-dir";
import { RepoIdSchema } from "./repo-id";

export const HubSchema = z.strictObject({
    /** Repo that receives the LoRA adapter (`adapter_repo_id`, `hub_model_id`). */
    adapterRepo: RepoIdSchema.optional(),
    /** Repo that receives the merged model and tokenizer (`merged_repo_id`). */
    mergedRepo: RepoIdSchema.optional(),
    /** @default true */
    private: z.boolean().default(settingsDefaults.hub.private),
    /** `hub_strategy`. @default every_save */
    strategy: z.enum(["end", "every_save", "checkpoint", "all_checkpoints"]).default(settingsDefaults.hub.strategy),
    /**
     * Output store on the host when no repo is set: a directory of its own, absolute or under `~/`.
     * @default ~/.stacktune/models/<stack>
     */
    localDir: LocalDirSchema.optional(),
});

export type HubSettings = z.infer<typeof HubSchema>;
