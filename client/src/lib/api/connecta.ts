// Calls to our API (/api/v1 on this origin, forwarded to the application service) on behalf of
// the logged-in user. The API learns who calls from an OpenID token of the homeserver, never
// from the access token; the token is asked for once and reused until shortly before it expires,
// also across reloads of the tab (kept next to the session in sessionStorage, which logout and
// the quick exit empty).
import type { Session } from "../session/session.ts";
import type { Operations } from "./contract.gen.ts";
import { ApiProblem, jsonRequest, requestOpenIdToken, type JsonAnswer } from "./http.ts";

/** An operation of our API by method and path, e.g. `"POST /api/v1/enquiries/{enquiryId}/claim"`. */
export type Operation = keyof Operations;
/** The 200 answer of `K`, as the application service's routes describe it (contract.gen.ts). */
export type Answer<K extends Operation> = Operations[K]["response"];

/** A part of a request: absent when the operation has none, optional when it may be empty. */
type Part<T, Name extends string> = [T] extends [never]
  ? unknown
  : Record<string, never> extends T
    ? { [P in Name]?: T }
    : { [P in Name]: T };
/** What a call of `K` sends: its path parameters, query and body, as far as it has them. */
export type RequestOf<K extends Operation> = Part<Operations[K]["params"], "params"> &
  Part<Operations[K]["query"], "query"> &
  Part<Operations[K]["body"], "body">;
type RequestArgs<K extends Operation> =
  object extends RequestOf<K> ? [request?: RequestOf<K>] : [request: RequestOf<K>];

/** A request's parts as they are sent. */
interface Parts {
  params?: Record<string, string | number>;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
}

/** How a call of `operation` is sent: method, URL on this origin and JSON body. */
export function requestOf(
  operation: Operation,
  request: unknown,
): { method: "GET" | "POST" | "PUT"; url: string; body: unknown } {
  const parts = (request ?? {}) as Parts;
  const [method, template] = operation.split(" ") as ["GET" | "POST" | "PUT", string];
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(parts.params?.[name])));
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(parts.query ?? {})) {
    if (value !== undefined) query.set(name, String(value));
  }
  // Our POST and PUT routes all take a JSON object, if only an empty one.
  const body = method === "GET" ? undefined : (parts.body ?? {});
  return { method, url: query.size ? `${path}?${query}` : path, body };
}

/**
 * Sends a call of `operation` as it is, without logging in or with the OpenID `token` given
 * (the intake), and returns the answer as it comes: its body is `Answer<K>` when the status
 * is 200.
 *
 * @throws NetworkError when there is no answer
 */
export function send<K extends Operation>(operation: K, request: RequestOf<K>, token?: string): Promise<JsonAnswer> {
  const { method, url, body } = requestOf(operation, request);
  return jsonRequest(url, method, body, token);
}

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

/** An OpenID token of the logged-in user (cached, see above): our API and the call token service take it. */
export async function openIdToken(session: Session): Promise<string> {
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
 * Calls `operation` of our API as the logged-in user and returns the JSON body of its 200
 * answer (repeating it while the application service is briefly unavailable, see
 * {@link retryUnavailable}).
 *
 * @throws ApiProblem for any other answer, NetworkError without one
 */
export async function api<K extends Operation>(
  session: Session,
  operation: K,
  ...[request]: RequestArgs<K>
): Promise<Answer<K>> {
  const { method, url, body } = requestOf(operation, request);
  const call = async (): Promise<JsonAnswer> => jsonRequest(url, method, body, await openIdToken(session));
  let res = await retryUnavailable(call);
  if (res.status === 401) {
    // The token may have been revoked (the homeserver restarted): ask for a new one once.
    forgetApiToken();
    res = await retryUnavailable(call);
  }
  if (res.status !== 200) throw new ApiProblem(res);
  return res.body as Answer<K>;
}

/** Forgets the cached OpenID token (logout, quick exit). */
export function forgetApiToken(): void {
  cached = null;
  sessionStorage.removeItem(STORAGE_KEY);
}
