/**
 * Reading the security event log for the operator: the newest entries first, filtered.
 */
import type pg from "pg";
import { CLASSES, type AuditClass } from "./actions.ts";
import { AT_ISO, type AuditEntry } from "./audit.ts";

/** What to list. */
export interface ListFilter {
  /** ISO time: entries appended at or after it. */
  since: string | null;
  /** This class or a more serious one. */
  atLeast: AuditClass | null;
  limit: number;
}

/** The newest entries that pass `filter`, newest first. */
export async function listEntries(db: pg.Pool | pg.PoolClient, filter: ListFilter): Promise<AuditEntry[]> {
  const classes = filter.atLeast ? CLASSES.slice(CLASSES.indexOf(filter.atLeast)) : [...CLASSES];
  const { rows } = await db.query<AuditEntry>(
    `SELECT id::text AS id, ${AT_ISO} AS at, actor, action, target, client_address, class, count, hash
     FROM audit_log
     WHERE ($1::timestamptz IS NULL OR at >= $1::timestamptz) AND class = ANY($2::text[])
     ORDER BY audit_log.id DESC LIMIT $3`,
    [filter.since, classes, filter.limit],
  );
  return rows;
}
