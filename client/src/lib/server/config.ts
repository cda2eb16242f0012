// Run-time configuration of the client server: the only module that reads the environment.
// It is evaluated when the server starts (SvelteKit loads hooks.server.ts, which imports it),
// so a missing or malformed value stops the start with an error naming the variable.
import {
  CONNECTA_APPSERVICE_URL,
  CONNECTA_HOMESERVER_URL,
  CONNECTA_IDLE_LOCK_MINUTES,
  CONNECTA_LIVEKIT_URL,
  CONNECTA_SITE_FILE,
} from "$app/env/private";
import { loadSite } from "./site.ts";
import { parseAppserviceUrl, parseHomeserverUrl, parseIdleLockMinutes, parseLivekitUrl } from "./parse-env.ts";

/** Validated run-time configuration. */
export const config = {
  /** Public base URL of the Matrix homeserver. */
  homeserverUrl: parseHomeserverUrl(CONNECTA_HOMESERVER_URL),
  /** Base URL of the application service; `/api/v1/` of this server forwards to it. */
  appserviceUrl: parseAppserviceUrl(CONNECTA_APPSERVICE_URL),
  /** WebSocket URL of the LiveKit server, if calls are configured. */
  livekitUrl: parseLivekitUrl(CONNECTA_LIVEKIT_URL),
  /** Minutes without input after which a logged-in tab locks. */
  idleLockMinutes: parseIdleLockMinutes(CONNECTA_IDLE_LOCK_MINUTES),
  /** The operator's Impressum, privacy notice and crisis lines. */
  site: loadSite(CONNECTA_SITE_FILE),
};

/**
 * Origins besides our own that the browser may connect to: the homeserver and, if
 * configured, LiveKit. Meant for the CSP `connect-src` directive.
 *
 * @returns the origins, e.g. `['http://127.0.0.1:8008']`
 */
export function connectOrigins(): string[] {
  return [config.homeserverUrl.origin, ...(config.livekitUrl ? [config.livekitUrl.origin] : [])];
}
