// Ending a login in this tab: by the user (log out, log out everywhere) or by the idle lock.
import { forgetApiToken } from "../api/connecta.ts";
import { clearSession, type Session } from "./session.ts";

/** Tells the homeserver to end this device's login (`all`: every device's). Never throws. */
async function serverLogout(session: Session, all: boolean): Promise<boolean> {
  try {
    const res = await fetch(new URL(`/_matrix/client/v3/logout${all ? "/all" : ""}`, session.homeserverUrl), {
      method: "POST",
      headers: { authorization: `Bearer ${session.accessToken}`, "content-type": "application/json" },
      body: "{}",
      credentials: "omit",
      keepalive: true,
    });
    return res.ok || res.status === 401;
  } catch {
    return false;
  }
}

/**
 * Logs out: ends the login at the homeserver (this device, or with `everywhere` all devices of
 * the account), stops the Matrix client, deletes this tab's crypto store, drafts and session.
 * Returns false if the homeserver could not be told (the local data is gone anyway).
 */
export async function logout(session: Session, everywhere = false): Promise<boolean> {
  const told = await serverLogout(session, everywhere);
  const { disconnect } = await import("../matrix/remote.ts");
  const { deleteStores } = await import("../matrix/stores.ts");
  disconnect();
  await deleteStores();
  await new Promise<void>((resolve) => {
    const request = indexedDB.deleteDatabase("connecta.drafts");
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
  // Session, drafts and SvelteKit's scroll positions of this tab.
  sessionStorage.clear();
  clearSession();
  forgetApiToken();
  return told;
}
