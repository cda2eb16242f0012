// Putting a seeker's copy together (Art. 15 and 20 GDPR): what our server keeps about them and
// their own conversations, decrypted by the Matrix worker of this tab. Only the rooms our API
// lists as the seeker's enquiries are read, nothing from any other room.
import { api } from "../api/connecta.ts";
import type { ExportPhase } from "../matrix/export.ts";
import type { Session } from "../session/session.ts";
import type { PersonalCopy } from "./export.ts";

/**
 * Collects the copy; `onProgress` hears which phase runs and how far it is.
 *
 * @throws ApiProblem, NetworkError or a RemoteError of the worker when something cannot be read
 */
export async function collectCopy(
  session: Session,
  onProgress: (phase: ExportPhase, done: number, total: number) => void,
): Promise<PersonalCopy> {
  const account = await api(session, "GET /api/v1/me/export");
  const roomIds = [
    ...new Set(account.enquiries.map((e) => e.room_id).filter((id): id is string => typeof id === "string")),
  ];
  const { connect } = await import("../matrix/remote.ts");
  const matrix = await connect(session);
  const rooms = await matrix.call("collectRooms", roomIds, onProgress);
  return { account, rooms };
}

/** How many attachments of the copy could not be decrypted (the page says so). */
export function missingFiles(copy: PersonalCopy): number {
  return copy.rooms.flatMap((r) => r.messages).filter((m) => m.file !== null && m.file.data === null).length;
}

/** How many conversations of the copy could not be read (the page says so). */
export function unreadableRooms(copy: PersonalCopy): number {
  return copy.rooms.filter((r) => !r.readable).length;
}
