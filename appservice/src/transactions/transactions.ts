/**
 * The Matrix transaction endpoint (`PUT /_matrix/app/v1/transactions/{txnId}`): Synapse pushes
 * events here. Authentication by hs_token; durable idempotency through
 * `appservice_transactions` in PostgreSQL.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Router, type Request } from "express";
import type pg from "pg";
import type { Logger } from "pino";
import { isDatabaseFailure } from "../db/codes.ts";
import { withTransaction } from "../db/pool.ts";
import { MatrixError } from "../http/errors.ts";
import { cleanText, textProblem } from "../http/text.ts";
import type { Metrics } from "../metrics.ts";
import { DATABASE_WAIT_MS, OWED_REFUSAL_MS, OwedTransaction, untilDatabaseAnswers } from "./held.ts";

/** A Matrix event as far as this layer needs to know it. Content is never logged or stored. */
export interface MatrixEvent {
  type: string;
  event_id?: string;
  room_id?: string;
  sender?: string;
  state_key?: string;
  origin_server_ts?: number;
  content?: unknown;
}

/** Handles one event inside the database transaction that records its Synapse transaction. */
export type EventHandler = (event: MatrixEvent, db: pg.PoolClient) => Promise<void>;

/** What became of a transaction. */
export type TransactionOutcome = "processed" | "duplicate";

/** Whether an event came in the timeline (`events`) or as an ephemeral event. */
export type EventKind = "timeline" | "ephemeral";

/** An event that was recorded in `skipped_events` instead of being handled. */
export interface SkippedEvent {
  kind: EventKind;
  /** Cleaned and cut short, as recorded; null when the event had none. */
  eventId: string | null;
  roomId: string | null;
  type: string;
  /** Why: the field that was refused at the edge, or the handler's error without quoted input. */
  reason: string;
}

/** What {@link processTransaction} did. */
export interface TransactionResult {
  outcome: TransactionOutcome;
  /** Events handled, by kind (0 for a duplicate). */
  handled: Record<EventKind, number>;
  skipped: SkippedEvent[];
}

/** Matrix limits ids (and event types and state keys) to 255 bytes; longer ones are not Synapse's. */
export const MAX_ID_LENGTH = 255;
/** Reasons recorded for skipped events are cut to this length. */
const MAX_REASON_LENGTH = 200;
/** Skipped events are kept this long for operators to look into, then deleted. */
const KEEP_SKIPPED_DAYS = 30;

/** Event fields the handlers use as ids (in SQL, in steps): strings without any control character. */
const ID_FIELDS = ["type", "event_id", "room_id", "sender", "state_key"] as const;

/**
 * A short description of an error for `skipped_events` and the log: its SQLSTATE, name and
 * message, with everything in quotes left out, because that is where PostgreSQL and JSON.parse
 * repeat the input (which may be an event's content).
 */
export function errorReason(err: unknown): string {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  const text = err instanceof Error ? `${err.name}: ${err.message}` : "a non-error was thrown";
  const reason = `${typeof code === "string" ? `${code} ` : ""}${text}`.replace(/"[^"]*"?|'[^']*'?/g, "…");
  return cleanText(reason.slice(0, MAX_REASON_LENGTH), "id");
}

/**
 * Why an event cannot be given to the handlers (an id field that is no string, too long, or
 * holds control characters or lone surrogates), or null. Synapse checks these fields itself;
 * this is the edge for anything it lets through and for whoever else holds the hs_token.
 */
export function eventProblem(event: MatrixEvent): string | null {
  if (typeof event.type !== "string") return "not an event: no type";
  for (const field of ID_FIELDS) {
    const value: unknown = event[field];
    if (value === undefined) continue;
    if (typeof value !== "string") return `${field} must be a string`;
    if (value.length > MAX_ID_LENGTH) return `${field} is longer than ${MAX_ID_LENGTH} characters`;
    const problem = textProblem(value, "id");
    if (problem) return `${field} ${problem}`;
  }
  return null;
}

/**
 * The event as the handlers get it: content that is no JSON object (an array, a number, null)
 * becomes `{}`, and a timestamp PostgreSQL cannot store is left out.
 */
function cleaned(event: MatrixEvent): MatrixEvent {
  const { content, origin_server_ts: ts, ...rest } = event;
  const isObject = typeof content === "object" && content !== null && !Array.isArray(content);
  const validTs = typeof ts === "number" && Number.isSafeInteger(ts) && ts >= 0 && ts <= 8.64e15;
  return { ...rest, content: isObject ? content : {}, ...(validTs ? { origin_server_ts: ts } : {}) };
}

/** A field of a skipped event as recorded: cleaned and cut short, or null when absent or no string. */
function recorded(value: unknown): string | null {
  return typeof value === "string" ? cleanText(value.slice(0, MAX_ID_LENGTH), "id") : null;
}

async function recordSkipped(db: pg.PoolClient, txnId: string, skipped: SkippedEvent, sender: unknown) {
  await db.query(
    `INSERT INTO skipped_events (txn_id, kind, event_id, room_id, type, sender, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [txnId, skipped.kind, skipped.eventId, skipped.roomId, skipped.type, recorded(sender), skipped.reason],
  );
}

async function pruneSkipped(db: pg.PoolClient) {
  await db.query("DELETE FROM skipped_events WHERE skipped_at < now() - make_interval(days => $1)", [
    KEEP_SKIPPED_DAYS,
  ]);
}

/**
 * Runs the handlers for one event in a savepoint. Returns null when it was handled, else why it
 * was not; its changes are then rolled back.
 *
 * A failure of the database itself ({@link isDatabaseFailure}: a lost connection, a deadlock, a
 * full disk, a shutdown) is thrown and fails the whole transaction, so that Synapse sends it
 * again later, when the database may work again. Every other error, data exceptions (e.g. U+0000
 * in text), constraint violations or a bug in a handler, belongs to the event: Synapse would send
 * the same event again and again, and every event after it would wait forever, so the event is
 * recorded and skipped. Errors without a SQLSTATE (the connection was lost) are caught where
 * rolling back to the savepoint fails too.
 */
async function handleInSavepoint(db: pg.PoolClient, event: MatrixEvent, handle: EventHandler): Promise<string | null> {
  await db.query("SAVEPOINT event");
  try {
    await handle(event, db);
  } catch (err) {
    if (isDatabaseFailure(err)) throw err;
    // When even this fails, the connection is gone: the whole transaction fails with the error.
    await db.query("ROLLBACK TO SAVEPOINT event").catch(() => {
      throw err;
    });
    await db.query("RELEASE SAVEPOINT event");
    return errorReason(err);
  }
  await db.query("RELEASE SAVEPOINT event");
  return null;
}

/**
 * The entries of the list `key` of a transaction. A list that is no list fails the transaction
 * (it is not one Synapse sends); an entry that is no event (no object, or no `type`) is only
 * skipped by {@link eventProblem}, since failing the transaction for it would make Synapse send
 * it again and again, and every transaction after it would wait forever. Entries that are no
 * object are passed on as empty ones, so that what is recorded of them is the reason only.
 */
function eventList(body: Record<string, unknown>, key: string): MatrixEvent[] {
  const list = body[key];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new MatrixError("M_BAD_JSON", `"${key}" must be a list of events`);
  return list.map((entry: unknown) =>
    typeof entry === "object" && entry !== null && !Array.isArray(entry) ? (entry as MatrixEvent) : ({} as MatrixEvent),
  );
}

function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The hs_token from the Authorization header (or the legacy access_token query parameter). */
function presentedToken(req: Request): string | null {
  const header = req.get("authorization");
  if (header) return /^Bearer (.+)$/i.exec(header)?.[1] ?? "";
  const query = req.query.access_token;
  return typeof query === "string" ? query : null;
}

/**
 * Records the transaction and runs the handlers for its events, all in one database
 * transaction. Two deliveries of the same transaction, even on two replicas at once, process
 * it once: the second waits on the primary key and then finds it recorded.
 *
 * One event we cannot handle never fails its transaction: each event is handled in its own
 * savepoint, and an event that is refused at the edge ({@link eventProblem}) or whose handling
 * fails is rolled back, recorded in `skipped_events` (ids, type and reason; never its content)
 * and skipped. Only a failure of the database itself fails the transaction (see
 * {@link handleInSavepoint}), so that Synapse sends it again.
 */
export async function processTransaction(
  pool: pg.Pool,
  txnId: string,
  events: MatrixEvent[],
  ephemeral: MatrixEvent[],
  handle: EventHandler,
): Promise<TransactionResult> {
  const digest = createHash("sha256")
    .update(events.map((e) => (typeof e.event_id === "string" ? e.event_id : "")).join("\n"))
    .digest("hex");
  return withTransaction(pool, async (db) => {
    const handled: Record<EventKind, number> = { timeline: 0, ephemeral: 0 };
    const skipped: SkippedEvent[] = [];
    const inserted = await db.query(
      `INSERT INTO appservice_transactions (txn_id, event_ids_digest, event_count)
       VALUES ($1, $2, $3)
       ON CONFLICT (txn_id) DO UPDATE SET event_ids_digest = EXCLUDED.event_ids_digest,
         event_count = EXCLUDED.event_count, received_at = now()
         WHERE appservice_transactions.event_ids_digest <> EXCLUDED.event_ids_digest
       RETURNING txn_id`,
      [txnId, digest, events.length],
    );
    if (inserted.rowCount === 0) return { outcome: "duplicate", handled, skipped };
    const all = [
      ...events.map((event) => ({ event, kind: "timeline" as const })),
      ...ephemeral.map((event) => ({ event, kind: "ephemeral" as const })),
    ];
    for (const { event, kind } of all) {
      const reason = eventProblem(event) ?? (await handleInSavepoint(db, cleaned(event), handle));
      if (reason === null) {
        handled[kind]++;
        continue;
      }
      const skip: SkippedEvent = {
        kind,
        eventId: recorded(event.event_id),
        roomId: recorded(event.room_id),
        type: recorded(event.type) ?? "",
        reason,
      };
      await recordSkipped(db, txnId, skip, event.sender);
      skipped.push(skip);
    }
    if (skipped.length) await pruneSkipped(db);
    return { outcome: "processed", handled, skipped };
  });
}

/**
 * Records how far behind Synapse we are: for each timeline event, the time from its
 * `origin_server_ts` to `now`. Ephemeral events carry no timestamp; a clock running ahead of
 * ours counts as no lag.
 */
export function observeLag(metrics: Metrics, events: MatrixEvent[], now: number): void {
  for (const event of events) {
    const ts = event.origin_server_ts;
    if (typeof ts !== "number" || !Number.isFinite(ts)) continue;
    metrics.transactionLag.observe(Math.max(0, now - ts) / 1000);
  }
}

/** Routes of the transaction endpoint. */
export function transactionRoutes(deps: {
  pool: pg.Pool;
  hsToken: string;
  metrics: Metrics;
  log: Logger;
  handle: EventHandler;
  /** How long to wait for the database and to refuse others while one is owed (held.ts); for tests. */
  databaseWaitMs?: number;
  owedRefusalMs?: number;
}): Router {
  const router = Router();
  const owed = new OwedTransaction(deps.owedRefusalMs ?? OWED_REFUSAL_MS);
  const checkToken = (req: Request) => {
    const token = presentedToken(req);
    if (token === null) throw new MatrixError("M_UNAUTHORIZED", "Missing homeserver token");
    if (!tokensEqual(token, deps.hsToken)) throw new MatrixError("M_FORBIDDEN", "Invalid homeserver token");
  };
  // The homeserver's half of a ping (Matrix 1.7, appservice/matrix/homeserver.ts `ping`).
  router.post("/_matrix/app/v1/ping", (req, res) => {
    checkToken(req);
    res.status(200).json({});
  });
  router.put(["/_matrix/app/v1/transactions/:txnId", "/transactions/:txnId"], async (req, res) => {
    checkToken(req);
    const txnId = String(req.params.txnId);
    if (txnId.length > MAX_ID_LENGTH) throw new MatrixError("M_INVALID_PARAM", "Transaction id too long");
    const txnProblem = textProblem(txnId, "id");
    if (txnProblem) throw new MatrixError("M_INVALID_PARAM", `The transaction id ${txnProblem}`);
    const body: unknown = req.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new MatrixError("M_BAD_JSON", "The body must be a JSON object");
    }
    const record = body as Record<string, unknown>;
    const events = eventList(record, "events");
    // MSC2409 under its unstable name and the stable one.
    const ephemeral = [...eventList(record, "de.sorunome.msc2409.ephemeral"), ...eventList(record, "ephemeral")];
    const failedBefore = owed.owed;
    const admitted = owed.admit(txnId, Date.now());
    if (admitted === "gave up") {
      deps.log.error(
        { txnId: failedBefore, next: txnId },
        "a failed transaction was not sent again; see docs/runbooks/transaction-lag.md",
      );
    }
    if (admitted === "no") {
      deps.log.warn({ txnId, owed: owed.owed }, "transaction refused until Synapse sends the failed one again");
      throw new MatrixError("M_UNAVAILABLE", "An earlier transaction failed here; please send that one first");
    }
    let result: TransactionResult;
    try {
      result = await untilDatabaseAnswers(
        () => processTransaction(deps.pool, txnId, events, ephemeral, deps.handle),
        () =>
          deps.pool.query("SELECT 1").then(
            () => true,
            () => false,
          ),
        deps.databaseWaitMs ?? DATABASE_WAIT_MS,
      );
    } catch (err) {
      owed.failed(txnId);
      throw err;
    }
    owed.done(txnId);
    const { outcome, handled, skipped } = result;
    deps.metrics.transactions.inc({ outcome });
    if (outcome === "processed") observeLag(deps.metrics, events, Date.now());
    deps.metrics.eventsProcessed.inc({ kind: "timeline" }, handled.timeline);
    deps.metrics.eventsProcessed.inc({ kind: "ephemeral" }, handled.ephemeral);
    for (const { kind, eventId, roomId, type, reason } of skipped) {
      deps.metrics.eventsSkipped.inc({ kind });
      // Ids and the reason only: never the event's content, nor its sender (maybe a seeker).
      deps.log.warn({ txnId, kind, eventId, roomId, type, reason }, "event skipped");
    }
    deps.log.debug({ txnId, outcome, events: events.length, ephemeral: ephemeral.length }, "transaction");
    res.status(200).json({});
  });
  return router;
}
