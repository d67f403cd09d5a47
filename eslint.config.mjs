// Lint for the TypeScript side (`npx eslint .`). Type-aware rules use the project's tsconfig.json
// through the project service, so lint and `tsc --noEmit` see the same program.
import js from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
    globalIgnores([
        "node_modules/",
        "bin/",
        ".tools/",
        ".venv/",
        ".venv-py*/",
        ".whl/",
        ".benchdata/",
        ".stacktune/",
        "python/",
        "rendered/",
        "**/*.js",
        "**/*.cjs",
    ]),
    js.configs.recommended,
    tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: {
            parserOptions: {
                projectService: { allowDefaultProject: ["eslint.config.mjs"] },
                tsconfigRootDir: import.meta.dirname,
            },
        },
        rules: {
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
            "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
            eqeqeq: "error",
            "no-console": "off",
        },
    },
    {
        // package.json is "type": "commonjs", so Vite loads this config as CommonJS; ESM syntax
        // there makes every test run print a loader warning.
        files: ["vitest.config.ts"],
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
    {
        files: ["**/*.mjs"],
        extends: [tseslint.configs.disableTypeChecked],
    },
);
