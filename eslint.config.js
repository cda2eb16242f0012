// ESLint flat config: typescript-eslint's type-checked rules for every TypeScript file and
// eslint-plugin-svelte's recommended rules for the client's components. Type information comes
// from the TypeScript project service, which finds the nearest tsconfig.json of each file: the
// root one (appservice, ops, tests, bench) or client/tsconfig.json (the SvelteKit client; it
// extends the config that `svelte-kit sync` generates in client/node_modules/$app/, so run
// `npm run -w client check` first: `npm test` runs the type check before the lint; `npm install`
// removes the generated config again).
//
// Security rules (issue 16, docs/scanning.md): no code from strings (`eval`, `new Function`,
// string timers, `javascript:` URLs), no promise whose rejection nobody sees and no promise where
// a callback's return is ignored (an async express handler's throw would escape the error
// middleware), no unsanitised `{@html}`, no shell between our arguments and a program, and no
// regular expression built from a string outside tests.
import js from "@eslint/js";
import svelte from "eslint-plugin-svelte";
import globals from "globals";
import ts from "typescript-eslint";

export default ts.config(
  {
    ignores: [
      "**/node_modules/",
      ".tools/",
      ".data/",
      "**/.svelte-kit/",
      "client/build/",
      "appservice/dist/",
      "test-results/",
      "docs/screenshots/",
      // Templates with {{PLACEHOLDERS}}, not code.
      "homeserver-config/",
    ],
  },
  js.configs.recommended,
  ts.configs.recommendedTypeChecked,
  svelte.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module",
      globals: { ...globals.node },
      parserOptions: {
        projectService: {
          // This file is in no tsconfig.json.
          allowDefaultProject: ["eslint.config.js"],
        },
        tsconfigRootDir: import.meta.dirname,
        extraFileExtensions: [".svelte"],
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: "error",
    },
    rules: {
      "no-eval": "error",
      "no-new-func": "error",
      "no-script-url": "error",
      "@typescript-eslint/no-implied-eval": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "svelte/no-at-html-tags": "error",
      // A link that opens a new tab without rel="noopener noreferrer" hands the page to it.
      "svelte/no-target-blank": "error",
      // exec() and execSync() hand one string to /bin/sh: a name or path in it becomes a command.
      "no-restricted-imports": [
        "error",
        ...["node:child_process", "child_process"].map((name) => ({
          name,
          importNames: ["exec", "execSync"],
          message: "exec() runs a shell: use execFile() or spawn() with an argument array.",
        })),
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: "Property[key.name='shell'][value.value=true]",
          message: "shell: true runs a shell over the arguments: pass an argument array without it.",
        },
      ],
      "@typescript-eslint/no-explicit-any": "error",
      // verbatimModuleSyntax keeps every import that is not marked `type`: type-only imports
      // must say so. Mixed imports mark their types inline (`import { x, type T }`), as the
      // code does; imports of types only become `import type { ... }`.
      "@typescript-eslint/consistent-type-imports": [
        "error",
        { prefer: "type-imports", fixStyle: "inline-type-imports" },
      ],
      // Off: the client is served at the root (no paths.base in client/vite.config.ts), so
      // resolve() would change no link; and many targets are not route ids resolve() takes:
      // the return path from ?weiter=, attachments' blob: URLs, ?lang= links, /datenschutz and
      // /impressum (no routes of ours).
      "svelte/no-navigation-without-resolve": "off",
      // `_` marks a parameter that must be there (express tells error handlers by their four
      // parameters); `const { secret: _, ...rest } = x` leaves a property out.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", ignoreRestSiblings: true }],
      // With verbatimModuleSyntax, `import { type A }` still loads the module: write
      // `import type { A }` instead.
      "@typescript-eslint/no-import-type-side-effects": "error",
    },
  },
  {
    // Outside tests, a regular expression comes from a literal (or another one's `.source`): one
    // built from a string can be steered by that string (injection, catastrophic backtracking).
    files: ["appservice/src/**", "client/src/**", "ops/**"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: "Property[key.name='shell'][value.value=true]",
          message: "shell: true runs a shell over the arguments: pass an argument array without it.",
        },
        {
          selector:
            ":matches(NewExpression, CallExpression)[callee.name='RegExp'] > :matches(TemplateLiteral, BinaryExpression, Identifier, CallExpression).arguments:first-child",
          message: "RegExp from a string: write a literal, or escape the input and say why.",
        },
      ],
    },
  },
  {
    // Stand-ins (fake homeserver, fake database, mock workers) implement async interfaces with
    // async methods that have nothing to await: `async` keeps a throw a rejection, as in the
    // real thing.
    files: ["**/*.test.ts", "appservice/test/**"],
    rules: {
      "@typescript-eslint/require-await": "off",
      // Tests feed hostile input on purpose (`javascript:` links that must be refused).
      "no-script-url": "off",
    },
  },
  {
    // These tests type the answers they check with expect() as any on purpose (their `Json`).
    files: ["tests/e2e/admin.test.ts", "tests/e2e/counsellor-self.test.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
  {
    // The client runs in the browser (and its server part in Node.js).
    files: ["client/src/**/*.ts", "client/src/**/*.svelte"],
    languageOptions: {
      globals: { ...globals.browser, ...globals.node },
    },
  },
  {
    files: ["**/*.svelte", "**/*.svelte.ts"],
    languageOptions: {
      parserOptions: {
        // <script lang="ts"> is parsed by typescript-eslint's parser, with type information.
        parser: ts.parser,
      },
    },
  },
  {
    // Evidence scripts, run by hand with packages installed outside the repository (see their
    // headers): no type information.
    files: ["docs/evaluations/*.cjs"],
    extends: [ts.configs.disableTypeChecked],
    languageOptions: {
      sourceType: "commonjs",
      globals: { ...globals.node },
    },
    rules: {
      "@typescript-eslint/no-require-imports": "off",
      // Crashes on CommonJS scripts (ESLint 10, no scope for the top-level function);
      // it only matters in .svelte files anyway.
      "svelte/no-inner-declarations": "off",
    },
  },
);
