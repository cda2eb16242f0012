/**
 * Gzip for the pages SvelteKit renders. Static files are precompressed at build time and served
 * by adapter-node; the HTML of server-rendered pages is compressed here, on the fly.
 *
 * BREACH does not apply in a way that matters: the only per-response secret in our HTML is the
 * CSP nonce, which is new on every response, and pages carry no session data (the login lives
 * in the browser's sessionStorage, not in cookies or markup).
 */

/**
 * Tells whether an `Accept-Encoding` header value accepts gzip (`gzip`, `x-gzip` or `*`, with a
 * quality above 0).
 */
export function acceptsGzip(acceptEncoding: string | null): boolean {
  if (acceptEncoding === null) return false;
  let gzip: number | undefined;
  let any: number | undefined;
  for (const part of acceptEncoding.split(",")) {
    const [name = "", ...params] = part.split(";").map((token) => token.trim().toLowerCase());
    const q = params.find((param) => param.startsWith("q="));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    if (Number.isNaN(quality)) continue;
    if (name === "gzip" || name === "x-gzip") gzip = Math.max(gzip ?? 0, quality);
    else if (name === "*") any = quality;
  }
  return (gzip ?? any ?? 0) > 0;
}

/**
 * Compresses an HTML response with gzip if the request accepts it. Every other response (no
 * body, not HTML, already encoded) is returned as it is. The `ETag` of a compressed page is
 * dropped: it named the uncompressed bytes, and pages are `no-store` anyway.
 */
export function compressHtml(request: Request, response: Response): Response {
  const html = response.headers.get("content-type")?.startsWith("text/html") ?? false;
  if (!html) return response;
  response.headers.append("vary", "Accept-Encoding");
  if (response.body === null || response.headers.has("content-encoding")) return response;
  if (!acceptsGzip(request.headers.get("accept-encoding"))) return response;

  const headers = new Headers(response.headers);
  headers.set("content-encoding", "gzip");
  headers.delete("content-length");
  headers.delete("etag");
  return new Response(response.body.pipeThrough(new CompressionStream("gzip")), {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}
