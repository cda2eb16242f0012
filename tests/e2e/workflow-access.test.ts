/**
 * "An answer must be true when we give it": once a claim, handover, close or removal from an
 * agency is answered, the room already reflects it. Each test writes the very next message right
 * after the answer and checks, at Synapse, who can read it. Also the workflow's edges around
 * people who join or leave an agency.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { matrixRequest, registerUser, roomMembers, stackSecret, type TestUser } from "../support/matrix.ts";
import {
  callApi,
  connectaDb,
  createAgency,
  createCounsellor,
  createTopic,
  enquiryState,
  openIdToken,
  openTestEnquiry,
  seekerWrites,
  workflowScene,
} from "../support/workflow.ts";

const stack = inject("stack");
const enc = encodeURIComponent;
const operator = stackSecret(stack, "operatorToken");
const bot = { accessToken: stackSecret(stack, "asToken") };
let db: pg.Client;

beforeAll(async () => {
  db = await connectaDb(stack);
});
afterAll(async () => {
  await db?.end();
});

const api = (method: string, path: string, token: string | null, body?: unknown) =>
  callApi(stack.appserviceUrl, method, path, token, body);

/** Joins `user` to the room, as the counsellors' desk does for the queue. */
async function join(user: TestUser, roomId: string): Promise<void> {
  const res = await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(roomId)}`, user, {});
  if (res.status !== 200) throw new Error(`join ${user.userId}: ${res.status} ${JSON.stringify(res.body)}`);
}

/** Sends a message (a ciphertext stand-in; the server cannot tell) and returns its status and id. */
async function send(user: TestUser, roomId: string): Promise<{ status: number; eventId: string | null }> {
  const res = await matrixRequest(
    stack,
    "PUT",
    `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.encrypted/${randomUUID()}`,
    user,
    { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "AwgAEn", sender_key: "k", session_id: "s", device_id: "D" },
  );
  return { status: res.status, eventId: typeof res.body.event_id === "string" ? res.body.event_id : null };
}

/** Whether Synapse lets `user` read the event (by id, and in the room's latest messages). */
async function canRead(user: TestUser, roomId: string, eventId: string): Promise<boolean> {
  const byId = await matrixRequest(stack, "GET", `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`, user);
  const page = await matrixRequest(
    stack,
    "GET",
    `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=50`,
    user,
  );
  const listed = ((page.body.chunk ?? []) as { event_id: string }[]).some((e) => e.event_id === eventId);
  return byId.status === 200 || listed;
}

/** A waiting enquiry of a fresh agency with `count` counsellors, all joined to its room. */
async function waitingEnquiry(count: number) {
  const scene = await workflowScene(stack, db, { counsellors: count });
  for (const c of scene.counsellors) await join(c, scene.roomId);
  return scene;
}

async function claim(counsellor: TestUser, enquiryId: number) {
  return api("POST", `/api/v1/enquiries/${enquiryId}/claim`, await openIdToken(stack, counsellor), {});
}

describe("after the answer, nobody who lost access reads along", () => {
  it("keeps a message written right after a claim's answer from the other counsellors", async () => {
    const { enquiryId, roomId, seeker, counsellors } = await waitingEnquiry(4);
    const [a, ...others] = counsellors as [TestUser, ...TestUser[]];
    expect((await claim(a, enquiryId)).status).toBe(200);
    const sent = await send(seeker, roomId);
    expect(sent.status).toBe(200);
    expect(await canRead(a, roomId, String(sent.eventId))).toBe(true);
    for (const other of others) expect(await canRead(other, roomId, String(sent.eventId))).toBe(false);
    expect(await roomMembers(stack, roomId, bot)).toEqual([seeker.userId, a.userId, stack.botUserId].sort());
  });

  it("keeps a message written right after a handover's answer from the previous counsellor", async () => {
    const { enquiryId, roomId, seeker, counsellors } = await waitingEnquiry(2);
    const [a, b] = counsellors as [TestUser, TestUser];
    expect((await claim(a, enquiryId)).status).toBe(200);
    const handed = await api("POST", `/api/v1/enquiries/${enquiryId}/handover`, await openIdToken(stack, a), {
      counsellor_id: b.userId,
    });
    expect(handed.status).toBe(200);
    const sent = await send(seeker, roomId);
    expect(sent.status).toBe(200);
    expect(await canRead(a, roomId, String(sent.eventId))).toBe(false);
    // The new counsellor was invited by the bot before the answer and reads it once joined.
    await join(b, roomId);
    expect(await canRead(b, roomId, String(sent.eventId))).toBe(true);
  });

  it("refuses the seeker's message written right after a close's answer", async () => {
    const { enquiryId, roomId, seeker, counsellors } = await waitingEnquiry(1);
    const a = counsellors[0] as TestUser;
    expect((await claim(a, enquiryId)).status).toBe(200);
    const closed = await api("POST", `/api/v1/enquiries/${enquiryId}/close`, await openIdToken(stack, a), {});
    expect(closed.body.state).toBe("closed");
    expect((await send(seeker, roomId)).status).toBe(403);
  });

  it("takes a counsellor removed from an agency out of its rooms before answering", async () => {
    const { roomId, seeker, counsellors, topic } = await waitingEnquiry(2);
    const [stays, leaves] = counsellors as [TestUser, TestUser];
    // Moved to another agency: out of this one's rooms, invited to the other's waiting ones.
    const other = await createAgency(db, [topic]);
    const otherSeeker = await registerUser(stack, "seeker");
    const otherEnquiry = await openTestEnquiry(db, otherSeeker, other, topic);
    await seekerWrites(stack, db, otherSeeker, otherEnquiry);
    expect(await roomMembers(stack, otherEnquiry.roomId, bot)).not.toContain(leaves.userId);

    const moved = await api("PATCH", `/api/v1/admin/counsellors/${leaves.localpart}`, operator, {
      memberships: [{ agency_id: other }],
    });
    expect(moved.status).toBe(200);
    const sent = await send(seeker, roomId);
    expect(sent.status).toBe(200);
    expect(await canRead(leaves, roomId, String(sent.eventId))).toBe(false);
    expect(await canRead(stays, roomId, String(sent.eventId))).toBe(true);
    expect(await roomMembers(stack, roomId, bot)).not.toContain(leaves.userId);
    expect(await roomMembers(stack, otherEnquiry.roomId, bot)).toContain(leaves.userId);
    // Their queue is the new agency's.
    const queue = await api("GET", "/api/v1/queue", await openIdToken(stack, leaves));
    expect((queue.body.enquiries as { agency_id: number }[]).map((e) => e.agency_id)).toEqual([other]);
  });

  it("refuses to remove a counsellor from an agency while they hold an active enquiry there", async () => {
    const { enquiryId, roomId, counsellors } = await waitingEnquiry(1);
    const a = counsellors[0] as TestUser;
    expect((await claim(a, enquiryId)).status).toBe(200);
    const removed = await api("PATCH", `/api/v1/admin/counsellors/${a.localpart}`, operator, { memberships: [] });
    expect([removed.status, removed.body.errcode]).toEqual([409, "CONNECTA_IN_USE"]);
    expect(await roomMembers(stack, roomId, bot)).toContain(a.userId);
  });
});

describe("the workflow's edges", () => {
  it("invites a counsellor added to the agency after the intake, who can then claim and join", async () => {
    const { enquiryId, roomId, agencyId } = await waitingEnquiry(1);
    // Added by the operator: invited to the waiting room before the answer.
    const late = await registerUser(stack, "counsellor");
    await db.query("INSERT INTO counsellors (user_id, display_name) VALUES ($1, 'Late')", [late.userId]);
    const added = await api("PATCH", `/api/v1/admin/counsellors/${late.localpart}`, operator, {
      memberships: [{ agency_id: agencyId }],
    });
    expect(added.status).toBe(200);
    expect(await roomMembers(stack, roomId, bot)).toContain(late.userId);

    // Written into the database behind the operator API's back: the claim invites them itself.
    const sneaked = await createCounsellor(stack, db, agencyId);
    expect(await roomMembers(stack, roomId, bot)).not.toContain(sneaked.userId);
    expect((await claim(sneaked, enquiryId)).status).toBe(200);
    await join(sneaked, roomId);
    expect(await roomMembers(stack, roomId, bot)).toContain(sneaked.userId);
    expect(await roomMembers(stack, roomId, bot)).not.toContain(late.userId);
  });

  it("sends a reopened enquiry back to the queue when its counsellor was deactivated", async () => {
    const { enquiryId, roomId, seeker, counsellors } = await waitingEnquiry(2);
    const [a, colleague] = counsellors as [TestUser, TestUser];
    expect((await claim(a, enquiryId)).status).toBe(200);
    expect((await api("POST", `/api/v1/enquiries/${enquiryId}/close`, await openIdToken(stack, a), {})).status).toBe(
      200,
    );
    const aToken = await openIdToken(stack, a);
    expect((await api("POST", `/api/v1/admin/counsellors/${a.localpart}/deactivate`, operator)).status).toBe(200);

    const reopened = await api("POST", `/api/v1/enquiries/${enquiryId}/reopen`, await openIdToken(stack, seeker), {});
    expect(reopened.body).toMatchObject({ state: "waiting", counsellor_id: null });
    const members = await roomMembers(stack, roomId, bot);
    expect(members).toContain(colleague.userId);
    expect(members).not.toContain(a.userId);
    const queue = await api("GET", "/api/v1/queue", await openIdToken(stack, colleague));
    expect((queue.body.enquiries as { enquiry_id: number }[]).map((e) => e.enquiry_id)).toContain(enquiryId);
    // The deactivated counsellor's old OpenID token no longer lists anything.
    expect((await api("GET", "/api/v1/enquiries", aToken)).status).toBe(403);
  });

  it("sends a reopened enquiry back to the queue when its counsellor left the agency", async () => {
    const { enquiryId, seeker, counsellors, topic } = await waitingEnquiry(2);
    const [a] = counsellors as [TestUser, TestUser];
    expect((await claim(a, enquiryId)).status).toBe(200);
    expect((await api("POST", `/api/v1/enquiries/${enquiryId}/close`, await openIdToken(stack, a), {})).status).toBe(
      200,
    );
    const other = await createAgency(db, [topic]);
    expect(
      (
        await api("PATCH", `/api/v1/admin/counsellors/${a.localpart}`, operator, {
          memberships: [{ agency_id: other }],
        })
      ).status,
    ).toBe(200);
    const reopened = await api("POST", `/api/v1/enquiries/${enquiryId}/reopen`, await openIdToken(stack, seeker), {});
    expect(reopened.body).toMatchObject({ state: "waiting", counsellor_id: null });
    expect((await enquiryState(db, enquiryId))?.state).toBe("waiting");
  });

  it("answers a repeated close only to whoever may close", async () => {
    const { enquiryId, counsellors } = await waitingEnquiry(2);
    const [a, b] = counsellors as [TestUser, TestUser];
    expect((await claim(a, enquiryId)).status).toBe(200);
    expect((await api("POST", `/api/v1/enquiries/${enquiryId}/close`, await openIdToken(stack, a), {})).status).toBe(
      200,
    );
    const again = await api("POST", `/api/v1/enquiries/${enquiryId}/close`, await openIdToken(stack, b), {});
    expect([again.status, again.body.errcode]).toEqual([403, "M_FORBIDDEN"]);
    expect((await api("POST", `/api/v1/enquiries/${enquiryId}/close`, await openIdToken(stack, a), {})).status).toBe(
      200,
    );
  });

  it("refuses a deactivated counsellor the list of their enquiries", async () => {
    const topic = await createTopic(db);
    const agencyId = await createAgency(db, [topic]);
    const c = await createCounsellor(stack, db, agencyId);
    const token = await openIdToken(stack, c);
    expect((await api("GET", "/api/v1/enquiries", token)).status).toBe(200);
    expect((await api("POST", `/api/v1/admin/counsellors/${c.localpart}/deactivate`, operator)).status).toBe(200);
    const refused = await api("GET", "/api/v1/enquiries", token);
    expect([refused.status, refused.body.errcode]).toEqual([403, "M_FORBIDDEN"]);
  });
});
