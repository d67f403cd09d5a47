import vitestConfig = require('vitest/config');

// Type-level assertions in the tests (`expectTypeOf`, `@ts-expect-error`) are checked by
// `tsc --noEmit`, which covers test/ (tsconfig.json); vitest runs the runtime assertions.
// CommonJS syntax (`import = require`, `export =`) because package.json has "type": "commonjs".
export = vitestConfig.defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Two shared cores: forks keep Pulumi's global runtime state (mocks, config) per file.
    pool: 'forks',
    testTimeout: 30_000,
  },
});
