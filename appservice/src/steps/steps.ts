/**
 * Steps: the Matrix actions a workflow action needs (create a room, invite, kick, change power
 * levels). A step is written in the same database transaction as the state change it serves
 * and then done by any replica until it is done, in order per enquiry. A crash between two
 * steps leaves the remaining steps in the table; the worker finishes them after a restart (the
 * reconciler is this same worker).
 *
 * A done step keeps its kind, times and attempts, but no payload: the user ids and reasons it
 * carried are personal data the outbox no longer needs (a CHECK constraint holds to that).
 */
import type pg from "pg";
import type { Logger } from "pino";
import { LOCK_SPACE } from "../db/codes.ts";
import { withClient } from "../db/pool.ts";
import type { RemovalReason } from "../enquiries/texts.ts";
import { faultPoint } from "../faults.ts";

/** What each kind of step carries: the kind names the Matrix action, the payload its arguments. */
export interface StepPayloads {
  /** Create the enquiry's room; everything it needs is read from the enquiry when it runs. */
  create_room: Record<string, never>;
  /** Invite a user; nothing happens when they are in the room or invited already. */
  invite: { user_id: string };
  /** Take a user out of the room (done when they are not in it); `reason` is shown in the room. */
  kick: { user_id: string; reason?: RemovalReason };
  /** Take everyone out of the room but the bot and `user_ids` (one look at the members). */
  keep_only: { user_ids: string[]; reason?: RemovalReason };
  /** Set power levels of users (0 removes them from the list); `read_only` (un)locks writing. */
  power_levels: { users: Record<string, number>; read_only?: boolean };
  /** Retention (retention/purge.ts): note the files of the enquiry's room before it goes. */
  purge_collect_media: Record<string, never>;
  /** Delete the enquiry's room and purge it from Synapse's database; done when Synapse is. */
  purge_room: Record<string, never>;
  /** Delete the files noted by `purge_collect_media` from the media store. */
  purge_media: Record<string, never>;
  /** Erase the enquiry's seeker (files, account), unless another enquiry of theirs is kept. */
  erase_seeker: Record<string, never>;
  /** Delete our rows of the enquiry, this step's own included. */
  purge_rows: Record<string, never>;
  /** Tell the counsellor of a conversation whose seeker deleted their account (no content). */
  erasure_notice: { user_id: string };
  /**
   * Erase an account that never got an enquiry (an intake left unfinished), if it exists, and
   * delete the intake's registration token at Synapse (it holds the pseudonym).
   */
  erase_user: { user_id: string; registration_token?: string };
}

/** The kinds of step. */
export type StepKind = keyof StepPayloads;

/** A step to record: a kind and its payload. */
export type NewStep = { [K in StepKind]: { kind: K; payload: StepPayloads[K] } }[StepKind];

/** One step as its runner sees it. */
export interface Step<K extends StepKind = StepKind> {
  id: number;
  enquiryId: number | null;
  kind: K;
  payload: StepPayloads[K];
  /** How many runs started before this one; more than 0 means an earlier run may have half-done it. */
  previousAttempts: number;
}

/**
 * The runner of each kind of step. A runner may update rows through `db`, committed together
 * with the step's completion.
 */
export type StepRunners = { [K in StepKind]: (step: Step<K>, db: pg.PoolClient) => Promise<void> };

/** Runs `step` with the runner of its kind. */
function run<K extends StepKind>(runners: StepRunners, step: Step<K>, db: pg.PoolClient): Promise<void> {
  return runners[step.kind](step, db);
}

/**
 * Seconds during which the request that recorded a step has it to itself; background workers
 * (of any replica) take it only after that, e.g. when that request's process died.
 */
const OWNER_GRACE_SECONDS = 5;

/** Records a step to do. Call inside the transaction of the state change it belongs to. */
export async function enqueueStep(db: pg.PoolClient, enquiryId: number | null, step: NewStep): Promise<void> {
  await db.query(
    `INSERT INTO matrix_steps (enquiry_id, kind, payload, run_after)
     VALUES ($1, $2, $3, now() + $4 * interval '1 second')`,
    [enquiryId, step.kind, step.payload, OWNER_GRACE_SECONDS],
  );
}

/** Runs pending steps; one per process, started at boot. */
export class StepWorker {
  readonly #pool: pg.Pool;
  readonly #runners: StepRunners;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | null = null;
  #busy = false;

  constructor(pool: pg.Pool, runners: StepRunners, log: Logger) {
    this.#pool = pool;
    this.#runners = runners;
    this.#log = log;
  }

  /** Polls for pending steps every `intervalMs` (also those left by a crash). */
  start(intervalMs = 500): void {
    this.#timer = setInterval(() => void this.#drainAll(), intervalMs);
    void this.#drainAll();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async #drainAll(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (await this.runOne(null)) {
        // keep going while there is work
      }
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, "step worker");
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Runs the next due step (of `enquiryId`, if given). Returns false when there was none it
   * could take.
   */
  async runOne(enquiryId: number | null): Promise<boolean> {
    // One connection throughout: it holds the step's advisory lock (a session lock) while the
    // step runs, and a request never needs a second connection from the pool.
    return withClient(this.#pool, async (client) => {
      const step = await this.#take(client, enquiryId);
      if (!step) return false;
      const lock = [LOCK_SPACE.STEPS, step.id % 2 ** 31];
      try {
        await client.query("BEGIN");
        try {
          await run(this.#runners, step, client);
          faultPoint(`step:${step.kind}`, `enquiry=${step.enquiryId}`);
          await client.query(
            "UPDATE matrix_steps SET done_at = now(), last_error = NULL, payload = '{}' WHERE id = $1",
            [step.id],
          );
          await client.query("COMMIT");
          this.#log.debug({ step: step.id, kind: step.kind, enquiry: step.enquiryId }, "step done");
        } catch (err) {
          await client.query("ROLLBACK");
          const message = (err as Error).message.slice(0, 500);
          this.#log.warn({ step: step.id, kind: step.kind, enquiry: step.enquiryId, err: message }, "step failed");
          await client.query(
            `UPDATE matrix_steps SET last_error = $2,
               run_after = now() + least(power(2, attempts), 60) * interval '1 second' WHERE id = $1`,
            [step.id, message],
          );
        }
        return true;
      } finally {
        await client.query("SELECT pg_advisory_unlock($1, $2::int)", lock);
      }
    });
  }

  /**
   * Takes the next due step (of `enquiryId`, if given): locks it against other replicas with a
   * session advisory lock and counts the attempt, committed before anything happens outside the
   * database, so a run after a crash knows that this one may have half-done the step.
   */
  async #take(client: pg.PoolClient, enquiryId: number | null): Promise<Step | null> {
    await client.query("BEGIN");
    try {
      const { rows } = await client.query<{
        id: string;
        enquiry_id: string | null;
        kind: StepKind;
        payload: StepPayloads[StepKind];
        attempts: number;
      }>(
        `SELECT s.id, s.enquiry_id, s.kind, s.payload, s.attempts
           FROM matrix_steps s
          WHERE s.done_at IS NULL
            -- The background worker waits for run_after; the request that caused a step runs it
            -- at once, unless an earlier attempt failed (then it waits for the backoff too).
            AND (s.run_after <= now() OR ($1::bigint IS NOT NULL AND s.attempts = 0))
            AND ($1::bigint IS NULL OR s.enquiry_id = $1)
            AND NOT EXISTS (SELECT 1 FROM matrix_steps p
                             WHERE p.enquiry_id = s.enquiry_id AND p.id < s.id AND p.done_at IS NULL)
          ORDER BY s.id
          LIMIT 1
          FOR UPDATE SKIP LOCKED`,
        [enquiryId],
      );
      const row = rows[0];
      const locked =
        row &&
        (
          await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, $2::int) AS ok", [
            LOCK_SPACE.STEPS,
            Number(row.id) % 2 ** 31,
          ])
        ).rows[0]?.ok;
      if (!row || !locked) {
        await client.query("COMMIT");
        return null;
      }
      await client.query("UPDATE matrix_steps SET attempts = attempts + 1 WHERE id = $1", [row.id]);
      await client.query("COMMIT");
      return {
        id: Number(row.id),
        enquiryId: row.enquiry_id === null ? null : Number(row.enquiry_id),
        kind: row.kind,
        payload: row.payload,
        previousAttempts: row.attempts,
      };
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      // A lock taken before the failure would outlive it on this pooled connection.
      await client.query("SELECT pg_advisory_unlock_all()").catch(() => {});
      throw err;
    }
  }

  /**
   * Runs the steps of one enquiry now (in the request that caused them) until none is left.
   * Throws after `timeoutMs`; the steps are still done later by the worker.
   */
  async drain(enquiryId: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await this.runOne(enquiryId)) continue;
      const pending = await this.#pool.query("SELECT 1 FROM matrix_steps WHERE enquiry_id = $1 AND done_at IS NULL", [
        enquiryId,
      ]);
      if (!pending.rowCount) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`steps of enquiry ${enquiryId} not done after ${timeoutMs} ms`);
  }
}
