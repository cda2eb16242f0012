// Calls to our API (/api/v1 on this origin, forwarded to the application service) on behalf of
// the logged-in user. The API learns who calls from an OpenID token of the homeserver, never
// from the access token; the token is asked for once and reused until shortly before it expires.
import { ApiProblem, jsonRequest, requestOpenIdToken, type JsonAnswer } from "../intake/http.ts";
import type { Session } from "../session/session.ts";

let cached: { userId: string; token: string; validUntil: number } | null = null;

async function openIdToken(session: Session): Promise<string> {
  if (cached && cached.userId === session.userId && cached.validUntil > Date.now()) return cached.token;
  const res = await requestOpenIdToken(session.homeserverUrl, session.userId, session.accessToken);
  if (res.status !== 200) throw new ApiProblem(res);
  const seconds = Number(res.body.expires_in ?? 3600);
  cached = {
    userId: session.userId,
    token: String(res.body.access_token),
    validUntil: Date.now() + (seconds - 60) * 1000,
  };
  return cached.token;
}

/**
 * Calls our API and returns the JSON body of a 200 answer.
 *
 * @throws ApiProblem for any other answer, NetworkError without one
 */
export async function api<T = Record<string, unknown>>(
  session: Session,
  method: "GET" | "POST" | "PUT",
  path: string,
  body?: unknown,
): Promise<T> {
  let res: JsonAnswer = await jsonRequest(`/api/v1${path}`, method, body, await openIdToken(session));
  if (res.status === 401) {
    // The token may have been revoked (the homeserver restarted): ask for a new one once.
    cached = null;
    res = await jsonRequest(`/api/v1${path}`, method, body, await openIdToken(session));
  }
  if (res.status !== 200) throw new ApiProblem(res);
  return res.body as T;
}

/** Forgets the cached OpenID token (logout, quick exit). */
export function forgetApiToken(): void {
  cached = null;
}
