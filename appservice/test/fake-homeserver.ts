/**
 * A homeserver in memory, behind the same {@link Homeserver} interface as Synapse, for the
 * database tests: they test our rules (who the workflow puts in which room, with which power),
 * not Synapse, which the end-to-end tests run for real. It keeps rooms' members and state, and
 * writes down every change in order, so a test can check what the steps did and when.
 */
import { HomeserverError, type CreateRoomOptions, type Homeserver } from "../src/matrix/homeserver.ts";

interface FakeRoom {
  members: Map<string, "join" | "invite">;
  /** State events by `type|state_key`. */
  state: Map<string, Record<string, unknown>>;
  /** This room's entries of {@link FakeHomeserver.changes}. */
  changes: string[];
}

/** A homeserver in memory. */
export class FakeHomeserver implements Homeserver {
  readonly botUserId = "@connecta-bot:test";
  readonly rooms = new Map<string, FakeRoom>();
  /** Every change of a room, in order: `invite @x`, `kick @x: reason`, `power_levels {...}`. */
  readonly changes: string[] = [];
  /** While true, every call fails as it would with Synapse down. */
  down = false;
  #nextRoom = 1;

  #up(): void {
    if (this.down) throw new HomeserverError(502, "M_UNKNOWN", "the fake homeserver is down");
  }

  #room(roomId: string): FakeRoom {
    this.#up();
    const room = this.rooms.get(roomId);
    if (!room) throw new HomeserverError(404, "M_NOT_FOUND", `no room ${roomId}`);
    return room;
  }

  async whoami(): Promise<string> {
    this.#up();
    return this.botUserId;
  }

  async request<T>(..._args: unknown[]): Promise<T> {
    throw new Error("the fake homeserver has no admin API; test that against Synapse (tests/e2e/)");
  }

  async createRoom(o: CreateRoomOptions): Promise<string> {
    this.#up();
    const roomId = `!room${this.#nextRoom++}:test`;
    const members = new Map<string, "join" | "invite">([[this.botUserId, "join"]]);
    for (const userId of o.invite) members.set(userId, "invite");
    const state = new Map(o.initialState.map((e) => [`${e.type}|${e.state_key}`, e.content]));
    state.set("m.room.power_levels|", o.powerLevels);
    this.rooms.set(roomId, { members, state, changes: [] });
    this.#changed(roomId, `create ${roomId} inviting ${o.invite.join(" ")}`);
    return roomId;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    const room = this.#room(roomId);
    if (room.members.has(userId)) return; // as ours does: a second invite would replace the inviter
    room.members.set(userId, "invite");
    this.#changed(roomId, `invite ${userId}`);
  }

  #changed(roomId: string, change: string): void {
    this.changes.push(change);
    this.rooms.get(roomId)?.changes.push(change);
  }

  /** The changes of one room, in order (see {@link changes}). */
  changesOf(roomId: string): string[] {
    return [...this.#room(roomId).changes];
  }

  async kick(roomId: string, userId: string, reason: string): Promise<void> {
    if (this.#room(roomId).members.delete(userId)) this.#changed(roomId, `kick ${userId}: ${reason}`);
  }

  async getState<T>(roomId: string, type: string, stateKey = ""): Promise<T | null> {
    return (this.#room(roomId).state.get(`${type}|${stateKey}`) as T | undefined) ?? null;
  }

  async setState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<void> {
    this.#room(roomId).state.set(`${type}|${stateKey}`, content);
    const what = type === "m.room.power_levels" ? JSON.stringify(content.users) : "";
    this.#changed(roomId, `${type} ${what}`.trim());
  }

  async members(roomId: string): Promise<Map<string, string>> {
    return new Map(this.#room(roomId).members);
  }

  async joinedRooms(): Promise<string[]> {
    this.#up();
    return [...this.rooms.keys()];
  }

  /** `userId` accepts their invite, as their client would. */
  join(roomId: string, userId: string): void {
    const room = this.#room(roomId);
    if (room.members.get(userId) !== "invite") throw new Error(`${userId} is not invited to ${roomId}`);
    room.members.set(userId, "join");
  }

  /** `inviter` invites `userId` with their own client (Synapse's rules are not checked here). */
  inviteAs(inviter: string, roomId: string, userId: string): void {
    this.#room(roomId).members.set(userId, "invite");
    this.#changed(roomId, `invite ${userId} by ${inviter}`);
  }

  /** Who is in the room (joined or invited), sorted. */
  membersOf(roomId: string): string[] {
    return [...this.#room(roomId).members.keys()].sort();
  }

  /** The room's power levels. */
  powerLevels(roomId: string): {
    users: Record<string, number>;
    events_default: number;
    events: Record<string, number>;
  } {
    return this.#room(roomId).state.get("m.room.power_levels|") as ReturnType<FakeHomeserver["powerLevels"]>;
  }
}
