import { describe, expect, it } from "vitest";
import { MatrixError } from "../http/errors.ts";
import { addressKey, hit, type Queryable } from "./rate-limit.ts";

/** A database stand-in that counts like the real upsert (one window) and records the SQL. */
function fakeDb(retryAfterMs = 42_000): Queryable & { counts: Map<string, number>; params: unknown[][] } {
  const counts = new Map<string, number>();
  const params: unknown[][] = [];
  return {
    counts,
    params,
    async query(_text: string, values: unknown[] = []) {
      params.push(values);
      const bucket = String(values[0]);
      const hits = (counts.get(bucket) ?? 0) + 1;
      counts.set(bucket, hits);
      return { rows: [{ hits, retry_after_ms: String(retryAfterMs) }] } as never;
    },
  };
}

describe("hit", () => {
  it("lets `limit` requests through and refuses the next with M_LIMIT_EXCEEDED and retry_after_ms", async () => {
    const db = fakeDb();
    for (let i = 0; i < 3; i++) await hit(db, "b", 3, 60);
    const refused = await hit(db, "b", 3, 60).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(MatrixError);
    expect((refused as MatrixError).errcode).toBe("M_LIMIT_EXCEEDED");
    expect((refused as MatrixError).status).toBe(429);
    expect((refused as MatrixError).extra).toEqual({ retry_after_ms: 42_000 });
    // Other buckets are independent.
    await hit(db, "other", 3, 60);
    expect(db.params[0]).toEqual(["b", 60]);
  });

  it("never asks to wait less than a second", async () => {
    const db = fakeDb(3);
    const refused = await hit(db, "b", 0, 60).catch((err: unknown) => err);
    expect((refused as MatrixError).extra.retry_after_ms).toBe(1000);
  });
});

describe("addressKey", () => {
  it.each([
    ["192.0.2.7", "192.0.2.7"],
    ["::ffff:192.0.2.7", "192.0.2.7"],
    ["::FFFF:c000:0207", "192.0.2.7"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:db8:1:2::99", "2001:db8:1:2::/64"],
    ["2001:DB8::1", "2001:db8:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["", "unknown"],
    [undefined, "unknown"],
    ["not an address", "unknown"],
  ])("keys %j as %j", (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});
