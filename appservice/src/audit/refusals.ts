/**
 * Refused credentials and refused callers in the security event log, collapsed: per minute, one
 * entry per action, caller and client address, with the count of refusals it stands for.
 *
 * Why collapse: anybody can send bad tokens, for free and from many addresses. An entry per
 * refusal would let a flood fill the table (which nobody may clean up: it is append-only) and hold
 * the chain lock for every request. So refusals are counted in memory and written once the minute
 * is over; and a minute keeps at most {@link MAX_KEYS_PER_MINUTE} distinct callers: refusals of
 * any further ones are counted together in one entry without an address. No budget shared by
 * everybody is spent by work nobody paid for; the log grows by a bounded number of entries per
 * minute, however large the flood.
 *
 * What is lost: the counts of the current minute when the process dies (they are written when
 * the minute ends and on shutdown). Each replica collapses on its own, so with two replicas an
 * address may have two entries a minute.
 */
import type { Request } from "express";
import type pg from "pg";
import type { Logger } from "pino";
import { callerOf } from "../auth/authenticate.ts";
import { withTransaction } from "../db/pool.ts";
import type { MatrixError } from "../http/errors.ts";
import { clientAddress, type ProxyCheck } from "../intake/client-address.ts";
import type { AuditAction, AuditActor } from "./actions.ts";
import { recordEvent, type AuditEvent } from "./audit.ts";

/** Distinct (action, caller, address) per minute, beyond which refusals are counted together. */
export const MAX_KEYS_PER_MINUTE = 100;

/** The actions that are collapsed. */
export type RefusalAction = Extract<
  AuditAction,
  | "auth.token_refused"
  | "auth.operator_token_refused"
  | "auth.hs_token_refused"
  | "auth.forbidden"
  | "auth.rate_limited"
>;

/** One refusal. */
export interface Refusal {
  action: RefusalAction;
  actor: AuditActor;
  /** What was asked for (a path: ids only), kept from the minute's first refusal. */
  target: string | null;
  clientAddress: string | null;
}

const minuteOf = (ms: number) => Math.floor(ms / 60_000);

/** Counts refusals per minute and writes them to the security event log, collapsed. */
export class RefusalLog {
  readonly #pool: pg.Pool;
  readonly #log: Logger;
  readonly #now: () => number;
  #minute: number;
  #counts = new Map<string, Required<AuditEvent>>();
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(pool: pg.Pool, log: Logger, now: () => number = Date.now) {
    this.#pool = pool;
    this.#log = log;
    this.#now = now;
    this.#minute = minuteOf(now());
  }

  /** Counts one refusal; costs no database work. */
  note(refusal: Refusal): void {
    this.#rollOver();
    const crowded = this.#counts.size >= MAX_KEYS_PER_MINUTE;
    const key = JSON.stringify([refusal.action, refusal.actor, refusal.clientAddress]);
    const existing = this.#counts.get(key);
    if (existing) {
      existing.count++;
      return;
    }
    if (crowded) {
      // Everybody beyond the limit, together: no address, no caller, no target.
      const overflow = JSON.stringify([refusal.action, "overflow"]);
      const entry = this.#counts.get(overflow);
      if (entry) entry.count++;
      else {
        this.#counts.set(overflow, {
          action: refusal.action,
          actor: "anonymous",
          target: null,
          clientAddress: null,
          count: 1,
        });
      }
      return;
    }
    this.#counts.set(key, { ...refusal, count: 1 });
  }

  /** Writes the counts of minutes that are over; with `all`, also the current minute's. */
  flush(all = false): Promise<void> {
    if (all) this.#swap();
    else this.#rollOver();
    return this.#writing;
  }

  /** Writes finished minutes every ten seconds, until {@link stop}. */
  start(): void {
    this.#timer ??= setInterval(() => void this.flush(), 10_000);
    this.#timer.unref();
  }

  /** Stops the timer and writes everything counted so far. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush(true);
  }

  #rollOver(): void {
    const minute = minuteOf(this.#now());
    if (minute !== this.#minute) {
      this.#swap();
      this.#minute = minute;
    }
  }

  #swap(): void {
    if (this.#counts.size === 0) return;
    const events = [...this.#counts.values()];
    this.#counts = new Map();
    // One transaction per minute: one wait for the chain lock, not one per caller.
    this.#writing = this.#writing
      .then(() =>
        withTransaction(this.#pool, async (tx) => {
          for (const event of events) await recordEvent(tx, event);
        }),
      )
      .catch((err: Error) => this.#log.warn({ err: err.message, entries: events.length }, "refusals not logged"));
  }
}

/**
 * Turns the refusals the error handler sees into {@link Refusal}s: a refused token (nobody was
 * authenticated) with the client address, a refused authenticated caller with the caller and
 * path, a flood brake's 429 with the caller (if known), path and address. Other errors are no
 * security events.
 */
export function refusalOf(err: MatrixError, req: Request, isTrustedProxy: ProxyCheck): Refusal | null {
  const caller = callerOf(req);
  const address = () =>
    clientAddress(req.socket.remoteAddress, req.get("x-forwarded-for"), isTrustedProxy)?.slice(0, 64) ?? null;
  // A flood brake's refusal: who (if known) and from where, so that the operator sees floods.
  if (err.errcode === "M_LIMIT_EXCEEDED") {
    return {
      action: "auth.rate_limited",
      actor: caller ?? "anonymous",
      target: req.path.slice(0, 300),
      clientAddress: address(),
    };
  }
  if (caller !== null) {
    if (err.errcode !== "M_FORBIDDEN") return null;
    return { action: "auth.forbidden", actor: caller, target: req.path.slice(0, 300), clientAddress: null };
  }
  let action: RefusalAction;
  if (err.errcode === "M_UNKNOWN_TOKEN") action = "auth.token_refused";
  else if (err.errcode === "M_FORBIDDEN") {
    // Nobody authenticated and refused: the operator token (our API) or the homeserver's token.
    action = req.path.startsWith("/api/") ? "auth.operator_token_refused" : "auth.hs_token_refused";
  } else return null;
  return { action, actor: "anonymous", target: null, clientAddress: address() };
}
