/**
 * Calls to Synapse as the application service bot (client-server and admin API, with the
 * as_token). The bot is a server admin (ops/ makes it one) so it can mint registration tokens.
 */

/** An answer from Synapse that is not a success. */
export class HomeserverError extends Error {
  readonly status: number;
  readonly errcode: string;
  constructor(status: number, errcode: string, message: string) {
    super(`${status} ${errcode}: ${message}`);
    this.status = status;
    this.errcode = errcode;
  }
}

/** Options of a new room, as in `POST /createRoom`. */
export interface CreateRoomOptions {
  name: string;
  topic: string;
  invite: string[];
  initialState: { type: string; state_key: string; content: Record<string, unknown> }[];
  powerLevels: Record<string, unknown>;
}

/** Our id in the homeserver's registration (homeserver-config/appservice-registration.yaml). */
export const APPSERVICE_ID = "connecta";

/** The homeserver as the bot sees it. */
export interface Homeserver {
  /** The bot's user id. */
  readonly botUserId: string;
  /** Resolves with the bot's user id if Synapse accepts our as_token; throws otherwise. */
  whoami(): Promise<string>;
  /** Calls the client-server or admin API as the bot (or as `asUser`, a user in our namespace). */
  request<T = Record<string, unknown>>(method: string, path: string, body?: unknown, asUser?: string): Promise<T>;
  createRoom(options: CreateRoomOptions): Promise<string>;
  invite(roomId: string, userId: string): Promise<void>;
  kick(roomId: string, userId: string, reason: string): Promise<void>;
  getState<T = Record<string, unknown>>(roomId: string, type: string, stateKey?: string): Promise<T | null>;
  setState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<void>;
  /** Current members (joined or invited) of a room. */
  members(roomId: string): Promise<Map<string, string>>;
  joinedRooms(): Promise<string[]>;
}

const enc = encodeURIComponent;

/** Creates the homeserver client. */
export function createHomeserver(baseUrl: string, asToken: string, botUserId: string): Homeserver {
  async function request<T>(method: string, path: string, body?: unknown, asUser?: string): Promise<T> {
    const url = new URL(`${baseUrl}${path}`);
    if (asUser) url.searchParams.set("user_id", asUser);
    const res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${asToken}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const errcode = typeof json.errcode === "string" ? json.errcode : "M_UNKNOWN";
      throw new HomeserverError(res.status, errcode, typeof json.error === "string" ? json.error : "");
    }
    return json as T;
  }

  const hs: Homeserver = {
    botUserId,
    request,
    async whoami() {
      const body = await request<{ user_id?: unknown }>("GET", "/_matrix/client/v3/account/whoami");
      if (typeof body.user_id !== "string") throw new Error("whoami gave no user id");
      return body.user_id;
    },
    async createRoom(o) {
      const body = await request<{ room_id: string }>("POST", "/_matrix/client/v3/createRoom", {
        preset: "private_chat",
        visibility: "private",
        name: o.name,
        topic: o.topic,
        invite: o.invite,
        initial_state: o.initialState,
        power_level_content_override: o.powerLevels,
      });
      return body.room_id;
    },
    async invite(roomId, userId) {
      // Already invited or joined: done. Inviting again would replace the inviter, and a
      // counsellor's client accepts shared room-key history (MSC4268) only from its inviter.
      if ((await hs.members(roomId)).has(userId)) return;
      await request("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { user_id: userId });
    },
    async kick(roomId, userId, reason) {
      try {
        await request("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/kick`, { user_id: userId, reason });
      } catch (err) {
        // Not (or no longer) in the room: done.
        if ((await hs.members(roomId)).has(userId)) throw err;
      }
    },
    async getState<T>(roomId: string, type: string, stateKey = "") {
      try {
        return await request<T>("GET", `/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`);
      } catch (err) {
        if (err instanceof HomeserverError && err.status === 404) return null;
        throw err;
      }
    },
    async setState(roomId, type, stateKey, content) {
      await request("PUT", `/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`, content);
    },
    async members(roomId) {
      const body = await request<{ chunk: { state_key: string; content: { membership: string } }[] }>(
        "GET",
        `/_matrix/client/v3/rooms/${enc(roomId)}/members`,
      );
      const members = new Map<string, string>();
      for (const event of body.chunk) {
        if (event.content.membership === "join" || event.content.membership === "invite") {
          members.set(event.state_key, event.content.membership);
        }
      }
      return members;
    },
    async joinedRooms() {
      return (await request<{ joined_rooms: string[] }>("GET", "/_matrix/client/v3/joined_rooms")).joined_rooms;
    },
  };
  return hs;
}
