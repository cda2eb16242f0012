/**
 * The counselling workflow: the queue of an agency, claim (exactly once), handover, close and
 * reopen, and "my enquiries". Used by the HTTP API and the counsellors' control rooms alike.
 * State changes and the Matrix steps they need are written in one database transaction; the
 * steps then run (in this request, and by the worker if this process dies) until done.
 */
import type pg from "pg";
import type { Logger } from "pino";
import type { z } from "zod";
import { withTransaction } from "../db/pool.ts";
import { faultPoint } from "../faults.ts";
import { enqueueStep, type StepWorker } from "../steps/steps.ts";
import { refuse } from "./refusal.ts";
import { COUNSELLOR_POWER, presentCounsellors } from "./rooms.ts";

/**
 * How long a claim, handover, close or reopen waits for its room before answering M_UNAVAILABLE.
 * A claim removes every other counsellor of the agency, one membership change after the other
 * (Synapse handles one per room at a time): about 0.1 s each, so 100 counsellors take about 10 s
 * (bench/claim-cost.ts). Below the web client's 30 s forwarding timeout.
 */
const STEPS_WAIT_MS = 25_000;

/** A queue entry. */
export type QueueItem = z.infer<typeof import("./schemas.ts").QueueItem>;
/** An enquiry as its participants see it. */
export type EnquirySummary = z.infer<typeof import("./schemas.ts").EnquirySummary>;

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

/** Whether `userId` counsels for the agency and is not deactivated. */
async function isActiveMember(db: pg.PoolClient, agencyId: string, userId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `SELECT 1 FROM agency_memberships m JOIN counsellors c ON c.user_id = m.counsellor_id
      WHERE m.agency_id = $1 AND m.counsellor_id = $2 AND c.deactivated_at IS NULL`,
    [agencyId, userId],
  );
  return rowCount === 1;
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

/** The caller's role for a locked enquiry; refused as unknown when it is not theirs to see. */
async function counsellorRole(
  db: pg.PoolClient,
  userId: string,
  enquiry: LockedEnquiry,
): Promise<"counsellor" | "team_lead"> {
  const mine = await memberships(db, userId);
  const here = mine.find((m) => m.agency_id === enquiry.agency_id);
  // Another agency's enquiry does not exist for this caller.
  if (!here) throw refuse({ reason: "no_such_enquiry" });
  return here.role;
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
}

/** Creates the workflow; main.ts makes one per process. */
export function createWorkflow(deps: WorkflowDeps): Workflow {
  const { pool, steps, log, reopenWindowDays } = deps;

  /**
   * Runs the enquiry's steps before the caller gets an answer: when we say "taken", "handed over"
   * or "closed", the room already reflects it (the others are out, the room is read-only), so
   * nobody reads or writes past the moment we report. If the homeserver is too slow, the change
   * stays committed and the worker finishes it; the caller is told so (`rooms_pending`) and a
   * repeated request (idempotent) answers once the room is done.
   */
  const finishSteps = async (enquiryId: number) => {
    try {
      await steps.drain(enquiryId, STEPS_WAIT_MS);
    } catch (err) {
      log.warn({ enquiryId, err: (err as Error).message }, "steps pending");
      throw refuse({ reason: "rooms_pending" });
    }
  };

  return {
    async archiveExpired() {
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
        topic_id: string;
        language: string;
        age_group: string;
        waiting_since: Date;
        waiting_seconds: number;
      }>(
        `SELECT id, room_id, agency_id, topic_id, language, age_group, waiting_since,
                floor(extract(epoch FROM now() - waiting_since))::int AS waiting_seconds
           FROM enquiries
          WHERE state = 'waiting' AND agency_id = ANY($1::bigint[]) AND room_id IS NOT NULL
          ORDER BY waiting_since, id
          LIMIT $2`,
        [wanted, query.limit],
      );
      return {
        enquiries: rows.map((r) => ({
          enquiry_id: Number(r.id),
          room_id: r.room_id,
          agency_id: Number(r.agency_id),
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
        [userId],
      );
      return { enquiries: rows.map(toSummary) };
    },
    async claim(userId, enquiryId) {
      const params = { enquiryId };
      const counsellor = String(userId);
      const result = await withTransaction(pool, async (db) => {
        const enquiry = await lockEnquiry(db, params.enquiryId);
        await counsellorRole(db, counsellor, enquiry);
        if (enquiry.state === "active") {
          if (enquiry.counsellor_id === counsellor) return enquiry; // a retried claim
          throw refuse({ reason: "already_taken" });
        }
        if (enquiry.state !== "waiting") {
          throw refuse({ reason: "wrong_state", state: enquiry.state, wanted: "waiting" });
        }
        await db.query("UPDATE enquiries SET state = 'active', counsellor_id = $2 WHERE id = $1", [
          enquiry.id,
          counsellor,
        ]);
        await db.query(
          "INSERT INTO assignments (enquiry_id, counsellor_id, kind, assigned_by) VALUES ($1, $2, 'claim', $2)",
          [enquiry.id, counsellor],
        );
        const id = Number(enquiry.id);
        // A counsellor who joined the agency after the room was made was never invited: the bot
        // invites them now (nothing happens for one who is in the room already).
        await enqueueStep(db, id, { kind: "invite", payload: { user_id: counsellor } });
        await enqueueStep(db, id, { kind: "power_levels", payload: { users: { [counsellor]: COUNSELLOR_POWER } } });
        // From now on only the seeker and this counsellor are in the room: the others are
        // removed, so the seeker's client starts a new Megolm session without them.
        await enqueueStep(db, id, {
          kind: "keep_only",
          payload: {
            user_ids: [enquiry.seeker_id, counsellor].filter((u) => u !== null),
            reason: "claimed",
          },
        });
        return { ...enquiry, state: "active", counsellor_id: counsellor };
      });
      faultPoint("claim_committed");
      await finishSteps(Number(result.id));
      return summary(pool, Number(result.id));
    },
    async handover(userId, enquiryId, counsellorId) {
      const params = { enquiryId };
      const body = { counsellor_id: counsellorId };
      const caller = String(userId);
      const id = await withTransaction(pool, async (db) => {
        const enquiry = await lockEnquiry(db, params.enquiryId);
        const role = await counsellorRole(db, caller, enquiry);
        if (enquiry.state !== "active") {
          throw refuse({ reason: "wrong_state", state: enquiry.state, wanted: "active" });
        }
        // A retried handover (its response lost in a crash) finds it done.
        if (enquiry.counsellor_id === body.counsellor_id) return Number(enquiry.id);
        if (enquiry.counsellor_id !== caller && role !== "team_lead") {
          throw refuse({ reason: "not_assigned", action: "handover" });
        }
        const target = await db.query("SELECT 1 FROM agency_memberships WHERE agency_id = $1 AND counsellor_id = $2", [
          enquiry.agency_id,
          body.counsellor_id,
        ]);
        if (!target.rowCount) {
          throw refuse({ reason: "not_a_colleague", userId: body.counsellor_id });
        }
        const previous = enquiry.counsellor_id;
        await db.query("UPDATE assignments SET ended_at = now() WHERE enquiry_id = $1 AND ended_at IS NULL", [
          enquiry.id,
        ]);
        await db.query(
          "INSERT INTO assignments (enquiry_id, counsellor_id, kind, assigned_by) VALUES ($1, $2, 'handover', $3)",
          [enquiry.id, body.counsellor_id, caller],
        );
        await db.query("UPDATE enquiries SET counsellor_id = $2 WHERE id = $1", [enquiry.id, body.counsellor_id]);
        const eid = Number(enquiry.id);
        await enqueueStep(db, eid, { kind: "invite", payload: { user_id: body.counsellor_id } });
        await enqueueStep(db, eid, {
          kind: "power_levels",
          payload: { users: { [body.counsellor_id]: COUNSELLOR_POWER } },
        });
        await enqueueStep(db, eid, {
          kind: "keep_only",
          payload: {
            user_ids: [enquiry.seeker_id, body.counsellor_id].filter((u) => u !== null),
            reason: "handed_over",
          },
        });
        // The old counsellor loses their power only once they are out of the room: lowering it
        // while the new counsellor's join (authorised by their invite) is on its way can make
        // Synapse's state resolution drop that invite, and with it the join.
        if (previous) await enqueueStep(db, eid, { kind: "power_levels", payload: { users: { [previous]: 0 } } });
        return eid;
      });
      faultPoint("handover_committed");
      await finishSteps(id);
      return summary(pool, id);
    },
    async close(userId, enquiryId) {
      const params = { enquiryId };
      const caller = String(userId);
      const id = await withTransaction(pool, async (db) => {
        const enquiry = await lockEnquiry(db, params.enquiryId);
        const role = await counsellorRole(db, caller, enquiry);
        if (enquiry.state !== "active" && enquiry.state !== "closed") {
          throw refuse({ reason: "wrong_state", state: enquiry.state, wanted: "active" });
        }
        // Also a retried close is only answered to whoever may close.
        if (enquiry.counsellor_id !== caller && role !== "team_lead") {
          throw refuse({ reason: "not_assigned", action: "close" });
        }
        if (enquiry.state === "closed") return Number(enquiry.id); // a retried close
        await db.query("UPDATE enquiries SET state = 'closed', closed_at = now() WHERE id = $1", [enquiry.id]);
        await enqueueStep(db, Number(enquiry.id), { kind: "power_levels", payload: { users: {}, read_only: true } });
        return Number(enquiry.id);
      });
      await finishSteps(id);
      return summary(pool, id);
    },
    async reopen(userId, enquiryId) {
      const params = { enquiryId };
      const id = await withTransaction(pool, async (db) => {
        const enquiry = await lockEnquiry(db, params.enquiryId);
        if (enquiry.seeker_id !== userId) throw refuse({ reason: "no_such_enquiry" });
        // A retried reopen (either way it went) finds the enquiry open.
        if (enquiry.state === "active" || enquiry.state === "waiting") return Number(enquiry.id);
        const windowMs = reopenWindowDays * 86_400_000;
        if (enquiry.state !== "closed" || !enquiry.closed_at || Date.now() - enquiry.closed_at.getTime() > windowMs) {
          throw refuse({ reason: "wrong_state", state: enquiry.state, wanted: "reopenable" });
        }
        const eid = Number(enquiry.id);
        // Back to its counsellor if they still counsel for the agency, else back into the queue,
        // where the agency's present counsellors are invited again.
        const previous = enquiry.counsellor_id;
        if (previous && (await isActiveMember(db, enquiry.agency_id, previous))) {
          await db.query("UPDATE enquiries SET state = 'active', closed_at = NULL WHERE id = $1", [eid]);
          await enqueueStep(db, eid, { kind: "power_levels", payload: { users: {}, read_only: false } });
          return eid;
        }
        await db.query(
          `UPDATE enquiries SET state = 'waiting', closed_at = NULL, counsellor_id = NULL, waiting_since = now()
            WHERE id = $1`,
          [eid],
        );
        await db.query("UPDATE assignments SET ended_at = now() WHERE enquiry_id = $1 AND ended_at IS NULL", [eid]);
        if (previous) {
          await enqueueStep(db, eid, {
            kind: "kick",
            payload: {
              user_id: previous,
              reason: "requeued",
            },
          });
        }
        for (const counsellor of await presentCounsellors(db, enquiry.agency_id)) {
          await enqueueStep(db, eid, { kind: "invite", payload: { user_id: counsellor } });
        }
        await enqueueStep(db, eid, {
          kind: "power_levels",
          payload: {
            users: previous ? { [previous]: 0 } : {},
            read_only: false,
          },
        });
        return eid;
      });
      await finishSteps(id);
      return summary(pool, id);
    },
  };
}

/**
 * What an enquiry's participants see of it (`e`), with the absence of its counsellor (`c`): only
 * while they are absent and not deactivated.
 */
const SELECT_SUMMARIES = `
  SELECT e.id, e.room_id, e.state, e.agency_id, e.topic_id, e.counsellor_id,
         coalesce(c.absent AND c.deactivated_at IS NULL, false) AS counsellor_absent,
         c.absence_message AS counsellor_absence_message
    FROM enquiries e LEFT JOIN counsellors c ON c.user_id = e.counsellor_id`;

interface SummaryRow {
  id: string;
  room_id: string | null;
  state: string;
  agency_id: string;
  topic_id: string;
  counsellor_id: string | null;
  counsellor_absent: boolean;
  counsellor_absence_message: string | null;
}

function toSummary(r: SummaryRow): EnquirySummary {
  return {
    enquiry_id: Number(r.id),
    room_id: r.room_id,
    state: r.state,
    agency_id: Number(r.agency_id),
    topic: r.topic_id,
    counsellor_id: r.counsellor_id,
    counsellor_absence: r.counsellor_absent ? { message: r.counsellor_absence_message } : null,
  };
}

async function summary(pool: pg.Pool, id: number): Promise<EnquirySummary> {
  const { rows } = await pool.query<SummaryRow>(`${SELECT_SUMMARIES} WHERE e.id = $1`, [id]);
  const r = rows[0];
  if (!r) throw refuse({ reason: "no_such_enquiry" });
  return toSummary(r);
}
