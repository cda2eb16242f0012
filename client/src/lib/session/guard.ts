// The check at the top of every counsellor page that needs a login and the device's keys.
import { goto } from "$app/navigation";
import { LOCK_PATH, lockedSession } from "./lock.ts";
import { loadSession, type Session } from "./session.ts";

/**
 * The tab's counsellor session, or null after sending the browser where it must go first: to
 * the lock screen while the tab is locked, to the counsellor login without a session (or with a
 * seeker's), to the keys page while this device's keys are not set up or unlocked yet.
 */
export function requireCounsellorSession(): Session | null {
  if (lockedSession()) {
    void goto(`${LOCK_PATH}?weiter=${encodeURIComponent(location.pathname)}`, { replaceState: true });
    return null;
  }
  const session = loadSession();
  if (!session || session.role !== "counsellor") {
    void goto("/beratung/anmelden", { replaceState: true });
    return null;
  }
  if (!session.keysReady) {
    void goto("/schluessel", { replaceState: true });
    return null;
  }
  return session;
}
