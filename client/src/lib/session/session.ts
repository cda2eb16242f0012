// The Matrix login of this tab. Kept in sessionStorage only: it belongs to this tab and is gone
// when the tab is closed (a shared or watched device keeps no lasting login). Never in
// localStorage or cookies. The crypto store in IndexedDB is encrypted with `storeKey`, which
// lives here too: once the tab is closed, what is left in IndexedDB cannot be read.

import type { PassphraseKdf } from "../matrix/client.ts";
import { SESSION_KEY } from "../quick-exit/quick-exit.ts";

/** What the browser keeps of a login (seeker or counsellor). */
export interface Session {
  role: "seeker" | "counsellor";
  homeserverUrl: string;
  userId: string;
  accessToken: string;
  deviceId: string;
  /** The seeker's pseudonym or the counsellor's user name, shown to them. */
  pseudonym: string;
  /** Base64 of 32 random bytes: the key of this device's crypto store in IndexedDB. */
  storeKey: string;
  /** Set once the encryption keys of this device are set up or restored. */
  keysReady?: boolean;
  /**
   * Base64 key that seals this login while the screen is locked (lock.ts), derived from the
   * secret-storage key; set with `keysReady`. Removed from the tab while it is locked.
   */
  lockKey?: string;
  /** How the passphrase gives back the secret-storage key (public PBKDF2 parameters), for the lock. */
  kdf?: PassphraseKdf | null;
  /** A seeker's enquiry, set once the intake is completed. */
  enquiryId?: number;
  roomId?: string;
}

/** The quick exit reads the login from there too, to end it at the homeserver. */
const KEY = SESSION_KEY;

/** A new random key for a device's crypto store. */
export function newStoreKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes));
}

/** Stores the session for this tab. */
export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

/** Changes some fields of this tab's session; does nothing without one. */
export function updateSession(changes: Partial<Session>): Session | null {
  const current = loadSession();
  if (current === null) return null;
  const next = { ...current, ...changes };
  saveSession(next);
  return next;
}

/** The session of this tab, if any. */
export function loadSession(): Session | null {
  const text = sessionStorage.getItem(KEY);
  if (text === null) return null;
  try {
    const parsed = JSON.parse(text) as Partial<Session>;
    if (typeof parsed.accessToken !== "string" || typeof parsed.userId !== "string") return null;
    return { role: "seeker", storeKey: "", ...parsed } as Session;
  } catch {
    return null;
  }
}

/** Forgets the session of this tab (the crypto store is removed by the caller). */
export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}

/** Where a locked tab keeps its sealed login (lock.ts). */
export const LOCKED_KEY = "connecta.locked";

/** Forgets a locked login of this tab (a new login replaces it). */
export function forgetLock(): void {
  sessionStorage.removeItem(LOCKED_KEY);
}
