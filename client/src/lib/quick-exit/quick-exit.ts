/**
 * Quick exit: leave the counselling site at once and wipe what it stored in this browser.
 *
 * People who write to a counsellor may be watched at home. One click on "Leave this page
 * quickly" (or Escape twice) hides the page, ends the tab's login at the homeserver, empties
 * our origin's storage and replaces the current history entry with an innocuous page on our
 * own origin, so that Back does not lead to the counselling page. Earlier history entries
 * cannot be removed by a web page.
 */

/** Path of the innocuous page the quick exit leads to (a recipe; no word about counselling). */
export const NEUTRAL_PATH = "/rezept";

/** How many Escape presses trigger the quick exit, and within how many milliseconds. */
export const ESCAPE_PRESSES = 2;
export const ESCAPE_WINDOW_MS = 1000;

/** Longest wait for IndexedDB deletions before leaving; they finish in the background anyway. */
const DELETE_WAIT_MS = 300;

/**
 * Longest the quick exit waits, with the page already hidden and before the login ends, for a
 * message sent a moment ago to be safe (its key in the key backup, see remote.ts): otherwise
 * the person could not read it again after the next login. Only when such a message exists.
 */
export const SETTLE_WAIT_MS = 1500;

/**
 * Creates a detector for "Escape pressed `presses` times within `windowMs`". Pure: feed it
 * each key press with its time stamp; it answers `true` on the press that completes the
 * sequence and then starts over. Any other key breaks the sequence.
 */
export function createEscapeSequence(
  presses: number = ESCAPE_PRESSES,
  windowMs: number = ESCAPE_WINDOW_MS,
): (key: string, time: number) => boolean {
  let times: number[] = [];
  return (key, time) => {
    if (key !== "Escape") {
      times = [];
      return false;
    }
    times = [...times, time].filter((t) => time - t <= windowMs);
    if (times.length < presses) return false;
    times = [];
    return true;
  };
}

/** Deletes one IndexedDB database; resolves when done, failed or blocked by an open connection. */
function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
}

/** Deletes every IndexedDB database and Cache Storage cache of our origin. */
async function deleteStores(): Promise<void> {
  const deletions: Promise<unknown>[] = [];
  if ("caches" in window) {
    deletions.push(caches.keys().then((keys) => Promise.all(keys.map((key) => caches.delete(key)))));
  }
  // indexedDB.databases() is missing in older browsers: then this throws and is caught below.
  const databases = await indexedDB.databases();
  for (const { name } of databases) {
    if (name !== undefined) deletions.push(deleteDatabase(name));
  }
  await Promise.all(deletions);
}

/**
 * The event sent on `window` before our storage is cleared: whoever holds something open (the
 * Matrix worker, with its crypto store) lets go of it (remote.ts listens): at once, or, when the
 * event's detail offers `waitFor`, after finishing what must not be lost, which the quick exit
 * then awaits for a moment.
 */
export const LEAVING_EVENT = "connecta:leaving";

/** The detail of {@link LEAVING_EVENT}. */
export interface LeavingDetail {
  /** Hands in work the leaving page waits for, at most {@link SETTLE_WAIT_MS}. */
  waitFor?: (work: Promise<unknown>) => void;
}

/** Tells every listener that we leave, and waits at most `maxMs` for what they hand in. */
async function letGo(maxMs: number): Promise<void> {
  const work: Promise<unknown>[] = [];
  const detail: LeavingDetail = { waitFor: (promise) => work.push(promise) };
  window.dispatchEvent(new CustomEvent(LEAVING_EVENT, { detail }));
  if (work.length === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([Promise.allSettled(work), new Promise((resolve) => (timer = setTimeout(resolve, maxMs)))]);
  clearTimeout(timer);
}

/**
 * Empties sessionStorage, localStorage, all IndexedDB databases and Cache Storage of our
 * origin, waiting at most a moment. Never throws: whatever cannot be cleared is skipped.
 * Deletions that take longer (a database still open in this page) complete when the page is gone.
 */
export async function clearSiteData(): Promise<void> {
  window.dispatchEvent(new CustomEvent(LEAVING_EVENT, { detail: {} satisfies LeavingDetail }));
  for (const storage of ["sessionStorage", "localStorage"] as const) {
    try {
      window[storage].clear();
    } catch {
      // Storage switched off by the browser: nothing to clear.
    }
  }
  await Promise.race([
    deleteStores().catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, DELETE_WAIT_MS)),
  ]);
}

/**
 * Where the tab's Matrix login is kept (session.ts reads and writes it there): the quick exit
 * reads it itself, so that it works on every page without loading anything else.
 */
export const SESSION_KEY = "connecta.session";

/**
 * Ends the tab's Matrix login at the homeserver (Synapse deletes this device), without waiting:
 * with `keepalive` the request goes on after the page has gone. Whoever finds the token later
 * (a copy of the browser's storage) can do nothing with it. Never throws.
 */
function endLogin(): void {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null") as {
      homeserverUrl?: unknown;
      accessToken?: unknown;
    } | null;
    if (typeof session?.homeserverUrl !== "string" || typeof session.accessToken !== "string") return;
    fetch(new URL("/_matrix/client/v3/logout", session.homeserverUrl), {
      method: "POST",
      headers: { authorization: `Bearer ${session.accessToken}`, "content-type": "application/json" },
      body: "{}",
      credentials: "omit",
      keepalive: true,
    }).catch(() => undefined);
  } catch {
    // No storage, no session, no valid URL: nothing to end.
  }
}

/**
 * Leaves the site now: hides the page at once, lets a message sent a moment ago become safe
 * (at most {@link SETTLE_WAIT_MS}, only if there is one), ends the login at the homeserver,
 * clears our storage and replaces the current history entry with {@link NEUTRAL_PATH}.
 */
export async function quickExit(): Promise<void> {
  // On <html>: the UA's [hidden] rule hides it (app.css gives <body> its own display).
  document.documentElement.hidden = true;
  document.title = "";
  try {
    await letGo(SETTLE_WAIT_MS);
  } catch {
    // Whatever a listener does, the exit goes on.
  }
  endLogin();
  try {
    await clearSiteData();
  } finally {
    location.replace(NEUTRAL_PATH);
  }
}
