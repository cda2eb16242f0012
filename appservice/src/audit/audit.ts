/**
 * The security event log: `recordEvent`, the one call other features make (retention, privacy,
 * admin), and the hash chain it appends to (verify.ts checks it). For instance, the retention
 * job, in the transaction that deletes:
 *
 *     await recordEvent(tx, { action: "retention.purged", actor: "system", target: "enquiries", count: n });
 *
 * and an export for a data subject, on its own:
 *
 *     await recordEvent(pool, { action: "privacy.export", actor: "operator", target: seekerId });
 *
 * High and critical events reach the operator's webhook without further ado (webhook.ts).
 *
 * Every entry's `hash` is SHA-256 over the previous entry's hash (32 zero bytes before the first)
 * followed by the UTF-8 of the entry's canonical form: the JSON array of its fields in a fixed
 * order, id and count as decimal strings, the time as an ISO string with microseconds in UTC
 * (`2026-12-01T22:18:18.123456Z`). The time is read from PostgreSQL in exactly that form, because
 * a JavaScript Date would drop the microseconds and no recomputed hash would match.
 *
 * Appends are serialised by an advisory transaction lock (LOCK_SPACE.AUDIT_CHAIN): the writer
 * reads the head, computes the hash and inserts id = head + 1, and no other writer reads the head
 * before that transaction ends. So an event is written inside the transaction of the action it
 * records (and vanishes with it if that rolls back), and concurrent writers still form one chain.
 * The lock is held until the caller commits: record the event as the last statement before the
 * commit, never before a call to Synapse.
 *
 * What the chain detects: a changed field (the entry's hash no longer matches), a removed entry
 * (a gap in the ids, or a link that no longer fits), entries moved or swapped (reported as
 * holding another position's entry). What it cannot detect alone: the newest entries cut off the
 * end. Against that, `audit verify` prints the head's id and hash for the operator to keep, and
 * high and critical entries go to the webhook as they happen.
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import { LOCK_SPACE } from "../db/codes.ts";
import { withTransaction } from "../db/pool.ts";
import { ACTIONS, type AuditAction, type AuditActor, type AuditClass } from "./actions.ts";

/** What a feature records. */
export interface AuditEvent {
  action: AuditAction;
  actor: AuditActor;
  /** The id the action was about: a user id, agency id, topic id, a path. Never content. */
  target?: string | null;
  /** Only for refused credentials: where they came from. */
  clientAddress?: string | null;
  /** How many occurrences the entry stands for (default 1). */
  count?: number;
}

/** An entry as stored. */
export interface AuditEntry {
  id: string;
  /** ISO time with microseconds, UTC. */
  at: string;
  actor: string;
  action: string;
  target: string | null;
  client_address: string | null;
  class: AuditClass;
  count: number;
  hash: string;
}

/** SQL for `at` in the canonical form. */
export const AT_ISO = `to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The hash before the first entry. */
export const GENESIS = "0".repeat(64);

/** The canonical form of an entry: its fields in a fixed order. */
export function canonical(entry: Omit<AuditEntry, "hash">): string {
  return JSON.stringify([
    String(entry.id),
    entry.at,
    entry.actor,
    entry.action,
    entry.target,
    entry.client_address,
    entry.class,
    String(entry.count),
  ]);
}

/** The hash of `entry` after the entry whose hash is `previous`. */
export function entryHash(previous: string, entry: Omit<AuditEntry, "hash">): string {
  return createHash("sha256").update(Buffer.from(previous, "hex")).update(canonical(entry), "utf8").digest("hex");
}

/** Whether `db` is a client checked out of the pool (and not the pool). */
function isClient(db: pg.Pool | pg.PoolClient): db is pg.PoolClient {
  return "release" in db && typeof db.release === "function";
}

/** Takes the chain lock until the end of the transaction. */
async function lockChain(tx: pg.PoolClient): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock($1)", [LOCK_SPACE.AUDIT_CHAIN]);
}

/** The last entry's id and hash (0 and {@link GENESIS} for an empty log), and the time now. */
async function chainHead(tx: pg.PoolClient): Promise<{ id: string; hash: string; now: string }> {
  const { rows } = await tx.query<{ id: string; hash: string; now: string }>(
    `SELECT coalesce(head.id, 0)::text AS id, coalesce(head.hash, $1) AS hash,
            to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now
     FROM (SELECT 1) AS one LEFT JOIN (SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1) AS head ON true`,
    [GENESIS],
  );
  const row = rows[0];
  if (!row) throw new Error("reading the audit chain's head returned nothing");
  return row;
}

async function insertEntry(tx: pg.PoolClient, entry: AuditEntry): Promise<void> {
  await tx.query(
    `INSERT INTO audit_log (id, at, actor, action, target, client_address, class, count, hash)
     VALUES ($1, $2::timestamptz, $3, $4, $5, $6, $7, $8, $9)`,
    [
      entry.id,
      entry.at,
      entry.actor,
      entry.action,
      entry.target,
      entry.client_address,
      entry.class,
      entry.count,
      entry.hash,
    ],
  );
}

/**
 * Appends `event` to the security event log and returns the entry.
 *
 * @param db - a client inside the transaction of the action the event records (the entry commits
 *   or rolls back with it; call this last before the commit), or the pool, for an event of its
 *   own (then it is committed before this returns)
 */
export async function recordEvent(db: pg.Pool | pg.PoolClient, event: AuditEvent): Promise<AuditEntry> {
  if (!isClient(db)) return withTransaction(db, (tx) => recordEvent(tx, event));
  await lockChain(db);
  const head = await chainHead(db);
  const fields = {
    id: String(BigInt(head.id) + 1n),
    at: head.now,
    actor: event.actor,
    action: event.action,
    target: event.target ?? null,
    client_address: event.clientAddress ?? null,
    class: ACTIONS[event.action],
    count: event.count ?? 1,
  };
  const entry = { ...fields, hash: entryHash(head.hash, fields) };
  await insertEntry(db, entry);
  return entry;
}
