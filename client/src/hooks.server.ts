import type { RequestEvent } from "@sveltejs/kit";
import type { Handle } from "@sveltejs/kit/hooks";
import { FALLBACK_CSP, SECURITY_HEADERS } from "../security-headers.js";
import { LANGUAGE_COOKIE, isLanguage, negotiateLanguage } from "./lib/i18n/negotiate.ts";
import { asMatrixError, isBrowserRoute, matrixError, statusError } from "./lib/server/api-proxy.ts";
import { compressHtml } from "./lib/server/compress.ts";
import { connectOrigins } from "./lib/server/config.ts";
import { isCrossSiteForm } from "./lib/server/csrf.ts";
import { withConnectSources } from "./lib/server/security-headers.ts";

const CONNECT_ORIGINS = connectOrigins();

const CROSS_SITE = "Cross-site requests are refused: send JSON from this site's own pages";

/** Whether `pathname` lies under /api/, where every answer is JSON. */
const isApiPath = (pathname: string): boolean => pathname === "/api" || pathname.startsWith("/api/");

type Resolve = Parameters<Handle>[0]["resolve"];

/**
 * Chooses the language of each request and adds the security headers to everything
 * SvelteKit answers. (Static files are served before this hook; server.js covers them.)
 */
export const handle: Handle = async ({ event, resolve }) => {
  const requested = event.url.searchParams.get("lang");
  if (isLanguage(requested)) {
    // A session cookie only: remembers the choice without leaving a lasting trace.
    event.cookies.set(LANGUAGE_COOKIE, requested, {
      path: "/",
      sameSite: "strict",
      httpOnly: true,
    });
  }
  const lang = negotiateLanguage({
    query: requested,
    cookie: event.cookies.get(LANGUAGE_COOKIE),
    acceptLanguage: event.request.headers.get("accept-language"),
  });
  event.locals.lang = lang;

  const response = await answer(event, resolve, {
    // app.html has <html lang="%lang%">
    transformPageChunk: ({ html }) => html.replace("%lang%", lang),
  });

  const headers = response.headers;
  const csp = headers.get("content-security-policy");
  headers.set("content-security-policy", csp === null ? FALLBACK_CSP : withConnectSources(csp, CONNECT_ORIGINS));
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    headers.set(name, value);
  }
  // The content depends on these request headers, so shared caches must not mix languages.
  headers.append("vary", "Accept-Language, Cookie");
  // Everything answered here is made per request: pages carry a fresh CSP nonce, the API
  // personal data; none of it should stay in the cache of a shared device. (Static files,
  // which may be cached, are served before this hook.)
  if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
  return compressHtml(event.request, response);
};

/**
 * SvelteKit's answer, after our CSRF check (see csrf.ts). Under /api/, only the routes for
 * browsers reach the forwarder (decided on the request's parsed path, see isBrowserRoute), and
 * every error is JSON in the Matrix style.
 */
async function answer(
  event: RequestEvent,
  resolve: Resolve,
  options: NonNullable<Parameters<Resolve>[1]>,
): Promise<Response> {
  const { pathname } = new URL(event.request.url);
  const api = isApiPath(pathname);
  if (isCrossSiteForm(event.request, event.url.origin)) {
    return api
      ? matrixError(403, "M_FORBIDDEN", CROSS_SITE)
      : new Response(CROSS_SITE, { status: 403, headers: { "content-type": "text/plain; charset=utf-8" } });
  }
  if (!api) return resolve(event, options);
  if (!isBrowserRoute(pathname)) return statusError(404);
  return asMatrixError(await resolve(event));
}
