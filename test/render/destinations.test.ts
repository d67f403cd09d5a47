// Where a stack's model goes, the destinations a derived stack gets, and two stacks sharing one.
import { describe, expect, it } from "vitest";
import {
    describeClash,
    findDestinationClashes,
    modelDestinations,
    ownDestinations,
} from "../../src/render/destinations";

describe("model destinations", () => {
    it("are the repos as set and the output store: hub.localDir, else the per-stack default without a merged repo", () => {
        expect(modelDestinations({ adapterRepo: "me/a", mergedRepo: "me/m" }, "s")).toEqual({
            adapterRepo: "me/a",
            mergedRepo: "me/m",
        });
        expect(modelDestinations({ adapterRepo: "me/a" }, "s")).toEqual({
            adapterRepo: "me/a",
            localDir: "~/.stacktune/models/s",
        });
        expect(modelDestinations({ mergedRepo: "me/m", localDir: "/data/m" }, "s")).toEqual({
            mergedRepo: "me/m",
            localDir: "/data/m",
        });
    });

    it("of a derived stack: each one the source sets, with what the new name adds to the source name", () => {
        const source = { adapterRepo: "me/a-g5", mergedRepo: "me/m-g5", localDir: "/data/models/" };
        expect(ownDestinations(source, "aws-g5", "x")).toEqual({
            adapterRepo: "me/a-g5-x",
            mergedRepo: "me/m-g5-x",
            localDir: "/data/models-x",
        });
        expect(ownDestinations(source, "aws-g5", "aws-g5-r8")).toEqual({
            adapterRepo: "me/a-g5-r8",
            mergedRepo: "me/m-g5-r8",
            localDir: "/data/models-r8",
        });
        // A default store is per stack already.
        expect(ownDestinations({}, "local-demo", "x")).toEqual({});
    });

    it("clash between two stacks on any repo key (case-insensitive, as the Hub) or one directory; never within one stack", () => {
        const clashes = findDestinationClashes([
            { stack: "b", hub: { adapterRepo: "Me/Shared", localDir: "/data/x/" } },
            { stack: "a", hub: { mergedRepo: "me/shared", localDir: "/data/x" } },
            { stack: "c", hub: { adapterRepo: "me/c", mergedRepo: "me/c" } },
        ]);
        expect(clashes.map(describeClash)).toEqual([
            "stacktune:hub.mergedRepo of stack a and stacktune:hub.adapterRepo of stack b are both me/shared",
            "stacks a and b both set stacktune:hub.localDir to /data/x",
        ]);
        expect(
            findDestinationClashes([
                { stack: "a", hub: {} },
                { stack: "b", hub: {} },
            ]),
        ).toEqual([]);
    });
});
