/**
 * Attack suite: a counsellor of another agency, with a valid account and OpenID token, who wants
 * enquiries that are not theirs: to see, take, close or hand them over, to enter their rooms or
 * calls, or to learn which exist. For them another agency's enquiry does not exist: every answer
 * is the one for an id nobody has, and nothing changes. Case ids (A-COA-nn) are listed in
 * docs/threat-model.md.
 */
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOM_SLOT } from "../../appservice/src/rtc/identity.ts";
import { roomMembers, stackSecret, type TestUser } from "../support/matrix.ts";
import {
  connectaDb,
  createAgency,
  createCounsellor,
  enquiryState,
  openIdToken,
  workflowScene,
} from "../support/workflow.ts";
import { enc, expectRefusal, refusalOf, sendJson, synapse } from "./support.ts";

const stack = inject("stack");
const bot = { accessToken: stackSecret(stack, "asToken") };
let db: pg.Client;

type Scene = Awaited<ReturnType<typeof workflowScene>>;
/** Agency A: an active conversation of `assigned` and a waiting enquiry. */
let active: Scene & { assigned: TestUser };
let waiting: Scene;
/** The attacker: a counsellor of agency B (offering the same topic). */
let intruder: TestUser;
let token: string;
let noSuchId: number;

beforeAll(async () => {
  db = await connectaDb(stack);
  const s = await workflowScene(stack, db, { counsellors: 2 });
  const assigned = s.counsellors[0] as TestUser;
  const claimed = await sendJson(
    stack.appserviceUrl,
    "POST",
    `/api/v1/enquiries/${s.enquiryId}/claim`,
    await openIdToken(stack, assigned),
    {},
  );
  expect(claimed.status).toBe(200);
  expect((await synapse(stack, "POST", `/_matrix/client/v3/join/${enc(s.roomId)}`, assigned, {})).status).toBe(200);
  active = { ...s, assigned };
  waiting = await workflowScene(stack, db, { counsellors: 1 });
  const agencyB = await createAgency(db, [s.topic]);
  intruder = await createCounsellor(stack, db, agencyB);
  token = await openIdToken(stack, intruder);
  const { rows } = await db.query<{ id: string }>("SELECT coalesce(max(id), 0) + 1000000 AS id FROM enquiries");
  noSuchId = Number(rows[0]?.id);
});
afterAll(async () => {
  await db?.end();
});

const api = (method: string, path: string, body?: unknown) => sendJson(stack.appserviceUrl, method, path, token, body);

/** Both enquiries of agency A are as the fixture left them. */
async function expectAgencyAUntouched(): Promise<void> {
  expect(await enquiryState(db, active.enquiryId)).toEqual({ state: "active", counsellor_id: active.assigned.userId });
  expect(await enquiryState(db, waiting.enquiryId)).toEqual({ state: "waiting", counsellor_id: null });
  expect(await roomMembers(stack, active.roomId, bot)).toEqual(
    [active.seeker.userId, active.assigned.userId, stack.botUserId].sort(),
  );
  expect(await roomMembers(stack, waiting.roomId, bot)).not.toContain(intruder.userId);
}

/** The answer for `path` equals the answer for the same path with an id nobody has. */
async function expectAsIfNone(method: string, path: (id: number) => string, id: number, body?: unknown) {
  const answer = await api(method, path(id), body);
  expectRefusal(answer, 404, "M_NOT_FOUND", path(id));
  const none = await api(method, path(noSuchId), body);
  expect({ status: none.status, body: none.body }, path(id)).toEqual({ status: answer.status, body: answer.body });
}

describe("another agency's enquiries do not exist for a counsellor", () => {
  it("A-COA-01: claiming a waiting enquiry answers 404 M_NOT_FOUND, as for an id nobody has", async () => {
    await expectAsIfNone("POST", (id) => `/api/v1/enquiries/${id}/claim`, waiting.enquiryId, {});
    await expectAgencyAUntouched();
  });

  it("A-COA-02: closing or handing over an active one answers 404 M_NOT_FOUND, as for an id nobody has", async () => {
    await expectAsIfNone("POST", (id) => `/api/v1/enquiries/${id}/close`, active.enquiryId, {});
    for (const to of [intruder.userId, active.assigned.userId, (active.counsellors[1] as TestUser).userId]) {
      await expectAsIfNone("POST", (id) => `/api/v1/enquiries/${id}/handover`, active.enquiryId, { counsellor_id: to });
    }
    await expectAgencyAUntouched();
  });

  it("A-COA-03: the queue and the staff list of another agency show nothing", async () => {
    const queue = await api("GET", `/api/v1/queue?agency_id=${waiting.agencyId}`);
    expect([queue.status, queue.body]).toEqual([200, { enquiries: [] }]);
    const all = await api("GET", "/api/v1/queue?limit=200");
    const ids = (all.body.enquiries as { enquiry_id: number }[]).map((e) => e.enquiry_id);
    expect(ids).not.toContain(waiting.enquiryId);
    const mine = await api("GET", "/api/v1/enquiries");
    expect(mine.body).toEqual({ enquiries: [] });
    const staff = await api("GET", `/api/v1/agencies/${active.agencyId}/counsellors`);
    expectRefusal(staff, 404, "M_NOT_FOUND", "colleagues");
    const none = await api("GET", "/api/v1/agencies/999999999/counsellors");
    expect(none.body).toEqual(staff.body);
  });

  it("A-COA-04: at Synapse, the rooms of another agency stay closed: join, read, invite themselves", async () => {
    for (const roomId of [waiting.roomId, active.roomId]) {
      const room = enc(roomId);
      for (const [method, path, body] of [
        ["POST", `/_matrix/client/v3/join/${room}`, {}],
        ["GET", `/_matrix/client/v3/rooms/${room}/messages?dir=b`, undefined],
        ["GET", `/_matrix/client/v3/rooms/${room}/members`, undefined],
        ["POST", `/_matrix/client/v3/rooms/${room}/invite`, { user_id: intruder.userId }],
      ] as const) {
        const res = await synapse(stack, method, path, intruder, body);
        expect(refusalOf(res), `${method} ${path}`).toEqual([403, "M_FORBIDDEN"]);
      }
    }
    await expectAgencyAUntouched();
  });

  it("A-COA-05: the call of another agency's conversation answers as a room nobody has", async () => {
    const ask = async (roomId: string) =>
      sendJson(stack.appserviceUrl, "POST", "/api/v1/rtc/get_token", null, {
        room_id: roomId,
        slot_id: ROOM_SLOT,
        openid_token: { access_token: await openIdToken(stack, intruder), matrix_server_name: stack.serverName },
        member: { id: "m", claimed_user_id: intruder.userId, claimed_device_id: intruder.deviceId },
      });
    const real = await ask(active.roomId);
    expectRefusal(real, 403, "M_FORBIDDEN", "call of another agency");
    const none = await ask(`!${randomBytes(18).toString("base64url")}`);
    expect({ status: none.status, body: none.body }).toEqual({ status: real.status, body: real.body });
  });

  it("A-COA-06: reporting a file into another agency's conversation answers 403 M_FORBIDDEN", async () => {
    const upload = await fetch(`${stack.synapseUrl}/_matrix/media/v3/upload?filename=f.bin`, {
      method: "POST",
      headers: { authorization: `Bearer ${intruder.accessToken}`, "content-type": "application/octet-stream" },
      body: randomBytes(16),
    });
    const mediaId = String(((await upload.json()) as { content_uri: string }).content_uri);
    const answer = await api("POST", `/api/v1/enquiries/${active.enquiryId}/media`, { media_id: mediaId });
    expectRefusal(answer, 403, "M_FORBIDDEN", "media");
    expect((await db.query("SELECT 1 FROM enquiry_media WHERE enquiry_id = $1", [active.enquiryId])).rowCount).toBe(0);
  });

  it("A-COA-07: a counsellor of agency A cannot be handed an enquiry of agency B: 400 M_INVALID_PARAM", async () => {
    // The intruder's own conversation, handed to a counsellor of another agency.
    const ownScene = await workflowScene(stack, db, { counsellors: 1 });
    const owner = ownScene.counsellors[0] as TestUser;
    const ownerToken = await openIdToken(stack, owner);
    const path = `/api/v1/enquiries/${ownScene.enquiryId}`;
    expect((await sendJson(stack.appserviceUrl, "POST", `${path}/claim`, ownerToken, {})).status).toBe(200);
    const handed = await sendJson(stack.appserviceUrl, "POST", `${path}/handover`, ownerToken, {
      counsellor_id: active.assigned.userId,
    });
    expectRefusal(handed, 400, "M_INVALID_PARAM", "handover across agencies");
    expect(await enquiryState(db, ownScene.enquiryId)).toEqual({ state: "active", counsellor_id: owner.userId });
    expect(await roomMembers(stack, ownScene.roomId, bot)).not.toContain(active.assigned.userId);
  });
});
