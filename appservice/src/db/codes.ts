/**
 * The numbers we share with PostgreSQL, in one place: the key spaces of our advisory locks and
 * the SQLSTATE codes we react to.
 */

/**
 * First key of every advisory lock we take (`pg_advisory_lock(space, key)`), one space per kind
 * of lock. Two features in one space would wait for each other's locks whenever their second
 * keys meet (a step id and the hash of a user id, say), so each kind has its own.
 */
export const LOCK_SPACE = {
  /** Migrations, across replicas starting at once (the only key of its space). */
  MIGRATIONS: 7_320_451,
  /** One step of the outbox (second key: the step's id), so two replicas never run it at once. */
  STEPS: 7_320_452,
  /** Work on one counsellor's account (second key: the hash of the user id). */
  COUNSELLOR_ACCOUNTS: 7_320_453,
  /** Setting up one counsellor's control room (second key: the hash of the user id). */
  CONTROL_ROOMS: 7_320_454,
  /**
   * Appending to the security event log (the only key of its space), held to the end of the
   * appending transaction so that concurrent writers form one chain (audit/audit.ts).
   */
  AUDIT_CHAIN: 7_320_455,
  /** Telling the audit webhook (the only key of its space), so one replica at a time does it. */
  AUDIT_WEBHOOK: 7_320_456,
  /** The retention sweep, one replica at a time (the only key of its space). */
  RETENTION_SWEEP: 7_320_457,
} as const;

/** SQLSTATE codes we react to. */
export const SQLSTATE = {
  UNIQUE_VIOLATION: "23505",
  FOREIGN_KEY_VIOLATION: "23503",
  /** Also what the audit log's triggers raise on UPDATE, DELETE and TRUNCATE. */
  INSUFFICIENT_PRIVILEGE: "42501",
} as const;

/**
 * SQLSTATE classes that mean the database itself failed rather than the statement: connection
 * exception (08), serialization failure and deadlock (40), insufficient resources such as a full
 * disk or too many connections (53), operator intervention such as a shutdown or a cancelled
 * statement (57), system errors (58) and internal errors (XX). Data exceptions (22) and
 * constraint violations (23), for instance, are not among them.
 */
const DATABASE_FAILURE = /^(08|40|53|57|58|XX)[0-9A-Z]{3}$/;

/** The SQLSTATE and constraint of a PostgreSQL error, if it is one. */
export function pgError(err: unknown): { code: string; constraint: string } | null {
  if (typeof err !== "object" || err === null || !("code" in err) || typeof err.code !== "string") return null;
  const constraint = "constraint" in err && typeof err.constraint === "string" ? err.constraint : "";
  return { code: err.code, constraint };
}

/** Whether `err` says that the database itself failed (see {@link DATABASE_FAILURE}). */
export function isDatabaseFailure(err: unknown): boolean {
  const code = pgError(err)?.code;
  return code !== undefined && DATABASE_FAILURE.test(code);
}
