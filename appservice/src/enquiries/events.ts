/**
 * What the workflow learns from room events Synapse pushes to us (never their content, which
 * is encrypted anyway): the seeker's first message puts an enquiry into the queue, the seeker
 * leaving closes it, and an invite nobody may give is taken back.
 */
import type pg from "pg";
import { enqueueStep } from "../steps/steps.ts";
import type { MatrixEvent } from "../transactions/transactions.ts";

interface EnquiryRow {
  id: string;
  state: string;
  seeker_id: string;
  agency_id: string;
  counsellor_id: string | null;
}

/** Handles one event inside the transaction that records its Synapse transaction. */
export async function handleEnquiryEvent(
  event: MatrixEvent,
  db: pg.PoolClient,
  ctx: { botUserId: string },
): Promise<void> {
  if (!event.room_id || event.sender === ctx.botUserId) return;
  const { rows } = await db.query<EnquiryRow>(
    "SELECT id, state, seeker_id, agency_id, counsellor_id FROM enquiries WHERE room_id = $1 FOR UPDATE",
    [event.room_id],
  );
  const enquiry = rows[0];
  if (!enquiry) return;
  const at = typeof event.origin_server_ts === "number" ? new Date(event.origin_server_ts) : new Date();

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
      await db.query("UPDATE enquiries SET state = 'closed', closed_at = $2, counsellor_id = NULL WHERE id = $1", [
        enquiry.id,
        at,
      ]);
      await db.query("UPDATE assignments SET ended_at = $2 WHERE enquiry_id = $1 AND ended_at IS NULL", [
        enquiry.id,
        at,
      ]);
    }
    return;
  }

  if (membership === "invite") {
    // Only the bot invites, and the assigned counsellor may invite a colleague of the agency
    // (handover). Any other invite is taken back, but never the invite of the counsellor who is
    // assigned now: the handing-over counsellor's client invites and then calls the API at
    // once, so that invite often arrives here after the handover made the invitee responsible.
    const allowed =
      event.state_key === enquiry.counsellor_id ||
      (event.sender === enquiry.counsellor_id &&
        (
          await db.query("SELECT 1 FROM agency_memberships WHERE agency_id = $1 AND counsellor_id = $2", [
            enquiry.agency_id,
            event.state_key,
          ])
        ).rowCount === 1);
    if (!allowed) {
      await enqueueStep(db, Number(enquiry.id), {
        kind: "kick",
        payload: {
          user_id: event.state_key,
          reason: "uninvited",
        },
      });
    }
  }
}
