/**
 * What a change of a counsellor's agencies means for the enquiry rooms. Joining an agency brings
 * invites to its waiting enquiries (a counsellor added after an intake could otherwise claim an
 * enquiry whose room they cannot enter); leaving one (moved, removed, deactivated) takes them out
 * of every room of that agency they may be in, at once, not at the next claim. Both are written
 * as steps in the caller's transaction; the caller answers only once they are done
 * ({@link drainCounsellorSteps}), so that "removed" is true when we say it.
 */
import type pg from "pg";
import { refuse } from "./refusal.ts";
import { enqueueStep, type StepWorker } from "../steps/steps.ts";

/**
 * Records the steps that take `counsellorId` out of the rooms of `agencyIds`. Refuses while they
 * hold active enquiries there (those are handed over first). Their closed enquiries there are no
 * longer theirs: a reopening seeker goes back to the queue.
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
  await db.query(
    "UPDATE enquiries SET counsellor_id = NULL WHERE counsellor_id = $1 AND state IN ('closed', 'archived') AND agency_id = ANY($2)",
    [counsellorId, agencyIds],
  );
  for (const { id } of rows) {
    await enqueueStep(db, Number(id), {
      kind: "kick",
      payload: {
        user_id: counsellorId,
        reason: "left_agency",
      },
    });
  }
}

/** Records the invites of `counsellorId` (unless absent) to the waiting enquiries of `agencyIds`. */
export async function joinAgencies(db: pg.PoolClient, counsellorId: string, agencyIds: number[]): Promise<void> {
  if (!agencyIds.length) return;
  const { rows } = await db.query<{ id: string }>(
    `SELECT e.id FROM enquiries e
      WHERE e.agency_id = ANY($2) AND e.room_id IS NOT NULL AND e.state IN ('created', 'waiting')
        AND EXISTS (SELECT 1 FROM counsellors c WHERE c.user_id = $1 AND NOT c.absent AND c.deactivated_at IS NULL)
      ORDER BY e.id`,
    [counsellorId, agencyIds],
  );
  for (const { id } of rows) await enqueueStep(db, Number(id), { kind: "invite", payload: { user_id: counsellorId } });
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
