/**
 * Authentication of API callers. Matrix users (advice seekers, counsellors) present a Matrix
 * OpenID token, which we check with Synapse's `openid/userinfo`: we never see their access
 * token or password. Operators present the installation's operator token.
 *
 * Who a request was authenticated as is remembered with the request ({@link callerOf}), so that
 * the error handler can tell a refused token from a refused caller in the security event log
 * (audit/refusals.ts).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Request } from "express";
import type { Authenticator } from "../http/api.ts";
import { MatrixError } from "../http/errors.ts";

/** Requests authenticated so far, with their caller; forgotten with the request. */
const callers = new WeakMap<Request, string>();

/**
 * Who `req` was authenticated as: a Matrix user id, `"operator"`, or null when it was not (yet)
 * authenticated: a route without authentication, or a token that was refused.
 */
export function callerOf(req: Request): `@${string}` | "operator" | null {
  const caller = callers.get(req);
  if (caller === undefined) return null;
  return caller === "operator" ? "operator" : (caller as `@${string}`);
}

/** How long a checked OpenID token is trusted without asking Synapse again. */
const CACHE_MS = 60_000;

function bearer(req: Request): string {
  const header = req.get("authorization");
  if (!header) throw new MatrixError("M_MISSING_TOKEN", "Missing access token");
  const token = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header)?.[1];
  if (!token) throw new MatrixError("M_UNKNOWN_TOKEN", "Malformed Authorization header");
  return token;
}

/**
 * Checks Matrix OpenID tokens with Synapse's `openid/userinfo` and answers whose they are; a
 * checked token is trusted for a minute without asking again, and a token Synapse called unknown
 * (401) is refused for a minute without asking again: a client repeating a stale or forged token
 * costs one call a minute. The refused ones are kept apart, so that a flood of forged tokens
 * never pushes out the good ones. `beforeAsking` runs before Synapse is asked, and only then:
 * the brake on token checks (auth/brakes.ts) counts there.
 *
 * @throws MatrixError M_UNKNOWN_TOKEN for a token Synapse does not know, M_UNAVAILABLE when it
 *   cannot be asked, or what `beforeAsking` throws
 */
export function createOpenIdVerifier(
  homeserverUrl: string,
): (token: string, beforeAsking?: () => Promise<void>) => Promise<string> {
  const cache = new Map<string, { userId: string; until: number }>();
  const refused = new Map<string, number>();
  const unknown = () => new MatrixError("M_UNKNOWN_TOKEN", "Unknown or expired OpenID token");
  return async (token, beforeAsking) => {
    const key = createHash("sha256").update(token).digest("hex");
    const cached = cache.get(key);
    if (cached && cached.until > Date.now()) return cached.userId;
    if ((refused.get(key) ?? 0) > Date.now()) throw unknown();
    await beforeAsking?.();
    let res: globalThis.Response;
    try {
      res = await fetch(
        `${homeserverUrl}/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(token)}`,
        { signal: AbortSignal.timeout(5_000) },
      );
    } catch {
      throw new MatrixError("M_UNAVAILABLE", "The homeserver is not reachable; please try again");
    }
    // Synapse busy or failing is not a verdict on the token: the client tries again, it does not log out.
    if (res.status >= 500 || res.status === 429) {
      throw new MatrixError("M_UNAVAILABLE", "The homeserver is not reachable; please try again");
    }
    const body = (await res.json().catch(() => ({}))) as { sub?: unknown };
    if (res.status === 401) {
      if (refused.size > 10_000) refused.clear();
      refused.set(key, Date.now() + CACHE_MS);
    }
    if (res.status !== 200 || typeof body.sub !== "string") throw unknown();
    if (cache.size > 10_000) cache.clear();
    cache.set(key, { userId: body.sub, until: Date.now() + CACHE_MS });
    return body.sub;
  };
}

/**
 * Creates the authenticator for the API; `beforeTokenCheck` runs before a user's token is checked
 * at Synapse (not for tokens checked in the last minute): the per-address brake of brakes.ts.
 */
export function createAuthenticator(
  homeserverUrl: string,
  operatorToken: string,
  beforeTokenCheck: (req: Request) => Promise<void> = () => Promise.resolve(),
): Authenticator {
  const operator = Buffer.from(operatorToken);
  const openIdUser = createOpenIdVerifier(homeserverUrl);

  return async (req, auth) => {
    const token = bearer(req);
    if (auth === "operator") {
      const given = Buffer.from(token);
      if (given.length !== operator.length || !timingSafeEqual(given, operator)) {
        throw new MatrixError("M_FORBIDDEN", "Invalid operator token");
      }
      callers.set(req, "operator");
      return null;
    }
    const userId = await openIdUser(token, () => beforeTokenCheck(req));
    callers.set(req, userId);
    return userId;
  };
}
