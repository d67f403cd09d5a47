/**
 * `stacktune new <name> --from <stack> --set key=value…`: a new experiment's stack file, derived
 * from an existing one, validated and rendered like every committed stack, with its own model
 * destinations (src/render/destinations.ts).
 */
import * as fs from "fs";
import * as path from "path";
import { isMap, isNode, parse as parseYaml, parseDocument } from "yaml";
import {
    type HubDestinations,
    describeClash,
    destinationKeys,
    findDestinationClashes,
    ownDestinations,
    renderAll,
} from "../../render";
import { listStacks } from "../../render/stacks";
import { loadSettingsFromStackFile, SettingsError, type Settings } from "../../settings";

/**
 * `training.learningRate=2e-4` → path [stacktune:training, learningRate], value 0.0002 (a YAML
 * scalar or flow collection); `evaluation.steps=` (nothing after `=`) removes the key.
 */
export function parseAssignment(assignment: string): { path: string[]; value: unknown; remove: boolean } {
    const eq = assignment.indexOf("=");
    if (eq <= 0) {
        throw new Error(
            `--set takes key=value with a dotted key, e.g. training.learningRate=2e-4 (got "${assignment}")`,
        );
    }
    const [key, ...rest] = assignment.slice(0, eq).split(".");
    if (key === undefined || key === "" || rest.some((p) => p === "")) {
        throw new Error(`--set key "${assignment.slice(0, eq)}" must be a dotted path such as training.learningRate`);
    }
    const text = assignment.slice(eq + 1);
    return { path: [`stacktune:${key}`, ...rest], value: parseYaml(text) as unknown, remove: text === "" };
}

/**
 * The new stack file's text: the source's, with the assignments applied (comments kept) and a first
 * line saying how it was made. Pure.
 */
export function deriveStackFile(
    sourceText: string,
    from: string,
    name: string,
    assignments: readonly string[],
): string {
    const doc = parseDocument(sourceText);
    for (const assignment of assignments) {
        const { path: keyPath, value, remove } = parseAssignment(assignment);
        if (remove) doc.deleteIn(["config", ...keyPath]);
        else doc.setIn(["config", ...keyPath], value);
    }
    // The source's opening comment describes the source stack (how to run it, why it exists): dropped.
    doc.commentBefore = null;
    if (isMap(doc.contents)) {
        doc.contents.commentBefore = null;
        const first = doc.contents.items[0]?.key;
        if (isNode(first)) first.commentBefore = null;
    }
    const made = `# Made by: stacktune new ${name} --from ${from}${assignments.map((a) => ` --set ${a}`).join("")}\n`;
    return made + `# Run it:  stacktune run ${name}\n` + doc.toString({ lineWidth: 0 });
}

/**
 * `--set` assignments giving a stack made from a source with hub settings `sourceHub` its own
 * destinations ({@link ownDestinations}), for the keys `assignments` leave to the source (a
 * destination the user sets, or removes, is theirs).
 */
export function ownDestinationAssignments(
    sourceHub: HubDestinations,
    from: string,
    name: string,
    assignments: readonly string[] = [],
): string[] {
    const assigned = assignments.map((a) => parseAssignment(a).path).filter((p) => p[0] === "stacktune:hub");
    const own = ownDestinations(sourceHub, from, name);
    return destinationKeys.flatMap((key) => {
        const value = own[key];
        if (value === undefined || assigned.some((p) => p.length === 1 || p[1] === key)) return [];
        return [`hub.${key}=${JSON.stringify(value)}`];
    });
}

/**
 * The destinations `made` (stacks about to be written) share with each other or with another stack
 * in stacks/ (a stack file of the same name is replaced by the made one), in words. An invalid
 * stack file in stacks/ is left to `npm run render`, which names it.
 */
export function sharedDestinations(
    projectDir: string,
    made: readonly { stack: string; hub: HubDestinations }[],
): string[] {
    const names = new Set(made.map((m) => m.stack));
    const others = listStacks(projectDir)
        .filter((stack) => !names.has(stack))
        .flatMap((stack) => {
            try {
                return [
                    {
                        stack,
                        hub: loadSettingsFromStackFile(path.join(projectDir, "stacks", `Pulumi.${stack}.yaml`)).settings
                            .hub,
                    },
                ];
            } catch (error) {
                if (error instanceof SettingsError) return [];
                throw error;
            }
        });
    return findDestinationClashes([...others, ...made])
        .filter((clash) => clash.stacks.some((use) => names.has(use.stack)))
        .map(describeClash);
}

/** Writes stacks/Pulumi.<name>.yaml and rendered/<name>/ after validating; nothing is written when invalid. */
export function createStackFile(
    projectDir: string,
    name: string,
    from: string,
    assignments: readonly string[],
): { stackFile: string; rendered: string[] } {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
        throw new Error(`stack name "${name}" may use letters, digits, '-', '_' and '.' only`);
    }
    const source = path.join(projectDir, "stacks", `Pulumi.${from}.yaml`);
    const target = path.join(projectDir, "stacks", `Pulumi.${name}.yaml`);
    if (!fs.existsSync(source))
        throw new Error(`no stack file ${path.relative(projectDir, source)}: pick one of stacks/`);
    if (fs.existsSync(target))
        throw new Error(`${path.relative(projectDir, target)} exists already: choose another name`);
    const sourceText = fs.readFileSync(source, "utf8");
    // Validate through the same loader `render` and the program use, on a scratch copy.
    const scratch = fs.mkdtempSync(path.join(path.dirname(target), ".new-"));
    const scratchFile = path.join(scratch, path.basename(target));
    const validate = (text: string): { settings: Settings; files: Map<string, string> } => {
        fs.writeFileSync(scratchFile, text);
        const { settings } = loadSettingsFromStackFile(scratchFile);
        return { settings, files: renderAll(settings, name) };
    };
    let text = deriveStackFile(sourceText, from, name, assignments);
    let files: Map<string, string>;
    try {
        let made = validate(text);
        // The source's destinations (those the user left to it) become this stack's own.
        const own = ownDestinationAssignments(made.settings.hub, from, name, assignments);
        if (own.length > 0) {
            text = deriveStackFile(sourceText, from, name, [...assignments, ...own]);
            made = validate(text);
        }
        const shared = sharedDestinations(projectDir, [{ stack: name, hub: made.settings.hub }]);
        if (shared.length > 0) {
            throw new Error(
                `${shared.join("\n")}\nnothing written: two stacks sharing a model destination overwrite each other's model and each ` +
                    `retrains after the other ran; give ${name} its own with --set hub.<key>=<a repo or directory no other stack uses>`,
            );
        }
        files = made.files;
    } catch (error) {
        // Name the file the user asked for, not the scratch copy.
        (error as Error).message = (error as Error).message.split(scratchFile).join(path.relative(projectDir, target));
        throw error;
    } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
    }
    fs.writeFileSync(target, text);
    const rendered: string[] = [];
    for (const [file, content] of files) {
        const out = path.join(projectDir, "rendered", name, file);
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.writeFileSync(out, content);
        fs.chmodSync(out, file.endsWith(".sh") ? 0o755 : 0o644);
        rendered.push(path.relative(projectDir, out));
    }
    return { stackFile: path.relative(projectDir, target), rendered };
}
