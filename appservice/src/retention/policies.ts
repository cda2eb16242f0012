/**
 * Retention periods (docs/privacy.md): defaults for every agency, and an agency's own where the
 * operator set one. One query per function; the sweeper (sweeper.ts) reads them in its own SQL.
 */
import type pg from "pg";

/** How long what is kept. */
export interface RetentionPolicy {
  /** Archived conversations are purged this many days after they were closed. */
  archived_days: number;
  /** Unfinished intakes, and conversations in which the seeker never wrote, after this many hours. */
  unfinished_hours: number;
  /** Conversations without any event for this many days are purged, with their seekers. */
  inactive_days: number;
}

const COLUMNS = "archived_days, unfinished_hours, inactive_days";

/** The defaults (the row without agency, written by the migration). */
export async function defaultPolicy(db: pg.Pool | pg.PoolClient): Promise<RetentionPolicy> {
  const { rows } = await db.query<RetentionPolicy>(`SELECT ${COLUMNS} FROM retention_policies WHERE agency_id IS NULL`);
  if (!rows[0]) throw new Error("retention defaults missing");
  return rows[0];
}

/** The agencies' own policies. */
export async function agencyPolicies(
  db: pg.Pool | pg.PoolClient,
): Promise<(RetentionPolicy & { agency_id: number })[]> {
  const { rows } = await db.query<RetentionPolicy & { agency_id: string }>(
    `SELECT agency_id, ${COLUMNS} FROM retention_policies WHERE agency_id IS NOT NULL ORDER BY agency_id`,
  );
  return rows.map((r) => ({ ...r, agency_id: Number(r.agency_id) }));
}

/** Sets the defaults. */
export async function setDefaultPolicy(db: pg.Pool | pg.PoolClient, p: RetentionPolicy): Promise<void> {
  await db.query(
    `UPDATE retention_policies SET archived_days = $1, unfinished_hours = $2, inactive_days = $3, updated_at = now()
      WHERE agency_id IS NULL`,
    [p.archived_days, p.unfinished_hours, p.inactive_days],
  );
}

/** Sets an agency's own policy; false when there is no such agency. */
export async function setAgencyPolicy(db: pg.Pool | pg.PoolClient, agencyId: number, p: RetentionPolicy) {
  const { rowCount } = await db.query(
    `INSERT INTO retention_policies (agency_id, ${COLUMNS})
     SELECT id, $2, $3, $4 FROM agencies WHERE id = $1
     ON CONFLICT (agency_id) DO UPDATE SET archived_days = $2, unfinished_hours = $3, inactive_days = $4,
       updated_at = now()`,
    [agencyId, p.archived_days, p.unfinished_hours, p.inactive_days],
  );
  return rowCount === 1;
}

/** Removes an agency's own policy (the defaults apply again); false when it had none. */
export async function removeAgencyPolicy(db: pg.Pool | pg.PoolClient, agencyId: number): Promise<boolean> {
  const { rowCount } = await db.query("DELETE FROM retention_policies WHERE agency_id = $1", [agencyId]);
  return rowCount === 1;
}
