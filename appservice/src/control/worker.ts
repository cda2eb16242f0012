/**
 * Answers the commands recorded from control rooms (see events.ts), after the transaction that
 * recorded them: runs each with the workflow and replies in the room. One worker per process;
 * replicas share the table (FOR UPDATE SKIP LOCKED and a lease). A counsellor's commands are
 * answered in the order they were written, each once: the reply is sent with a transaction id
 * derived from the command's event, so a retry after a lost answer does not reply twice.
 */
import type { FeatureDeps } from "../deps.ts";
import { withTransaction } from "../db/pool.ts";
import type { Workflow } from "../enquiries/workflow.ts";
import { answer, type AnswerDeps } from "./answer.ts";
import type { Command } from "./commands.ts";
import { noticeContent, sendNotice } from "./rooms.ts";
import { texts } from "./texts.ts";

/**
 * Seconds a worker has a command to itself before another may take it (its process died). An
 * answer needs a few seconds at most; a counsellor should not wait a minute after a crash.
 */
const LEASE_SECONDS = 15;
/** After this many failed attempts the counsellor is told that it did not work. */
const MAX_ATTEMPTS = 5;
/** Answered commands are kept this long (Synapse does not send an event again later). */
const KEEP_DAYS = 7;
const CLEANUP_EVERY_MS = 10 * 60_000;

interface PendingCommand {
  id: string;
  event_id: string;
  counsellor_id: string;
  command: Command;
  attempts: number;
  language: string;
}

/** Polls for recorded commands and answers them. */
export class ControlWorker {
  readonly #deps: FeatureDeps;
  readonly #answerDeps: AnswerDeps;
  #timer: NodeJS.Timeout | null = null;
  #busy = false;
  #lastCleanup = 0;

  constructor(deps: FeatureDeps, workflow: Workflow) {
    this.#deps = deps;
    this.#answerDeps = {
      workflow,
      pool: deps.pool,
      reopenWindowDays: deps.config.reopenWindowDays,
    };
  }

  /** Polls every `intervalMs`. */
  start(intervalMs = 250): void {
    this.#timer = setInterval(() => void this.#drain(), intervalMs);
    void this.#drain();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async #drain(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (await this.runOne()) {
        // keep going while there is work
      }
      if (Date.now() - this.#lastCleanup > CLEANUP_EVERY_MS) {
        this.#lastCleanup = Date.now();
        await this.#deps.pool.query("DELETE FROM control_commands WHERE answered_at < now() - $1 * interval '1 day'", [
          KEEP_DAYS,
        ]);
      }
    } catch (err) {
      this.#deps.log.warn({ err: (err as Error).message }, "control worker");
    } finally {
      this.#busy = false;
    }
  }

  /** Answers the next due command; false when there was none. */
  async runOne(): Promise<boolean> {
    const { pool, homeserver, log } = this.#deps;
    const command = await withTransaction(pool, async (db) => {
      const { rows } = await db.query<PendingCommand>(
        `SELECT c.id, c.event_id, c.counsellor_id, c.command, c.attempts, k.language
           FROM control_commands c JOIN counsellors k ON k.user_id = c.counsellor_id
          WHERE c.answered_at IS NULL AND c.run_after <= now()
            AND NOT EXISTS (SELECT 1 FROM control_commands p
                             WHERE p.counsellor_id = c.counsellor_id AND p.id < c.id AND p.answered_at IS NULL)
          ORDER BY c.id
          LIMIT 1
          FOR UPDATE OF c SKIP LOCKED`,
      );
      const row = rows[0];
      if (!row) return null;
      await db.query(
        "UPDATE control_commands SET attempts = attempts + 1, run_after = now() + $2 * interval '1 second' WHERE id = $1",
        [row.id, LEASE_SECONDS],
      );
      return row;
    });
    if (!command) return false;

    const reply = (text: string) =>
      sendNotice(
        homeserver,
        command.counsellor_id,
        `control-answer:${command.event_id}`,
        noticeContent(text, command.event_id),
      );
    try {
      await reply(await answer(this.#answerDeps, command.counsellor_id, command.language, command.command));
      await pool.query("UPDATE control_commands SET answered_at = now(), last_error = NULL WHERE id = $1", [
        command.id,
      ]);
      log.debug({ command: command.id, kind: command.command.kind }, "control command answered");
    } catch (err) {
      const message = (err as Error).message.slice(0, 500);
      log.warn({ command: command.id, kind: command.command.kind, err: message }, "control command failed");
      const givingUp = command.attempts + 1 >= MAX_ATTEMPTS;
      if (givingUp) await reply(texts(command.language).failed).catch(() => {});
      await pool.query(
        `UPDATE control_commands SET last_error = $2,
           run_after = now() + least(power(2, attempts), 60) * interval '1 second',
           answered_at = CASE WHEN $3 THEN now() END
         WHERE id = $1`,
        [command.id, message, givingUp],
      );
    }
    return true;
  }
}
