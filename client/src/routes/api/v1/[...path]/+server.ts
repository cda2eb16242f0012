// The application service's API on our own origin: GET, POST and PUT of the routes browsers
// use are forwarded (see src/lib/server/api-proxy.ts; src/hooks.server.ts refuses the rest
// first), so the browser needs no other origin than ours and the homeserver's.
import { forwardApiRequest } from "../../../../lib/server/api-proxy.ts";
import type { RequestHandler } from "./$types";

/**
 * No redirect for a trailing slash: a path spelled other than our pages spell it is refused
 * (404 `M_NOT_FOUND`, see isBrowserRoute), not sent on to its canonical form.
 */
export const trailingSlash = "ignore";

const forward: RequestHandler = async ({ request, getClientAddress }) => {
  // Imported on use: `vite build` loads this module to analyse the routes, without the
  // environment. (hooks.server.ts imports the configuration when the server starts.)
  const { config } = await import("../../../../lib/server/config.ts");
  return forwardApiRequest(request, config.appserviceUrl, getClientAddress());
};

/** Forwards a GET to the application service. */
export const GET = forward;

/** Forwards a POST to the application service. */
export const POST = forward;

/** Forwards a PUT (e.g. a counsellor's absence) to the application service. */
export const PUT = forward;
