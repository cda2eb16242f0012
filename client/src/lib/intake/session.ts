// The seeker's Matrix session in the browser. Kept in sessionStorage only: it belongs to this
// tab and is gone when the tab is closed (a shared or watched device keeps no lasting login).
// Never in localStorage or cookies.

/** What the browser keeps of a seeker's login. */
export interface SeekerSession {
  homeserverUrl: string;
  userId: string;
  accessToken: string;
  deviceId: string;
  /** The pseudonym, shown on the confirmation page. */
  pseudonym: string;
  /** Set once the intake is completed. */
  enquiryId?: number;
  roomId?: string;
}

const KEY = "connecta.session";

/** Stores the session for this tab. */
export function saveSession(session: SeekerSession): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

/** The session of this tab, if any. */
export function loadSession(): SeekerSession | null {
  const text = sessionStorage.getItem(KEY);
  if (text === null) return null;
  try {
    return JSON.parse(text) as SeekerSession;
  } catch {
    return null;
  }
}
