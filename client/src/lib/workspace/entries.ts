// The counsellor's list of conversations, as pure functions: sorted by need (whoever has waited
// longest for an answer first), filtered by state and searched by pseudonym or number, and the
// next unread conversation. The workspace (workspace.svelte.ts) feeds them the API's enquiries
// and the worker's room overviews.

/** One of the counsellor's conversations as the list shows it. */
export interface Entry {
  enquiryId: number;
  pseudonym: string | null;
  /** Milliseconds since the epoch the seeker has been waiting for an answer since, or null. */
  waitingSince: number | null;
  unread: number;
  /** Milliseconds since the epoch of the newest event, or null. */
  lastActivity: number | null;
}

/** Which conversations the list shows. */
export type StateFilter = "all" | "waiting" | "unread";

export const STATE_FILTERS: readonly StateFilter[] = ["all", "waiting", "unread"];

/**
 * Longest unanswered first; then those with unread messages; then the most recently active;
 * the enquiry number breaks ties, so the order never jumps between equal entries.
 */
export function byNeed(a: Entry, b: Entry): number {
  if (a.waitingSince !== b.waitingSince) {
    if (a.waitingSince === null) return 1;
    if (b.waitingSince === null) return -1;
    return a.waitingSince - b.waitingSince;
  }
  if (a.unread > 0 !== b.unread > 0) return a.unread > 0 ? -1 : 1;
  if (a.lastActivity !== b.lastActivity) return (b.lastActivity ?? 0) - (a.lastActivity ?? 0);
  return a.enquiryId - b.enquiryId;
}

/** Whether `entry` passes the state filter. */
export function inState(entry: Pick<Entry, "waitingSince" | "unread">, filter: StateFilter): boolean {
  if (filter === "waiting") return entry.waitingSince !== null;
  if (filter === "unread") return entry.unread > 0;
  return true;
}

/**
 * Whether `entry` matches the search `query`: part of its pseudonym, or its number (with or
 * without "#", "Anfrage" or "Enquiry" before it). An empty query matches everything.
 */
export function matches(entry: Pick<Entry, "enquiryId" | "pseudonym">, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (q === "") return true;
  const number = /^(?:#|anfrage\s*|enquiry\s*)?(\d+)$/.exec(q)?.[1];
  if (number !== undefined && String(entry.enquiryId) === number) return true;
  return entry.pseudonym?.toLowerCase().includes(q) ?? false;
}

/**
 * The next conversation with unread messages after `current` in `sorted` (wrapping around), or
 * null when no other has any.
 */
export function nextUnread<T extends Pick<Entry, "enquiryId" | "unread">>(
  sorted: readonly T[],
  current: number | null,
): T | null {
  const at = sorted.findIndex((e) => e.enquiryId === current);
  for (let i = 1; i <= sorted.length; i++) {
    const entry = sorted[(at + i) % sorted.length] as T;
    if (entry.unread > 0 && entry.enquiryId !== current) return entry;
  }
  return null;
}

/** A duration as the largest whole unit that fits: minutes (at least 1), hours, or days. */
export function duration(ms: number): { unit: "minutes" | "hours" | "days"; n: number } {
  const minutes = Math.max(1, Math.floor(ms / 60_000));
  if (minutes < 60) return { unit: "minutes", n: minutes };
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return { unit: "hours", n: hours };
  return { unit: "days", n: Math.floor(hours / 24) };
}
