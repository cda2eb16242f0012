/**
 * Brakes on the authenticated API against floods (docs/threat-model.md, "Floods"): every budget
 * belongs to one account or one client address, so a flooder spends only their own, never one
 * that others share.
 *
 * - Token checks: a token we have not seen in the last minute costs a call to Synapse's
 *   `openid/userinfo`, which every caller's check shares (Synapse sees them all coming from us).
 *   Each client address may cause that many per window; after it, its new tokens are refused
 *   with 429 before Synapse is asked. Tokens already checked keep working (authenticate.ts).
 * - Enquiry actions (claim, handover, close, reopen) change state and make the bot call Synapse:
 *   counted per account and per client address.
 *
 * Counted in `rate_limit_counters` like the intake's limits (intake/rate-limit.ts), so all
 * replicas share them; the client address is the TCP peer or what a trusted proxy forwards
 * (intake/client-address.ts).
 */
import type { Request } from "express";
import type { Config } from "../config/config.ts";
import type { Brake } from "../http/api.ts";
import { clientAddress, type ProxyCheck } from "../intake/client-address.ts";
import { addressKey, hit, type Queryable } from "../intake/rate-limit.ts";

/** The brakes' budgets, each per window. */
export interface BrakeSettings {
  /** Length of one counting window. */
  windowSeconds: number;
  /** Token checks at Synapse one client address may cause per window. */
  tokenChecksPerAddress: number;
  /** Enquiry actions one account may take per window. */
  enquiryActionsPerAccount: number;
  /** Enquiry actions all accounts at one client address together may take per window. */
  enquiryActionsPerAddress: number;
}

/** The brakes of a process, from its configuration. */
export function brakeSettings(config: Config): BrakeSettings {
  return {
    windowSeconds: 10 * 60,
    tokenChecksPerAddress: config.tokenChecksPerAddress,
    enquiryActionsPerAccount: config.enquiryActionsPerAccount,
    enquiryActionsPerAddress: config.enquiryActionsPerAddress,
  };
}

/** The rate-limit key of the client behind `req` (an IPv4 address or an IPv6 /64). */
export function requestAddress(req: Request, isTrustedProxy: ProxyCheck): string {
  return addressKey(clientAddress(req.socket.remoteAddress, req.get("x-forwarded-for"), isTrustedProxy));
}

/**
 * Counts a token check at Synapse against the client address of `req`.
 *
 * @throws MatrixError M_LIMIT_EXCEEDED once the address has used its budget
 */
export function tokenCheckBrake(
  db: Queryable,
  s: BrakeSettings,
  isTrustedProxy: ProxyCheck,
): (req: Request) => Promise<void> {
  return (req) =>
    hit(db, `token:addr:${requestAddress(req, isTrustedProxy)}`, s.tokenChecksPerAddress, s.windowSeconds);
}

/**
 * The {@link Brake} of the API's routes: counts a request of a braked route against its account
 * and then its client address.
 *
 * @throws MatrixError M_LIMIT_EXCEEDED once either has used its budget
 */
export function routeBrake(db: Queryable, s: BrakeSettings, isTrustedProxy: ProxyCheck): Brake {
  return async (name, req, userId) => {
    await hit(db, `${name}:user:${userId}`, s.enquiryActionsPerAccount, s.windowSeconds);
    await hit(db, `${name}:addr:${requestAddress(req, isTrustedProxy)}`, s.enquiryActionsPerAddress, s.windowSeconds);
  };
}
