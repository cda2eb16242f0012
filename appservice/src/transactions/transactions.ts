/**
 * The Matrix transaction endpoint (`PUT /_matrix/app/v1/transactions/{txnId}`): Synapse pushes
 * events here. Authentication by hs_token; durable idempotency through
 * `appservice_transactions` in PostgreSQL.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Router, type Request } from "express";
import type pg from "pg";
import type { Logger } from "pino";
import { withTransaction } from "../db/pool.ts";
import { MatrixError } from "../http/errors.ts";
import type { Metrics } from "../metrics.ts";

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

function isEvent(value: unknown): value is MatrixEvent {
  return typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string";
}

function eventList(body: Record<string, unknown>, key: string): MatrixEvent[] {
  const list = body[key];
  if (list === undefined) return [];
  if (!Array.isArray(list) || !list.every(isEvent)) {
    throw new MatrixError("M_BAD_JSON", `"${key}" must be a list of events`);
  }
  return list;
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
 */
export async function processTransaction(
  pool: pg.Pool,
  txnId: string,
  events: MatrixEvent[],
  ephemeral: MatrixEvent[],
  handle: EventHandler,
): Promise<TransactionOutcome> {
  const digest = createHash("sha256")
    .update(events.map((e) => e.event_id ?? "").join("\n"))
    .digest("hex");
  return withTransaction(pool, async (db) => {
    const inserted = await db.query(
      `INSERT INTO appservice_transactions (txn_id, event_ids_digest, event_count)
       VALUES ($1, $2, $3)
       ON CONFLICT (txn_id) DO UPDATE SET event_ids_digest = EXCLUDED.event_ids_digest,
         event_count = EXCLUDED.event_count, received_at = now()
         WHERE appservice_transactions.event_ids_digest <> EXCLUDED.event_ids_digest
       RETURNING txn_id`,
      [txnId, digest, events.length],
    );
    if (inserted.rowCount === 0) return "duplicate";
    for (const event of [...events, ...ephemeral]) await handle(event, db);
    return "processed";
  });
}

/** Routes of the transaction endpoint. */
export function transactionRoutes(deps: {
  pool: pg.Pool;
  hsToken: string;
  metrics: Metrics;
  log: Logger;
  handle: EventHandler;
}): Router {
  const router = Router();
  router.put(["/_matrix/app/v1/transactions/:txnId", "/transactions/:txnId"], async (req, res) => {
    const token = presentedToken(req);
    if (token === null) throw new MatrixError("M_UNAUTHORIZED", "Missing homeserver token");
    if (!tokensEqual(token, deps.hsToken)) throw new MatrixError("M_FORBIDDEN", "Invalid homeserver token");
    const txnId = String(req.params.txnId);
    if (txnId.length > 255) throw new MatrixError("M_INVALID_PARAM", "Transaction id too long");
    const body: unknown = req.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new MatrixError("M_BAD_JSON", "The body must be a JSON object");
    }
    const record = body as Record<string, unknown>;
    const events = eventList(record, "events");
    // MSC2409 under its unstable name and the stable one.
    const ephemeral = [...eventList(record, "de.sorunome.msc2409.ephemeral"), ...eventList(record, "ephemeral")];
    const outcome = await processTransaction(deps.pool, txnId, events, ephemeral, deps.handle);
    deps.metrics.transactions.inc({ outcome });
    if (outcome === "processed") {
      deps.metrics.eventsProcessed.inc({ kind: "timeline" }, events.length);
      deps.metrics.eventsProcessed.inc({ kind: "ephemeral" }, ephemeral.length);
    }
    deps.log.debug({ txnId, outcome, events: events.length, ephemeral: ephemeral.length }, "transaction");
    res.status(200).json({});
  });
  return router;
}
