import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../stack/config.ts";
import { lockedPackages } from "./lockfile.ts";

describe("the lockfile walk", () => {
  const lock = {
    lockfileVersion: 3,
    packages: {
      "": { name: "connecta", workspaces: ["appservice"] },
      appservice: { name: "@connecta/appservice", version: "0.0.0" },
      "node_modules/@connecta/appservice": { resolved: "appservice", link: true },
      "node_modules/express": { version: "5.3.0", license: "MIT" },
      "node_modules/debug": { version: "4.4.3", license: "MIT", dev: true },
      "node_modules/express/node_modules/debug": { version: "2.6.9", license: "MIT" },
      "node_modules/vite/node_modules/debug": { version: "4.4.3", license: "MIT" },
      "node_modules/@scope/old": { version: "1.0.0", licenses: [{ type: "BSD" }], dev: true },
      "node_modules/alias": { name: "real-name", version: "2.0.0", license: "ISC", dev: true },
    },
  };

  it("lists every installed version once, nested ones too, without our workspaces", () => {
    expect(lockedPackages(lock).map((p) => `${p.name}@${p.version}`)).toEqual([
      "@scope/old@1.0.0",
      "debug@2.6.9",
      "debug@4.4.3",
      "express@5.3.0",
      "real-name@2.0.0",
    ]);
  });

  it("calls a version a development dependency only when every copy is one", () => {
    const byKey = new Map(lockedPackages(lock).map((p) => [`${p.name}@${p.version}`, p]));
    expect(byKey.get("debug@4.4.3")?.dev).toBe(false);
    expect(byKey.get("real-name@2.0.0")?.dev).toBe(true);
    expect(byKey.get("@scope/old@1.0.0")?.license).toEqual([{ type: "BSD" }]);
  });

  it("refuses a lockfile without `packages` (version 1)", () => {
    expect(() => lockedPackages({ lockfileVersion: 1, dependencies: {} })).toThrow(/lockfileVersion 2 or 3/);
  });

  it("finds every package of our own lockfile, transitive ones included", () => {
    const lockfile: unknown = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8"));
    const names = new Set(lockedPackages(lockfile).map((p) => p.name));
    // express is direct (appservice), body-parser comes with it, vitest's tinypool with vitest.
    for (const name of ["express", "body-parser", "vitest"]) expect(names, name).toContain(name);
    expect(names).not.toContain("@connecta/appservice");
  });
});
