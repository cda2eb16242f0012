import type { Handle } from "@sveltejs/kit/hooks";
import { FALLBACK_CSP, SECURITY_HEADERS } from "../security-headers.js";
import { LANGUAGE_COOKIE, isLanguage, negotiateLanguage } from "./lib/i18n/negotiate.ts";
import { compressHtml } from "./lib/server/compress.ts";
import { connectOrigins } from "./lib/server/config.ts";
import { withConnectSources } from "./lib/server/security-headers.ts";

const CONNECT_ORIGINS = connectOrigins();

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

  const response = await resolve(event, {
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
  if (headers.get("content-type")?.startsWith("text/html") && !headers.has("cache-control")) {
    // Pages carry a fresh CSP nonce and should not stay in the cache of a shared device.
    headers.set("cache-control", "no-store");
  }
  return compressHtml(event.request, response);
};
