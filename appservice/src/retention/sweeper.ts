/**
 * The retention sweep (docs/privacy.md): finds what its agency's policy (policies.ts) no longer
 * allows to keep, and schedules its purge. A conversation's purge is a series of steps in the
 * outbox (steps/steps.ts, run by purge.ts), recorded in one transaction with the `purges` row
 * that marks it, so it resumes after a crash, runs once however many sweeps find it, and goes in
 * order: note the files, delete the room in Synapse, delete the files, erase the seeker, delete
 * our rows. Unfinished intakes lose their row at once and their account (if one was registered)
 * in a step. Short-lived rows (rate-limit windows, used challenges, skipped events) are deleted
 * here directly.
 *
 * A dry run lists exactly what a real run at the same time would schedule: both use
 * {@link candidates}, the real run once more per enquiry under the enquiry's row lock.
 *
 * `now` is a parameter so that the tests can move the clock rather than wait.
 */
import type pg from "pg";
import { LOCK_SPACE } from "../db/codes.ts";
import { withClient, withTransaction } from "../db/pool.ts";
import type { Metrics } from "../metrics.ts";
import { enqueueStep, type NewStep } from "../steps/steps.ts";

/** Why a conversation is purged. */
export type PurgeReason = "archived" | "unfinished" | "inactive";

/** A conversation a sweep purges. */
export interface PurgeCandidate {
  enquiry_id: number;
  room_id: string | null;
  seeker_id: string | null;
  reason: PurgeReason;
}

/** What a sweep purges (or, in a dry run, would purge). */
export interface SweepResult {
  /** False when another sweep was running (this one did nothing). */
  ran: boolean;
  enquiries: PurgeCandidate[];
  /** Intakes never completed: the row, and the account of the pseudonym if it was registered. */
  intakes: { intake_id: string; user_id: string }[];
  /** Rows of short-lived tables past their time. */
  expired_rows: number;
}

/** The steps of one conversation's purge, in order. */
export const PURGE_STEPS: NewStep[] = [
  { kind: "purge_collect_media", payload: {} },
  { kind: "purge_room", payload: {} },
  { kind: "purge_media", payload: {} },
  { kind: "erase_seeker", payload: {} },
  { kind: "purge_rows", payload: {} },
];

/**
 * SQL: when enquiry `e` (an alias) is deleted under its agency's periods, as things stand; `reopenDays` is the SQL
 * of the reopening window in days (a closed enquiry is archived only after it). The same rules as
 * {@link candidates}.
 */
export function deletionAt(e: string, reopenDays: string): string {
  return `(SELECT CASE
      WHEN EXISTS (SELECT 1 FROM purges u WHERE u.enquiry_id = ${e}.id) THEN now()
      WHEN ${e}.state = 'archived' THEN ${e}.closed_at + r.archived_days * interval '1 day'
      WHEN ${e}.state = 'closed' THEN least(${e}.closed_at + greatest(r.archived_days, ${reopenDays}::int) * interval '1 day',
                                              ${e}.last_activity_at + r.inactive_days * interval '1 day')
      WHEN ${e}.state = 'created' THEN ${e}.created_at + r.unfinished_hours * interval '1 hour'
      ELSE ${e}.last_activity_at + r.inactive_days * interval '1 day' END
    FROM agency_retention(${e}.agency_id) r)`;
}

/**
 * Conversations due for purging at `now`, not being purged yet (of `enquiryId` only, locked,
 * when given).
 */
export async function candidates(
  db: pg.Pool | pg.PoolClient,
  now: Date,
  enquiryId: number | null = null,
): Promise<PurgeCandidate[]> {
  const { rows } = await db.query<{
    id: string;
    room_id: string | null;
    seeker_id: string | null;
    reason: PurgeReason;
  }>(
    `SELECT e.id, e.room_id, e.seeker_id,
            CASE WHEN e.state = 'archived' THEN 'archived'
                 WHEN e.state = 'created' THEN 'unfinished'
                 ELSE 'inactive' END AS reason
       FROM enquiries e CROSS JOIN LATERAL agency_retention(e.agency_id) p
      WHERE ($2::bigint IS NULL OR e.id = $2)
        AND NOT EXISTS (SELECT 1 FROM purges u WHERE u.enquiry_id = e.id)
        AND (   (e.state = 'archived' AND e.closed_at <= $1::timestamptz - p.archived_days * interval '1 day')
             OR (e.state = 'created' AND e.created_at <= $1::timestamptz - p.unfinished_hours * interval '1 hour')
             OR (e.state IN ('waiting', 'active', 'closed')
                 AND e.last_activity_at <= $1::timestamptz - p.inactive_days * interval '1 day'))
      ORDER BY e.id
      ${enquiryId === null ? "" : "FOR UPDATE OF e"}`,
    [now, enquiryId],
  );
  return rows.map((r) => ({ enquiry_id: Number(r.id), room_id: r.room_id, seeker_id: r.seeker_id, reason: r.reason }));
}

/** Intakes never completed and past their agency's period at `now`. */
async function unfinishedIntakes(db: pg.Pool | pg.PoolClient, now: Date, serverName: string) {
  const { rows } = await db.query<{ id: string; pseudonym: string }>(
    `SELECT i.id, i.pseudonym FROM intakes i CROSS JOIN LATERAL agency_retention(i.agency_id) p
      WHERE i.completed_at IS NULL AND i.created_at <= $1::timestamptz - p.unfinished_hours * interval '1 hour'
      ORDER BY i.created_at, i.id`,
    [now],
  );
  return rows.map((r) => ({ intake_id: r.id, user_id: `@${r.pseudonym}:${serverName}` }));
}

/**
 * Starts the purge of enquiry `enquiryId` for `reason` in transaction `db`, `before` its steps
 * the steps given (the erasure's notice). Returns false when a purge of it is under way already.
 */
export async function startPurge(
  db: pg.PoolClient,
  enquiryId: number,
  reason: PurgeReason | "erasure",
  now: Date,
  before: NewStep[] = [],
): Promise<boolean> {
  const { rowCount } = await db.query(
    "INSERT INTO purges (enquiry_id, reason) VALUES ($1, $2) ON CONFLICT (enquiry_id) DO NOTHING",
    [enquiryId, reason],
  );
  if (!rowCount) return false;
  // Nobody writes in a conversation that is being purged (the room goes in a moment), and one
  // never written in does not join the queue now (an archived enquiry has a waiting time).
  await db.query(
    `UPDATE enquiries SET state = 'archived', closed_at = coalesce(closed_at, $2), counsellor_id = NULL,
       waiting_since = coalesce(waiting_since, created_at)
      WHERE id = $1`,
    [enquiryId, now],
  );
  await db.query("UPDATE assignments SET ended_at = $2 WHERE enquiry_id = $1 AND ended_at IS NULL", [enquiryId, now]);
  for (const step of [...before, ...PURGE_STEPS]) await enqueueStep(db, enquiryId, step);
  return true;
}

/**
 * Schedules the purge of `candidate` if it is still due (checked again under its row lock: the
 * seeker may have written meanwhile). Returns whether it was scheduled.
 */
async function schedulePurge(pool: pg.Pool, candidate: PurgeCandidate, now: Date): Promise<boolean> {
  return withTransaction(pool, async (db) => {
    const [due] = await candidates(db, now, candidate.enquiry_id);
    return due ? startPurge(db, due.enquiry_id, due.reason, now) : false;
  });
}

/** Deletes an unfinished intake and schedules the erasure of its account; false when it is gone. */
async function dropIntake(pool: pg.Pool, intake: { intake_id: string; user_id: string }): Promise<boolean> {
  return withTransaction(pool, async (db) => {
    const { rows } = await db.query<{ registration_token: string }>(
      "DELETE FROM intakes WHERE id = $1 AND completed_at IS NULL RETURNING registration_token",
      [intake.intake_id],
    );
    const token = rows[0]?.registration_token;
    if (token === undefined) return false;
    await enqueueStep(db, null, {
      kind: "erase_user",
      payload: { user_id: intake.user_id, registration_token: token },
    });
    return true;
  });
}

/** Deletes rows of short-lived tables past their time; returns how many. */
async function expireRows(pool: pg.Pool, now: Date): Promise<number> {
  const statements = [
    // Rate-limit windows are at most an hour long; the addresses in their keys go with them.
    "DELETE FROM rate_limit_counters WHERE window_start < $1::timestamptz - interval '1 day'",
    "DELETE FROM used_challenges WHERE expires_at < $1::timestamptz - interval '1 hour'",
    "DELETE FROM skipped_events WHERE skipped_at < $1::timestamptz - interval '30 days'",
  ];
  let count = 0;
  for (const sql of statements) count += (await pool.query(sql, [now])).rowCount ?? 0;
  return count;
}

/**
 * Sweeps once: with `dryRun`, only lists what is due. One sweep at a time across replicas; a
 * second one started meanwhile does nothing (`ran: false`).
 */
export async function sweep(
  pool: pg.Pool,
  options: { now?: Date; dryRun?: boolean; serverName: string },
): Promise<SweepResult> {
  const now = options.now ?? new Date();
  return withClient(pool, async (lock) => {
    const { rows } = await lock.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, 0) AS ok", [
      LOCK_SPACE.RETENTION_SWEEP,
    ]);
    if (!rows[0]?.ok) return { ran: false, enquiries: [], intakes: [], expired_rows: 0 };
    try {
      const due = await candidates(pool, now);
      const intakes = await unfinishedIntakes(pool, now, options.serverName);
      if (options.dryRun) return { ran: true, enquiries: due, intakes, expired_rows: 0 };
      const enquiries: PurgeCandidate[] = [];
      for (const candidate of due) if (await schedulePurge(pool, candidate, now)) enquiries.push(candidate);
      const dropped: typeof intakes = [];
      for (const intake of intakes) if (await dropIntake(pool, intake)) dropped.push(intake);
      return { ran: true, enquiries, intakes: dropped, expired_rows: await expireRows(pool, now) };
    } finally {
      await lock.query("SELECT pg_advisory_unlock($1, 0)", [LOCK_SPACE.RETENTION_SWEEP]);
    }
  });
}

/**
 * Counts a sweep of the background loop (main.ts) in the metrics: its outcome, and the purges it
 * scheduled by reason (dropped intakes as `intake`). `result` is null when the sweep failed.
 */
export function countSweep(metrics: Pick<Metrics, "retentionSweeps" | "retentionPurges">, result: SweepResult | null) {
  if (!result) {
    metrics.retentionSweeps.inc({ outcome: "failed" });
    return;
  }
  metrics.retentionSweeps.inc({ outcome: result.ran ? "ran" : "skipped" });
  for (const reason of ["archived", "unfinished", "inactive"] as const) {
    // Every reason appears (0 too), so that an alert or graph finds the series from the start.
    metrics.retentionPurges.inc({ reason }, result.enquiries.filter((e) => e.reason === reason).length);
  }
  metrics.retentionPurges.inc({ reason: "intake" }, result.intakes.length);
}
