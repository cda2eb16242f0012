/**
 * The counselling workflow: the queue of an agency, claim (exactly once), handover, close and
 * reopen, and "my enquiries". Used by the HTTP API and the counsellors' control rooms alike.
 * State changes and the Matrix steps they need are written in one database transaction; the
 * steps then run (in this request, and by the worker if this process dies) until done. What a
 * room must look like after each change is the membership policy's to say (membership.ts).
 */
import type pg from "pg";
import type { Logger } from "pino";
import type { z } from "zod";
import { withTransaction } from "../db/pool.ts";
import { faultPoint } from "../faults.ts";
import type { Metrics } from "../metrics.ts";
import type { StepWorker } from "../steps/steps.ts";
import { WorkflowRefusal, refuse } from "./refusal.ts";
import type { EnquiryRoom } from "./membership.ts";
import { loadRoom, recordRoomChanges } from "./rooms.ts";
import { deletionAt } from "../retention/sweeper.ts";
import type { EnquirySummary as EnquirySummarySchema, QueueItem as QueueItemSchema } from "./schemas.ts";

/**
 * How long a claim, handover, close or reopen waits for its room before answering that it is
 * pending. A claim removes every other counsellor of the agency, one membership change after the
 * other (Synapse handles one per room at a time): about 0.1 s each, so 100 counsellors take about
 * 10 s (bench/claim-cost.ts). Below the web client's 30 s forwarding timeout.
 */
const STEPS_WAIT_MS = 25_000;

/** A queue entry. */
export type QueueItem = z.infer<typeof QueueItemSchema>;
/** An enquiry as its participants see it. */
export type EnquirySummary = z.infer<typeof EnquirySummarySchema>;

interface Membership {
  agency_id: string;
  role: "counsellor" | "team_lead";
}

/** The agencies a user counsels for; refuses anyone who is not a counsellor. */
async function memberships(db: pg.Pool | pg.PoolClient, userId: string): Promise<Membership[]> {
  const { rows } = await db.query<Membership>(
    "SELECT agency_id, role FROM agency_memberships WHERE counsellor_id = $1",
    [userId],
  );
  if (!rows.length) throw refuse({ reason: "not_a_counsellor" });
  return rows;
}

/** The enquiry's room as the membership policy sees it (call with the enquiry locked). */
async function policyRoom(db: pg.PoolClient, id: number): Promise<EnquiryRoom> {
  const room = await loadRoom(db, id);
  if (!room) throw refuse({ reason: "no_such_enquiry" });
  return room;
}

interface LockedEnquiry {
  id: string;
  state: string;
  agency_id: string;
  seeker_id: string | null;
  room_id: string | null;
  counsellor_id: string | null;
  closed_at: Date | null;
}

async function lockEnquiry(db: pg.PoolClient, id: number): Promise<LockedEnquiry> {
  const { rows } = await db.query<LockedEnquiry>(
    "SELECT id, state, agency_id, seeker_id, room_id, counsellor_id, closed_at FROM enquiries WHERE id = $1 FOR UPDATE",
    [id],
  );
  if (!rows[0]) throw refuse({ reason: "no_such_enquiry" });
  return rows[0];
}

/**
 * Locks an enquiry for a counsellor's action and answers the caller's role in its agency. Who is
 * no counsellor is refused before the enquiry is looked up, so that the answer is the same
 * whether it exists or not (tests/attack/seeker.test.ts, A-SEEK-01); another agency's enquiry
 * is refused as unknown.
 */
async function lockAsCounsellor(
  db: pg.PoolClient,
  userId: string,
  enquiryId: number,
): Promise<{ enquiry: LockedEnquiry; role: "counsellor" | "team_lead" }> {
  const mine = await memberships(db, userId);
  const enquiry = await lockEnquiry(db, enquiryId);
  const here = mine.find((m) => m.agency_id === enquiry.agency_id);
  // Another agency's enquiry does not exist for this caller.
  if (!here) throw refuse({ reason: "no_such_enquiry" });
  return { enquiry, role: here.role };
}

/** The workflow's operations; `userId` is the caller. */
export interface Workflow {
  queue(userId: string, options: { limit: number; agencyId?: number | undefined }): Promise<{ enquiries: QueueItem[] }>;
  mine(userId: string): Promise<{ enquiries: EnquirySummary[] }>;
  claim(userId: string, enquiryId: number): Promise<EnquirySummary>;
  handover(userId: string, enquiryId: number, counsellorId: string): Promise<EnquirySummary>;
  close(userId: string, enquiryId: number): Promise<EnquirySummary>;
  reopen(userId: string, enquiryId: number): Promise<EnquirySummary>;
  /** Archives enquiries closed longer than the reopening window; returns how many. */
  archiveExpired(): Promise<number>;
}

/** What the workflow needs. */
export interface WorkflowDeps {
  pool: pg.Pool;
  steps: StepWorker;
  log: Logger;
  /** Days within which a seeker may reopen a closed enquiry (CONNECTA_REOPEN_WINDOW_DAYS). */
  reopenWindowDays: number;
  /** How long an action waits for its room before answering (tests shorten it). */
  stepsWaitMs?: number;
}

/** Creates the workflow; main.ts makes one per process. */
export function createWorkflow(deps: WorkflowDeps): Workflow {
  const { pool, steps, log, reopenWindowDays, stepsWaitMs = STEPS_WAIT_MS } = deps;

  /**
   * Runs the enquiry's steps before the caller gets an answer: when we say "taken", "handed over"
   * or "closed", the room already reflects it (the others are out, the room is read-only), so
   * nobody reads or writes past the moment we report. If the homeserver is too slow, the change
   * stays committed and the worker finishes it; the caller is told so (`rooms_pending`) and a
   * repeated request (idempotent) answers once the room is done.
   */
  const finishSteps = async (enquiryId: number) => {
    try {
      await steps.drain(enquiryId, stepsWaitMs);
    } catch (err) {
      log.warn({ enquiryId, err: (err as Error).message }, "steps pending");
      throw refuse({ reason: "rooms_pending" });
    }
  };

  return {
    async archiveExpired() {
      // Closed and archived rooms look the same to the membership policy: nothing to change.
      return withTransaction(pool, async (db) => {
        const { rows } = await db.query<{ id: string }>(
          `UPDATE enquiries SET state = 'archived'
            WHERE state = 'closed' AND closed_at <= now() - $1 * interval '1 day' RETURNING id`,
          [reopenWindowDays],
        );
        const ids = rows.map((r) => r.id);
        await db.query(
          "UPDATE assignments SET ended_at = now() WHERE enquiry_id = ANY($1::bigint[]) AND ended_at IS NULL",
          [ids],
        );
        return ids.length;
      });
    },
    async queue(userId, query) {
      const agencies = (await memberships(pool, String(userId))).map((m) => m.agency_id);
      const wanted = query.agencyId === undefined ? agencies : agencies.filter((a) => a === String(query.agencyId));
      const { rows } = await pool.query<{
        id: string;
        room_id: string;
        agency_id: string;
        agency_name: string;
        pseudonym: string | null;
        topic_id: string;
        language: string;
        age_group: string;
        waiting_since: Date;
        waiting_seconds: number;
      }>(
        `SELECT e.id, e.room_id, e.agency_id, a.name AS agency_name, ${PSEUDONYM} AS pseudonym, e.topic_id,
                e.language, e.age_group, e.waiting_since,
                floor(extract(epoch FROM now() - e.waiting_since))::int AS waiting_seconds
           FROM enquiries e JOIN agencies a ON a.id = e.agency_id
          WHERE e.state = 'waiting' AND e.agency_id = ANY($1::bigint[]) AND e.room_id IS NOT NULL
          ORDER BY e.waiting_since, e.id
          LIMIT $2`,
        [wanted, query.limit],
      );
      return {
        enquiries: rows.map((r) => ({
          enquiry_id: Number(r.id),
          room_id: r.room_id,
          agency_id: Number(r.agency_id),
          agency_name: r.agency_name,
          pseudonym: r.pseudonym,
          topic: r.topic_id,
          language: r.language,
          age_group: r.age_group,
          waiting_since: r.waiting_since.toISOString(),
          waiting_seconds: r.waiting_seconds,
        })),
      };
    },
    async mine(userId) {
      // A deactivated counsellor's OpenID token outlives the deactivation by up to an hour.
      const counsellor = await pool.query(
        "SELECT 1 FROM counsellors WHERE user_id = $1 AND deactivated_at IS NOT NULL",
        [userId],
      );
      if (counsellor.rowCount) throw refuse({ reason: "deactivated" });
      const { rows } = await pool.query<SummaryRow>(
        `${SELECT_SUMMARIES}
          WHERE (e.seeker_id = $1 OR e.counsellor_id = $1) AND e.state <> 'archived'
          ORDER BY e.id DESC LIMIT 200`,
        [userId, reopenWindowDays],
      );
      return { enquiries: rows.map((r) => toSummary(r, userId)) };
    },
    async claim(userId, enquiryId) {
      const counsellor = String(userId);
      const id = await withTransaction(pool, async (db) => {
        const { enquiry } = await lockAsCounsellor(db, counsellor, enquiryId);
        const eid = Number(enquiry.id);
        if (enquiry.state === "active") {
          if (enquiry.counsellor_id === counsellor) return eid; // a retried claim
          throw refuse({ reason: "already_taken" });
        }
        if (enquiry.state !== "waiting") {
          throw refuse({ reason: "wrong_state", state: enquiry.state, wanted: "waiting" });
        }
        const before = await policyRoom(db, eid);
        await db.query("UPDATE enquiries SET state = 'active', counsellor_id = $2 WHERE id = $1", [eid, counsellor]);
        await db.query(
          "INSERT INTO assignments (enquiry_id, counsellor_id, kind, assigned_by) VALUES ($1, $2, 'claim', $2)",
          [eid, counsellor],
        );
        const after: EnquiryRoom = { ...before, state: "active", counsellorId: counsellor };
        await recordRoomChanges(db, eid, before, after, { reason: "claimed", change: "claimed", notes: "create" });
        return eid;
      });
      faultPoint("claim_committed", `enquiry=${id}`);
      await finishSteps(id);
      return summary(pool, id, reopenWindowDays, counsellor);
    },
    async handover(userId, enquiryId, counsellorId) {
      const caller = String(userId);
      const id = await withTransaction(pool, async (db) => {
        const { enquiry, role } = await lockAsCounsellor(db, caller, enquiryId);
        if (enquiry.state !== "active") {
          throw refuse({ reason: "wrong_state", state: enquiry.state, wanted: "active" });
        }
        const eid = Number(enquiry.id);
        // A retried handover (its response lost in a crash) finds it done.
        if (enquiry.counsellor_id === counsellorId) return eid;
        if (enquiry.counsellor_id !== caller && role !== "team_lead") {
          throw refuse({ reason: "not_assigned", action: "handover" });
        }
        const before = await policyRoom(db, eid);
        if (!before.agency.some((m) => m.userId === counsellorId)) {
          throw refuse({ reason: "not_a_colleague", userId: counsellorId });
        }
        await db.query("UPDATE assignments SET ended_at = now() WHERE enquiry_id = $1 AND ended_at IS NULL", [eid]);
        await db.query(
          "INSERT INTO assignments (enquiry_id, counsellor_id, kind, assigned_by) VALUES ($1, $2, 'handover', $3)",
          [eid, counsellorId, caller],
        );
        await db.query("UPDATE enquiries SET counsellor_id = $2 WHERE id = $1", [eid, counsellorId]);
        // The notes room is made here too for an enquiry taken before there were case notes.
        await recordRoomChanges(
          db,
          eid,
          before,
          { ...before, counsellorId },
          {
            reason: "handed_over",
            change: "handed_over",
            notes: "create",
          },
        );
        return eid;
      });
      faultPoint("handover_committed", `enquiry=${id}`);
      await finishSteps(id);
      return summary(pool, id, reopenWindowDays, caller);
    },
    async close(userId, enquiryId) {
      const caller = String(userId);
      const id = await withTransaction(pool, async (db) => {
        const { enquiry, role } = await lockAsCounsellor(db, caller, enquiryId);
        if (enquiry.state !== "active" && enquiry.state !== "closed") {
          throw refuse({ reason: "wrong_state", state: enquiry.state, wanted: "active" });
        }
        // Also a retried close is only answered to whoever may close.
        if (enquiry.counsellor_id !== caller && role !== "team_lead") {
          throw refuse({ reason: "not_assigned", action: "close" });
        }
        const eid = Number(enquiry.id);
        if (enquiry.state === "closed") return eid; // a retried close
        const before = await policyRoom(db, eid);
        await db.query("UPDATE enquiries SET state = 'closed', closed_at = now() WHERE id = $1", [eid]);
        await recordRoomChanges(db, eid, before, { ...before, state: "closed" }, { change: "closed" });
        return eid;
      });
      await finishSteps(id);
      return summary(pool, id, reopenWindowDays, caller);
    },
    async reopen(userId, enquiryId) {
      const id = await withTransaction(pool, async (db) => {
        const enquiry = await lockEnquiry(db, enquiryId);
        if (enquiry.seeker_id !== userId) throw refuse({ reason: "no_such_enquiry" });
        const eid = Number(enquiry.id);
        // A retried reopen (either way it went) finds the enquiry open.
        if (enquiry.state === "active" || enquiry.state === "waiting") return eid;
        const windowMs = reopenWindowDays * 86_400_000;
        if (enquiry.state !== "closed" || !enquiry.closed_at || Date.now() - enquiry.closed_at.getTime() > windowMs) {
          throw refuse({ reason: "wrong_state", state: enquiry.state, wanted: "reopenable" });
        }
        // Back to its counsellor if they still counsel for the agency, else back into the queue.
        const before = await policyRoom(db, eid);
        const previous = before.counsellorId;
        if (previous !== null && before.agency.some((m) => m.userId === previous)) {
          await db.query("UPDATE enquiries SET state = 'active', closed_at = NULL WHERE id = $1", [eid]);
          await recordRoomChanges(
            db,
            eid,
            before,
            { ...before, state: "active" },
            {
              reason: "reopened",
              change: "reopened",
            },
          );
          return eid;
        }
        await db.query(
          `UPDATE enquiries SET state = 'waiting', closed_at = NULL, counsellor_id = NULL, waiting_since = now()
            WHERE id = $1`,
          [eid],
        );
        await db.query("UPDATE assignments SET ended_at = now() WHERE enquiry_id = $1 AND ended_at IS NULL", [eid]);
        const after: EnquiryRoom = { ...before, state: "waiting", counsellorId: null };
        await recordRoomChanges(db, eid, before, after, { reason: "requeued", change: "reopened" });
        return eid;
      });
      await finishSteps(id);
      return summary(pool, id, reopenWindowDays, userId);
    },
  };
}

/** The workflow calls whose duration is measured: those that change a room. */
const TIMED_ACTIONS = ["claim", "handover", "close", "reopen"] as const;

/** How a timed call ended, as the metric's `outcome` label says it. */
function outcomeOf(err: unknown): "pending" | "refused" | "failed" {
  if (!(err instanceof WorkflowRefusal)) return "failed";
  // The change is saved but its room is not ready yet: slow homeserver, not the caller's fault.
  return err.refusal.reason === "rooms_pending" ? "pending" : "refused";
}

/**
 * The workflow with the duration of each claim, handover, close and reopen (including the wait
 * for its room) recorded in `workflowDuration`, for the API and the control rooms alike.
 */
export function timedWorkflow(workflow: Workflow, metrics: Pick<Metrics, "workflowDuration">): Workflow {
  const timed: Workflow = { ...workflow };
  for (const action of TIMED_ACTIONS) {
    // Bound: the workflow's methods are closures, but a method may not lose its object.
    const call = (workflow[action] as (...args: unknown[]) => Promise<EnquirySummary>).bind(workflow);
    timed[action] = async (...args: unknown[]) => {
      const end = metrics.workflowDuration.startTimer({ action });
      try {
        const result = await call(...args);
        end({ outcome: "done" });
        return result;
      } catch (err) {
        end({ outcome: outcomeOf(err) });
        throw err;
      }
    };
  }
  return timed;
}

/** The seeker's pseudonym of enquiry `e`: the localpart of their Matrix id (domain.ts). */
const PSEUDONYM = "split_part(substr(e.seeker_id, 2), ':', 1)";

/**
 * What an enquiry's participants see of it (`e`), with the absence of its counsellor (`c`): only
 * while they are absent and not deactivated.
 */
const SELECT_SUMMARIES = `
  SELECT e.id, e.room_id, e.notes_room_id, e.state, e.agency_id, a.name AS agency_name, e.topic_id, e.language,
         e.age_group, ${PSEUDONYM} AS pseudonym, e.created_at, e.counsellor_id,
         coalesce(c.absent AND c.deactivated_at IS NULL, false) AS counsellor_absent,
         c.absence_message AS counsellor_absence_message,
         ${deletionAt("e", "$2")} AS deletion_at,
         CASE WHEN e.state = 'closed' THEN e.closed_at + $2::int * interval '1 day' END AS reopen_until,
         $2::int AS reopen_window_days
    FROM enquiries e JOIN agencies a ON a.id = e.agency_id
         LEFT JOIN counsellors c ON c.user_id = e.counsellor_id`;

interface SummaryRow {
  id: string;
  room_id: string | null;
  notes_room_id: string | null;
  state: string;
  agency_id: string;
  agency_name: string;
  topic_id: string;
  language: string;
  age_group: string;
  pseudonym: string | null;
  created_at: Date;
  counsellor_id: string | null;
  counsellor_absent: boolean;
  counsellor_absence_message: string | null;
  deletion_at: Date;
  reopen_until: Date | null;
  reopen_window_days: number;
}

/** The summary as `viewer` sees it: the case notes are their counsellor's alone. */
function toSummary(r: SummaryRow, viewer: string): EnquirySummary {
  return {
    enquiry_id: Number(r.id),
    room_id: r.room_id,
    notes_room_id: viewer === r.counsellor_id ? r.notes_room_id : null,
    state: r.state,
    agency_id: Number(r.agency_id),
    agency_name: r.agency_name,
    topic: r.topic_id,
    language: r.language,
    age_group: r.age_group,
    pseudonym: r.pseudonym,
    created_at: r.created_at.toISOString(),
    counsellor_id: r.counsellor_id,
    counsellor_absence: r.counsellor_absent ? { message: r.counsellor_absence_message } : null,
    deletion_at: r.deletion_at.toISOString(),
    reopen_until: r.reopen_until?.toISOString() ?? null,
    reopen_window_days: r.reopen_window_days,
  };
}

async function summary(pool: pg.Pool, id: number, reopenWindowDays: number, viewer: string): Promise<EnquirySummary> {
  const { rows } = await pool.query<SummaryRow>(`${SELECT_SUMMARIES} WHERE e.id = $1`, [id, reopenWindowDays]);
  const r = rows[0];
  if (!r) throw refuse({ reason: "no_such_enquiry" });
  return toSummary(r, viewer);
}
