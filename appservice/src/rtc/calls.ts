/**
 * Who may call, and the LiveKit side of it (docs/calls.md). Our workflow decides, which no stock
 * token service does: only the seeker and the assigned counsellor of an active enquiry, joined
 * to its room, get a token; a waiting or closed enquiry has no call, and a counsellor who handed
 * over or was removed gets none. A token grants the least a participant needs (join this one
 * room, publish and subscribe media) for an hour; the room is created by us on the first token.
 * Every participant carries its Matrix user id as an attribute, so that the workflow can take
 * people out of a running call when they lose the conversation (`removeFromCall`), and so that a
 * seeker joins only a call their counsellor is in, unless the operator lets seekers start calls.
 */
import { AccessToken, RoomServiceClient } from "livekit-server-sdk";
import type pg from "pg";
import { MatrixError } from "../http/errors.ts";
import type { Homeserver } from "../matrix/homeserver.ts";
import { livekitRoom, ROOM_SLOT } from "./identity.ts";

/** LiveKit as configured (config.ts `livekit`). */
export interface Livekit {
  url: string;
  apiUrl: string;
  apiKey: string;
  apiSecret: string;
  /** Whether seekers may start a call (CONNECTA_CALLS_SEEKERS_START); otherwise they join one. */
  seekersStart: boolean;
}

/** Seconds a call token is valid: joining, and rejoining after a lost connection. */
export const TOKEN_TTL_SECONDS = 3600;
/** The participant attribute holding the Matrix user id. */
export const USER_ATTRIBUTE = "connecta.user_id";

/**
 * Refuses unless `userId` may take part in the call of Matrix room `roomId` now; answers the
 * assigned counsellor.
 */
export async function checkCaller(
  db: pg.Pool,
  hs: Homeserver,
  userId: string,
  roomId: string,
): Promise<{ counsellorId: string }> {
  const { rows } = await db.query<{ state: string; seeker_id: string | null; counsellor_id: string | null }>(
    `SELECT e.state, e.seeker_id, e.counsellor_id FROM enquiries e
      WHERE e.room_id = $1 AND NOT EXISTS (SELECT 1 FROM purges p WHERE p.enquiry_id = e.id)`,
    [roomId],
  );
  const enquiry = rows[0];
  if (!enquiry || (userId !== enquiry.seeker_id && userId !== enquiry.counsellor_id)) {
    // Also a counsellor of the agency who is not assigned, and one who handed over.
    throw new MatrixError("M_FORBIDDEN", "Only the seeker and the assigned counsellor take part in this call");
  }
  if (enquiry.state !== "active") {
    throw new MatrixError("CONNECTA_WRONG_STATE", "A call needs a conversation in counselling (not waiting or closed)");
  }
  if ((await hs.members(roomId)).get(userId) !== "join") {
    throw new MatrixError("M_FORBIDDEN", "Join the conversation's room first");
  }
  return { counsellorId: enquiry.counsellor_id ?? "" };
}

/** The Matrix user ids of the people in LiveKit room `room` now (none when it does not exist). */
async function inCall(rooms: RoomServiceClient, room: string): Promise<string[]> {
  try {
    return (await rooms.listParticipants(room)).map((p) => p.attributes[USER_ATTRIBUTE] ?? "");
  } catch (err) {
    if ((err as { status?: number }).status === 404) return [];
    throw err;
  }
}

/**
 * Refuses a seeker's token while their counsellor is not in the call, unless seekers may start
 * calls (`livekit.seekersStart`). Asked of LiveKit, which knows who is connected, rather than of
 * call memberships in the room, which a client writes before it connects and may leave behind.
 */
export async function checkStarted(
  livekit: Livekit,
  room: string,
  caller: string,
  counsellorId: string,
): Promise<void> {
  if (caller === counsellorId || livekit.seekersStart) return;
  const rooms = new RoomServiceClient(livekit.apiUrl, livekit.apiKey, livekit.apiSecret);
  if (!(await inCall(rooms, room)).includes(counsellorId)) {
    throw new MatrixError("CONNECTA_NO_CALL", "Your counsellor starts the call; it has not started yet");
  }
}

/** Creates the LiveKit room (nothing happens when it exists) and a token for one participant. */
export async function callToken(
  livekit: Livekit,
  call: { room: string; identity: string; userId: string },
): Promise<{ url: string; jwt: string }> {
  const rooms = new RoomServiceClient(livekit.apiUrl, livekit.apiKey, livekit.apiSecret);
  await rooms.createRoom({ name: call.room, emptyTimeout: 60, departureTimeout: 10 });
  const token = new AccessToken(livekit.apiKey, livekit.apiSecret, {
    identity: call.identity,
    ttl: TOKEN_TTL_SECONDS,
    attributes: { [USER_ATTRIBUTE]: call.userId },
  });
  token.addGrant({ roomJoin: true, room: call.room, canPublish: true, canSubscribe: true, canPublishData: false });
  return { url: livekit.url, jwt: await token.toJwt() };
}

/** What the workflow's steps do to a running call (rooms.ts): the policy decides, they follow. */
export interface CallControl {
  /**
   * Takes everyone out of the call of Matrix room `roomId` who `leaves` (by Matrix user id),
   * every device of theirs, and ends their call memberships in the room. Their media keys are
   * rotated by the others' clients as they leave the Matrix room, so a token they still hold
   * shows them nothing new.
   */
  remove(roomId: string, leaves: (userId: string) => boolean): Promise<void>;
}

/** The state event of a MatrixRTC call membership (MSC3401/MSC4143); empty content: left. */
export const CALL_MEMBER_EVENT = "org.matrix.msc3401.call.member";

/**
 * Ends the call memberships in `roomId` of everyone who `leaves`, as the bot (it may: the state
 * keys start with `_`, and it holds the room's highest power level). Their own clients cannot:
 * a closed room is read-only and a removed member no longer in it, so without this others see
 * the call running until the memberships expire, hours later.
 */
async function endMemberships(hs: Homeserver, roomId: string, leaves: (userId: string) => boolean): Promise<void> {
  const state = await hs.request<{ type: string; state_key: string; sender: string; content: object }[]>(
    "GET",
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`,
  );
  for (const event of state) {
    if (event.type !== CALL_MEMBER_EVENT || Object.keys(event.content).length === 0 || !leaves(event.sender)) continue;
    await hs.setState(roomId, CALL_MEMBER_EVENT, event.state_key, {});
  }
}

/** The calls of `livekit`; without LiveKit there are none to change. */
export function callControl(livekit: Livekit | null, hs: Homeserver): CallControl {
  if (!livekit) return { remove: () => Promise.resolve() };
  const rooms = new RoomServiceClient(livekit.apiUrl, livekit.apiKey, livekit.apiSecret);
  return {
    async remove(roomId, leaves) {
      await endMemberships(hs, roomId, leaves);
      const room = livekitRoom(roomId, ROOM_SLOT);
      let participants;
      try {
        participants = await rooms.listParticipants(room);
      } catch (err) {
        // No such LiveKit room: nobody is in a call.
        if ((err as { status?: number }).status === 404) return;
        throw err;
      }
      for (const p of participants) {
        if (leaves(p.attributes[USER_ATTRIBUTE] ?? "")) await rooms.removeParticipant(room, p.identity);
      }
    },
  };
}
