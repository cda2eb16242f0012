/**
 * Checking the security event log's hash chain (see audit.ts), for `connecta-admin audit
 * verify`. The log is read in id order, a batch at a time, so a long log needs little memory;
 * only when a broken link is found is it read once more, to tell a moved entry from a changed one.
 */
import type pg from "pg";
import { AT_ISO, entryHash, GENESIS, type AuditEntry } from "./audit.ts";

/** What is wrong with the first broken entry. */
export type ChainProblemKind = "changed" | "removed" | "moved";

/** The result of a check. */
export type ChainVerdict =
  | { ok: true; count: number; head: { id: string; hash: string } | null }
  | { ok: false; count: number; problem: { id: string; kind: ChainProblemKind; message: string } };

const BATCH = 1000;

const SELECT_ENTRIES = `
  SELECT id::text AS id, ${AT_ISO} AS at, actor, action, target, client_address, class, count, hash
  FROM audit_log WHERE audit_log.id > $1 ORDER BY audit_log.id LIMIT $2`;

/** The entries after `afterId`, in id order, at most `limit`. */
async function entriesAfter(db: pg.Pool | pg.PoolClient, afterId: bigint, limit: number): Promise<AuditEntry[]> {
  const { rows } = await db.query<AuditEntry>(SELECT_ENTRIES, [afterId.toString(), limit]);
  return rows;
}

/** Every entry in id order, a batch at a time. */
async function* allEntries(db: pg.Pool | pg.PoolClient): AsyncGenerator<AuditEntry> {
  let after = 0n;
  for (;;) {
    const batch = await entriesAfter(db, after, BATCH);
    yield* batch;
    const last = batch.at(-1);
    if (!last || batch.length < BATCH) return;
    after = BigInt(last.id);
  }
}

/**
 * The id at which `entry`'s content and hash would be a valid link (after the entry stored just
 * before that id), if it is not its own: the entry was moved there from that position.
 */
async function originalPosition(db: pg.Pool | pg.PoolClient, entry: AuditEntry): Promise<string | null> {
  let previous = GENESIS;
  let previousId = 0n;
  for await (const other of allEntries(db)) {
    const candidate = (previousId + 1n).toString();
    if (candidate !== entry.id && entryHash(previous, { ...entry, id: candidate }) === entry.hash) return candidate;
    previous = other.hash;
    previousId = BigInt(other.id);
  }
  return null;
}

/** Checks the whole chain; reports the first entry that was changed, removed or moved. */
export async function verifyChain(db: pg.Pool | pg.PoolClient): Promise<ChainVerdict> {
  let previous = GENESIS;
  let expected = 1n;
  let count = 0;
  let head: { id: string; hash: string } | null = null;
  for await (const entry of allEntries(db)) {
    const id = BigInt(entry.id);
    if (id !== expected) {
      const missing =
        id - expected === 1n ? `entry ${expected} is missing` : `entries ${expected} to ${id - 1n} are missing`;
      return {
        ok: false,
        count,
        problem: { id: expected.toString(), kind: "removed", message: `${missing} (removed)` },
      };
    }
    if (entryHash(previous, entry) !== entry.hash) {
      const from = await originalPosition(db, entry);
      return {
        ok: false,
        count,
        problem: from
          ? {
              id: entry.id,
              kind: "moved",
              message: `entry ${entry.id} holds the entry that belongs at ${from} (moved)`,
            }
          : { id: entry.id, kind: "changed", message: `entry ${entry.id} was changed (its hash does not match)` },
      };
    }
    previous = entry.hash;
    expected = id + 1n;
    count++;
    head = { id: entry.id, hash: entry.hash };
  }
  return { ok: true, count, head };
}
