import { describe, expect, it } from "vitest";
import { parseSettings } from "../src/settings";
import { allSecrets, issuesOf, merge, sshTarget } from "./settings/fixtures";

type Raw = Record<string, unknown>;

const gpu: Raw = { target: sshTarget };

/**
 * Repo ids the Hub refuses (huggingface_hub `validate_repo_id`): each must fail in the settings,
 * before any host exists, not at publish after the GPU run. [repo id, text of the message].
 */
const refused: [string, string][] = [
    ["me/model.git", "must not end in .git (the Hub refuses it)"],
    ["a--b/c", "must not contain '--' or '..' (the Hub refuses them)"],
    ["me/a..b", "must not contain '--' or '..' (the Hub refuses them)"],
    ["../..", "owner and name must each start and end with a letter, digit or _ (the Hub’s rule)"],
    ["-me/model", "owner and name must each start and end with a letter, digit or _ (the Hub’s rule)"],
    ["me/model-", "owner and name must each start and end with a letter, digit or _ (the Hub’s rule)"],
    ["me/.model", "owner and name must each start and end with a letter, digit or _ (the Hub’s rule)"],
    [`me/${"m".repeat(94)}`, "is longer than the Hub’s 96 characters"],
    ["me/modèle", "may hold only letters, digits, -, _ and . (the Hub’s rule)"],
    ["me/my model", "may hold only letters, digits, -, _ and . (the Hub’s rule)"],
    ["me/model/extra", "must be a Hub repo id like your-name/model-name"],
    ["model", "must be a Hub repo id like your-name/model-name"],
];

const accepted = ["me/model", "Org_1/Foo-BAR_foo.bar123", "_me/_x_", "a/b", `me/${"m".repeat(93)}`];

describe("Hub repo ids follow the Hub’s own rules", () => {
    for (const key of ["adapterRepo", "mergedRepo"] as const) {
        it.each(refused)(`hub.${key} %j is refused: %s`, (repo, says) => {
            const issues = issuesOf(merge(gpu, { hub: { [key]: repo } }));
            expect(issues).toEqual([{ path: `hub.${key}`, message: `${says}; change stacktune:hub.${key}` }]);
        });
    }

    it.each(refused)("dataset.preparedRepo %j is refused: %s", (repo, says) => {
        const issues = issuesOf(merge(gpu, { dataset: { preparedRepo: repo } }));
        expect(issues).toEqual([
            { path: "dataset.preparedRepo", message: `${says}; change stacktune:dataset.preparedRepo` },
        ]);
    });

    it.each(accepted)("%j is accepted", (repo) => {
        const settings = parseSettings(merge(gpu, { hub: { mergedRepo: repo } }), allSecrets);
        expect(settings.hub.mergedRepo).toBe(repo);
    });
});
