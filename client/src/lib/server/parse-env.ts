// Validation of the environment variables, used by config.ts. Free of SvelteKit modules so
// that unit tests can run it.

/**
 * Validates `CONNECTA_HOMESERVER_URL`, the public base URL of the Matrix homeserver.
 *
 * @param value - the raw environment value
 * @returns the parsed URL
 * @throws Error naming the variable if it is missing or not a plain http(s) URL
 */
export function parseHomeserverUrl(value: string | undefined): URL {
  const name = "CONNECTA_HOMESERVER_URL";
  if (value === undefined || value.trim() === "") {
    throw new Error(`${name} is required: the public base URL of the homeserver, e.g. http://127.0.0.1:8008`);
  }
  return parseUrl(name, value, ["http:", "https:"]);
}

/**
 * Validates `CONNECTA_APPSERVICE_URL`, the base URL of the application service as the client
 * server reaches it (the browser reaches its API through this server's `/api/v1/`).
 *
 * @param value - the raw environment value
 * @returns the parsed URL
 * @throws Error naming the variable if it is missing or not a plain http(s) URL
 */
export function parseAppserviceUrl(value: string | undefined): URL {
  const name = "CONNECTA_APPSERVICE_URL";
  if (value === undefined || value.trim() === "") {
    throw new Error(`${name} is required: the base URL of the application service, e.g. http://127.0.0.1:9009`);
  }
  return parseUrl(name, value, ["http:", "https:"]);
}

/**
 * Validates the optional `CONNECTA_LIVEKIT_URL`, the WebSocket URL of the LiveKit server.
 *
 * @param value - the raw environment value
 * @returns the parsed URL, or undefined if the variable is unset or empty
 * @throws Error naming the variable if it is set but not a plain ws(s) URL
 */
export function parseLivekitUrl(value: string | undefined): URL | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  return parseUrl("CONNECTA_LIVEKIT_URL", value, ["ws:", "wss:"]);
}

/** Parses an absolute URL with one of the given protocols, without credentials, query or fragment. */
function parseUrl(name: string, value: string, protocols: readonly string[]): URL {
  const expected = `an absolute ${protocols.map((p) => `${p}//`).join(" or ")} URL`;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new Error(`${name} must be ${expected}, got ${JSON.stringify(value)}`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new Error(`${name} must be ${expected}, got ${JSON.stringify(value)}`);
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    throw new Error(`${name} must not contain credentials, a query or a fragment`);
  }
  return url;
}

/**
 * Validates the optional `CONNECTA_IDLE_LOCK_MINUTES`: after this many minutes without input, a
 * logged-in tab locks: a seeker's logs this device out (the history comes back with password and
 * passphrase), for shared devices; a counsellor's screen locks and the passphrase opens it again,
 * as the same device (lib/session/lock.ts).
 *
 * @param value - the raw environment value
 * @returns the minutes, 15 when unset
 * @throws Error naming the variable if it is not a whole number from 1 to 1440
 */
export function parseIdleLockMinutes(value: string | undefined): number {
  if (value === undefined || value.trim() === "") return 15;
  const minutes = Number(value.trim());
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
    throw new Error(`CONNECTA_IDLE_LOCK_MINUTES must be a whole number of minutes from 1 to 1440, not "${value}"`);
  }
  return minutes;
}
