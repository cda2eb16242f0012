/**
 * What a change of a counsellor's agencies means for the enquiry rooms. Joining an agency brings
 * invites to its waiting enquiries (a counsellor added after an intake could otherwise claim an
 * enquiry whose room they cannot enter); leaving one (moved, removed, deactivated) takes them out
 * of every room of that agency they may be in, at once, not at the next claim. What each room
 * needs is the membership policy's to say (membership.ts); it is written as steps in the
 * caller's transaction; the caller answers only once they are done
 * ({@link drainCounsellorSteps}), so that "removed" is true when we say it.
 */
import type pg from "pg";
import type { StepWorker } from "../steps/steps.ts";
import type { AgencyMember, EnquiryRoom } from "./membership.ts";
import { refuse } from "./refusal.ts";
import { loadRoom, recordRoomChanges } from "./rooms.ts";

/** The room without `member` among the agency's counsellors, and with them. */
function withAndWithout(room: EnquiryRoom, member: AgencyMember): [EnquiryRoom, EnquiryRoom] {
  const others = room.agency.filter((m) => m.userId !== member.userId);
  return [
    { ...room, agency: others },
    { ...room, agency: [...others, member] },
  ];
}

/** Whether the counsellor is absent; null for one who is unknown or deactivated. */
async function absence(db: pg.PoolClient, counsellorId: string): Promise<boolean | null> {
  const { rows } = await db.query<{ absent: boolean }>(
    "SELECT absent FROM counsellors WHERE user_id = $1 AND deactivated_at IS NULL",
    [counsellorId],
  );
  return rows[0]?.absent ?? null;
}

/**
 * Records the steps that take `counsellorId` out of the rooms of `agencyIds`. Refuses while they
 * hold active enquiries there (those are handed over first). Their closed enquiries there are no
 * longer theirs: a reopening seeker goes back to the queue. Works before or after their
 * memberships are deleted (an operator's change, a deactivation).
 */
export async function leaveAgencies(db: pg.PoolClient, counsellorId: string, agencyIds: number[]): Promise<void> {
  if (!agencyIds.length) return;
  const { rows: active } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM enquiries WHERE counsellor_id = $1 AND state = 'active' AND agency_id = ANY($2)",
    [counsellorId, agencyIds],
  );
  const n = active[0]?.n ?? 0;
  if (n > 0) throw refuse({ reason: "still_assigned", userId: counsellorId, count: n });
  // The rooms they may be in: waiting ones (every present counsellor is invited) and those they
  // were ever assigned to. Enquiries without a room yet invite by the memberships of that time.
  const { rows } = await db.query<{ id: string }>(
    `SELECT e.id FROM enquiries e
      WHERE e.agency_id = ANY($2) AND e.room_id IS NOT NULL
        AND (e.state IN ('created', 'waiting')
             OR EXISTS (SELECT 1 FROM assignments a WHERE a.enquiry_id = e.id AND a.counsellor_id = $1))
      ORDER BY e.id`,
    [counsellorId, agencyIds],
  );
  const member = { userId: counsellorId, absent: (await absence(db, counsellorId)) ?? false };
  for (const { id } of rows) {
    const room = await loadRoom(db, Number(id));
    if (!room) continue;
    const [without, before] = withAndWithout(room, member);
    const after = { ...without, counsellorId: room.counsellorId === counsellorId ? null : room.counsellorId };
    await recordRoomChanges(db, Number(id), before, after, { reason: "left_agency" });
  }
  await db.query(
    "UPDATE enquiries SET counsellor_id = NULL WHERE counsellor_id = $1 AND state IN ('closed', 'archived') AND agency_id = ANY($2)",
    [counsellorId, agencyIds],
  );
}

/** Records what joining `agencyIds` means for `counsellorId` in their waiting enquiries' rooms. */
export async function joinAgencies(db: pg.PoolClient, counsellorId: string, agencyIds: number[]): Promise<void> {
  const absent = await absence(db, counsellorId);
  if (!agencyIds.length || absent === null) return;
  const { rows } = await db.query<{ id: string }>(
    `SELECT e.id FROM enquiries e
      WHERE e.agency_id = ANY($1) AND e.room_id IS NOT NULL AND e.state IN ('created', 'waiting')
      ORDER BY e.id`,
    [agencyIds],
  );
  for (const { id } of rows) {
    const room = await loadRoom(db, Number(id));
    if (!room) continue;
    const [before, after] = withAndWithout(room, { userId: counsellorId, absent });
    await recordRoomChanges(db, Number(id), before, after);
  }
}

/** How long a request waits for the rooms before it answers that they are pending. */
const DRAIN_MS = 30_000;

/**
 * Runs every pending step that names `counsellorId` (and the steps before it in its enquiry).
 * Pending steps keep their payload until they are done (only done steps are cleared), so a
 * repeated request finds the steps an earlier, interrupted one left.
 * Refuses with `rooms_pending` when the homeserver is too slow; the steps stay and a repeated
 * request finishes them.
 */
export async function drainCounsellorSteps(db: pg.Pool, steps: StepWorker, counsellorId: string): Promise<void> {
  const { rows } = await db.query<{ enquiry_id: string }>(
    `SELECT DISTINCT enquiry_id FROM matrix_steps
      WHERE done_at IS NULL AND enquiry_id IS NOT NULL AND payload ->> 'user_id' = $1`,
    [counsellorId],
  );
  const deadline = Date.now() + DRAIN_MS;
  const ids = rows.map((r) => Number(r.enquiry_id));
  try {
    // A few rooms at a time: each drain holds one database connection while it waits for Synapse.
    for (let i = 0; i < ids.length; i += 4) {
      await Promise.all(ids.slice(i, i + 4).map((id) => steps.drain(id, Math.max(1, deadline - Date.now()))));
    }
  } catch {
    throw refuse({ reason: "rooms_pending" });
  }
}
