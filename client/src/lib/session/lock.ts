// The counsellors' idle lock. A counsellor's browser device should live through a working day:
// every login is a new device, and a device that did not exist when a seeker wrote cannot read
// it. So after some minutes without input the screen locks instead of logging out. The device
// stays at the homeserver (keys keep arriving for it); the tab keeps nothing that could use the
// login: the Matrix worker stops (with the unlocked keys in its memory), the access token and
// the crypto store's key are sealed with the lock key (seal.ts), and the lock key is removed.
// The passphrase or the recovery key opens it again, as the same device. Drafts stay as they are
// (encrypted, see chat/draft.ts).
import { forgetApiToken } from "../api/connecta.ts";
import { openLock, settleAndDisconnect } from "../matrix/remote.ts";
import { seal, type Sealed } from "./seal.ts";
import { LOCKED_KEY, clearSession, loadSession, saveSession, type Session } from "./session.ts";

/** The path of the lock screen. */
export const LOCK_PATH = "/beratung/gesperrt";

/** A locked tab's login: what may stay readable, and the sealed rest. */
export interface LockedSession {
  session: Omit<Session, "accessToken" | "storeKey" | "lockKey">;
  sealed: Sealed;
}

/** What is sealed. */
interface Secrets {
  accessToken: string;
  storeKey: string;
}

/** The locked login of this tab, if the tab is locked. */
export function lockedSession(): LockedSession | null {
  try {
    const value = JSON.parse(sessionStorage.getItem(LOCKED_KEY) ?? "null") as Partial<LockedSession> | null;
    return value?.session && typeof value.sealed?.iv === "string" && typeof value.sealed.data === "string"
      ? (value as LockedSession)
      : null;
  } catch {
    return null;
  }
}

/**
 * Locks this tab: waits a moment for messages just sent to be safe, stops the Matrix worker and
 * seals the login. Returns false (and changes nothing) if the tab's login cannot be locked
 * (none, or its keys were never unlocked here): the caller logs out instead.
 */
export async function lockSession(): Promise<boolean> {
  const session = loadSession();
  if (!session?.keysReady || !session.lockKey) return false;
  await settleAndDisconnect();
  const { accessToken, storeKey, lockKey, ...rest } = session;
  const locked: LockedSession = {
    session: rest,
    sealed: await seal(lockKey, JSON.stringify({ accessToken, storeKey } satisfies Secrets)),
  };
  sessionStorage.setItem(LOCKED_KEY, JSON.stringify(locked));
  clearSession();
  forgetApiToken();
  return true;
}

/**
 * Unlocks this tab with the passphrase or the recovery key and restores its login (the same
 * device as before the lock).
 *
 * @throws RemoteError named WrongSecretError when the secret does not fit
 */
export async function unlockSession(
  locked: LockedSession,
  secret: { passphrase: string } | { recoveryKey: string },
): Promise<Session> {
  const { plain, lockKey } = await openLock(locked.sealed, locked.session.kdf ?? null, secret);
  const secrets = JSON.parse(plain) as Secrets;
  const session: Session = { ...locked.session, ...secrets, lockKey };
  saveSession(session);
  sessionStorage.removeItem(LOCKED_KEY);
  return session;
}

/** Where unlocking leads back to: the counsellor page the lock came from, never anywhere else. */
export function returnPath(wanted: string | null): string {
  return wanted !== null && /^\/beratung(\/[a-z0-9-]+)*$/.test(wanted) && wanted !== LOCK_PATH ? wanted : "/beratung";
}
