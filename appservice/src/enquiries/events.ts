/**
 * What the workflow learns from room events Synapse pushes to us (never their content, which
 * is encrypted anyway): the seeker's first message puts an enquiry into the queue (the room stays
 * as it is: the policy treats created and waiting alike), the seeker leaving closes it, and an
 * invite the membership policy does not let stand is taken back (in the conversation's room and
 * in the case notes', where only invites matter: the seeker is never there).
 */
import type pg from "pg";
import type { MatrixEvent } from "../transactions/transactions.ts";
import { answerInvite } from "./membership.ts";
import { loadRoom, recordChanges, recordRoomChanges } from "./rooms.ts";

interface EnquiryRow {
  id: string;
  state: string;
  seeker_id: string;
  /** The event is of the enquiry's case-notes room. */
  notes: boolean;
}

/** An invite into the enquiry's room of `kind` that the policy does not let stand is taken back. */
async function answer(db: pg.PoolClient, event: MatrixEvent, enquiryId: number, kind: "chat" | "notes") {
  const room = await loadRoom(db, enquiryId);
  if (room) await recordChanges(db, enquiryId, answerInvite(room, event.sender ?? "", event.state_key ?? "", kind));
}

/** Handles one event inside the transaction that records its Synapse transaction. */
export async function handleEnquiryEvent(
  event: MatrixEvent,
  db: pg.PoolClient,
  ctx: { botUserId: string },
): Promise<void> {
  if (!event.room_id || event.sender === ctx.botUserId) return;
  const { rows } = await db.query<EnquiryRow>(
    `SELECT id, state, seeker_id, notes_room_id = $1 AS notes FROM enquiries
      WHERE room_id = $1 OR notes_room_id = $1 FOR UPDATE`,
    [event.room_id],
  );
  const enquiry = rows[0];
  if (!enquiry) return;
  const membership = (event.content as { membership?: unknown } | undefined)?.membership;
  if (enquiry.notes) {
    // Notes are no activity of the conversation (retention) and no sign of the seeker.
    const invite = event.type === "m.room.member" && membership === "invite" && typeof event.state_key === "string";
    if (invite) await answer(db, event, Number(enquiry.id), "notes");
    return;
  }
  const at = typeof event.origin_server_ts === "number" ? new Date(event.origin_server_ts) : new Date();
  // For the inactivity period of retention; written at most once an hour per enquiry.
  await db.query(
    "UPDATE enquiries SET last_activity_at = $2 WHERE id = $1 AND last_activity_at < $2::timestamptz - interval '1 hour'",
    [enquiry.id, at],
  );

  if ((event.type === "m.room.encrypted" || event.type === "m.room.message") && event.sender === enquiry.seeker_id) {
    if (enquiry.state === "created") {
      await db.query("UPDATE enquiries SET state = 'waiting', waiting_since = $2 WHERE id = $1", [enquiry.id, at]);
    }
    return;
  }

  if (event.type !== "m.room.member" || typeof event.state_key !== "string") return;

  if (membership === "leave" && event.state_key === enquiry.seeker_id && event.sender === enquiry.seeker_id) {
    if (["created", "waiting", "active"].includes(enquiry.state)) {
      const id = Number(enquiry.id);
      const before = await loadRoom(db, id);
      await db.query("UPDATE enquiries SET state = 'closed', closed_at = $2, counsellor_id = NULL WHERE id = $1", [
        id,
        at,
      ]);
      await db.query("UPDATE assignments SET ended_at = $2 WHERE enquiry_id = $1 AND ended_at IS NULL", [id, at]);
      // A closed room is read-only; its counsellor may stay to read back, without power.
      if (before) {
        const after = { ...before, state: "closed" as const, counsellorId: null };
        await recordRoomChanges(db, id, before, after, { change: "closed" });
      }
    }
    return;
  }

  if (membership === "invite") await answer(db, event, Number(enquiry.id), "chat");
}
