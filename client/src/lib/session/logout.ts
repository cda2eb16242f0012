// Ending a login in this tab: by the user (log out, log out everywhere) or by a seeker's idle lock.
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
 * Logs out: stops the Matrix client (once a message just sent is safe, at most a moment), ends
 * the login at the homeserver (this device, or with `everywhere` all devices of the account,
 * the dehydrated one too), deletes this tab's crypto store, drafts and session.
 * Returns false if the homeserver could not be told (the local data is gone anyway).
 */
export async function logout(session: Session, everywhere = false): Promise<boolean> {
  // A message sent a moment ago becomes safe first (its key in the backup): the login it needs
  // ends next.
  const { settleAndDisconnect } = await import("../matrix/remote.ts");
  await settleAndDisconnect();
  const told = await serverLogout(session, everywhere);
  const { deleteStores } = await import("../matrix/stores.ts");
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
