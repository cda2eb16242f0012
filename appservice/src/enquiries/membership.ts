/**
 * Who belongs in an enquiry room, decided in one place. Everything that changes who is in a room
 * or their power asks this policy: room creation, claim, handover, close, reopen, the seeker
 * leaving, a counsellor joining or leaving an agency, invites Synapse tells us about, and the
 * counsellors' control rooms. Pure: it reads and writes nothing; enquiries/rooms.ts records what
 * it decides as steps, and the steps' runners only carry it out.
 *
 * Each person stands to an enquiry in one {@link Role}; each state of the enquiry gives each role
 * a {@link Place} (in the room, kept, or out, with a power level), and the room is writable or
 * read-only. New states (team counselling, supervision) are new rows of {@link POLICY}.
 *
 * An enquiry has two rooms ({@link RoomKind}): the conversation, and, from its first claim, the
 * counsellors' private case notes ({@link NOTES_POLICY}), which the seeker never enters.
 */
import type { EnquiryState } from "../domain.ts";
import type { NewStep } from "../steps/steps.ts";
import type { RemovalReason } from "./texts.ts";

/**
 * Power level of the assigned counsellor: enough to invite (an MSC4268 handover shares the room's
 * history with whom the counsellor invites), not to remove anyone or change the room.
 */
export const COUNSELLOR_POWER = 50;

/** How a person stands to an enquiry. */
export type Role =
  /** The advice seeker whose enquiry it is. */
  | "seeker"
  /** The counsellor assigned to it (active), or its last counsellor (closed, archived). */
  | "assigned"
  /** Another counsellor of the enquiry's agency. */
  | "colleague"
  /** A counsellor of the agency who is absent: not invited to read new enquiries. */
  | "absent_colleague"
  /** Anyone else: counsellors of other agencies, former counsellors of this one, strangers. */
  | "outsider";

/** Every role, for tables and tests. */
export const ROLES: readonly Role[] = ["seeker", "assigned", "colleague", "absent_colleague", "outsider"];

/**
 * - `in`: belongs in the room; the bot invites them when they come to belong.
 * - `kept`: may be in the room; the bot neither invites nor removes them.
 * - `out`: must not be in the room; the bot removes them when they stop belonging.
 */
export type Presence = "in" | "kept" | "out";

/** A role's place in a room. */
export interface Place {
  presence: Presence;
  power: number;
}

const SEEKER: Place = { presence: "in", power: 0 };
const COUNSELLOR: Place = { presence: "in", power: COUNSELLOR_POWER };
const READER: Place = { presence: "in", power: 0 };
const KEPT: Place = { presence: "kept", power: 0 };
const OUT: Place = { presence: "out", power: 0 };

/** The queue: the agency's present counsellors read the first enquiry before anyone takes it. */
const QUEUE: Record<Role, Place> = {
  seeker: SEEKER,
  // Nobody is assigned while an enquiry waits; listed for completeness.
  assigned: COUNSELLOR,
  // Invited before the seeker writes: history visibility `shared` lets them read it.
  colleague: READER,
  // Not invited while absent, not removed either.
  absent_colleague: KEPT,
  outsider: OUT,
};

/** After counselling: who of the agency is in the room may stay (to read back), nobody else. */
const AFTER: Record<Role, Place> = {
  seeker: SEEKER,
  assigned: COUNSELLOR,
  colleague: KEPT,
  absent_colleague: KEPT,
  outsider: OUT,
};

/** The policy: each role's place in each state. */
export const POLICY: Record<EnquiryState, Record<Role, Place>> = {
  created: QUEUE,
  waiting: QUEUE,
  // The seeker and their counsellor alone: everyone else is removed, so the seeker's client
  // starts a new Megolm session without them.
  active: { seeker: SEEKER, assigned: COUNSELLOR, colleague: OUT, absent_colleague: OUT, outsider: OUT },
  closed: AFTER,
  archived: AFTER,
};

/** The rooms of an enquiry: the conversation, and the private case notes of its counsellors. */
export type RoomKind = "chat" | "notes";

/**
 * Notes while nobody is assigned (the room exists from the first claim on): nobody is invited; a
 * former counsellor of the agency may stay until the next claim draws the circle anew.
 */
const NOTES_UNASSIGNED: Record<Role, Place> = {
  seeker: OUT,
  assigned: OUT,
  colleague: KEPT,
  absent_colleague: KEPT,
  outsider: OUT,
};

/** Notes after counselling: the last counsellor stays to read back (read-only, see WRITABLE). */
const NOTES_AFTER: Record<Role, Place> = {
  seeker: OUT,
  assigned: COUNSELLOR,
  // A counsellor whose seeker left is no longer assigned but may stay; nobody else was ever in.
  colleague: KEPT,
  absent_colleague: KEPT,
  outsider: OUT,
};

/**
 * The case notes' policy: the assigned counsellor alone, never the seeker. The counsellor has the
 * power to invite so that a handover can share the notes' key history with the colleague (MSC4268),
 * as in the conversation; at the handover the colleague comes in and the leaving counsellor goes.
 */
export const NOTES_POLICY: Record<EnquiryState, Record<Role, Place>> = {
  created: NOTES_UNASSIGNED,
  waiting: NOTES_UNASSIGNED,
  active: { seeker: OUT, assigned: COUNSELLOR, colleague: OUT, absent_colleague: OUT, outsider: OUT },
  closed: NOTES_AFTER,
  archived: NOTES_AFTER,
};

/** The policy of each kind of room. */
const POLICIES: Record<RoomKind, Record<EnquiryState, Record<Role, Place>>> = { chat: POLICY, notes: NOTES_POLICY };

/** Whether people write and call in the room (power 0); a closed room is read-only (power 100). */
export const WRITABLE: Record<EnquiryState, boolean> = {
  created: true,
  waiting: true,
  active: true,
  closed: false,
  archived: false,
};

/** A counsellor of the enquiry's agency. */
export interface AgencyMember {
  userId: string;
  absent: boolean;
}

/** An enquiry room as the policy sees it: the enquiry's state and people. */
export interface EnquiryRoom {
  state: EnquiryState;
  seekerId: string | null;
  counsellorId: string | null;
  /** The agency's counsellors who are not deactivated. */
  agency: readonly AgencyMember[];
}

/** How `userId` stands to the enquiry. */
export function roleOf(room: EnquiryRoom, userId: string): Role {
  if (userId === room.seekerId) return "seeker";
  if (userId === room.counsellorId) return "assigned";
  const member = room.agency.find((m) => m.userId === userId);
  if (!member) return "outsider";
  return member.absent ? "absent_colleague" : "colleague";
}

/** Where the policy places `userId` in the enquiry's room of `kind`. */
export function placeOf(room: EnquiryRoom, userId: string, kind: RoomKind = "chat"): Place {
  return POLICIES[kind][room.state][roleOf(room, userId)];
}

/** Everyone the policy knows of in `rooms`: seeker, counsellor, the agency's counsellors. */
function people(...rooms: EnquiryRoom[]): string[] {
  const ids = rooms.flatMap((r) => [r.seekerId, r.counsellorId, ...r.agency.map((m) => m.userId)]);
  return [...new Set(ids.filter((id) => id !== null))];
}

/** Whom the bot invites when it creates the room, and the power levels it gives them. */
export function membersAtCreation(room: EnquiryRoom): { invite: string[]; power: Record<string, number> } {
  const invite = people(room).filter((id) => placeOf(room, id).presence === "in");
  const power = Object.fromEntries(
    people(room)
      .map((id) => [id, placeOf(room, id).power] as const)
      .filter(([, level]) => level > 0),
  );
  return { invite, power };
}

/** A change of an enquiry room that brings it in line with the policy; recorded as a step. */
export type RoomChange = Extract<NewStep, { kind: "invite" | "kick" | "keep_only" | "power_levels" }>;

/** What a change's payload says of its room: nothing for the conversation, `room` for the notes. */
const inRoom = (kind: RoomKind): { room?: "notes" } => (kind === "notes" ? { room: "notes" } : {});

/**
 * The changes that take an enquiry room from what the policy asked of it `before` to what it asks
 * `after` (a new state, a new counsellor, a counsellor joining or leaving the agency), in the
 * order they must run. `reason` is what the room shows for anyone removed.
 *
 * 1. Invites of those who come to belong: `in` now, and not `in` before in the same role. A claim
 *    therefore invites the claimant even when they were in the queue as a colleague: one added to
 *    the agency behind the API's back was never invited, and nothing happens for one who is in.
 * 2. Raised power levels, so that a new counsellor can invite as soon as they are in.
 * 3. Removals of those who must be out now and were not, and of anyone who has just become an
 *    outsider (left the agency), wherever they may be: an invite for a handover may have brought
 *    a former counsellor back into an active room. When an enquiry becomes active or changes its
 *    counsellor, one `keep_only` draws the circle anew instead: it also removes people Synapse
 *    let in that we do not know of, such as a colleague invited for a handover that did not
 *    happen. Any other removal is a kick of its own, which leaves a handover's invite on its way
 *    alone.
 * 4. Lowered power levels and writability, last: lowering the old counsellor's power while the
 *    new counsellor's join is on its way can make Synapse's state resolution drop their invite,
 *    and with it the join (docs/workflow.md).
 *
 * `kind` names the room: the conversation, or the case notes (whose changes say `room: "notes"`).
 */
export function roomChanges(
  before: EnquiryRoom,
  after: EnquiryRoom,
  reason?: RemovalReason,
  kind: RoomKind = "chat",
): RoomChange[] {
  const invites: string[] = [];
  const raised: Record<string, number> = {};
  const removed: string[] = [];
  const lowered: Record<string, number> = {};
  for (const id of people(before, after)) {
    const sameRole = roleOf(before, id) === roleOf(after, id);
    const was = placeOf(before, id, kind);
    const is = placeOf(after, id, kind);
    if (is.presence === "in" && !(was.presence === "in" && sameRole)) invites.push(id);
    const leftAgency = roleOf(after, id) === "outsider" && !sameRole;
    if (is.presence === "out" && (was.presence !== "out" || leftAgency)) removed.push(id);
    if (is.power > was.power) raised[id] = is.power;
    if (is.power < was.power) lowered[id] = is.power;
  }
  const room = inRoom(kind);
  const changes: RoomChange[] = invites.map((id) => ({ kind: "invite", payload: { user_id: id, ...room } }));
  if (Object.keys(raised).length) changes.push({ kind: "power_levels", payload: { users: raised, ...room } });
  const why = { ...(reason === undefined ? {} : { reason }), ...room };
  const newCircle =
    after.state === "active" && (before.state !== "active" || before.counsellorId !== after.counsellorId);
  if (newCircle) {
    const stay = people(after).filter((id) => placeOf(after, id, kind).presence !== "out");
    changes.push({ kind: "keep_only", payload: { user_ids: stay, ...why } });
  } else {
    for (const id of removed) changes.push({ kind: "kick", payload: { user_id: id, ...why } });
  }
  const writable = WRITABLE[after.state] === WRITABLE[before.state] ? {} : { read_only: !WRITABLE[after.state] };
  if (Object.keys(lowered).length || "read_only" in writable) {
    changes.push({ kind: "power_levels", payload: { users: lowered, ...writable, ...room } });
  }
  return changes;
}

/**
 * Whether an invite given by someone other than the bot may stand. The assigned counsellor of an
 * active enquiry invites a colleague to hand it over (MSC4268: the colleague's client accepts the
 * room's history only from whoever invited them). An invite of the counsellor assigned now stands
 * too: the handing-over client invites and calls the handover at once, so its invite often
 * arrives after the handover made the invitee responsible. Every other invite is taken back.
 */
export function inviteStands(room: EnquiryRoom, inviter: string, invitee: string): boolean {
  const to = roleOf(room, invitee);
  if (to === "assigned") return true;
  const handover = to === "colleague" || to === "absent_colleague";
  return room.state === "active" && roleOf(room, inviter) === "assigned" && handover;
}

/**
 * What to do about an invite Synapse tells us of into the enquiry's room of `kind`: nothing, or
 * take it back. The same invites stand in both rooms (the seeker is never invited to the notes).
 */
export function answerInvite(
  room: EnquiryRoom,
  inviter: string,
  invitee: string,
  kind: RoomKind = "chat",
): RoomChange[] {
  if (inviteStands(room, inviter, invitee)) return [];
  return [{ kind: "kick", payload: { user_id: invitee, reason: "uninvited", ...inRoom(kind) } }];
}

/** Power level needed to invite into a control room; its counsellor has less. */
export const CONTROL_ROOM_INVITE_POWER = 50;

/**
 * A counsellor's control room (control/rooms.ts) holds the counsellor and Connecta's notices user
 * only: the counsellor writes there (power 0, where Synapse's server-notices room gives users -10)
 * but cannot invite anyone. Returns the power levels that make it so from `current`, or null when
 * they are right already. The notices user, the room's creator, is never listed (room version 12).
 */
export function controlRoomPowerLevels(
  current: Record<string, unknown>,
  counsellorId: string,
): Record<string, unknown> | null {
  const users = (current.users ?? {}) as Record<string, number>;
  if (users[counsellorId] === 0 && current.invite === CONTROL_ROOM_INVITE_POWER) return null;
  return { ...current, users: { ...users, [counsellorId]: 0 }, invite: CONTROL_ROOM_INVITE_POWER };
}
