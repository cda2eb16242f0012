/**
 * Agency changes on a real PostgreSQL, with a homeserver in memory: a counsellor leaving an
 * agency is out of its rooms, one joining is invited to its queue, once the steps are drained
 * (tests/e2e/workflow-access.test.ts proves the answer true against Synapse).
 */
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refusalOf, workflowHarness } from "../../test/harness.ts";
import { withTransaction } from "../db/pool.ts";
import { drainCounsellorSteps, joinAgencies, leaveAgencies } from "./access.ts";

let h: Awaited<ReturnType<typeof workflowHarness>>;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(async () => {
  await h?.drop();
});

/** Moves `counsellorId` from the agencies they leave to those they join, as the operator API does. */
async function move(counsellorId: string, leave: number[], join: number[]) {
  await withTransaction(h.pool, async (db: pg.PoolClient) => {
    await leaveAgencies(db, counsellorId, leave);
    await joinAgencies(db, counsellorId, join);
    await db.query("DELETE FROM agency_memberships WHERE counsellor_id = $1 AND agency_id = ANY($2)", [
      counsellorId,
      leave,
    ]);
    for (const agencyId of join)
      await db.query("INSERT INTO agency_memberships VALUES ($1, $2)", [agencyId, counsellorId]);
  });
  await drainCounsellorSteps(h.pool, h.steps, counsellorId);
}

describe("a counsellor leaving an agency", () => {
  it("is out of its waiting rooms and the rooms they counselled in, and of nothing else", async () => {
    const queue = await h.enquiry({ counsellors: 2 });
    const [a, b] = queue.counsellors as [string, string];
    // A counselled in `former` (and handed it over to B); B has `current`, where A never was.
    const former = await h.enquiry();
    await h.pool.query("INSERT INTO agency_memberships VALUES ($1, $2), ($1, $3)", [former.agencyId, a, b]);
    await h.workflow.claim(a, former.enquiryId);
    await h.workflow.handover(a, former.enquiryId, b);
    // B invites A back for a handover that never comes.
    h.hs.inviteAs(b, former.roomId, a);
    const elsewhere = await h.enquiry();
    await h.pool.query("INSERT INTO agency_memberships VALUES ($1, $2)", [elsewhere.agencyId, a]);

    const untouched = h.hs.membersOf(elsewhere.roomId);
    const from = h.hs.changes.length;

    await move(a, [queue.agencyId, former.agencyId], []);
    expect(h.hs.membersOf(queue.roomId)).toEqual([h.hs.botUserId, queue.seeker, b].sort());
    expect(h.hs.membersOf(former.roomId)).toEqual([h.hs.botUserId, former.seeker, b].sort());
    expect(h.hs.changes.slice(from)).toEqual([
      `kick ${a}: Nicht mehr in der Beratungsstelle dieser Anfrage`,
      `kick ${a}: Nicht mehr in der Beratungsstelle dieser Anfrage`,
    ]);
    // The agency they stay in is not touched.
    expect(h.hs.membersOf(elsewhere.roomId)).toEqual(untouched);
  });

  it("leaves their closed enquiries without counsellor and without their power", async () => {
    const e = await h.enquiry();
    const [a] = e.counsellors as [string];
    await h.workflow.claim(a, e.enquiryId);
    await h.workflow.close(a, e.enquiryId);
    await move(a, [e.agencyId], []);
    expect(await h.row(e.enquiryId)).toEqual({ state: "closed", counsellor_id: null });
    expect(h.hs.membersOf(e.roomId)).not.toContain(a);
    expect(h.hs.powerLevels(e.roomId).users).toEqual({});
  });

  it("is refused while they hold an active enquiry there", async () => {
    const e = await h.enquiry();
    const [a] = e.counsellors as [string];
    await h.workflow.claim(a, e.enquiryId);
    expect(await refusalOf(move(a, [e.agencyId], []))).toBe("still_assigned");
    expect(h.hs.membersOf(e.roomId)).toContain(a);
  });
});

describe("a counsellor joining an agency", () => {
  it("is invited to its waiting rooms before the answer, unless absent", async () => {
    const e = await h.enquiry();
    const present = await h.counsellor((await h.agency()).agencyId);
    const absent = await h.counsellor((await h.agency()).agencyId, { absent: true });
    await move(present, [], [e.agencyId]);
    await move(absent, [], [e.agencyId]);
    expect(h.hs.membersOf(e.roomId)).toContain(present);
    expect(h.hs.membersOf(e.roomId)).not.toContain(absent);
  });
});

describe("the steps of agency changes", () => {
  it("are found by the counsellor's user id while pending, and keep no payload once done", async () => {
    const e = await h.enquiry();
    const late = await h.counsellor((await h.agency()).agencyId);
    await withTransaction(h.pool, (db) => joinAgencies(db, late, [e.agencyId]));
    const pending = await h.pool.query("SELECT payload FROM matrix_steps WHERE enquiry_id = $1 AND done_at IS NULL", [
      e.enquiryId,
    ]);
    expect(pending.rows).toEqual([{ payload: { user_id: late } }]);
    await drainCounsellorSteps(h.pool, h.steps, late);
    expect(h.hs.membersOf(e.roomId)).toContain(late);
    const { rows } = await h.pool.query<{ payload: unknown }>(
      "SELECT DISTINCT payload FROM matrix_steps WHERE enquiry_id = $1",
      [e.enquiryId],
    );
    expect(rows).toEqual([{ payload: {} }]);
    // The database itself refuses a done step that still names someone.
    const refused = await h.pool
      .query("INSERT INTO matrix_steps (kind, payload, done_at) VALUES ('invite', $1, now())", [{ user_id: late }])
      .catch((err: { code?: string }) => err.code);
    expect(refused).toBe("23514");
  });
});
