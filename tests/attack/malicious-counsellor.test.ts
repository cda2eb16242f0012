/**
 * Attack suite: a malicious counsellor, assigned to a conversation and in its room, who wants
 * more than the workflow gives: power over the room, the seeker out or silenced, the room opened
 * up, the conversation handed to someone who may not have it, the operator's powers, or the
 * call service's. Every case asserts the exact refusal and that nothing changed. (An invite of
 * an outsider is taken back by the workflow: tests/e2e/workflow-lifecycle.test.ts.) Case ids
 * (A-MAL-nn) are listed in docs/threat-model.md.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOM_SLOT } from "../../appservice/src/rtc/identity.ts";
import { registerUser, roomMembers, stackSecret, type TestUser } from "../support/matrix.ts";
import { connectaDb, createCounsellor, enquiryState, openIdToken, workflowScene } from "../support/workflow.ts";
import { enc, expectRefusal, refusalOf, send, sendJson, synapse } from "./support.ts";

const stack = inject("stack");
const bot = { accessToken: stackSecret(stack, "asToken") };
const operator = stackSecret(stack, "operatorToken");
let db: pg.Client;

let scene: Awaited<ReturnType<typeof workflowScene>> & {
  counsellor: TestUser;
  colleague: TestUser;
  seekerEvent: string;
  seekerFile: string;
};
let token: string;

beforeAll(async () => {
  db = await connectaDb(stack);
  const s = await workflowScene(stack, db, { counsellors: 2 });
  const [counsellor, colleague] = s.counsellors as [TestUser, TestUser];
  token = await openIdToken(stack, counsellor);
  const claimed = await sendJson(stack.appserviceUrl, "POST", `/api/v1/enquiries/${s.enquiryId}/claim`, token, {});
  expect(claimed.status).toBe(200);
  expect((await synapse(stack, "POST", `/_matrix/client/v3/join/${enc(s.roomId)}`, counsellor, {})).status).toBe(200);
  const sent = await synapse(
    stack,
    "PUT",
    `/_matrix/client/v3/rooms/${enc(s.roomId)}/send/m.room.encrypted/${randomUUID()}`,
    s.seeker,
    { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "x" },
  );
  const upload = await fetch(`${stack.synapseUrl}/_matrix/media/v3/upload?filename=f.bin`, {
    method: "POST",
    headers: { authorization: `Bearer ${s.seeker.accessToken}`, "content-type": "application/octet-stream" },
    body: randomBytes(16),
  });
  const seekerFile = String(((await upload.json()) as { content_uri: string }).content_uri);
  scene = { ...s, counsellor, colleague, seekerEvent: String(sent.body.event_id), seekerFile };
});
afterAll(async () => {
  await db?.end();
});

const state = (type: string, key = "") => `/_matrix/client/v3/rooms/${enc(scene.roomId)}/state/${type}/${enc(key)}`;

async function expectUntouched(): Promise<void> {
  expect(await enquiryState(db, scene.enquiryId)).toEqual({ state: "active", counsellor_id: scene.counsellor.userId });
  expect(await roomMembers(stack, scene.roomId, bot)).toEqual(
    [scene.seeker.userId, scene.counsellor.userId, stack.botUserId].sort(),
  );
}

describe("power over the room, with a Matrix client", () => {
  it("A-MAL-01: raising their own power, or the seeker's, or lowering the bot's answers 403 M_FORBIDDEN", async () => {
    const before = await synapse(stack, "GET", state("m.room.power_levels"), bot);
    const users = before.body.users as Record<string, number>;
    expect(users[scene.counsellor.userId]).toBe(50);
    for (const change of [
      { users: { ...users, [scene.counsellor.userId]: 100 } },
      { users: { ...users, [scene.seeker.userId]: 0, [scene.counsellor.userId]: 50 }, events_default: 50 },
      { users: { ...users, [scene.colleague.userId]: 50 } },
      { state_default: 50 },
      { kick: 50, redact: 50 },
    ]) {
      const res = await synapse(stack, "PUT", state("m.room.power_levels"), scene.counsellor, {
        ...before.body,
        ...change,
      });
      expect(refusalOf(res), JSON.stringify(change)).toEqual([403, "M_FORBIDDEN"]);
    }
    expect((await synapse(stack, "GET", state("m.room.power_levels"), bot)).body).toEqual(before.body);
  });

  it("A-MAL-02: opening the room up or rewriting its rules answers 403 M_FORBIDDEN", async () => {
    for (const [type, content] of [
      ["m.room.join_rules", { join_rule: "public" }],
      ["m.room.history_visibility", { history_visibility: "world_readable" }],
      ["m.room.encryption", { algorithm: "m.none" }],
      ["m.room.name", { name: "Connecta Support" }],
      ["de.connecta.enquiry", { enquiry_id: 1 }],
      ["m.room.tombstone", { body: "moved", replacement_room: "!elsewhere" }],
      ["org.matrix.msc3401.call.member", { memberships: [] }],
    ] as const) {
      const key = type === "org.matrix.msc3401.call.member" ? scene.seeker.userId : "";
      const res = await synapse(stack, "PUT", state(type, key), scene.counsellor, content);
      expect(refusalOf(res), type).toEqual([403, "M_FORBIDDEN"]);
    }
    expect((await synapse(stack, "GET", state("m.room.join_rules"), bot)).body).toEqual({ join_rule: "invite" });
  });

  it("A-MAL-03: removing, banning or silencing the seeker answers 403 M_FORBIDDEN", async () => {
    const room = `/_matrix/client/v3/rooms/${enc(scene.roomId)}`;
    for (const [method, path, body] of [
      ["POST", `${room}/kick`, { user_id: scene.seeker.userId, reason: "bye" }],
      ["POST", `${room}/ban`, { user_id: scene.seeker.userId }],
      ["POST", `${room}/kick`, { user_id: stack.botUserId }],
      ["PUT", `${room}/redact/${enc(scene.seekerEvent)}/${randomUUID()}`, {}],
    ] as const) {
      const res = await synapse(stack, method, path, scene.counsellor, body);
      expect(refusalOf(res), path).toEqual([403, "M_FORBIDDEN"]);
    }
    const event = await synapse(stack, "GET", `${room}/event/${enc(scene.seekerEvent)}`, scene.seeker);
    expect(event.body.content).toMatchObject({ ciphertext: "x" });
    await expectUntouched();
  });
});

describe("the workflow's and the operator's powers", () => {
  it("A-MAL-04: handing over to a seeker, a stranger, the bot or a deactivated colleague answers 400 M_INVALID_PARAM", async () => {
    const stranger = await registerUser(stack, "stranger");
    const former = await createCounsellor(stack, db, scene.agencyId);
    const deactivated = await sendJson(
      stack.appserviceUrl,
      "POST",
      `/api/v1/admin/counsellors/${former.localpart}/deactivate`,
      operator,
    );
    expect(deactivated.status).toBe(200);
    for (const to of [
      scene.seeker.userId,
      stranger.userId,
      stack.botUserId,
      former.userId,
      `@nobody:${stack.serverName}`,
    ]) {
      const res = await sendJson(stack.appserviceUrl, "POST", `/api/v1/enquiries/${scene.enquiryId}/handover`, token, {
        counsellor_id: to,
      });
      expectRefusal(res, 400, "M_INVALID_PARAM", to);
    }
    await expectUntouched();
  });

  it("A-MAL-05: a counsellor's OpenID token does not make them team lead or operator: 403 M_FORBIDDEN", async () => {
    for (const [method, path, body] of [
      [
        "PATCH",
        `/api/v1/admin/counsellors/${scene.counsellor.localpart}`,
        { memberships: [{ agency_id: scene.agencyId, role: "team_lead" }] },
      ],
      ["POST", `/api/v1/admin/counsellors/${scene.colleague.localpart}/deactivate`, undefined],
      ["POST", `/api/v1/admin/counsellors/${scene.colleague.localpart}/password`, {}],
      ["GET", `/api/v1/admin/users/${enc(scene.seeker.userId)}/export`, undefined],
      ["GET", "/api/v1/admin/audit", undefined],
    ] as const) {
      expectRefusal(
        await sendJson(stack.appserviceUrl, method, path, token, body),
        403,
        "M_FORBIDDEN",
        `${method} ${path}`,
      );
    }
    const { rows } = await db.query<{ role: string }>("SELECT role FROM agency_memberships WHERE counsellor_id = $1", [
      scene.counsellor.userId,
    ]);
    expect(rows).toEqual([{ role: "counsellor" }]);
  });

  it("A-MAL-06: a counsellor reports only files they uploaded: the seeker's answers 403 M_FORBIDDEN", async () => {
    const res = await sendJson(stack.appserviceUrl, "POST", `/api/v1/enquiries/${scene.enquiryId}/media`, token, {
      media_id: scene.seekerFile,
    });
    expectRefusal(res, 403, "M_FORBIDDEN", "the seeker's file");
    expect((await db.query("SELECT 1 FROM enquiry_media WHERE enquiry_id = $1", [scene.enquiryId])).rowCount).toBe(0);
  });

  it("A-MAL-07: the counsellor's call token opens none of LiveKit's server API", async () => {
    const call = await sendJson(stack.appserviceUrl, "POST", "/api/v1/rtc/get_token", null, {
      room_id: scene.roomId,
      slot_id: ROOM_SLOT,
      openid_token: { access_token: await openIdToken(stack, scene.counsellor), matrix_server_name: stack.serverName },
      member: { id: "m", claimed_user_id: scene.counsellor.userId, claimed_device_id: scene.counsellor.deviceId },
    });
    expect(call.status).toBe(200);
    const jwt = String(call.body.jwt);
    for (const [method, body] of [
      ["ListRooms", {}],
      ["ListParticipants", { room: "any" }],
      ["RemoveParticipant", { room: "any", identity: scene.seeker.userId }],
      ["CreateRoom", { name: "mine" }],
      ["DeleteRoom", { room: "any" }],
    ] as const) {
      const res = await send(
        stack.livekitUrl,
        "POST",
        `/twirp/livekit.RoomService/${method}`,
        { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
        JSON.stringify(body),
      );
      expect([res.status, res.body.code], method).toEqual([401, "unauthenticated"]);
    }
  });
});
