import { z } from "zod";
import { settingsDefaults } from "./defaults";
import { TextSchema } from "./grammar";
import { SeedSchema } from "./numbers";
import { RepoIdSchema } from "./repo-id";

const defaults = settingsDefaults.dataset;

/** Header roles of the Llama-3 chat format. */
export const ChatRoleSchema = z.enum(["system", "user", "assistant", "ipython"]);

/** ShareGPT `from` values mapped to chat roles (`role_map`); an unknown `from` fails data prep. */
export const RoleMapSchema = z.strictObject({
    /** @default system */
    system: ChatRoleSchema.default(defaults.roles.system),
    /** @default user */
    human: ChatRoleSchema.default(defaults.roles.human),
    /** @default assistant */
    gpt: ChatRoleSchema.default(defaults.roles.gpt),
});

export const DatasetSchema = z.strictObject({
    /** Hub dataset id or a JSON/JSONL path on the host (`dataset_source`). @default teknium/OpenHermes-2.5 */
    source: TextSchema.default(defaults.source),
    /** Hub revision of a Hub dataset: branch, tag or commit (`dataset_revision`); resolved like model.revision. @default main */
    revision: TextSchema.default(defaults.revision),
    /** @default sharegpt */
    format: z.enum(["sharegpt"]).default(defaults.format),
    /** Field holding each sample's turns (`conversations_field`). @default conversations */
    conversationsField: TextSchema.default(defaults.conversationsField),
    roles: RoleMapSchema.prefault({}),
    /** Fraction of the samples held out for evaluation (`test_size`), as the trainer accepts it. @default 0.3 */
    testSize: z.number().gt(0).lt(1).default(defaults.testSize),
    /** @default 100 */
    splitSeed: SeedSchema.default(defaults.splitSeed),
    /** Keep only this many samples of the train split (`max_train_samples`). */
    maxTrainSamples: z.number().int().positive().optional(),
    /** Samples in the source, when known: lets the settings check split sizes before any download. */
    numSamples: z.number().int().positive().optional(),
    /** Hub dataset repo where the tokenized, split dataset is cached (`prepared_dataset_repo`). */
    preparedRepo: RepoIdSchema.optional(),
});

export type DatasetSettings = z.infer<typeof DatasetSchema>;
