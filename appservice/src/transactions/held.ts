/**
 * Getting every transaction Synapse holds for us, also after a database outage.
 *
 * When a transaction fails here, Synapse marks the application service down in its database and
 * starts a recoverer, which sends the transactions it holds again, oldest first. When Synapse's
 * database is down at that moment too (one PostgreSQL for both, gone), the mark fails, no
 * recoverer starts, and Synapse goes on sending newer transactions: the failed one stays in its
 * `application_services_txns` until another send fails (Synapse 1.163,
 * `appservice/scheduler.py`, `_on_txn_fail`). Its events would reach us late or never.
 *
 * Two defences, both here:
 * - {@link untilDatabaseAnswers}: the endpoint waits a while for our database instead of failing
 *   at once, so that an outage shorter than that costs Synapse no failed send at all.
 * - {@link OwedTransaction}: after a transaction failed here, another one is refused until the
 *   failed one comes back. Each refusal is a failed send, which Synapse can record once its
 *   database is back; its recoverer then sends the held transaction first. Refusing stops after
 *   a while, so a transaction Synapse no longer has never blocks the rest for good.
 */
import { isDatabaseFailure } from "../db/codes.ts";

/** How long the endpoint waits for the database (Synapse gives up on a request after 60 s). */
export const DATABASE_WAIT_MS = 40_000;
/** How long other transactions are refused while a failed one is owed. */
export const OWED_REFUSAL_MS = 120_000;

/**
 * Runs `work` again while it fails because of the database, for at most `waitMs`; then the last
 * error is thrown. "Because of the database": the error has a failure's SQLSTATE (a lost
 * connection, a deadlock, a shutdown), or `reachable` says the database does not answer now (a
 * refused connection has no SQLSTATE). Any other error is thrown at once.
 */
export async function untilDatabaseAnswers<T>(
  work: () => Promise<T>,
  reachable: () => Promise<boolean>,
  waitMs: number,
): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let pause = 250; ; pause = Math.min(pause * 2, 2_000)) {
    try {
      return await work();
    } catch (err) {
      if (Date.now() + pause > deadline) throw err;
      const databaseGone = isDatabaseFailure(err) || !(await reachable());
      if (!databaseGone) throw err;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/**
 * The transaction that failed here and that Synapse has not sent again yet. One per process:
 * Synapse sends one transaction at a time.
 */
export class OwedTransaction {
  #owed: string | null = null;
  #refusingSince: number | null = null;
  readonly #refuseForMs: number;

  constructor(refuseForMs: number) {
    this.#refuseForMs = refuseForMs;
  }

  /** The transaction owed, if any. */
  get owed(): string | null {
    return this.#owed;
  }

  /**
   * Whether `txnId` may be processed now. False: refuse it, so that Synapse sends the owed one
   * first. After refusing for `refuseForMs` the owed transaction is given up ("gave up").
   */
  admit(txnId: string, now: number): "yes" | "no" | "gave up" {
    if (this.#owed === null || this.#owed === txnId) return "yes";
    this.#refusingSince ??= now;
    if (now - this.#refusingSince < this.#refuseForMs) return "no";
    this.#owed = null;
    this.#refusingSince = null;
    return "gave up";
  }

  /** `txnId` failed here; Synapse holds it. The oldest failed one stays owed. */
  failed(txnId: string): void {
    this.#owed ??= txnId;
  }

  /** `txnId` was processed (or found processed before). */
  done(txnId: string): void {
    if (this.#owed !== txnId) return;
    this.#owed = null;
    this.#refusingSince = null;
  }
}
