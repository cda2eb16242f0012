/**
 * What the workflow learns from room events Synapse pushes to us (never their content, which
 * is encrypted anyway): the seeker's first message puts an enquiry into the queue (the room stays
 * as it is: the policy treats created and waiting alike), the seeker leaving closes it, and an
 * invite the membership policy does not let stand is taken back.
 */
import type pg from "pg";
import type { MatrixEvent } from "../transactions/transactions.ts";
import { answerInvite, roomChanges } from "./membership.ts";
import { loadRoom, recordChanges } from "./rooms.ts";

interface EnquiryRow {
  id: string;
  state: string;
  seeker_id: string;
}

/** Handles one event inside the transaction that records its Synapse transaction. */
export async function handleEnquiryEvent(
  event: MatrixEvent,
  db: pg.PoolClient,
  ctx: { botUserId: string },
): Promise<void> {
  if (!event.room_id || event.sender === ctx.botUserId) return;
  const { rows } = await db.query<EnquiryRow>(
    "SELECT id, state, seeker_id FROM enquiries WHERE room_id = $1 FOR UPDATE",
    [event.room_id],
  );
  const enquiry = rows[0];
  if (!enquiry) return;
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
  const membership = (event.content as { membership?: unknown } | undefined)?.membership;

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
      if (before) await recordChanges(db, id, roomChanges(before, { ...before, state: "closed", counsellorId: null }));
    }
    return;
  }

  if (membership === "invite") {
    const room = await loadRoom(db, Number(enquiry.id));
    if (room) await recordChanges(db, Number(enquiry.id), answerInvite(room, event.sender ?? "", event.state_key));
  }
}
