/**
 * The intake's first-step question on a real PostgreSQL: who would take an enquiry on a topic
 * from a postcode, by the same rules as `findAgency` (tests/e2e/admin.test.ts proves those).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabase } from "../../test/harness.ts";
import { coverage, findAgency } from "./match.ts";

let db: Awaited<ReturnType<typeof testDatabase>>;
beforeAll(async () => {
  db = await testDatabase();
  await db.pool.query("INSERT INTO topics (id, name_de, name_en) VALUES ('sucht', 'Sucht', 'Addiction')");
  const { rows } = await db.pool.query<{ id: string }>("INSERT INTO agencies (name) VALUES ('Nord') RETURNING id");
  const agency = rows[0]?.id;
  await db.pool.query("INSERT INTO agency_topics (agency_id, topic_id) VALUES ($1, 'sucht')", [agency]);
  await db.pool.query(
    "INSERT INTO agency_postcode_ranges (agency_id, first_postcode, last_postcode) VALUES ($1, '20000', '22999')",
    [agency],
  );
});
afterAll(async () => {
  await db?.drop();
});

describe("coverage", () => {
  it("is local inside an agency's range and none elsewhere while there is no fallback agency", async () => {
    expect(await coverage(db.pool, "sucht", "21000")).toBe("local");
    expect(await coverage(db.pool, "sucht", "80000")).toBe("none");
    expect(await coverage(db.pool, "sucht", null)).toBe("none");
    // The intake would refuse exactly these.
    expect(await findAgency(db.pool, "sucht", "80000")).toBeNull();
    expect(await findAgency(db.pool, "sucht", null)).toBeNull();
  });

  it("is general where the fallback agency takes the enquiry, and null for an unknown topic", async () => {
    await db.pool.query("INSERT INTO agencies (name, is_fallback) VALUES ('Alle', true)");
    expect(await coverage(db.pool, "sucht", "21000")).toBe("local");
    expect(await coverage(db.pool, "sucht", "80000")).toBe("general");
    expect(await coverage(db.pool, "sucht", null)).toBe("general");
    expect(await coverage(db.pool, "unbekannt", "21000")).toBeNull();
  });

  it("refuses a postcode that is not five digits", async () => {
    await expect(coverage(db.pool, "sucht", "2100")).rejects.toThrow(RangeError);
  });
});
