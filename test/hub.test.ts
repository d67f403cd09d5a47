// Completion lookup against a local stand-in of the Hub (127.0.0.1), through the real
// @huggingface/hub client with its `hubUrl` option; and the local output-store check.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findHubCompletion } from "../src/hub";
import { FakeHub } from "./helpers/fakeHub";

const HASH = "ab".repeat(32);
const TOKEN = "hf_CANARYtoken0000000000000000";
const hub = new FakeHub();

beforeAll(async () => {
    await hub.start();
    hub.repos.set(
        "me/done-model",
        new Map([
            ["stacktune.json", JSON.stringify({ experiment_hash: HASH, stack: "s", metrics: { train_loss: 0.97 } })],
        ]),
    );
    hub.repos.set(
        "me/other-model",
        new Map([["stacktune.json", JSON.stringify({ experiment_hash: "cd".repeat(32) })]]),
    );
    hub.repos.set("me/empty-model", new Map([["README.md", "# nothing yet"]]));
});
afterAll(() => hub.stop());

describe("findHubCompletion", () => {
    it("finds the model tagged with this hash and asks only for stacktune.json on main, with the token", async () => {
        hub.requests.length = 0;
        const found = await findHubCompletion({
            repo: "me/done-model",
            experimentHash: HASH,
            accessToken: TOKEN,
            hubUrl: hub.url,
        });
        expect(found).toEqual({
            experimentHash: HASH,
            store: "hub",
            location: "me/done-model",
            marker: { experiment_hash: HASH, stack: "s", metrics: { train_loss: 0.97 } },
        });
        expect(hub.requests.length).toBeGreaterThan(0);
        for (const request of hub.requests) {
            expect(request.method).toBe("GET");
            expect(request.path).toBe("/me/done-model/resolve/main/stacktune.json");
            expect(request.authorization).toBe(`Bearer ${TOKEN}`);
        }
        expect(hub.requests[0]?.range).toBe("bytes=0-0");
    });

    it("reads the run's metrics.json from the repo when the marker carries none", async () => {
        hub.repos.set(
            "me/merged-with-metrics",
            new Map([
                ["stacktune.json", JSON.stringify({ experiment_hash: HASH, stack: "s" })],
                ["metrics.json", JSON.stringify({ train_loss: 0.967, eval_loss: 0.964 })],
            ]),
        );
        hub.requests.length = 0;
        const found = await findHubCompletion({
            repo: "me/merged-with-metrics",
            experimentHash: HASH,
            hubUrl: hub.url,
        });
        expect(found?.marker).toEqual({
            experiment_hash: HASH,
            stack: "s",
            metrics: { train_loss: 0.967, eval_loss: 0.964 },
        });
        expect([...new Set(hub.requests.map((r) => r.path))]).toEqual([
            "/me/merged-with-metrics/resolve/main/stacktune.json",
            "/me/merged-with-metrics/resolve/main/metrics.json",
        ]);
    });

    it("treats a marker of another experiment, a missing marker and a missing repo as not done", async () => {
        const common = { experimentHash: HASH, accessToken: TOKEN, hubUrl: hub.url };
        expect(await findHubCompletion({ repo: "me/other-model", ...common })).toBeUndefined();
        expect(await findHubCompletion({ repo: "me/empty-model", ...common })).toBeUndefined();
        expect(await findHubCompletion({ repo: "me/not-created-yet", ...common })).toBeUndefined();
    });

    it("reads a public repo without any Authorization header when no token is set", async () => {
        hub.requests.length = 0;
        expect(await findHubCompletion({ repo: "me/done-model", experimentHash: HASH, hubUrl: hub.url })).toBeDefined();
        expect(hub.requests.every((r) => r.authorization === undefined)).toBe(true);
    });

    it("turns a refused token into an error naming the setting, never the token", async () => {
        hub.requiredToken = "hf_the_right_one";
        try {
            const error = await findHubCompletion({
                repo: "me/done-model",
                experimentHash: HASH,
                accessToken: TOKEN,
                hubUrl: hub.url,
            }).then(
                () => undefined,
                (e: unknown) => e as Error,
            );
            expect(error?.message).toMatch(
                /^the Hub refused to read me\/done-model \(HTTP 401\): set stacktune:hfToken/,
            );
            expect(error?.message).not.toContain(TOKEN);
            expect(String(error?.stack)).not.toContain(TOKEN);
        } finally {
            delete hub.requiredToken;
        }
    });
});
