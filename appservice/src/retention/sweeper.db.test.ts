import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workflowHarness } from "../../test/harness.ts";
import { setAgencyPolicy } from "./policies.ts";
import { PURGE_STEPS, sweep } from "./sweeper.ts";

let h: Awaited<ReturnType<typeof workflowHarness>>;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(() => h.drop());

const DAY = 86_400_000;
const serverName = "test";
/** A clock `days` after now. */
const later = (days: number) => new Date(Date.now() + days * DAY);

/** Moves the enquiry's times `days` into the past, as if that much time had gone by. */
async function age(enquiryId: number, days: number): Promise<void> {
  await h.pool.query(
    `UPDATE enquiries SET created_at = created_at - $2 * interval '1 day',
       waiting_since = waiting_since - $2 * interval '1 day', closed_at = closed_at - $2 * interval '1 day',
       last_activity_at = last_activity_at - $2 * interval '1 day' WHERE id = $1`,
    [enquiryId, days],
  );
}

/** An archived conversation of an agency of its own, closed `closedDaysAgo` days ago. */
async function archived(closedDaysAgo: number) {
  const e = await h.enquiry({ counsellors: 1 });
  await h.pool.query(
    "UPDATE enquiries SET state = 'archived', closed_at = now() - $2 * interval '1 day' WHERE id = $1",
    [e.enquiryId, closedDaysAgo],
  );
  return e;
}

const pendingSteps = async (enquiryId: number) =>
  (
    await h.pool.query<{ kind: string }>(
      "SELECT kind FROM matrix_steps WHERE enquiry_id = $1 AND done_at IS NULL ORDER BY id",
      [enquiryId],
    )
  ).rows.map((r) => r.kind);

describe("the retention sweep", () => {
  it("purges an archived conversation after its agency's period, not before", async () => {
    const own = await archived(10);
    const other = await archived(10);
    expect(
      await setAgencyPolicy(h.pool, own.agencyId, { archived_days: 7, unfinished_hours: 48, inactive_days: 180 }),
    ).toBe(true);
    const dry = await sweep(h.pool, { dryRun: true, serverName });
    const ids = dry.enquiries.map((e) => e.enquiry_id);
    expect(ids).toContain(own.enquiryId);
    // The other agency keeps the default of 30 days.
    expect(ids).not.toContain(other.enquiryId);
    expect(
      (await sweep(h.pool, { now: later(21), dryRun: true, serverName })).enquiries.map((e) => e.enquiry_id),
    ).toContain(other.enquiryId);
  });

  it("schedules exactly what its dry run listed, in the purge's order of steps, and only once", async () => {
    const a = await archived(40);
    const b = await h.enquiry({ counsellors: 1, written: false });
    await age(b.enquiryId, 3);
    const c = await h.enquiry({ counsellors: 1 });
    await age(c.enquiryId, 200);
    const now = new Date();
    const dry = await sweep(h.pool, { now, dryRun: true, serverName });
    expect(dry.enquiries).toEqual(
      expect.arrayContaining([
        { enquiry_id: a.enquiryId, room_id: a.roomId, seeker_id: a.seeker, reason: "archived" },
        { enquiry_id: b.enquiryId, room_id: b.roomId, seeker_id: b.seeker, reason: "unfinished" },
        { enquiry_id: c.enquiryId, room_id: c.roomId, seeker_id: c.seeker, reason: "inactive" },
      ]),
    );
    const real = await sweep(h.pool, { now, serverName });
    expect(real.enquiries).toEqual(dry.enquiries);
    expect(real.intakes).toEqual(dry.intakes);
    for (const e of [a, b, c]) expect(await pendingSteps(e.enquiryId)).toEqual(PURGE_STEPS.map((s) => s.kind));
    // Nobody writes in a room that is being purged.
    expect(await h.row(c.enquiryId)).toEqual({ state: "archived", counsellor_id: null });
    // A second sweep finds nothing more to do.
    expect((await sweep(h.pool, { now, serverName })).enquiries).toEqual([]);
    expect(await pendingSteps(a.enquiryId)).toHaveLength(PURGE_STEPS.length);
  });

  it("schedules each purge once when two sweeps start together", async () => {
    const e = await archived(60);
    const results = await Promise.all([sweep(h.pool, { serverName }), sweep(h.pool, { serverName })]);
    const scheduled = results.flatMap((r) => r.enquiries.map((x) => x.enquiry_id)).filter((id) => id === e.enquiryId);
    expect(scheduled).toEqual([e.enquiryId]);
    expect(await pendingSteps(e.enquiryId)).toHaveLength(PURGE_STEPS.length);
  });

  it("leaves a conversation alone whose seeker wrote in time", async () => {
    const e = await h.enquiry({ counsellors: 1, written: false });
    await age(e.enquiryId, 3);
    await h.push({ type: "m.room.encrypted", room_id: e.roomId, sender: e.seeker, content: {} });
    const due = (await sweep(h.pool, { dryRun: true, serverName })).enquiries.map((x) => x.enquiry_id);
    expect(due).not.toContain(e.enquiryId);
    // Activity counts from the last event: 179 days later it is still kept.
    expect(
      (await sweep(h.pool, { now: later(179), dryRun: true, serverName })).enquiries.map((x) => x.enquiry_id),
    ).not.toContain(e.enquiryId);
  });

  it("deletes unfinished intakes and schedules the erasure of their account", async () => {
    const { agencyId, topic } = await h.agency();
    const intakeId = randomUUID();
    const pseudonym = `p${randomUUID().slice(0, 8)}`;
    const token = `${pseudonym}~${randomUUID()}`;
    await h.pool.query(
      `INSERT INTO intakes (id, pseudonym, registration_token, topic_id, agency_id, language, age_group, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, 'de', 'unknown', now() - interval '49 hours', now() - interval '48 hours')`,
      [intakeId, pseudonym, token, topic, agencyId],
    );
    const result = await sweep(h.pool, { serverName });
    expect(result.intakes).toContainEqual({ intake_id: intakeId, user_id: `@${pseudonym}:test` });
    expect((await h.pool.query("SELECT 1 FROM intakes WHERE id = $1", [intakeId])).rowCount).toBe(0);
    const { rows } = await h.pool.query<{ payload: unknown }>(
      "SELECT payload FROM matrix_steps WHERE kind = 'erase_user' AND done_at IS NULL",
    );
    // The account, if one was registered, and the registration token (it holds the pseudonym) go.
    expect(rows.map((r) => r.payload)).toContainEqual({ user_id: `@${pseudonym}:test`, registration_token: token });
  });

  it("deletes rate-limit windows a day old, with the addresses in their keys", async () => {
    await h.pool.query(
      "INSERT INTO rate_limit_counters VALUES ('intake:addr:192.0.2.1', now() - interval '2 days', 3), ('intake:addr:192.0.2.2', now(), 1)",
    );
    const result = await sweep(h.pool, { serverName });
    expect(result.expired_rows).toBeGreaterThanOrEqual(1);
    const { rows } = await h.pool.query<{ bucket: string }>("SELECT bucket FROM rate_limit_counters");
    expect(rows.map((r) => r.bucket)).toEqual(["intake:addr:192.0.2.2"]);
  });
});
