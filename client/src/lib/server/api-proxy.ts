// Forwards the browser's API calls from our own origin to the application service, so that the
// browser talks only to this origin and the homeserver (CSP connect-src). Used by
// src/routes/api/v1/[...path]/+server.ts.

/** Largest request body forwarded; the appservice's own limit is the same. */
export const MAX_BODY_BYTES = 64 * 1024;

/** How long the appservice may take; the intake completion waits up to 15 s for the room. */
export const TIMEOUT_MS = 30_000;

/** Request headers passed on to the appservice (besides X-Forwarded-For, which we set). */
const FORWARDED_REQUEST_HEADERS = ["authorization", "content-type", "accept", "accept-language"] as const;

/** Response headers not passed back: they describe the connection, not the answer. */
const HOP_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"]);

/** A JSON error answer in the Matrix style of the appservice. */
function matrixError(status: number, errcode: string, error: string): Response {
  return new Response(JSON.stringify({ errcode, error }), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
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
      await reader.cancel();
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
 * @returns the appservice's answer; 413 `M_TOO_LARGE` for a body over {@link MAX_BODY_BYTES};
 *   503 `M_UNAVAILABLE` when the appservice cannot be reached or does not answer in time
 */
export async function forwardApiRequest(
  request: Request,
  appserviceUrl: URL,
  clientAddress: string,
): Promise<Response> {
  const url = new URL(request.url);
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
  return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers: out });
}
