// Files sent in a conversation are reported to our API (`POST /api/v1/enquiries/{id}/media`), so
// that the retention purge deletes them from the homeserver together with the conversation: the
// homeserver cannot tell which encrypted upload belongs to which room. A report that fails (the
// API briefly unreachable) must not lose the message, which is sent already: it waits in the
// tab's sessionStorage and is sent again with the next file and on the next load of a
// conversation page. The report is idempotent, so sending one twice does no harm.
import { api } from "../api/connecta.ts";
import type { Session } from "../session/session.ts";

/** A file's report that has not reached our API yet. */
export interface MediaReport {
  enquiryId: number;
  /** The upload's `mxc://` URI. */
  mediaId: string;
}

/** Where the tab keeps reports not yet delivered (logout and the quick exit empty it). */
export const PENDING_KEY = "connecta.media-pending";

/** The reports in `text` (sessionStorage's value), ignoring anything that is not one. */
export function parsePending(text: string | null): MediaReport[] {
  try {
    const value: unknown = JSON.parse(text ?? "[]");
    if (!Array.isArray(value)) return [];
    return value.filter(
      (r): r is MediaReport =>
        typeof r === "object" &&
        r !== null &&
        Number.isInteger((r as MediaReport).enquiryId) &&
        typeof (r as MediaReport).mediaId === "string" &&
        (r as MediaReport).mediaId.startsWith("mxc://"),
    );
  } catch {
    return [];
  }
}

const same = (a: MediaReport, b: MediaReport): boolean => a.enquiryId === b.enquiryId && a.mediaId === b.mediaId;

/** `list` with `report` added once. */
export const withReport = (list: MediaReport[], report: MediaReport): MediaReport[] =>
  list.some((r) => same(r, report)) ? list : [...list, report];

/** `list` without `report`. */
export const withoutReport = (list: MediaReport[], report: MediaReport): MediaReport[] =>
  list.filter((r) => !same(r, report));

/** The storage the reports wait in (sessionStorage; a stand-in in tests). */
export type ReportStore = Pick<Storage, "getItem" | "setItem">;

/**
 * Sends every waiting report through `send`; a report that fails stays for the next attempt.
 * Returns how many are still waiting.
 */
export async function deliverPending(
  store: ReportStore,
  send: (report: MediaReport) => Promise<unknown>,
): Promise<number> {
  for (const report of parsePending(store.getItem(PENDING_KEY))) {
    try {
      await send(report);
      // Read again: another report may have been added meanwhile.
      store.setItem(PENDING_KEY, JSON.stringify(withoutReport(parsePending(store.getItem(PENDING_KEY)), report)));
    } catch (err) {
      console.warn("a sent file could not be reported yet; trying again later", err);
    }
  }
  return parsePending(store.getItem(PENDING_KEY)).length;
}

const sendReport = (session: Session, report: MediaReport): Promise<unknown> =>
  api(session, "POST /api/v1/enquiries/{enquiryId}/media", {
    params: { enquiryId: report.enquiryId },
    body: { media_id: report.mediaId },
  });

/** Reports a file just sent in `enquiryId`'s conversation, and any report still waiting. */
export async function reportMedia(session: Session, enquiryId: number, mediaId: string): Promise<void> {
  sessionStorage.setItem(
    PENDING_KEY,
    JSON.stringify(withReport(parsePending(sessionStorage.getItem(PENDING_KEY)), { enquiryId, mediaId })),
  );
  await deliverPending(sessionStorage, (report) => sendReport(session, report));
}

/** Sends the reports still waiting from an earlier attempt (on loading a conversation page). */
export async function reportPendingMedia(session: Session): Promise<void> {
  await deliverPending(sessionStorage, (report) => sendReport(session, report));
}
