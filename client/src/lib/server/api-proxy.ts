// Forwards the browser's API calls from our own origin to the application service, so that the
// browser talks only to this origin and the homeserver (CSP connect-src): only the routes meant
// for browsers, and every error under /api/ in the Matrix style. Used by
// src/routes/api/v1/[...path]/+server.ts and src/hooks.server.ts.

/** Largest request body forwarded; the appservice's own limit is the same. */
export const MAX_BODY_BYTES = 64 * 1024;

/** How long the appservice may take; the intake completion waits up to 15 s for the room. */
export const TIMEOUT_MS = 30_000;

/** Request headers passed on to the appservice (besides X-Forwarded-For, which we set). */
const FORWARDED_REQUEST_HEADERS = ["authorization", "content-type", "accept", "accept-language"] as const;

/** Response headers not passed back: they describe the connection, not the answer. */
const HOP_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"]);

/**
 * The appservice's routes that browsers use, by their first segment after `/api/v1/`: the
 * intake, a seeker's enquiries, a counsellor's queue, self and colleagues, and the call token
 * service (`rtc`, which Element Call also reaches here). Nothing else is
 * forwarded: not the admin API (operators reach it on the server itself, docs/operators.md),
 * the OpenAPI document or the control room (other clients), and nothing outside `/api/v1/`
 * (transactions, metrics, health).
 */
const BROWSER_ROUTES = new Set(["topics", "intake", "queue", "enquiries", "me", "agencies", "rtc"]);

/**
 * Whether `pathname` (of a parsed URL: dot segments, also `%2e`, already resolved) is one of
 * the {@link BROWSER_ROUTES}, spelled in the one way our pages spell it: lower-case segments of
 * letters, digits, hyphens and underscores (`get_token`), none empty. A path spelled otherwise (percent-encoded, upper
 * case, `//`, `;`, a trailing slash) might mean another route to the appservice's router than
 * to us (express matches without regard to case), so it is not forwarded at all.
 */
export function isBrowserRoute(pathname: string): boolean {
  const match = /^\/api\/v1\/([a-z-]+)(?:\/[a-z0-9_-]+)*$/.exec(pathname);
  return match !== null && BROWSER_ROUTES.has(match[1] as string);
}

/** A JSON error answer in the Matrix style of the appservice, never cached. */
export function matrixError(status: number, errcode: string, error: string): Response {
  return new Response(JSON.stringify({ errcode, error }), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** What an error of SvelteKit's own (no route, wrong method) under /api/ says instead, by status. */
const STATUS_ERRORS: Readonly<Record<number, [errcode: string, error: string]>> = {
  400: ["M_INVALID_PARAM", "The request is not valid"],
  403: ["M_FORBIDDEN", "This request is not allowed"],
  404: ["M_NOT_FOUND", "No such API route"],
  405: ["M_UNRECOGNIZED", "This method is not supported here"],
  413: ["M_TOO_LARGE", "The request is too large"],
};

/**
 * The Matrix-style error for `status`, e.g. 405 `M_UNRECOGNIZED`; `M_UNKNOWN` for statuses
 * without their own code.
 */
export function statusError(status: number): Response {
  const [errcode, error] = STATUS_ERRORS[status] ?? ["M_UNKNOWN", "Something went wrong on our side; please try again"];
  return matrixError(status, errcode, error);
}

/**
 * Passes an answer under /api/ on if it is a success or already a Matrix-style error (the
 * appservice's); any other error (SvelteKit's text or HTML) becomes {@link statusError}.
 */
export async function asMatrixError(response: Response): Promise<Response> {
  if (response.status < 400) return response;
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { errcode?: unknown; error?: unknown } | null;
    if (typeof body?.errcode === "string" && typeof body.error === "string") {
      return new Response(text, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    }
  } catch {
    // Not JSON: replaced below.
  }
  return statusError(response.status);
}

/**
 * Reads a request body, stopping as soon as it is larger than `limit` bytes.
 *
 * @returns the body, or `null` if it is too large
 */
async function readBody(request: Request, limit: number): Promise<Uint8Array<ArrayBuffer> | null> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) return null;
  if (request.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      // Stop reading, but do not cancel: cancelling destroys the connection before the 413 is
      // sent (a chunked body has no length to refuse it by; tests/attack/bodies.test.ts, A-BODY-01).
      reader.releaseLock();
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/**
 * Forwards one API request to the application service and hands its answer back unchanged.
 *
 * @param request - the browser's request to `/api/v1/...` of this origin
 * @param appserviceUrl - base URL of the application service
 * @param clientAddress - the browser's address, sent as `X-Forwarded-For` (replacing any it sent)
 * @returns the appservice's answer (`Cache-Control: no-store` unless it says otherwise); 404
 *   `M_NOT_FOUND` for a path that is no {@link isBrowserRoute}; 413 `M_TOO_LARGE` for a body
 *   over {@link MAX_BODY_BYTES}; 503 `M_UNAVAILABLE` when the appservice cannot be reached or
 *   does not answer in time
 */
export async function forwardApiRequest(
  request: Request,
  appserviceUrl: URL,
  clientAddress: string,
): Promise<Response> {
  const url = new URL(request.url);
  if (!isBrowserRoute(url.pathname)) return statusError(404);
  const target = new URL(`${url.pathname}${url.search}`, appserviceUrl);
  const body =
    request.method === "GET" || request.method === "HEAD" ? undefined : await readBody(request, MAX_BODY_BYTES);
  if (body === null) return matrixError(413, "M_TOO_LARGE", "The request is too large");

  const headers = new Headers({ "x-forwarded-for": clientAddress });
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  let answer: Response;
  try {
    answer = await fetch(target, {
      method: request.method,
      headers,
      ...(body === undefined ? {} : { body }),
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    return matrixError(503, "M_UNAVAILABLE", "The service is not available at the moment; please try again shortly");
  }
  const out = new Headers();
  answer.headers.forEach((value, name) => {
    if (!HOP_HEADERS.has(name)) out.set(name, value);
  });
  // Answers carry personal data (enquiries, names): no cache of a shared device may keep them.
  if (!out.has("cache-control")) out.set("cache-control", "no-store");
  return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers: out });
}
