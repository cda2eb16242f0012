/**
 * The security event log's chain on a real PostgreSQL: appended entries verify; an attacker with
 * superuser access who changes, removes or swaps entries (past the append-only triggers) is
 * found out, at the right entry; the application's own role cannot change or remove entries;
 * concurrent writers still form one chain.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { testDatabase } from "../../test/harness.ts";
import { SQLSTATE } from "../db/codes.ts";
import { withTransaction } from "../db/pool.ts";
import { recordEvent } from "./audit.ts";
import { verifyChain } from "./verify.ts";

let db: Awaited<ReturnType<typeof testDatabase>>;
let superuser: pg.Client;

beforeAll(async () => {
  db = await testDatabase();
  const cluster = inject("cluster");
  const { rows } = await db.pool.query<{ name: string }>("SELECT current_database() AS name");
  superuser = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: "connecta_admin",
    password: cluster.adminPassword,
    database: rows[0]?.name,
  });
  await superuser.connect();
});
afterAll(async () => {
  await superuser?.end();
  await db?.drop();
});

/** Runs `sql` as a superuser with the triggers off, as an attacker with database access would. */
async function tamper(sql: string, params: unknown[] = []): Promise<void> {
  await superuser.query("BEGIN");
  await superuser.query("SET LOCAL session_replication_role = replica");
  await superuser.query(sql, params);
  await superuser.query("COMMIT");
}

/** A fresh log of `n` entries. */
async function freshLog(n: number): Promise<void> {
  await tamper("DELETE FROM audit_log");
  for (let i = 1; i <= n; i++) {
    await recordEvent(db.pool, {
      action: i % 2 ? "admin.topic_created" : "admin.password_reset",
      actor: i % 3 ? "operator" : "@someone:test",
      target: `target-${i}`,
    });
  }
}

describe("the audit chain", () => {
  it("verifies an appended chain, with the count and the head", async () => {
    await freshLog(10);
    const verdict = await verifyChain(db.pool);
    expect(verdict).toMatchObject({ ok: true, count: 10, head: { id: "10" } });
    const { rows } = await db.pool.query<{ id: number; class: string }>(
      "SELECT id::int, class FROM audit_log ORDER BY id",
    );
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(rows[1]?.class).toBe("high");
  });

  it("verifies an empty log", async () => {
    await tamper("DELETE FROM audit_log");
    expect(await verifyChain(db.pool)).toEqual({ ok: true, count: 0, head: null });
  });

  it("keeps microseconds: a time with them round-trips into the same hash", async () => {
    await freshLog(3);
    const { rows } = await db.pool.query<{ us: number }>(
      "SELECT extract(microseconds FROM at)::int % 1000 AS us FROM audit_log",
    );
    // Some entry has a time that is no whole millisecond, so a Date would have lost something.
    expect(rows.some((r) => r.us !== 0)).toBe(true);
    expect((await verifyChain(db.pool)).ok).toBe(true);
  });

  it.each([
    ["actor", "actor = '@intruder:test'"],
    ["action", "action = 'admin.topic_changed'"],
    ["target", "target = 'someone-else'"],
    ["client address", "client_address = '192.0.2.1'"],
    ["class", "class = 'critical'"],
    ["count", "count = 2"],
    ["time", "at = at + interval '1 microsecond'"],
    ["hash", "hash = repeat('0', 64)"],
  ])("reports the entry whose %s was changed", async (_, change) => {
    await freshLog(8);
    await tamper(`UPDATE audit_log SET ${change} WHERE id = 5`);
    expect(await verifyChain(db.pool)).toEqual({
      ok: false,
      count: 4,
      problem: { id: "5", kind: "changed", message: "entry 5 was changed (its hash does not match)" },
    });
  });

  it("reports a removed entry", async () => {
    await freshLog(8);
    await tamper("DELETE FROM audit_log WHERE id = 5");
    expect(await verifyChain(db.pool)).toMatchObject({
      ok: false,
      count: 4,
      problem: { id: "5", kind: "removed", message: "entry 5 is missing (removed)" },
    });
  });

  it("reports removed first entries", async () => {
    await freshLog(4);
    await tamper("DELETE FROM audit_log WHERE id <= 2");
    expect(await verifyChain(db.pool)).toMatchObject({ ok: false, count: 0, problem: { id: "1", kind: "removed" } });
  });

  it("reports two entries whose contents were swapped, at the first of them", async () => {
    await freshLog(8);
    await tamper(
      `UPDATE audit_log a SET at = b.at, actor = b.actor, action = b.action, target = b.target,
              client_address = b.client_address, class = b.class, count = b.count, hash = b.hash
       FROM (SELECT * FROM audit_log WHERE id IN (3, 6)) b
       WHERE a.id IN (3, 6) AND b.id = 9 - a.id`,
    );
    expect(await verifyChain(db.pool)).toEqual({
      ok: false,
      count: 2,
      problem: { id: "3", kind: "moved", message: "entry 3 holds the entry that belongs at 6 (moved)" },
    });
  });

  it("refuses UPDATE, DELETE and TRUNCATE by the application's role", async () => {
    await freshLog(2);
    for (const sql of [
      "UPDATE audit_log SET target = 'x' WHERE id = 1",
      "DELETE FROM audit_log WHERE id = 1",
      "TRUNCATE audit_log",
    ]) {
      await expect(db.pool.query(sql), sql).rejects.toMatchObject({ code: SQLSTATE.INSUFFICIENT_PRIVILEGE });
    }
    expect(await verifyChain(db.pool)).toMatchObject({ ok: true, count: 2 });
  });

  it("forms one chain from 20 writers appending at once on their own connections", async () => {
    await freshLog(0);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        withTransaction(db.pool, async (tx) => {
          // Work of the action before the event, so that the transactions overlap.
          await tx.query("SELECT pg_sleep(0.01)");
          await recordEvent(tx, { action: "admin.counsellor_changed", actor: "operator", target: `c-${i}` });
        }),
      ),
    );
    expect(await verifyChain(db.pool)).toMatchObject({ ok: true, count: 20, head: { id: "20" } });
  });

  it("leaves no entry for an action whose transaction rolls back, and no gap", async () => {
    await freshLog(1);
    await expect(
      withTransaction(db.pool, async (tx) => {
        await recordEvent(tx, { action: "admin.agency_deleted", actor: "operator", target: "7" });
        throw new Error("the action failed");
      }),
    ).rejects.toThrow("the action failed");
    await recordEvent(db.pool, { action: "admin.agency_created", actor: "operator", target: "8" });
    expect(await verifyChain(db.pool)).toMatchObject({ ok: true, count: 2 });
  });
});
