/**
 * The workflow's rules on a real PostgreSQL, with a homeserver in memory: who is in an enquiry's
 * room, with which power, after each answer (tests/e2e/ proves the same against Synapse for the
 * main paths), and what is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refusalOf, userId, workflowHarness } from "../../test/harness.ts";

let h: Awaited<ReturnType<typeof workflowHarness>>;
beforeAll(async () => {
  h = await workflowHarness({ stepsWaitMs: 2_000 });
});
afterAll(async () => {
  await h?.drop();
});

/** An active enquiry: counsellor A claimed it; B is a colleague. */
async function activeEnquiry(options: { counsellors?: number; absent?: number } = {}) {
  const e = await h.enquiry({ counsellors: 2, ...options });
  const [a, b] = e.counsellors as [string, string];
  await h.workflow.claim(a, e.enquiryId);
  h.hs.join(e.roomId, a);
  return { ...e, a, b };
}

describe("a claim", () => {
  it("makes the claimant the enquiry's counsellor and leaves only the seeker and them in the room", async () => {
    const { enquiryId, roomId, seeker, counsellors, absent } = await h.enquiry({ counsellors: 3, absent: 1 });
    const [a, b] = counsellors as [string, string];
    // The agency's present counsellors were invited before the seeker wrote, the absent not.
    expect(h.hs.membersOf(roomId)).toEqual([h.hs.botUserId, seeker, ...counsellors].sort());
    expect(h.hs.membersOf(roomId)).not.toContain(absent[0]);
    h.hs.join(roomId, b);

    const claimed = await h.workflow.claim(a, enquiryId);
    expect(claimed).toMatchObject({ enquiry_id: enquiryId, state: "active", counsellor_id: a });
    expect(h.hs.membersOf(roomId)).toEqual([h.hs.botUserId, seeker, a].sort());
    expect(h.hs.powerLevels(roomId).users).toEqual({ [a]: 50 });
  });

  it("is won by one counsellor only; a retried claim answers the same", async () => {
    const { enquiryId, counsellors } = await h.enquiry({ counsellors: 3 });
    const [a, b, c] = counsellors as [string, string, string];
    const results = await Promise.allSettled([a, b, c].map((id) => h.workflow.claim(id, enquiryId)));
    const winners = results.filter((r) => r.status === "fulfilled");
    expect(winners).toHaveLength(1);
    const winner = (await h.row(enquiryId))?.counsellor_id ?? "";
    for (const r of results) {
      if (r.status === "rejected")
        expect((r.reason as { refusal: unknown }).refusal).toEqual({ reason: "already_taken" });
    }
    expect((await h.workflow.claim(winner, enquiryId)).counsellor_id).toBe(winner);
    const { rows } = await h.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM assignments WHERE enquiry_id = $1",
      [enquiryId],
    );
    expect(rows[0]?.n).toBe(1);
  });

  it("invites a counsellor the intake never invited (added to the agency behind the API's back)", async () => {
    const { enquiryId, roomId, agencyId } = await h.enquiry({ counsellors: 1 });
    const late = await h.counsellor(agencyId);
    expect(h.hs.membersOf(roomId)).not.toContain(late);
    await h.workflow.claim(late, enquiryId);
    expect(h.hs.membersOf(roomId)).toContain(late);
  });

  it("is refused to other agencies' counsellors, to non-counsellors and for an enquiry not waiting", async () => {
    const { enquiryId, agencyId } = await h.enquiry({ written: false });
    const { agencyId: other } = await h.agency();
    expect(await refusalOf(h.workflow.claim(await h.counsellor(other), enquiryId))).toBe("no_such_enquiry");
    expect(await refusalOf(h.workflow.claim(userId("seeker"), enquiryId))).toBe("not_a_counsellor");
    // Its seeker has not written yet: it is not in the queue.
    expect(await refusalOf(h.workflow.claim(await h.counsellor(agencyId), enquiryId))).toBe("wrong_state");
    expect(await refusalOf(h.workflow.claim(await h.counsellor(agencyId), 999_999_999))).toBe("no_such_enquiry");
  });

  it("stays decided when the homeserver is down, says the room is pending, and answers once it is done", async () => {
    const { enquiryId, roomId, counsellors } = await h.enquiry();
    const a = counsellors[0] ?? "";
    h.hs.down = true;
    expect(await refusalOf(h.workflow.claim(a, enquiryId))).toBe("rooms_pending");
    expect(await h.row(enquiryId)).toEqual({ state: "active", counsellor_id: a });
    h.hs.down = false;
    // The worker finishes the room (after the failed step's backoff); a repeated claim answers.
    await h.steps.drain(enquiryId, 10_000);
    expect((await h.workflow.claim(a, enquiryId)).counsellor_id).toBe(a);
    expect(h.hs.membersOf(roomId)).not.toContain(counsellors[1]);
  });
});

describe("a handover", () => {
  it("takes the old counsellor out before lowering their power, and makes the new one responsible", async () => {
    const { enquiryId, roomId, seeker, a, b } = await activeEnquiry();
    // A's client invites B first (MSC4268 shares the history with B); the invite stands.
    h.hs.inviteAs(a, roomId, b);
    await h.push({
      type: "m.room.member",
      room_id: roomId,
      sender: a,
      state_key: b,
      content: { membership: "invite" },
    });
    const from = h.hs.changesOf(roomId).length;

    expect((await h.workflow.handover(a, enquiryId, b)).counsellor_id).toBe(b);
    expect(h.hs.membersOf(roomId)).toEqual([h.hs.botUserId, seeker, b].sort());
    expect(h.hs.powerLevels(roomId).users).toEqual({ [b]: 50 });
    const changes = h.hs.changesOf(roomId).slice(from);
    // The bot never invites B again: a second invite would replace the inviter, and B's client
    // would refuse the history.
    expect(changes.filter((c) => c.startsWith(`invite ${b}`))).toEqual([]);
    expect(changes).toEqual([
      `m.room.power_levels ${JSON.stringify({ [a]: 50, [b]: 50 })}`,
      `kick ${a}: Die Anfrage wurde übergeben`,
      `m.room.power_levels ${JSON.stringify({ [b]: 50 })}`,
      // The marker both clients show.
      "de.connecta.enquiry",
    ]);
    // A retried handover answers the same and changes nothing.
    const all = h.hs.changes.length;
    expect((await h.workflow.handover(a, enquiryId, b)).counsellor_id).toBe(b);
    expect(h.hs.changes).toHaveLength(all);
  });

  it("is for the assigned counsellor or a team lead, to a counsellor of the agency", async () => {
    const { enquiryId, b, lead } = await activeEnquiry();
    expect(await refusalOf(h.workflow.handover(b, enquiryId, b))).toBe("not_assigned");
    expect(await refusalOf(h.workflow.handover(lead, enquiryId, userId("stranger")))).toBe("not_a_colleague");
    expect((await h.workflow.handover(lead, enquiryId, b)).counsellor_id).toBe(b);
    const waiting = await h.enquiry();
    expect(await refusalOf(h.workflow.handover(waiting.lead, waiting.enquiryId, waiting.counsellors[0] ?? ""))).toBe(
      "wrong_state",
    );
  });
});

describe("close and reopen", () => {
  it("makes the room read-only at the close and writable again when the seeker reopens it", async () => {
    const { enquiryId, roomId, seeker, a } = await activeEnquiry();
    expect((await h.workflow.close(a, enquiryId)).state).toBe("closed");
    expect(h.hs.powerLevels(roomId).events_default).toBe(100);
    expect(h.hs.powerLevels(roomId).events["m.room.encrypted"]).toBe(100);
    expect(h.hs.membersOf(roomId)).toEqual([h.hs.botUserId, seeker, a].sort());

    expect(await refusalOf(h.workflow.reopen(a, enquiryId))).toBe("no_such_enquiry");
    expect(await h.workflow.reopen(seeker, enquiryId)).toMatchObject({ state: "active", counsellor_id: a });
    expect(h.hs.powerLevels(roomId).events_default).toBe(0);
    expect(h.hs.powerLevels(roomId).events["m.room.encrypted"]).toBe(0);
    expect(h.hs.powerLevels(roomId).users).toEqual({ [a]: 50 });
  });

  it("tells until when a closed enquiry can be reopened, and nothing while it is open", async () => {
    const { enquiryId, seeker, a } = await activeEnquiry();
    expect((await h.workflow.mine(seeker)).enquiries.find((e) => e.enquiry_id === enquiryId)?.reopen_until).toBeNull();
    const closed = await h.workflow.close(a, enquiryId);
    const { rows } = await h.pool.query<{ closed_at: Date }>("SELECT closed_at FROM enquiries WHERE id = $1", [
      enquiryId,
    ]);
    // The harness's window is 30 days.
    expect(closed.reopen_window_days).toBe(30);
    expect(closed.reopen_until).toBe(new Date((rows[0]?.closed_at.getTime() ?? 0) + 30 * 86_400_000).toISOString());
    expect((await h.workflow.reopen(seeker, enquiryId)).reopen_until).toBeNull();
  });

  it("answers a repeated close only to whoever may close", async () => {
    const { enquiryId, a, b, lead } = await activeEnquiry();
    await h.workflow.close(a, enquiryId);
    expect(await refusalOf(h.workflow.close(b, enquiryId))).toBe("not_assigned");
    expect((await h.workflow.close(a, enquiryId)).state).toBe("closed");
    expect((await h.workflow.close(lead, enquiryId)).state).toBe("closed");
  });

  it("sends a reopened enquiry back to the queue when its counsellor left the agency", async () => {
    const { enquiryId, roomId, agencyId, seeker, a, b } = await activeEnquiry({ absent: 1 });
    await h.workflow.close(a, enquiryId);
    await h.pool.query("DELETE FROM agency_memberships WHERE counsellor_id = $1", [a]);
    const from = h.hs.changesOf(roomId).length;

    expect(await h.workflow.reopen(seeker, enquiryId)).toMatchObject({ state: "waiting", counsellor_id: null });
    expect(h.hs.membersOf(roomId)).toEqual([h.hs.botUserId, seeker, b].sort());
    expect(h.hs.changesOf(roomId).slice(from)).toEqual([
      `invite ${b}`,
      `kick ${a}: Die Anfrage wartet auf eine neue Beratung`,
      "m.room.power_levels {}",
      "de.connecta.enquiry",
    ]);
    // A's notes stay with the enquiry, not with A.
    const notes = (await h.notesRoomOf(enquiryId)) ?? "";
    expect(h.hs.membersOf(notes)).toEqual([h.hs.botUserId]);
    expect(h.hs.powerLevels(roomId).events_default).toBe(0);
    const queue = await h.workflow.queue(b, { limit: 10, agencyId });
    expect(queue.enquiries.map((e) => e.enquiry_id)).toEqual([enquiryId]);
  });

  it("refuses to reopen after the reopening window", async () => {
    const { enquiryId, seeker, a } = await activeEnquiry();
    await h.workflow.close(a, enquiryId);
    await h.pool.query("UPDATE enquiries SET closed_at = now() - interval '31 days' WHERE id = $1", [enquiryId]);
    expect(await refusalOf(h.workflow.reopen(seeker, enquiryId))).toBe("wrong_state");
    expect(await h.workflow.archiveExpired()).toBeGreaterThanOrEqual(1);
    expect((await h.row(enquiryId))?.state).toBe("archived");
  });
});

describe("events from Synapse", () => {
  it("takes back an invite the policy does not let stand, and lets a handover's invite stand", async () => {
    const { enquiryId, roomId, a, b } = await activeEnquiry();
    const outsider = userId("outsider");
    for (const invitee of [outsider, b]) {
      h.hs.inviteAs(a, roomId, invitee);
      await h.push({
        type: "m.room.member",
        room_id: roomId,
        sender: a,
        state_key: invitee,
        content: { membership: "invite" },
      });
    }
    await h.steps.drain(enquiryId, 5_000);
    expect(h.hs.membersOf(roomId)).not.toContain(outsider);
    expect(h.hs.membersOf(roomId)).toContain(b);
    expect(h.hs.changes).toContain(`kick ${outsider}: Only the workflow invites to counselling rooms`);
  });

  it("takes back a colleague's invite into a closed room", async () => {
    const { enquiryId, roomId, a, b } = await activeEnquiry();
    await h.workflow.close(a, enquiryId);
    h.hs.inviteAs(a, roomId, b);
    await h.push({
      type: "m.room.member",
      room_id: roomId,
      sender: a,
      state_key: b,
      content: { membership: "invite" },
    });
    await h.steps.drain(enquiryId, 5_000);
    expect(h.hs.membersOf(roomId)).not.toContain(b);
  });

  it("closes the enquiry when the seeker leaves, and makes the room read-only", async () => {
    const { enquiryId, roomId, seeker, a } = await activeEnquiry();
    await h.push({
      type: "m.room.member",
      room_id: roomId,
      sender: seeker,
      state_key: seeker,
      content: { membership: "leave" },
    });
    expect(await h.row(enquiryId)).toEqual({ state: "closed", counsellor_id: null });
    await h.steps.drain(enquiryId, 5_000);
    expect(h.hs.powerLevels(roomId).events_default).toBe(100);
    // The counsellor may stay to read back, but without power in the room.
    expect(h.hs.membersOf(roomId)).toContain(a);
    expect(h.hs.powerLevels(roomId).users).toEqual({});
  });
});

describe("case notes", () => {
  it("are a room of their own from the claim on, for the claimant alone, never the seeker", async () => {
    const { enquiryId, roomId, seeker, a, b } = await activeEnquiry();
    const notes = (await h.notesRoomOf(enquiryId)) ?? "";
    expect(notes).not.toBe("");
    expect(notes).not.toBe(roomId);
    expect(h.hs.membersOf(notes)).toEqual([h.hs.botUserId, a].sort());
    expect(h.hs.membersOf(notes)).not.toContain(seeker);
    expect(h.hs.powerLevels(notes).users).toEqual({ [a]: 50 });
    // Marked as an enquiry room (Synapse's rules let its
    // counsellor invite there) but never taken for the conversation's room.
    expect(h.hs.rooms.get(notes)?.state.get("de.connecta.enquiry|")).toMatchObject({ notes_of: enquiryId });
    expect(h.hs.rooms.get(notes)?.state.get("de.connecta.enquiry|")).not.toHaveProperty("enquiry_id");
    expect(h.hs.rooms.get(notes)?.state.get("m.room.encryption|")).toEqual({ algorithm: "m.megolm.v1.aes-sha2" });
    expect(h.hs.rooms.get(notes)?.state.get("m.room.history_visibility|")).toEqual({ history_visibility: "shared" });

    // Its id is the assigned counsellor's to know, no one else's.
    expect((await h.workflow.mine(a)).enquiries.find((e) => e.enquiry_id === enquiryId)?.notes_room_id).toBe(notes);
    expect((await h.workflow.mine(seeker)).enquiries.find((e) => e.enquiry_id === enquiryId)?.notes_room_id).toBeNull();
    expect((await h.workflow.mine(b)).enquiries.find((e) => e.enquiry_id === enquiryId)).toBeUndefined();
  });

  it("go over to the colleague at a handover, and the leaving counsellor out of them", async () => {
    const { enquiryId, a, b } = await activeEnquiry();
    const notes = (await h.notesRoomOf(enquiryId)) ?? "";
    h.hs.join(notes, a);
    // A's client invites B into the notes too (sharing their key history); the invite stands.
    h.hs.inviteAs(a, notes, b);
    await h.push({ type: "m.room.member", room_id: notes, sender: a, state_key: b, content: { membership: "invite" } });
    const from = h.hs.changesOf(notes).length;

    const handed = await h.workflow.handover(a, enquiryId, b);
    // The leaving counsellor is told nothing of the notes any more.
    expect(handed.notes_room_id).toBeNull();
    expect(await h.notesRoomOf(enquiryId)).toBe(notes);
    expect(h.hs.membersOf(notes)).toEqual([h.hs.botUserId, b].sort());
    expect(h.hs.powerLevels(notes).users).toEqual({ [b]: 50 });
    expect(h.hs.changesOf(notes).slice(from)).toEqual([
      `m.room.power_levels ${JSON.stringify({ [a]: 50, [b]: 50 })}`,
      `kick ${a}: Die Anfrage wurde übergeben`,
      `m.room.power_levels ${JSON.stringify({ [b]: 50 })}`,
    ]);
    expect((await h.workflow.mine(b)).enquiries.find((e) => e.enquiry_id === enquiryId)?.notes_room_id).toBe(notes);
  });

  it("take back an invite of the seeker or of anyone the policy does not let in", async () => {
    const { enquiryId, seeker, a } = await activeEnquiry();
    const notes = (await h.notesRoomOf(enquiryId)) ?? "";
    const outsider = userId("outsider");
    for (const invitee of [seeker, outsider]) {
      h.hs.inviteAs(a, notes, invitee);
      await h.push({
        type: "m.room.member",
        room_id: notes,
        sender: a,
        state_key: invitee,
        content: { membership: "invite" },
      });
    }
    await h.steps.drain(enquiryId, 5_000);
    expect(h.hs.membersOf(notes)).toEqual([h.hs.botUserId, a].sort());
  });

  it("become read-only for their last counsellor at the close, and writable again at the reopening", async () => {
    const { enquiryId, seeker, a } = await activeEnquiry();
    const notes = (await h.notesRoomOf(enquiryId)) ?? "";
    expect((await h.workflow.close(a, enquiryId)).notes_room_id).toBe(notes);
    expect(h.hs.powerLevels(notes).events_default).toBe(100);
    expect(h.hs.membersOf(notes)).toEqual([h.hs.botUserId, a].sort());
    await h.workflow.reopen(seeker, enquiryId);
    expect(h.hs.powerLevels(notes).events_default).toBe(0);
    expect(h.hs.membersOf(notes)).toEqual([h.hs.botUserId, a].sort());
  });

  it("are made at a handover for an enquiry taken before there were case notes, once", async () => {
    const { enquiryId, a, b } = await activeEnquiry();
    const earlier = (await h.notesRoomOf(enquiryId)) ?? "";
    await h.pool.query("UPDATE enquiries SET notes_room_id = NULL WHERE id = $1", [enquiryId]);
    await h.workflow.handover(a, enquiryId, b);
    const notes = (await h.notesRoomOf(enquiryId)) ?? "";
    expect(notes).not.toBe(earlier);
    expect(h.hs.membersOf(notes)).toEqual([h.hs.botUserId, b].sort());
  });
});

describe("the markers of an enquiry's changes", () => {
  it("are set in the conversation's room by the bot: claimed, handed over, closed, reopened", async () => {
    const { enquiryId, roomId, seeker, a, b } = await activeEnquiry();
    const marker = () => h.hs.rooms.get(roomId)?.state.get("de.connecta.enquiry|");
    const seen: unknown[] = [marker()];
    await h.workflow.handover(a, enquiryId, b);
    seen.push(marker());
    await h.workflow.close(b, enquiryId);
    seen.push(marker());
    await h.workflow.reopen(seeker, enquiryId);
    seen.push(marker());
    expect(seen).toEqual([
      expect.objectContaining({ enquiry_id: enquiryId, state: "active", change: "claimed" }),
      expect.objectContaining({ enquiry_id: enquiryId, state: "active", change: "handed_over" }),
      expect.objectContaining({ enquiry_id: enquiryId, state: "closed", change: "closed" }),
      expect.objectContaining({ enquiry_id: enquiryId, state: "active", change: "reopened" }),
    ]);
    // Each its own event (a second handover too): they differ in when.
    expect(new Set(seen.map((m) => (m as { at: string }).at)).size).toBe(4);
    // No names: the seeker reads these.
    expect(JSON.stringify(seen)).not.toContain(a);
    expect(JSON.stringify(seen)).not.toContain(b);
  });
});
