import { describe, expect, it } from "vitest";
import { ENQUIRY_STATES, type EnquiryState } from "../domain.ts";
import {
  answerInvite,
  controlRoomPowerLevels,
  inviteStands,
  membersAtCreation,
  NOTES_POLICY,
  placeOf,
  POLICY,
  roleOf,
  ROLES,
  roomChanges,
  WRITABLE,
  type EnquiryRoom,
  type Presence,
  type Role,
} from "./membership.ts";

const S = "@seeker:s";
const A = "@anna:s";
const B = "@ben:s";
const C = "@carla:s";
const D = "@dora:s"; // absent
const X = "@other-agency:s";

/** An enquiry of an agency with A, B and C present and D absent. */
function room(state: EnquiryState, counsellorId: string | null = null, agency = [A, B, C]): EnquiryRoom {
  return {
    state,
    seekerId: S,
    counsellorId,
    agency: [...agency.map((userId) => ({ userId, absent: false })), { userId: D, absent: true }],
  };
}

describe("the membership policy's table", () => {
  // Every state and every role, written out: presence and power level.
  const expected: Record<EnquiryState, Record<Role, [Presence, number]>> = {
    created: {
      seeker: ["in", 0],
      assigned: ["in", 50],
      colleague: ["in", 0],
      absent_colleague: ["kept", 0],
      outsider: ["out", 0],
    },
    waiting: {
      seeker: ["in", 0],
      assigned: ["in", 50],
      colleague: ["in", 0],
      absent_colleague: ["kept", 0],
      outsider: ["out", 0],
    },
    active: {
      seeker: ["in", 0],
      assigned: ["in", 50],
      colleague: ["out", 0],
      absent_colleague: ["out", 0],
      outsider: ["out", 0],
    },
    closed: {
      seeker: ["in", 0],
      assigned: ["in", 50],
      colleague: ["kept", 0],
      absent_colleague: ["kept", 0],
      outsider: ["out", 0],
    },
    archived: {
      seeker: ["in", 0],
      assigned: ["in", 50],
      colleague: ["kept", 0],
      absent_colleague: ["kept", 0],
      outsider: ["out", 0],
    },
  };
  const rows = ENQUIRY_STATES.flatMap((state) => ROLES.map((role) => [state, role, ...expected[state][role]] as const));

  it("has a row for every state and role", () => {
    expect(rows).toHaveLength(ENQUIRY_STATES.length * ROLES.length);
    expect(Object.keys(POLICY).sort()).toEqual([...ENQUIRY_STATES].sort());
  });

  it.each(rows)("places a %s enquiry's %s: %s, power %i", (state, role, presence, power) => {
    expect(POLICY[state][role]).toEqual({ presence, power });
  });

  it.each([
    ["created", true],
    ["waiting", true],
    ["active", true],
    ["closed", false],
    ["archived", false],
  ] as const)("lets people write in a %s enquiry's room: %s", (state, writable) => {
    expect(WRITABLE[state]).toBe(writable);
  });

  it("knows each person's role", () => {
    const r = room("active", A);
    expect([S, A, B, D, X].map((id) => roleOf(r, id))).toEqual([
      "seeker",
      "assigned",
      "colleague",
      "absent_colleague",
      "outsider",
    ]);
    expect(placeOf(r, B)).toEqual({ presence: "out", power: 0 });
  });
});

describe("the room the policy asks for", () => {
  it("is made with the seeker and the agency's present counsellors invited, and nobody's power raised", () => {
    expect(membersAtCreation(room("created"))).toEqual({ invite: [S, A, B, C], power: {} });
  });

  it("takes everyone but the seeker and the claimant out when an enquiry is claimed", () => {
    expect(roomChanges(room("waiting"), room("active", B), "claimed")).toEqual([
      // Also a counsellor who was never invited (added behind the API's back) is in now.
      { kind: "invite", payload: { user_id: B } },
      { kind: "power_levels", payload: { users: { [B]: 50 } } },
      { kind: "keep_only", payload: { user_ids: [S, B], reason: "claimed" } },
    ]);
  });

  it("draws the circle anew at a claim even when no colleague is known to be in the room", () => {
    const alone: EnquiryRoom = {
      state: "waiting",
      seekerId: S,
      counsellorId: null,
      agency: [{ userId: A, absent: false }],
    };
    expect(roomChanges(alone, { ...alone, state: "active", counsellorId: A }, "claimed")).toEqual([
      { kind: "invite", payload: { user_id: A } },
      { kind: "power_levels", payload: { users: { [A]: 50 } } },
      // Anyone Synapse let in that we do not know of goes.
      { kind: "keep_only", payload: { user_ids: [S, A], reason: "claimed" } },
    ]);
  });

  it("invites an absent counsellor who claims", () => {
    expect(roomChanges(room("waiting"), room("active", D), "claimed").slice(0, 2)).toEqual([
      { kind: "invite", payload: { user_id: D } },
      { kind: "power_levels", payload: { users: { [D]: 50 } } },
    ]);
  });

  it("lowers the old counsellor's power only after they are out at a handover", () => {
    expect(roomChanges(room("active", A), room("active", B), "handed_over")).toEqual([
      { kind: "invite", payload: { user_id: B } },
      { kind: "power_levels", payload: { users: { [B]: 50 } } },
      { kind: "keep_only", payload: { user_ids: [S, B], reason: "handed_over" } },
      { kind: "power_levels", payload: { users: { [A]: 0 } } },
    ]);
  });

  it("makes a closed room read-only and removes nobody", () => {
    expect(roomChanges(room("active", A), room("closed", A))).toEqual([
      { kind: "power_levels", payload: { users: {}, read_only: true } },
    ]);
  });

  it("gives a room reopened to its counsellor back to the seeker and them alone, writable", () => {
    expect(roomChanges(room("closed", A), room("active", A), "reopened")).toEqual([
      { kind: "keep_only", payload: { user_ids: [S, A], reason: "reopened" } },
      { kind: "power_levels", payload: { users: {}, read_only: false } },
    ]);
  });

  it("sends a room back to the queue when its counsellor left the agency", () => {
    const before = room("closed", A, [B, C]);
    expect(roomChanges(before, room("waiting", null, [B, C]), "requeued")).toEqual([
      { kind: "invite", payload: { user_id: B } },
      { kind: "invite", payload: { user_id: C } },
      { kind: "kick", payload: { user_id: A, reason: "requeued" } },
      { kind: "power_levels", payload: { users: { [A]: 0 }, read_only: false } },
    ]);
  });

  it("makes the room read-only when the seeker leaves, and leaves its counsellor in without power", () => {
    expect(roomChanges(room("active", A), room("closed"))).toEqual([
      { kind: "power_levels", payload: { users: { [A]: 0 }, read_only: true } },
    ]);
    expect(roomChanges(room("waiting"), room("closed"))).toEqual([
      { kind: "power_levels", payload: { users: {}, read_only: true } },
    ]);
  });

  it("changes nothing when a closed enquiry is archived", () => {
    expect(roomChanges(room("closed", A), room("archived", A))).toEqual([]);
  });

  it("takes a counsellor who leaves the agency out of a waiting room, alone", () => {
    expect(roomChanges(room("waiting"), room("waiting", null, [A, B]), "left_agency")).toEqual([
      { kind: "kick", payload: { user_id: C, reason: "left_agency" } },
    ]);
  });

  it("takes a counsellor who leaves the agency out of their closed enquiry's room, and their power", () => {
    expect(roomChanges(room("closed", A), room("closed", null, [B, C]), "left_agency")).toEqual([
      { kind: "kick", payload: { user_id: A, reason: "left_agency" } },
      { kind: "power_levels", payload: { users: { [A]: 0 } } },
    ]);
  });

  it("takes a former counsellor who leaves the agency out of an active room with a kick, not a new circle", () => {
    // A keep_only here could take back an invite the assigned counsellor just gave for a handover.
    expect(roomChanges(room("active", B), room("active", B, [B, C]), "left_agency")).toEqual([
      { kind: "kick", payload: { user_id: A, reason: "left_agency" } },
    ]);
  });

  it("invites a counsellor who joins the agency to its waiting rooms, unless absent", () => {
    const joined = { userId: X, absent: false };
    const before = room("waiting");
    expect(roomChanges(before, { ...before, agency: [...before.agency, joined] })).toEqual([
      { kind: "invite", payload: { user_id: X } },
    ]);
    expect(roomChanges(before, { ...before, agency: [...before.agency, { ...joined, absent: true }] })).toEqual([]);
    const active = room("active", A);
    expect(roomChanges(active, { ...active, agency: [...active.agency, joined] })).toEqual([]);
  });
});

describe("invites the bot did not give", () => {
  it.each([
    ["the assigned counsellor invites a colleague to hand over", room("active", A), A, B, true],
    ["the assigned counsellor invites an absent colleague to hand over", room("active", A), A, D, true],
    ["anyone invites the counsellor assigned now", room("active", B), A, B, true],
    ["the assigned counsellor invites someone outside the agency", room("active", A), A, X, false],
    ["a colleague invites another colleague", room("active", A), B, C, false],
    ["the seeker invites a colleague", room("active", A), S, B, false],
    ["the counsellor of a closed enquiry invites a colleague", room("closed", A), A, B, false],
    ["a counsellor invites a colleague to a waiting enquiry", room("waiting"), A, B, false],
  ])("%s: stands %s", (_what, r, inviter, invitee, stands) => {
    expect(inviteStands(r, inviter, invitee)).toBe(stands);
    expect(answerInvite(r, inviter, invitee)).toEqual(
      stands ? [] : [{ kind: "kick", payload: { user_id: invitee, reason: "uninvited" } }],
    );
  });
});

describe("the case notes' room", () => {
  // Every state and every role, written out: the seeker is never in it; the assigned counsellor is.
  const out = ["out", 0] as const;
  const expected: Record<EnquiryState, Record<Role, readonly [Presence, number]>> = {
    created: { seeker: out, assigned: out, colleague: ["kept", 0], absent_colleague: ["kept", 0], outsider: out },
    waiting: { seeker: out, assigned: out, colleague: ["kept", 0], absent_colleague: ["kept", 0], outsider: out },
    active: { seeker: out, assigned: ["in", 50], colleague: out, absent_colleague: out, outsider: out },
    closed: { seeker: out, assigned: ["in", 50], colleague: ["kept", 0], absent_colleague: ["kept", 0], outsider: out },
    archived: {
      seeker: out,
      assigned: ["in", 50],
      colleague: ["kept", 0],
      absent_colleague: ["kept", 0],
      outsider: out,
    },
  };
  const rows = ENQUIRY_STATES.flatMap((state) => ROLES.map((role) => [state, role, ...expected[state][role]] as const));

  it.each(rows)("places a %s enquiry's %s: %s, power %i", (state, role, presence, power) => {
    expect(NOTES_POLICY[state][role]).toEqual({ presence, power });
  });

  it("never places the seeker in it, whoever is assigned", () => {
    for (const state of ENQUIRY_STATES) {
      for (const counsellor of [null, A, D]) expect(placeOf(room(state, counsellor), S, "notes").presence).toBe("out");
    }
  });

  const N = { room: "notes" } as const;

  it("lets in the claimant alone, with the power to invite (for a handover)", () => {
    expect(roomChanges(room("waiting"), room("active", B), "claimed", "notes")).toEqual([
      { kind: "invite", payload: { user_id: B, ...N } },
      { kind: "power_levels", payload: { users: { [B]: 50 }, ...N } },
      { kind: "keep_only", payload: { user_ids: [B], reason: "claimed", ...N } },
    ]);
  });

  it("lets the new counsellor in at a handover and takes the old one out, then their power", () => {
    expect(roomChanges(room("active", A), room("active", B), "handed_over", "notes")).toEqual([
      { kind: "invite", payload: { user_id: B, ...N } },
      { kind: "power_levels", payload: { users: { [B]: 50 }, ...N } },
      { kind: "keep_only", payload: { user_ids: [B], reason: "handed_over", ...N } },
      { kind: "power_levels", payload: { users: { [A]: 0 }, ...N } },
    ]);
  });

  it("keeps the last counsellor in a closed enquiry's notes, read-only", () => {
    expect(roomChanges(room("active", A), room("closed", A), undefined, "notes")).toEqual([
      { kind: "power_levels", payload: { users: {}, read_only: true, ...N } },
    ]);
    // The seeker left: the counsellor is no longer assigned but may stay to read back.
    expect(roomChanges(room("active", A), room("closed"), undefined, "notes")).toEqual([
      { kind: "power_levels", payload: { users: { [A]: 0 }, read_only: true, ...N } },
    ]);
  });

  it("gives the notes back to the counsellor of a reopened enquiry, writable", () => {
    expect(roomChanges(room("closed", A), room("active", A), "reopened", "notes")).toEqual([
      { kind: "keep_only", payload: { user_ids: [A], reason: "reopened", ...N } },
      { kind: "power_levels", payload: { users: {}, read_only: false, ...N } },
    ]);
  });

  it("takes a counsellor who left the agency out of the notes when the enquiry goes back to the queue", () => {
    expect(roomChanges(room("closed", A), room("waiting", null, [B, C]), "requeued", "notes")).toEqual([
      { kind: "kick", payload: { user_id: A, reason: "requeued", ...N } },
      { kind: "power_levels", payload: { users: { [A]: 0 }, read_only: false, ...N } },
    ]);
  });

  it("takes a counsellor who leaves the agency out of the notes of their closed enquiry", () => {
    expect(roomChanges(room("closed", A), room("closed", null, [B, C]), "left_agency", "notes")).toEqual([
      { kind: "kick", payload: { user_id: A, reason: "left_agency", ...N } },
      { kind: "power_levels", payload: { users: { [A]: 0 }, ...N } },
    ]);
  });

  it("changes nothing in the notes while an enquiry waits, nor when a counsellor joins the agency", () => {
    expect(roomChanges(room("created"), room("waiting"), undefined, "notes")).toEqual([]);
    const before = room("waiting");
    expect(
      roomChanges(before, { ...before, agency: [...before.agency, { userId: X, absent: false }] }, undefined, "notes"),
    ).toEqual([]);
  });

  it.each([
    ["the assigned counsellor invites a colleague to hand over", room("active", A), A, B, true],
    ["the assigned counsellor invites the seeker", room("active", A), A, S, false],
    ["the seeker invites themselves", room("active", A), S, S, false],
    ["a colleague invites themselves", room("active", A), B, B, false],
  ])("answers an invite to the notes when %s: stands %s", (_what, r, inviter, invitee, stands) => {
    expect(answerInvite(r, inviter, invitee, "notes")).toEqual(
      stands ? [] : [{ kind: "kick", payload: { user_id: invitee, reason: "uninvited", ...N } }],
    );
  });
});

describe("a counsellor's control room", () => {
  it("lets the counsellor write but not invite, and changes nothing that is right", () => {
    const synapses = { users_default: -10, invite: 0, users: { "@connecta-notices:s": 100 } };
    const fixed = controlRoomPowerLevels(synapses, A);
    expect(fixed).toEqual({ users_default: -10, invite: 50, users: { "@connecta-notices:s": 100, [A]: 0 } });
    expect(controlRoomPowerLevels(fixed ?? {}, A)).toBeNull();
  });
});
