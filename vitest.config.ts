import { defineConfig } from "vitest/config";

/**
 * Two projects: `unit` (pure logic and single processes, next to the code) and `e2e` (the real
 * stack, started once by tests/support/global-setup.ts).
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["appservice/src/**/*.test.ts", "ops/**/*.test.ts", "client/src/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "e2e",
          include: ["tests/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["tests/support/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Two cores: one worker per test file at a time keeps Synapse responsive.
          maxWorkers: 2,
        },
      },
    ],
  },
});
