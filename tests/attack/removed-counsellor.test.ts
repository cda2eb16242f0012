/**
 * Attack suite: a counsellor who lost access (deactivated by the operator, moved to another
 * agency, or who handed a conversation over) and tries to keep it: with OpenID tokens that
 * Synapse still honours for up to an hour, their old access token and password, or by walking
 * back into the room. Every case asserts the exact refusal and that nothing changed. Case ids
 * (A-REM-nn) are listed in docs/threat-model.md.
 */
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOM_SLOT } from "../../appservice/src/rtc/identity.ts";
import { matrixRequest, roomMembers, stackSecret, type TestUser } from "../support/matrix.ts";
import { connectaDb, createAgency, enquiryState, openIdToken, workflowScene } from "../support/workflow.ts";
import { enc, expectRefusal, refusalOf, sendJson, synapse } from "./support.ts";

const stack = inject("stack");
const bot = { accessToken: stackSecret(stack, "asToken") };
const operator = stackSecret(stack, "operatorToken");
let db: pg.Client;

const api = (method: string, path: string, token: string | null, body?: unknown) =>
  sendJson(stack.appserviceUrl, method, path, token, body);

/** A waiting enquiry of an agency with three counsellors, all invited to its room. */
let scene: Awaited<ReturnType<typeof workflowScene>>;
let fileOf: (user: TestUser) => Promise<string>;

beforeAll(async () => {
  db = await connectaDb(stack);
  scene = await workflowScene(stack, db, { counsellors: 3 });
  fileOf = async (user) => {
    const res = await fetch(`${stack.synapseUrl}/_matrix/media/v3/upload?filename=f.bin`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.accessToken}`, "content-type": "application/octet-stream" },
      body: randomBytes(16),
    });
    return String(((await res.json()) as { content_uri: string }).content_uri);
  };
});
afterAll(async () => {
  await db?.end();
});

describe("a deactivated counsellor", () => {
  let gone: TestUser;
  let oldToken: string;
  let file: string;

  beforeAll(async () => {
    gone = scene.counsellors[0] as TestUser;
    oldToken = await openIdToken(stack, gone);
    file = await fileOf(gone);
    expect(await roomMembers(stack, scene.roomId, bot)).toContain(gone.userId);
    const res = await api("POST", `/api/v1/admin/counsellors/${gone.localpart}/deactivate`, operator);
    expect(res.status).toBe(200);
  });

  it("A-REM-01: their OpenID token, still valid at Synapse, is refused by every workflow route with 403 M_FORBIDDEN", async () => {
    for (const [method, path, body] of [
      ["POST", `/api/v1/enquiries/${scene.enquiryId}/claim`, {}],
      ["POST", `/api/v1/enquiries/${scene.enquiryId}/close`, {}],
      ["POST", `/api/v1/enquiries/${scene.enquiryId}/handover`, { counsellor_id: gone.userId }],
      ["POST", `/api/v1/enquiries/${scene.enquiryId}/media`, { media_id: file }],
      ["GET", "/api/v1/queue", undefined],
      ["GET", "/api/v1/enquiries", undefined],
      ["GET", `/api/v1/agencies/${scene.agencyId}/counsellors`, undefined],
      ["POST", "/api/v1/control-room", {}],
    ] as const) {
      expectRefusal(await api(method, path, oldToken, body), 403, "M_FORBIDDEN", `${method} ${path}`);
    }
    // Synapse still vouches for the token: the refusal is ours.
    const userinfo = await fetch(
      `${stack.synapseUrl}/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(oldToken)}`,
    );
    expect(((await userinfo.json()) as { sub: string }).sub).toBe(gone.userId);
    expect(await enquiryState(db, scene.enquiryId)).toEqual({ state: "waiting", counsellor_id: null });
    expect(await roomMembers(stack, scene.roomId, bot)).not.toContain(gone.userId);
  });

  it("A-REM-02: their access token, password and call tokens are dead", async () => {
    const whoami = await synapse(stack, "GET", "/_matrix/client/v3/account/whoami", gone);
    expect(refusalOf(whoami)).toEqual([401, "M_UNKNOWN_TOKEN"]);
    const login = await matrixRequest(stack, "POST", "/_matrix/client/v3/login", null, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: gone.localpart },
      password: gone.password,
    });
    expect(refusalOf(login)).toEqual([403, "M_FORBIDDEN"]);
    const call = await api("POST", "/api/v1/rtc/get_token", null, {
      room_id: scene.roomId,
      slot_id: ROOM_SLOT,
      openid_token: { access_token: oldToken, matrix_server_name: stack.serverName },
      member: { id: "m", claimed_user_id: gone.userId, claimed_device_id: gone.deviceId },
    });
    expectRefusal(call, 403, "M_FORBIDDEN", "call token");
  });
});

describe("a counsellor moved to another agency", () => {
  it("A-REM-03: the old agency's enquiries answer 404 M_NOT_FOUND and its rooms stay closed", async () => {
    const moved = scene.counsellors[1] as TestUser;
    const token = await openIdToken(stack, moved);
    const other = await createAgency(db, [scene.topic]);
    const res = await api("PATCH", `/api/v1/admin/counsellors/${moved.localpart}`, operator, {
      memberships: [{ agency_id: other }],
    });
    expect(res.status).toBe(200);
    for (const action of ["claim", "close"]) {
      const answer = await api("POST", `/api/v1/enquiries/${scene.enquiryId}/${action}`, token, {});
      expectRefusal(answer, 404, "M_NOT_FOUND", action);
    }
    const staff = await api("GET", `/api/v1/agencies/${scene.agencyId}/counsellors`, token);
    expectRefusal(staff, 404, "M_NOT_FOUND", "old colleagues");
    const join = await synapse(stack, "POST", `/_matrix/client/v3/join/${enc(scene.roomId)}`, moved, {});
    expect(refusalOf(join)).toEqual([403, "M_FORBIDDEN"]);
    expect(await enquiryState(db, scene.enquiryId)).toEqual({ state: "waiting", counsellor_id: null });
    expect(await roomMembers(stack, scene.roomId, bot)).not.toContain(moved.userId);
  });
});

describe("a counsellor who handed over", () => {
  it("A-REM-04: cannot take it back, close it, report files into it or walk back into its room", async () => {
    const s = await workflowScene(stack, db, { counsellors: 2 });
    const [before, after] = s.counsellors as [TestUser, TestUser];
    const token = await openIdToken(stack, before);
    const path = `/api/v1/enquiries/${s.enquiryId}`;
    expect((await api("POST", `${path}/claim`, token, {})).status).toBe(200);
    expect((await synapse(stack, "POST", `/_matrix/client/v3/join/${enc(s.roomId)}`, before, {})).status).toBe(200);
    const file = await fileOf(before);
    expect((await api("POST", `${path}/handover`, token, { counsellor_id: after.userId })).status).toBe(200);

    expectRefusal(
      await api("POST", `${path}/handover`, token, { counsellor_id: before.userId }),
      403,
      "M_FORBIDDEN",
      "take back",
    );
    expectRefusal(await api("POST", `${path}/close`, token, {}), 403, "M_FORBIDDEN", "close");
    expectRefusal(await api("POST", `${path}/claim`, token, {}), 409, "CONNECTA_ALREADY_TAKEN", "claim");
    expectRefusal(await api("POST", `${path}/media`, token, { media_id: file }), 403, "M_FORBIDDEN", "media");
    const join = await synapse(stack, "POST", `/_matrix/client/v3/join/${enc(s.roomId)}`, before, {});
    expect(refusalOf(join)).toEqual([403, "M_FORBIDDEN"]);
    expect(await enquiryState(db, s.enquiryId)).toEqual({ state: "active", counsellor_id: after.userId });
    expect(await roomMembers(stack, s.roomId, bot)).not.toContain(before.userId);
  });
});
