import vitestConfig = require("vitest/config");

// Three projects, run as separate CI stages (scripts/test.sh): `unit` (fast, mocks only), `e2e`
// (real Pulumi CLI, OpenSSH server and CPU training; minutes, one file at a time) and `browser`
// (pages in Debian's headless Chromium, which `scripts/setup.sh --only browser` installs).
// Type-level assertions in the tests (`expectTypeOf`, `@ts-expect-error`) are checked by
// `tsc --noEmit`, which covers test/ (tsconfig.json); vitest runs the runtime halves.
// CommonJS syntax (`import = require`, `export =`) because package.json has "type": "commonjs".
export = vitestConfig.defineConfig({
    test: {
        environment: "node",
        // Forks keep Pulumi's process-global runtime state (mocks, config) apart per test file.
        pool: "forks",
        projects: [
            {
                extends: true,
                test: {
                    name: "unit",
                    include: ["test/**/*.test.ts"],
                    exclude: ["test/e2e/**", "test/browser/**"],
                    testTimeout: 30_000,
                    // Not the demo passphrase (scripts/env.sh's default): mocked stacks hold test secrets, which
                    // the program refuses under the demo one. The tests of that refusal set it themselves.
                    env: { PULUMI_CONFIG_PASSPHRASE: "stacktune-unit-tests" },
                },
            },
            {
                extends: true,
                test: {
                    name: "e2e",
                    include: ["test/e2e/**/*.test.ts"],
                    testTimeout: 20 * 60_000,
                    hookTimeout: 20 * 60_000,
                    fileParallelism: false,
                },
            },
            {
                extends: true,
                test: {
                    name: "browser",
                    include: ["test/browser/**/*.test.ts"],
                    testTimeout: 60_000,
                    hookTimeout: 60_000,
                },
            },
        ],
    },
});
