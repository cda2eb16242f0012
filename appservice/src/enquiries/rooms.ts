/**
 * Enquiry rooms: how the bot creates them, and the steps that carry out what the membership
 * policy (membership.ts) decides. The room's rules are enforced by Synapse through power levels:
 * - the bot (the room's creator) alone changes state, kicks and bans;
 * - the assigned counsellor (power 50) may invite, which MSC4268 handover needs (the invitee
 *   accepts the room-key history from whoever invited them); the workflow kicks anyone else;
 * - the seeker (power 0) writes and takes part in calls, but cannot invite, kick or change state.
 *
 * From its first claim an enquiry also has a case-notes room: the private, end-to-end encrypted
 * notes of its counsellors, made like the conversation's room (same power levels, history
 * `shared`) but never entered by the seeker (membership.ts, NOTES_POLICY). Steps for it carry
 * `room: "notes"`.
 */
import type pg from "pg";
import { ENQUIRY_STATE_EVENT, type EnquiryChange, type EnquiryState } from "../domain.ts";
import type { CreateRoomOptions, Homeserver } from "../matrix/homeserver.ts";
import type { CallControl } from "../rtc/calls.ts";
import { enqueueStep, type Step, type StepRunners } from "../steps/steps.ts";
import {
  COUNSELLOR_POWER,
  membersAtCreation,
  type AgencyMember,
  roomChanges,
  type EnquiryRoom,
  type RoomChange,
} from "./membership.ts";
import type { RemovalReason } from "./texts.ts";
import { NOTES_TOPIC, REMOVAL_TEXTS, notesRoomName, roomName, roomTopic } from "./texts.ts";

/**
 * Power levels of a new enquiry room, with `users` as the policy gives them. The bot creates the
 * room; in room version 12 (Synapse's default) the creator has unlimited power and must not be
 * listed in `users`.
 */
export function enquiryPowerLevels(users: Record<string, number> = {}): Record<string, unknown> {
  return {
    users,
    users_default: 0,
    events_default: 0,
    state_default: 100,
    invite: COUNSELLOR_POWER,
    kick: 100,
    ban: 100,
    redact: 100,
    notifications: { room: 100 },
    events: {
      "m.room.name": 100,
      "m.room.topic": 100,
      "m.room.avatar": 100,
      "m.room.power_levels": 100,
      "m.room.history_visibility": 100,
      "m.room.encryption": 100,
      "m.room.join_rules": 100,
      "m.room.canonical_alias": 100,
      "m.room.server_acl": 100,
      "m.room.tombstone": 100,
      ...writeLevels(0),
    },
  };
}

/**
 * Events by which people take part in a conversation: messages, reactions and MatrixRTC call
 * membership. Power 0 lets seeker and counsellor use them; 100 makes a closed room read-only.
 */
function writeLevels(level: 0 | 100): Record<string, number> {
  const types = ["m.room.message", "m.room.encrypted", "m.reaction", "org.matrix.msc3401.call.member", "m.call.member"];
  return Object.fromEntries(types.map((t) => [t, level]));
}

interface EnquiryRoomRow {
  id: string;
  room_id: string | null;
  agency_id: string;
  topic_name: string;
  language: string;
  age_group: string;
}

/**
 * The enquiry's room as the membership policy sees it: its state, seeker, counsellor and the
 * agency's counsellors who are not deactivated. Null when there is no such enquiry.
 */
export async function loadRoom(db: pg.PoolClient, enquiryId: number): Promise<EnquiryRoom | null> {
  const { rows } = await db.query<{
    state: EnquiryState;
    seeker_id: string | null;
    counsellor_id: string | null;
    agency: AgencyMember[];
  }>(
    `SELECT e.state, e.seeker_id, e.counsellor_id,
            coalesce((SELECT json_agg(json_build_object('userId', m.counsellor_id, 'absent', c.absent)
                                      ORDER BY m.counsellor_id)
                        FROM agency_memberships m JOIN counsellors c ON c.user_id = m.counsellor_id
                       WHERE m.agency_id = e.agency_id AND c.deactivated_at IS NULL), '[]') AS agency
       FROM enquiries e WHERE e.id = $1`,
    [enquiryId],
  );
  const row = rows[0];
  if (!row) return null;
  return { state: row.state, seekerId: row.seeker_id, counsellorId: row.counsellor_id, agency: row.agency };
}

/** Records the policy's changes of an enquiry's room as steps, in the caller's transaction. */
export async function recordChanges(db: pg.PoolClient, enquiryId: number, changes: RoomChange[]): Promise<void> {
  for (const change of changes) await enqueueStep(db, enquiryId, change);
}

/**
 * Records, in the caller's transaction, what the policy asks of both rooms of an enquiry going
 * from `before` to `after`: the conversation's changes, then the marker of `change` (if any) in
 * the conversation, then the case notes' changes. `notes: "create"` first creates the notes
 * room (a claim, a handover; nothing happens when it exists). An enquiry never taken has no
 * notes room: the steps for it then find nothing to change.
 */
export async function recordRoomChanges(
  db: pg.PoolClient,
  enquiryId: number,
  before: EnquiryRoom,
  after: EnquiryRoom,
  options: { reason?: RemovalReason | undefined; change?: EnquiryChange; notes?: "create" } = {},
): Promise<void> {
  await recordChanges(db, enquiryId, roomChanges(before, after, options.reason));
  if (options.change) {
    const at = new Date().toISOString();
    await enqueueStep(db, enquiryId, {
      kind: "mark_enquiry",
      payload: { state: after.state, change: options.change, at },
    });
  }
  if (options.notes === "create") await enqueueStep(db, enquiryId, { kind: "create_notes_room", payload: {} });
  await recordChanges(db, enquiryId, roomChanges(before, after, options.reason, "notes"));
}

/**
 * Finds the room an earlier, interrupted run created for `enquiryId` (rare: only after a crash):
 * its conversation (marked `enquiry_id`) or, with `notes`, its case notes (marked `notes_of`).
 */
async function findCreatedRoom(hs: Homeserver, enquiryId: number, notes = false): Promise<string | null> {
  for (const roomId of await hs.joinedRooms()) {
    const marker = await hs
      .getState<{ enquiry_id?: number; notes_of?: number }>(roomId, ENQUIRY_STATE_EVENT)
      .catch(() => null);
    if ((notes ? marker?.notes_of : marker?.enquiry_id) === enquiryId) return roomId;
  }
  return null;
}

/** State every enquiry room starts with (conversation and notes), and its `marker`. */
function initialState(marker: Record<string, unknown>): CreateRoomOptions["initialState"] {
  return [
    { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
    // Members see the history from before they joined: the assigned counsellor reads the
    // first enquiry, a counsellor taking over reads the whole conversation and the earlier
    // notes (with the keys the leaving counsellor's device shares, MSC4268).
    { type: "m.room.history_visibility", state_key: "", content: { history_visibility: "shared" } },
    { type: "m.room.guest_access", state_key: "", content: { guest_access: "forbidden" } },
    { type: "m.room.join_rules", state_key: "", content: { join_rule: "invite" } },
    { type: ENQUIRY_STATE_EVENT, state_key: "", content: marker },
  ];
}

/** What the room shows as the reason of a removal. */
function removalText(payload: { reason?: keyof typeof REMOVAL_TEXTS }): string {
  return payload.reason === undefined ? "" : REMOVAL_TEXTS[payload.reason];
}

/** The step runners for enquiry rooms. */
export function roomStepRunners(
  hs: Homeserver,
  calls: CallControl,
): Pick<
  StepRunners,
  "create_room" | "create_notes_room" | "invite" | "kick" | "keep_only" | "power_levels" | "mark_enquiry"
> {
  const createRoom: StepRunners["create_room"] = async (step, db) => {
    const { rows } = await db.query<EnquiryRoomRow>(
      `SELECT e.id, e.room_id, e.agency_id, t.name_de AS topic_name, e.language, e.age_group
         FROM enquiries e JOIN topics t ON t.id = e.topic_id WHERE e.id = $1 FOR UPDATE`,
      [step.enquiryId],
    );
    const enquiry = rows[0];
    if (!enquiry || enquiry.room_id) return;
    const id = Number(enquiry.id);
    let roomId = step.previousAttempts > 0 ? await findCreatedRoom(hs, id) : null;
    const room = await loadRoom(db, id);
    const members = room ? membersAtCreation(room) : { invite: [], power: {} };
    if (roomId) {
      // A run that died inside createRoom (Synapse invites one after another) may have left
      // invites undone: the seeker's first message would not be encrypted for those counsellors
      // (found by tests/e2e/faults-under-load.test.ts). Done invites are skipped.
      for (const userId of members.invite) await hs.invite(roomId, userId);
    } else {
      roomId = await hs.createRoom({
        name: roomName(id, enquiry.topic_name),
        topic: roomTopic({ topicName: enquiry.topic_name, language: enquiry.language, ageGroup: enquiry.age_group }),
        invite: members.invite,
        initialState: initialState({ enquiry_id: id, agency_id: Number(enquiry.agency_id) }),
        powerLevels: enquiryPowerLevels(members.power),
      });
    }
    await db.query("UPDATE enquiries SET room_id = $2 WHERE id = $1", [id, roomId]);
  };

  // Made empty: the steps recorded after it invite the counsellor and give them power.
  const createNotesRoom: StepRunners["create_notes_room"] = async (step, db) => {
    const { rows } = await db.query<{ id: string; notes_room_id: string | null; agency_id: string }>(
      "SELECT id, notes_room_id, agency_id FROM enquiries WHERE id = $1 FOR UPDATE",
      [step.enquiryId],
    );
    const enquiry = rows[0];
    if (!enquiry || enquiry.notes_room_id) return;
    const id = Number(enquiry.id);
    let roomId = step.previousAttempts > 0 ? await findCreatedRoom(hs, id, true) : null;
    roomId ??= await hs.createRoom({
      name: notesRoomName(id),
      topic: NOTES_TOPIC,
      invite: [],
      initialState: initialState({ notes_of: id, agency_id: Number(enquiry.agency_id) }),
      powerLevels: enquiryPowerLevels(),
    });
    await db.query("UPDATE enquiries SET notes_room_id = $2 WHERE id = $1", [id, roomId]);
  };

  /**
   * The room a step acts on: the conversation's, or the case notes' (`room: "notes"`), which is
   * null for an enquiry never taken (nothing to change there).
   */
  const roomOf = async (db: pg.PoolClient, step: Step, room?: "notes"): Promise<string | null> => {
    const { rows } = await db.query<{ room_id: string | null; notes_room_id: string | null }>(
      "SELECT room_id, notes_room_id FROM enquiries WHERE id = $1",
      [step.enquiryId],
    );
    if (room === "notes") return rows[0]?.notes_room_id ?? null;
    const roomId = rows[0]?.room_id;
    if (!roomId) throw new Error(`enquiry ${step.enquiryId} has no room`);
    return roomId;
  };

  return {
    create_room: createRoom,
    create_notes_room: createNotesRoom,
    invite: async (step, db) => {
      const roomId = await roomOf(db, step, step.payload.room);
      if (roomId) await hs.invite(roomId, step.payload.user_id);
    },
    // Whoever leaves the conversation leaves its call too, before the step is done.
    kick: async (step, db) => {
      const roomId = await roomOf(db, step, step.payload.room);
      if (!roomId) return;
      await hs.kick(roomId, step.payload.user_id, removalText(step.payload));
      await calls.remove(roomId, (userId) => userId === step.payload.user_id);
    },
    // Removes every member and invitee but the bot and `user_ids` (one look at the members).
    keep_only: async (step, db) => {
      const roomId = await roomOf(db, step, step.payload.room);
      if (!roomId) return;
      const keep = new Set([hs.botUserId, ...step.payload.user_ids]);
      for (const userId of (await hs.members(roomId)).keys()) {
        if (!keep.has(userId)) await hs.kick(roomId, userId, removalText(step.payload));
      }
      await calls.remove(roomId, (userId) => !keep.has(userId));
    },
    mark_enquiry: async (step, db) => {
      const roomId = await roomOf(db, step);
      if (!roomId) return;
      const current = (await hs.getState(roomId, ENQUIRY_STATE_EVENT)) ?? {};
      const { state, change, at } = step.payload;
      await hs.setState(roomId, ENQUIRY_STATE_EVENT, "", { ...current, state, change, at });
    },
    power_levels: async (step, db) => {
      const roomId = await roomOf(db, step, step.payload.room);
      if (!roomId) return;
      const current = (await hs.getState<{ users?: Record<string, number> }>(roomId, "m.room.power_levels")) ?? {};
      const users = { ...(current.users ?? {}), ...step.payload.users };
      for (const [user, level] of Object.entries(users)) if (level === 0) delete users[user];
      const content: Record<string, unknown> = { ...current, users };
      if (step.payload.read_only !== undefined) {
        const level = step.payload.read_only ? 100 : 0;
        content.events_default = level;
        content.events = { ...((current as { events?: object }).events ?? {}), ...writeLevels(level) };
      }
      await hs.setState(roomId, "m.room.power_levels", "", content);
      // A read-only (closed) conversation has no call: everybody leaves it.
      if (step.payload.read_only) await calls.remove(roomId, () => true);
    },
  };
}
