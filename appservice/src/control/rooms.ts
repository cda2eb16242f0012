/**
 * Control rooms: a counsellor's Synapse server-notices room, made their control room. Synapse
 * creates that room itself, unencrypted (it ignores `encryption_enabled_by_default_for_room_type`
 * for it), with the notices user `@connecta-notices` as its creator (homeserver.yaml,
 * `server_notices`). The bot, a server admin, writes into it only through the admin API
 * (`send_server_notice`), which also creates and invites on the first notice; it holds no keys
 * and never joins. Synapse pushes the counsellor's messages to us because the notices user lies
 * in our exclusive user namespace.
 *
 * Synapse creates the room with `users_default: -10`: counsellors cannot write there. We raise
 * the counsellor to 0 (and `invite` to 50, so they cannot bring anyone in), as the membership
 * policy says (enquiries/membership.ts); the notices user, the creator, keeps unlimited power and
 * is never listed in `users` (room version 12).
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import type { FeatureDeps } from "../deps.ts";
import { LOCK_SPACE } from "../db/codes.ts";
import { withClient } from "../db/pool.ts";
import { controlRoomPowerLevels } from "../enquiries/membership.ts";
import { MatrixError } from "../http/errors.ts";
import type { Homeserver } from "../matrix/homeserver.ts";
import { texts } from "./texts.ts";

const enc = encodeURIComponent;

interface StateEvent {
  type: string;
  state_key: string;
  content: Record<string, unknown>;
}

/**
 * Sends a message (or state event) into the counsellor's control room as the notices user.
 * `txnId` makes a retry after a lost answer a no-op at Synapse. Returns the event id.
 */
export async function sendNotice(
  hs: Homeserver,
  userId: string,
  txnId: string,
  content: Record<string, unknown>,
  state?: { type: string; stateKey: string },
): Promise<string> {
  const body = {
    user_id: userId,
    content,
    ...(state ? { type: state.type, state_key: state.stateKey } : {}),
  };
  const txn = createHash("sha256").update(txnId).digest("base64url");
  const res = await hs.request<{ event_id: string }>("PUT", `/_synapse/admin/v1/send_server_notice/${txn}`, body);
  return res.event_id;
}

/** A plain-text message of the control room; `inReplyTo` makes it the answer to a command. */
export function noticeContent(text: string, inReplyTo?: string): Record<string, unknown> {
  return {
    msgtype: "m.notice",
    body: text,
    ...(inReplyTo ? { "m.relates_to": { "m.in_reply_to": { event_id: inReplyTo } } } : {}),
  };
}

async function roomState(hs: Homeserver, roomId: string): Promise<StateEvent[]> {
  return (await hs.request<{ state: StateEvent[] }>("GET", `/_synapse/admin/v1/rooms/${enc(roomId)}/state`)).state;
}

/** Gives the counsellor the power the membership policy gives them in their control room. */
async function letWrite(hs: Homeserver, userId: string, roomId: string, state: StateEvent[]): Promise<void> {
  const current = state.find((e) => e.type === "m.room.power_levels")?.content ?? {};
  const content = controlRoomPowerLevels(current, userId);
  if (!content) return;
  await sendNotice(hs, userId, `control-power:${roomId}:${userId}`, content, {
    type: "m.room.power_levels",
    stateKey: "",
  });
}

function membership(state: StateEvent[], userId: string): unknown {
  return state.find((e) => e.type === "m.room.member" && e.state_key === userId)?.content.membership;
}

/**
 * Makes sure `userId`, a counsellor, has a control room they are in (or invited to) and may
 * write in; returns its id. The first call creates the room with a welcome; later calls only
 * repair what is missing (e.g. after a crash, or when the counsellor left the room).
 */
export async function ensureControlRoom(deps: FeatureDeps, userId: string): Promise<string> {
  const { pool, homeserver: hs } = deps;
  return withClient(pool, async (db) => {
    await db.query("SELECT pg_advisory_lock($1, hashtext($2))", [LOCK_SPACE.CONTROL_ROOMS, userId]);
    try {
      const counsellor = await db.query<{ language: string }>(
        "SELECT language FROM counsellors WHERE user_id = $1 AND deactivated_at IS NULL",
        [userId],
      );
      const language = counsellor.rows[0]?.language;
      if (language === undefined) throw new MatrixError("M_FORBIDDEN", "Only counsellors have a control room");

      const known = await knownRoom(db, userId);
      if (known) {
        const state = await roomState(hs, known);
        if (["join", "invite"].includes(String(membership(state, userId)))) {
          await letWrite(hs, userId, known, state);
          return known;
        }
      }
      // The first notice creates the room and invites the counsellor; its event names the room.
      const t = texts(language);
      const welcome = noticeContent(t.welcome + t.help);
      const eventId = await sendNotice(hs, userId, `control-welcome:${userId}:${Date.now()}`, welcome);
      const { event } = await hs.request<{ event: { room_id: string } }>(
        "GET",
        `/_synapse/admin/v1/fetch_event/${enc(eventId)}`,
      );
      // Recorded (and committed) before the counsellor can write, so no command is missed.
      await db.query(
        `INSERT INTO control_rooms (counsellor_id, room_id) VALUES ($1, $2)
         ON CONFLICT (counsellor_id) DO UPDATE SET room_id = EXCLUDED.room_id, created_at = now()`,
        [userId, event.room_id],
      );
      await letWrite(hs, userId, event.room_id, await roomState(hs, event.room_id));
      return event.room_id;
    } finally {
      await db.query("SELECT pg_advisory_unlock($1, hashtext($2))", [LOCK_SPACE.CONTROL_ROOMS, userId]);
    }
  });
}

async function knownRoom(db: pg.PoolClient, userId: string): Promise<string | null> {
  const { rows } = await db.query<{ room_id: string }>("SELECT room_id FROM control_rooms WHERE counsellor_id = $1", [
    userId,
  ]);
  return rows[0]?.room_id ?? null;
}
