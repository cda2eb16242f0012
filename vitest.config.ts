import { configDefaults, defineConfig } from "vitest/config";

/**
 * Three projects: `unit` (pure logic and single processes, next to the code), `db` (the
 * application service's rules against a real PostgreSQL and a fake homeserver, `*.db.test.ts`
 * next to the code; appservice/test/global-setup.ts starts the cluster) and `e2e` (the real
 * stack, started once by tests/support/global-setup.ts; also the attack suite in tests/attack/).
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: [
            "appservice/src/**/*.test.ts",
            "ops/**/*.test.ts",
            "client/src/**/*.test.ts",
            "tests/support/**/*.test.ts",
          ],
          exclude: [...configDefaults.exclude, "**/*.db.test.ts"],
          environment: "node",
          // Unit tests run beside Synapse and browsers in one run on 2 cores: the default 5 s
          // failed a promtool check there once. A timeout is not a speed assertion.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "db",
          include: ["appservice/src/**/*.db.test.ts"],
          environment: "node",
          globalSetup: ["appservice/test/global-setup.ts"],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "e2e",
          // tests/attack/: the attack suite (docs/threat-model.md), on the same stack.
          include: ["tests/e2e/**/*.test.ts", "tests/attack/**/*.test.ts"],
          environment: "node",
          globalSetup: ["tests/support/global-setup.ts"],
          // Logs of the SDK and the helpers go to .test-logs/, shown when a test fails.
          setupFiles: ["tests/support/quiet-logs.ts"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Two cores: one worker per test file at a time keeps Synapse responsive.
          maxWorkers: 2,
        },
      },
      // Lighthouse's scores of the logged-in pages (tests/lighthouse/), only with
      // CONNECTA_LIGHTHOUSE=1: `npm test` runs it alone after all other files (npm run
      // test:lighthouse), because its performance score starts from the task durations it
      // observes, which other test files running beside it on 2 cores inflate.
      ...(process.env.CONNECTA_LIGHTHOUSE === "1"
        ? [
            {
              test: {
                name: "lighthouse",
                include: ["tests/lighthouse/**/*.test.ts"],
                environment: "node",
                globalSetup: ["tests/support/global-setup.ts"],
                setupFiles: ["tests/support/quiet-logs.ts"],
                testTimeout: 600_000,
                hookTimeout: 300_000,
                maxWorkers: 1,
              },
            },
          ]
        : []),
    ],
  },
});
