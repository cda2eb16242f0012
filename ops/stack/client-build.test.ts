import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLIENT_BUILD_INPUTS } from "./client-build.ts";
import { ROOT } from "./config.ts";

describe("the client rebuild check", () => {
  it("watches only paths that exist", () => {
    for (const input of CLIENT_BUILD_INPUTS) expect(existsSync(join(ROOT, input)), input).toBe(true);
  });
});
