import { describe, expect, it } from "vitest";
import { compareSemver, versionAffected } from "./versions.ts";

describe("semantic version order", () => {
  it.each([
    ["1.2.3", "1.2.4"],
    ["1.2.9", "1.10.0"],
    ["1.0.0-rc.1", "1.0.0"],
    ["1.0.0-alpha", "1.0.0-alpha.1"],
    ["1.0.0-alpha.2", "1.0.0-alpha.10"],
    ["1.0.0-2", "1.0.0-alpha"],
    ["v0.0.0-20230101000000-abcdef123456", "v0.0.1"],
    ["go1.25.9", "1.26"],
  ])("puts %s before %s", (low, high) => {
    expect(compareSemver(low, high)).toBe(-1);
    expect(compareSemver(high, low)).toBe(1);
  });

  it("ignores Go's v prefix and build metadata", () => {
    expect(compareSemver("v2.0.0+incompatible", "2.0.0")).toBe(0);
  });
});

describe("the OSV range check", () => {
  const ranges = (...events: object[]) => ({ ranges: [{ type: "SEMVER", events }] });

  it("counts versions from introduced up to, not including, fixed", () => {
    const affected = ranges({ introduced: "0" }, { fixed: "1.4.2" });
    expect(versionAffected("0.1.0", affected)).toBe(true);
    expect(versionAffected("1.4.1", affected)).toBe(true);
    expect(versionAffected("1.4.2-rc.1", affected)).toBe(true);
    expect(versionAffected("1.4.2", affected)).toBe(false);
    expect(versionAffected("2.0.0", affected)).toBe(false);
  });

  it("handles several introduced/fixed pairs in any order", () => {
    const affected = ranges({ fixed: "2.5.1" }, { introduced: "2.0.0" }, { fixed: "1.9.9" }, { introduced: "1.2.0" });
    expect(versionAffected("1.1.0", affected)).toBe(false);
    expect(versionAffected("1.5.0", affected)).toBe(true);
    expect(versionAffected("1.9.9", affected)).toBe(false);
    expect(versionAffected("2.5.0", affected)).toBe(true);
    expect(versionAffected("2.5.1", affected)).toBe(false);
  });

  it("includes last_affected and excludes limit", () => {
    expect(versionAffected("3.0.0", ranges({ introduced: "1.0.0" }, { last_affected: "3.0.0" }))).toBe(true);
    expect(versionAffected("3.0.1", ranges({ introduced: "1.0.0" }, { last_affected: "3.0.0" }))).toBe(false);
    expect(versionAffected("3.0.0", ranges({ introduced: "1.0.0" }, { limit: "3.0.0" }))).toBe(false);
  });

  it("stays open without a fix", () => {
    expect(versionAffected("99.0.0", ranges({ introduced: "1.0.0" }))).toBe(true);
    expect(versionAffected("0.9.0", ranges({ introduced: "1.0.0" }))).toBe(false);
  });

  it("matches listed versions, with or without v, and skips GIT ranges", () => {
    expect(versionAffected("v1.2.3", { versions: ["1.2.3"] })).toBe(true);
    expect(versionAffected("1.2.4", { versions: ["1.2.3"] })).toBe(false);
    expect(versionAffected("1.0.0", { ranges: [{ type: "GIT", events: [{ introduced: "0" }] }] })).toBe(false);
  });
});
