/**
 * High and critical security events, told to the operator's webhook (CONNECTA_AUDIT_WEBHOOK_URL)
 * as they happen, so that somebody looks before the next `audit verify`.
 *
 * The body carries no personal data: the entry's id, time, action and class, never its actor,
 * target or client address; whoever is told looks the entry up with `connecta-admin audit list`.
 *
 * Delivery never blocks or fails a request: the entries are read from the table by a background
 * loop, every few seconds, after their transactions committed (an event of a rolled-back action
 * is never sent). A cursor row (`audit_webhook_cursor`) remembers how far the webhook was told,
 * and an advisory lock lets one replica at a time do it, so each entry is sent once, also across
 * restarts. A failed delivery is retried with backoff, then given up, counted in the metrics and
 * logged with the webhook's origin only: its path and query often hold a secret. Entries older
 * than an hour are not sent any more (after a long outage, or when the webhook is first set up).
 */
import type pg from "pg";
import type { Logger } from "pino";
import { LOCK_SPACE } from "../db/codes.ts";
import { withClient } from "../db/pool.ts";
import type { Metrics } from "../metrics.ts";
import { AT_ISO } from "./audit.ts";

/** What the webhook is told about one entry. */
export interface WebhookBody {
  source: "connecta";
  id: string;
  time: string;
  action: string;
  class: string;
}

/** The body for an entry: nothing about who or whom. */
export function webhookBody(entry: { id: string; at: string; action: string; class: string }): WebhookBody {
  return { source: "connecta", id: entry.id, time: entry.at, action: entry.action, class: entry.class };
}

/** The part of a webhook URL that may be logged: scheme, host and port, no user, path or query. */
export function loggableUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

/** How deliveries are retried. */
export interface RetryOptions {
  /** Attempts in all (default 4). */
  attempts?: number;
  /** Wait before the second attempt; each further wait is four times longer (default 1 s). */
  firstDelayMs?: number;
  /** Time allowed for one attempt (default 5 s). */
  timeoutMs?: number;
}

/**
 * Posts `body` to `url` until it answers 2xx, at most `attempts` times with growing waits.
 * Returns the number of attempts made and whether one succeeded; never throws.
 */
export async function deliver(
  url: string,
  body: WebhookBody,
  { attempts = 4, firstDelayMs = 1_000, timeoutMs = 5_000 }: RetryOptions = {},
): Promise<{ ok: boolean; attempts: number; lastError: string }> {
  let lastError = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, firstDelayMs * 4 ** (attempt - 2)));
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        redirect: "error",
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      if (res.ok) return { ok: true, attempts: attempt, lastError: "" };
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      // The message of a failed fetch can name the URL; keep only its kind.
      const cause = (err as { cause?: { code?: string } }).cause;
      lastError = cause?.code ?? (err as Error).name;
    }
  }
  return { ok: false, attempts, lastError };
}

/** Entries per round. */
const BATCH = 50;

interface Pending {
  id: string;
  at: string;
  action: string;
  class: string;
}

async function tryLock(db: pg.PoolClient): Promise<boolean> {
  const { rows } = await db.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [
    LOCK_SPACE.AUDIT_WEBHOOK,
  ]);
  return rows[0]?.locked === true;
}

async function unlock(db: pg.PoolClient): Promise<void> {
  await db.query("SELECT pg_advisory_unlock($1)", [LOCK_SPACE.AUDIT_WEBHOOK]);
}

/** The cursor and the newest entry's id (every entry up to it is committed: see audit.ts). */
async function cursorAndHead(db: pg.PoolClient): Promise<{ cursor: string; head: string }> {
  const { rows } = await db.query<{ cursor: string; head: string }>(
    `SELECT last_id::text AS cursor, (SELECT coalesce(max(id), 0) FROM audit_log)::text AS head
     FROM audit_webhook_cursor`,
  );
  return rows[0] ?? { cursor: "0", head: "0" };
}

/** High and critical entries after `cursor` up to `head`, of the last hour. */
async function pendingEntries(db: pg.PoolClient, cursor: string, head: string): Promise<Pending[]> {
  const { rows } = await db.query<Pending>(
    `SELECT id::text AS id, ${AT_ISO} AS at, action, class FROM audit_log
     WHERE audit_log.id > $1 AND audit_log.id <= $2 AND class IN ('high', 'critical')
       AND at > now() - interval '1 hour'
     ORDER BY audit_log.id LIMIT $3`,
    [cursor, head, BATCH],
  );
  return rows;
}

async function moveCursor(db: pg.PoolClient, id: string): Promise<void> {
  await db.query("UPDATE audit_webhook_cursor SET last_id = $1 WHERE last_id < $1", [id]);
}

/** Tells the webhook about new high and critical entries, in the background. */
export class AuditWebhook {
  readonly #pool: pg.Pool;
  readonly #url: string;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #retry: RetryOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;

  constructor(pool: pg.Pool, url: string, deps: { metrics: Metrics; log: Logger }, retry: RetryOptions = {}) {
    this.#pool = pool;
    this.#url = url;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#retry = retry;
  }

  /** Looks for new entries every `intervalMs`, until {@link stop}. */
  start(intervalMs = 5_000): void {
    this.#timer ??= setInterval(() => void this.round(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One round: sends what is new (unless another replica or round is at it). */
  round(): Promise<void> {
    this.#running ??= this.#round()
      .catch((err: Error) => this.#log.warn({ err: err.message }, "audit webhook round failed"))
      .finally(() => (this.#running = null));
    return this.#running;
  }

  async #round(): Promise<void> {
    await withClient(this.#pool, async (db) => {
      if (!(await tryLock(db))) return;
      try {
        for (;;) {
          const { cursor, head } = await cursorAndHead(db);
          if (cursor === head) return;
          const entries = await pendingEntries(db, cursor, head);
          for (const entry of entries) {
            const result = await deliver(this.#url, webhookBody(entry), this.#retry);
            if (result.attempts > 1) this.#metrics.auditWebhook.inc({ outcome: "retried" }, result.attempts - 1);
            if (result.ok) this.#metrics.auditWebhook.inc({ outcome: "delivered" });
            else {
              this.#metrics.auditWebhook.inc({ outcome: "failed" });
              this.#log.warn(
                { webhook: loggableUrl(this.#url), entry: entry.id, err: result.lastError },
                "audit webhook not delivered; given up",
              );
            }
            await moveCursor(db, entry.id);
          }
          if (entries.length < BATCH) {
            await moveCursor(db, head);
            return;
          }
        }
      } finally {
        await unlock(db);
      }
    });
  }
}
