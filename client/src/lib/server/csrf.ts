// Protection against cross-site request forgery, for every request SvelteKit answers (see
// hooks.server.ts). SvelteKit's own check (its `csrf` option) answers in plain text before any
// hook runs, so the API could not answer in JSON: its check is switched off in vite.config.ts
// and made here, with the same rule.

/** Methods a form can send that change something. */
const MUTATING_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Content types a cross-site form can send without the browser asking first (CORS). */
const FORM_TYPES = new Set([
  "application/x-www-form-urlencoded",
  "multipart/form-data",
  "text/plain",
  // SvelteKit's binary form data (remote functions' forms).
  "application/x-sveltekit-formdata",
]);

/**
 * Whether `request` must be refused as possibly cross-site: a POST, PUT, PATCH or DELETE with a
 * form content type or none at all, whose `Origin` is not `selfOrigin` (or missing). This is
 * SvelteKit's rule (`is_csrf_forbidden` in its respond.js) without trusted origins: our pages
 * send JSON, which a foreign site cannot send without the browser asking us first.
 *
 * @param selfOrigin - the origin of the request's own URL, as SvelteKit sees it
 */
export function isCrossSiteForm(request: Request, selfOrigin: string): boolean {
  if (!MUTATING_METHODS.has(request.method)) return false;
  const type = (request.headers.get("content-type") ?? "").split(";", 1)[0]?.trim().toLowerCase() ?? "";
  if (type !== "" && !FORM_TYPES.has(type)) return false;
  return request.headers.get("origin") !== selfOrigin;
}
