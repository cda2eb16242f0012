// JSON over HTTP for the whole client: our API on this origin (/api/v1/, forwarded to the
// application service; typed calls in connecta.ts) and the homeserver's client API
// (registration, login, OpenID token).

/** An answer: status and JSON body (empty object when the body is no JSON). */
export interface JsonAnswer {
  status: number;
  body: Record<string, unknown>;
  /** Seconds from a `Retry-After` header or a Matrix `retry_after_ms`, if given. */
  retryAfter: number | null;
}

/** An answer that is not the one hoped for; `answer` tells what went wrong. */
export class ApiProblem extends Error {
  /** The answer as received. */
  readonly answer: JsonAnswer;

  constructor(answer: JsonAnswer) {
    super(typeof answer.body.errcode === "string" ? answer.body.errcode : String(answer.status));
    this.answer = answer;
  }
}

/** A request that did not reach the server at all (offline, connection refused). */
export class NetworkError extends Error {}

/**
 * Sends a JSON request and reads the JSON answer.
 *
 * @throws NetworkError when there is no answer
 */
export async function jsonRequest(
  url: string,
  method: "GET" | "POST" | "PUT",
  body?: unknown,
  token?: string,
): Promise<JsonAnswer> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (err) {
    throw new NetworkError(err instanceof Error ? err.message : "network error");
  }
  let json: Record<string, unknown> = {};
  try {
    const parsed: unknown = await res.json();
    if (typeof parsed === "object" && parsed !== null) json = parsed as Record<string, unknown>;
  } catch {
    // not JSON: keep the empty object
  }
  const header = Number(res.headers.get("retry-after"));
  const ms = Number(json.retry_after_ms);
  const retryAfter = Number.isFinite(header) && header > 0 ? header : Number.isFinite(ms) && ms > 0 ? ms / 1000 : null;
  return { status: res.status, body: json, retryAfter };
}

/** Longest total wait for the homeserver's registration rate limit before giving up. */
const MAX_REGISTRATION_WAIT_S = 30;

/**
 * Registers at the homeserver with a single-use registration token through user-interactive
 * auth: `m.login.registration_token`, then `m.login.dummy` (docs/intake.md, step 3). The
 * password goes to the homeserver only.
 */
export async function registerWithToken(
  homeserverUrl: string,
  username: string,
  password: string,
  token: string,
): Promise<JsonAnswer> {
  const url = new URL("/_matrix/client/v3/register", homeserverUrl).href;
  // Synapse limits registration requests per address (rc_registration), and people behind one
  // mobile network's address share that limit: wait as long as it says, up to half a minute in all.
  let waited = 0;
  const register = async (auth?: Record<string, unknown>): Promise<JsonAnswer> => {
    for (;;) {
      const res = await jsonRequest(url, "POST", {
        username,
        password,
        initial_device_display_name: "Connecta",
        inhibit_login: false,
        ...(auth ? { auth } : {}),
      });
      if (res.status !== 429 || res.retryAfter === null || waited + res.retryAfter > MAX_REGISTRATION_WAIT_S) {
        return res;
      }
      await new Promise((resolve) => setTimeout(resolve, (res.retryAfter ?? 0) * 1000));
      waited += res.retryAfter;
    }
  };
  const start = await register();
  if (start.status !== 401) return start;
  const session = start.body.session;
  let res = await register({ type: "m.login.registration_token", token, session });
  const completed = Array.isArray(res.body.completed) ? (res.body.completed as unknown[]) : [];
  if (res.status === 401 && completed.includes("m.login.registration_token")) {
    res = await register({ type: "m.login.dummy", session });
  }
  return res;
}

/** Asks the homeserver for an OpenID token, which proves the user id to the application service. */
export async function requestOpenIdToken(
  homeserverUrl: string,
  userId: string,
  accessToken: string,
): Promise<JsonAnswer> {
  const path = `/_matrix/client/v3/user/${encodeURIComponent(userId)}/openid/request_token`;
  return jsonRequest(new URL(path, homeserverUrl).href, "POST", {}, accessToken);
}
