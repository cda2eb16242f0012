/**
 * The chain's hash, pinned: a change to the canonical form or the hash would make every stored
 * chain fail `audit verify`, so it must be a deliberate one (with a migration of the chain).
 * The first value can be recomputed without our code:
 * `python3 -c "import hashlib; print(hashlib.sha256(bytes(32) + CANONICAL.encode()).hexdigest())"`.
 */
import { describe, expect, it } from "vitest";
import { ACTIONS, CLASSES } from "./actions.ts";
import { canonical, entryHash, GENESIS } from "./audit.ts";

const first = {
  id: "1",
  at: "2026-12-01T22:18:18.123456Z",
  actor: "operator",
  action: "admin.password_reset",
  target: "@anna:example.org",
  client_address: null,
  class: "high" as const,
  count: 1,
};

describe("the canonical form of an entry", () => {
  it("is a JSON array of the fields in a fixed order, numbers as strings", () => {
    expect(canonical(first)).toBe(
      '["1","2026-12-01T22:18:18.123456Z","operator","admin.password_reset","@anna:example.org",null,"high","1"]',
    );
  });
});

describe("the hash of an entry", () => {
  it("is SHA-256 over the previous hash's bytes and the canonical form", () => {
    const h1 = entryHash(GENESIS, first);
    expect(h1).toBe("9b90cccfb1501773a01d6cc5be77ab6f93a42d0f7bf732426e46657885d904a1");
    const second = { ...first, id: "2", target: 'Ä\u2028"', client_address: "192.0.2.1", count: 3 };
    expect(entryHash(h1, second)).toBe("72b6aef7b86da1ae6ac277d35d2a973360d7337cef467854070c1c527e398ea4");
  });

  it("depends on the previous entry and on every field", () => {
    const h = entryHash(GENESIS, first);
    expect(entryHash("1".repeat(64), first)).not.toBe(h);
    for (const [field, value] of Object.entries({
      id: "2",
      at: "2026-12-01T22:18:18.123457Z",
      actor: "system",
      action: "admin.role_changed",
      target: null,
      client_address: "192.0.2.1",
      class: "critical",
      count: 2,
    })) {
      expect(entryHash(GENESIS, { ...first, [field]: value }), field).not.toBe(h);
    }
  });
});

describe("the actions", () => {
  it("each have a class and a name the database accepts", () => {
    for (const [action, cls] of Object.entries(ACTIONS)) {
      expect(action).toMatch(/^[a-z_]+\.[a-z_]+$/);
      expect(CLASSES).toContain(cls);
    }
  });
});
