// Calls to our API (/api/v1 on this origin, forwarded to the application service) on behalf of
// the logged-in user. The API learns who calls from an OpenID token of the homeserver, never
// from the access token; the token is asked for once and reused until shortly before it expires,
// also across reloads of the tab (kept next to the session in sessionStorage, which logout and
// the quick exit empty).
import { ApiProblem, jsonRequest, requestOpenIdToken, type JsonAnswer } from "../intake/http.ts";
import type { Session } from "../session/session.ts";

interface CachedToken {
  userId: string;
  token: string;
  validUntil: number;
}

const STORAGE_KEY = "connecta.openid";
let cached: CachedToken | null = null;

/** The token kept by an earlier page load of this tab, if it looks like one. */
function stored(): CachedToken | null {
  try {
    const value: unknown = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null");
    const token = value as Partial<CachedToken> | null;
    return typeof token?.userId === "string" && typeof token.token === "string" && typeof token.validUntil === "number"
      ? (token as CachedToken)
      : null;
  } catch {
    return null;
  }
}

async function openIdToken(session: Session): Promise<string> {
  cached ??= stored();
  if (cached && cached.userId === session.userId && cached.validUntil > Date.now()) return cached.token;
  const res = await requestOpenIdToken(session.homeserverUrl, session.userId, session.accessToken);
  if (res.status !== 200) throw new ApiProblem(res);
  const seconds = Number(res.body.expires_in ?? 3600);
  cached = {
    userId: session.userId,
    token: String(res.body.access_token),
    validUntil: Date.now() + (seconds - 60) * 1000,
  };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(cached));
  return cached.token;
}

/** Waits before each repetition of a request answered `503 M_UNAVAILABLE`, in milliseconds. */
export const UNAVAILABLE_WAITS_MS = [1000, 3000] as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends `request` again, after a short wait, while it is answered `503 M_UNAVAILABLE`: the
 * application service says so when Synapse took too long to reflect a claim, handover or close
 * that is already decided (docs/workflow.md), and a repeated request then answers it. All our
 * API calls may be repeated. A `Retry-After` of up to 5 s is honoured.
 */
export async function retryUnavailable(
  request: () => Promise<JsonAnswer>,
  wait: (ms: number) => Promise<void> = sleep,
): Promise<JsonAnswer> {
  let res = await request();
  for (const ms of UNAVAILABLE_WAITS_MS) {
    if (res.status !== 503 || res.body.errcode !== "M_UNAVAILABLE") break;
    await wait(res.retryAfter !== null && res.retryAfter <= 5 ? res.retryAfter * 1000 : ms);
    res = await request();
  }
  return res;
}

/**
 * Calls our API and returns the JSON body of a 200 answer (repeating it while the application
 * service is briefly unavailable, see {@link retryUnavailable}).
 *
 * @throws ApiProblem for any other answer, NetworkError without one
 */
export async function api<T = Record<string, unknown>>(
  session: Session,
  method: "GET" | "POST" | "PUT",
  path: string,
  body?: unknown,
): Promise<T> {
  const send = async (): Promise<JsonAnswer> => jsonRequest(`/api/v1${path}`, method, body, await openIdToken(session));
  let res = await retryUnavailable(send);
  if (res.status === 401) {
    // The token may have been revoked (the homeserver restarted): ask for a new one once.
    forgetApiToken();
    res = await retryUnavailable(send);
  }
  if (res.status !== 200) throw new ApiProblem(res);
  return res.body as T;
}

/** Forgets the cached OpenID token (logout, quick exit). */
export function forgetApiToken(): void {
  cached = null;
  sessionStorage.removeItem(STORAGE_KEY);
}
