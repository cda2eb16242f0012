/**
 * The call token service against the real Synapse and LiveKit (appservice/src/rtc/,
 * docs/calls.md): who gets a LiveKit token for an enquiry's call, derived as the clients derive
 * it, and everybody else refused with their errcode; Synapse's own token endpoint reaches the
 * same checks; the homeserver names our LiveKit; no token is ever written to a log.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RoomServiceClient, TokenVerifier } from "livekit-server-sdk";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { livekitKeys } from "../../ops/stack/secrets.ts";
import { legacyIdentity, livekitIdentity, livekitRoom, ROOM_SLOT } from "../../appservice/src/rtc/identity.ts";
import { matrixRequest, registerUser, type TestUser } from "../support/matrix.ts";
import { callApi, connectaDb, openIdToken, workflowScene } from "../support/workflow.ts";

const stack = inject("stack");
const enc = encodeURIComponent;
const keys = livekitKeys(readFileSync(stack.secretFiles.livekitKeys, "utf8"));
const wsUrl = stack.livekitUrl.replace(/^http/, "ws");
let db: pg.Client;
beforeAll(async () => {
  db = await connectaDb(stack);
});
afterAll(() => db?.end());

/** The OpenID token object a client puts in a token request. */
async function openId(user: TestUser, serverName = stack.serverName) {
  return {
    access_token: await openIdToken(stack, user),
    token_type: "Bearer",
    matrix_server_name: serverName,
    expires_in: 3600,
  };
}

/** A token request of `user` for the call of `roomId`, as Element Call sends it. */
async function getToken(user: TestUser, roomId: string, change: Record<string, unknown> = {}) {
  const body = {
    room_id: roomId,
    slot_id: ROOM_SLOT,
    openid_token: await openId(user),
    member: { id: "member-1", claimed_user_id: user.userId, claimed_device_id: user.deviceId },
    ...change,
  };
  return callApi(stack.appserviceUrl, "POST", "/api/v1/rtc/get_token", null, body);
}

const joinRoom = async (user: TestUser, roomId: string) =>
  expect((await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(roomId)}`, user, {})).status).toBe(200);

/** An active conversation: claimed by its counsellor, both in the room; a second counsellor of the agency. */
async function activeCall() {
  const scene = await workflowScene(stack, db, { counsellors: 2 });
  const [counsellor, colleague] = scene.counsellors as [TestUser, TestUser];
  const claimed = await callApi(
    stack.appserviceUrl,
    "POST",
    `/api/v1/enquiries/${scene.enquiryId}/claim`,
    await openIdToken(stack, counsellor),
    {},
  );
  expect(claimed.status).toBe(200);
  await joinRoom(counsellor, scene.roomId);
  return { ...scene, counsellor, colleague };
}

/**
 * A participant connected to LiveKit's signalling with `jwt`, as a client starts a call (no
 * media: Node has no WebRTC, and the workflow acts on participants, not on their streams).
 */
async function connectSignal(jwt: string): Promise<{ closed: Promise<void>; close(): void }> {
  const socket = new WebSocket(`${wsUrl}/rtc?access_token=${jwt}&protocol=15&sdk=js&version=2.15.0&auto_subscribe=1`);
  socket.binaryType = "arraybuffer";
  const closed = new Promise<void>((resolve) => socket.addEventListener("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("message", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error("LiveKit refused the connection")), { once: true });
  });
  return { closed, close: () => socket.close() };
}

/** The Matrix users in the call of `roomId`, as LiveKit lists them. */
async function inCall(roomId: string): Promise<string[]> {
  const rooms = new RoomServiceClient(stack.livekitUrl, keys.livekitApiKey, keys.livekitApiSecret);
  const participants = await rooms.listParticipants(livekitRoom(roomId, ROOM_SLOT)).catch(() => []);
  return participants.map((p) => p.attributes["connecta.user_id"] ?? "").sort();
}

/** The counsellor of `c` connected to the call: the call has started, the seeker may join. */
async function started(c: { counsellor: TestUser; roomId: string }) {
  return connectSignal(String((await getToken(c.counsellor, c.roomId)).body.jwt));
}

describe("a call token", () => {
  it("is given to the seeker and the assigned counsellor, for exactly this call and an hour", async () => {
    const c = await activeCall();
    const counsellorInCall = await started(c);
    for (const user of [c.counsellor, c.seeker]) {
      const res = await getToken(user, c.roomId);
      expect(res.status, user.userId).toBe(200);
      expect(res.body.url).toBe(wsUrl);
      const claims = await new TokenVerifier(keys.livekitApiKey, keys.livekitApiSecret).verify(String(res.body.jwt));
      expect(claims.sub).toBe(livekitIdentity(user.userId, user.deviceId, "member-1"));
      expect(claims.video).toEqual({
        roomJoin: true,
        room: livekitRoom(c.roomId, ROOM_SLOT),
        canPublish: true,
        canSubscribe: true,
        canPublishData: false,
      });
      expect(claims.attributes).toEqual({ "connecta.user_id": user.userId });
      expect(Number(claims.exp) - Number(claims.nbf)).toBe(3600);
    }
    // The LiveKit room is ours to create (auto_create is off): it exists now.
    const rooms = await new RoomServiceClient(stack.livekitUrl, keys.livekitApiKey, keys.livekitApiSecret).listRooms([
      livekitRoom(c.roomId, ROOM_SLOT),
    ]);
    expect(rooms).toHaveLength(1);
    counsellorInCall.close();
  });

  it("is given to the seeker only once their counsellor is in the call, by every path", async () => {
    const c = await activeCall();
    const legacy = async () =>
      callApi(stack.appserviceUrl, "POST", "/api/v1/rtc/sfu/get", null, {
        room: c.roomId,
        openid_token: await openId(c.seeker),
        device_id: c.seeker.deviceId,
      });
    const proxied = () =>
      matrixRequest(stack, "POST", "/_matrix/client/unstable/io.element.msc4195/rtc/livekit/get_token", c.seeker, {
        url: wsUrl,
        room_id: c.roomId,
        slot_id: ROOM_SLOT,
        member: { id: "m", claimed_device_id: c.seeker.deviceId },
      });
    for (const res of [await getToken(c.seeker, c.roomId), await legacy(), await proxied()]) {
      expect(res).toMatchObject({ status: 409, body: { errcode: "CONNECTA_NO_CALL" } });
    }
    // Refused without creating the LiveKit room: a seeker cannot open a call.
    expect(await inCall(c.roomId)).toEqual([]);
    // A counsellor who only fetched a token has not started the call yet: connected, they have.
    expect((await getToken(c.counsellor, c.roomId)).status).toBe(200);
    expect((await getToken(c.seeker, c.roomId)).body.errcode).toBe("CONNECTA_NO_CALL");
    const counsellorInCall = await started(c);
    for (const res of [await getToken(c.seeker, c.roomId), await legacy(), await proxied()]) {
      expect(res.status).toBe(200);
    }
    counsellorInCall.close();
  });

  it("comes through the web client's origin, where browsers and Element Call ask for it", async () => {
    const c = await activeCall();
    const counsellorInCall = await started(c);
    const res = await fetch(`${stack.clientUrl}/api/v1/rtc/get_token`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: stack.clientUrl },
      body: JSON.stringify({
        room_id: c.roomId,
        slot_id: ROOM_SLOT,
        openid_token: await openId(c.seeker),
        member: { id: "member-1", claimed_user_id: c.seeker.userId, claimed_device_id: c.seeker.deviceId },
      }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { url: string }).url).toBe(wsUrl);
    counsellorInCall.close();
  });

  it("comes by the older request too, for the device", async () => {
    const c = await activeCall();
    const counsellorInCall = await started(c);
    const res = await callApi(stack.appserviceUrl, "POST", "/api/v1/rtc/sfu/get", null, {
      room: c.roomId,
      openid_token: await openId(c.seeker),
      device_id: c.seeker.deviceId,
    });
    expect(res.status).toBe(200);
    const claims = await new TokenVerifier(keys.livekitApiKey, keys.livekitApiSecret).verify(String(res.body.jwt));
    expect(claims.sub).toBe(legacyIdentity(c.seeker.userId, c.seeker.deviceId));
    counsellorInCall.close();
  });

  it("comes from the homeserver's own endpoint, which Synapse forwards to us with the same checks", async () => {
    const c = await activeCall();
    const counsellorInCall = await started(c);
    const body = {
      url: wsUrl,
      room_id: c.roomId,
      slot_id: ROOM_SLOT,
      member: { id: "m", claimed_device_id: c.seeker.deviceId },
    };
    const path = "/_matrix/client/unstable/io.element.msc4195/rtc/livekit/get_token";
    const res = await matrixRequest(stack, "POST", path, c.seeker, body);
    expect(res.status).toBe(200);
    const claims = await new TokenVerifier(keys.livekitApiKey, keys.livekitApiSecret).verify(String(res.body.jwt));
    expect(claims.sub).toBe(livekitIdentity(c.seeker.userId, c.seeker.deviceId, "m"));
    const colleague = await matrixRequest(stack, "POST", path, c.colleague, body);
    expect(colleague.body.errcode).toBe("M_FORBIDDEN");
    // Only Synapse may call that path of ours.
    const direct = await callApi(stack.appserviceUrl, "POST", path, null, body);
    expect(direct.status).toBe(403);
    counsellorInCall.close();
  });
});

describe("a call token is refused", () => {
  it("without a valid OpenID token of this server's user", async () => {
    const c = await activeCall();
    const forged = { access_token: "forged", token_type: "Bearer", matrix_server_name: stack.serverName };
    expect(await getToken(c.seeker, c.roomId, { openid_token: forged })).toMatchObject({
      status: 401,
      body: { errcode: "M_UNKNOWN_TOKEN" },
    });
    expect((await getToken(c.seeker, c.roomId, { openid_token: undefined })).body.errcode).toBe("M_BAD_JSON");
    expect(await getToken(c.seeker, c.roomId, { openid_token: await openId(c.seeker, "other.example") })).toMatchObject(
      { status: 403, body: { errcode: "M_FORBIDDEN" } },
    );
    const claimed = { id: "m", claimed_user_id: c.counsellor.userId, claimed_device_id: c.seeker.deviceId };
    expect(await getToken(c.seeker, c.roomId, { member: claimed })).toMatchObject({
      status: 403,
      body: { errcode: "M_FORBIDDEN" },
    });
    expect((await getToken(c.seeker, c.roomId, { slot_id: "m.call#other" })).body.errcode).toBe("M_BAD_JSON");
    // A device id becomes a LiveKit identity: a line break in it is refused, not passed on.
    const device = { id: "m", claimed_user_id: c.seeker.userId, claimed_device_id: "DEV\nICE" };
    expect((await getToken(c.seeker, c.roomId, { member: device })).body.errcode).toBe("M_BAD_JSON");
  });

  it("for rooms the user is not in, and to counsellors of the agency who do not counsel it", async () => {
    const c = await activeCall();
    const stranger = await registerUser(stack, "stranger");
    expect((await getToken(stranger, c.roomId)).body.errcode).toBe("M_FORBIDDEN");
    expect((await getToken(c.colleague, c.roomId)).body.errcode).toBe("M_FORBIDDEN");
    const other = await activeCall();
    expect((await getToken(c.seeker, other.roomId)).body.errcode).toBe("M_FORBIDDEN");
  });

  it("while the enquiry waits, after it was closed, and to the counsellor who handed it over", async () => {
    const waiting = await workflowScene(stack, db, { counsellors: 1 });
    expect(await getToken(waiting.seeker, waiting.roomId)).toMatchObject({
      status: 409,
      body: { errcode: "CONNECTA_WRONG_STATE" },
    });

    const handed = await activeCall();
    const handover = await callApi(
      stack.appserviceUrl,
      "POST",
      `/api/v1/enquiries/${handed.enquiryId}/handover`,
      await openIdToken(stack, handed.counsellor),
      { counsellor_id: handed.colleague.userId },
    );
    expect(handover.status).toBe(200);
    expect((await getToken(handed.counsellor, handed.roomId)).body.errcode).toBe("M_FORBIDDEN");

    const closed = await activeCall();
    const close = await callApi(
      stack.appserviceUrl,
      "POST",
      `/api/v1/enquiries/${closed.enquiryId}/close`,
      await openIdToken(stack, closed.counsellor),
      {},
    );
    expect(close.status).toBe(200);
    expect((await getToken(closed.seeker, closed.roomId)).body.errcode).toBe("CONNECTA_WRONG_STATE");
    expect((await getToken(closed.counsellor, closed.roomId)).body.errcode).toBe("CONNECTA_WRONG_STATE");
  });
});

describe("the homeserver", () => {
  it("names our LiveKit and token service as the transport of calls", async () => {
    const user = await registerUser(stack, "transports");
    const res = await matrixRequest(stack, "GET", "/_matrix/client/unstable/org.matrix.msc4143/rtc/transports", user);
    expect(res.status).toBe(200);
    expect(res.body.rtc_transports).toEqual([
      { type: "livekit", url: wsUrl, livekit_service_url: `${stack.clientUrl}/api/v1/rtc` },
    ]);
  });
});

describe("the logs", () => {
  it("never hold a call token", async () => {
    const c = await activeCall();
    const counsellorInCall = await started(c);
    const { body } = await getToken(c.seeker, c.roomId);
    counsellorInCall.close();
    const jwt = String(body.jwt);
    const signature = jwt.split(".")[2] ?? jwt;
    const logs = join(stack.dataDir, "logs");
    for (const file of readdirSync(logs)) {
      expect(readFileSync(join(logs, file), "utf8").includes(signature), file).toBe(false);
    }
  });
});

/** Announces `user`'s call membership in `roomId`, as a MatrixRTC client does on joining. */
async function announce(user: TestUser, roomId: string): Promise<string> {
  const stateKey = `_${user.userId}_${user.deviceId}_m.call`;
  const content = {
    application: "m.call",
    call_id: "",
    scope: "m.room",
    device_id: user.deviceId,
    focus_active: { type: "livekit", focus_selection: "oldest_membership" },
    foci_preferred: [{ type: "livekit", livekit_service_url: stack.clientUrl }],
  };
  const path = `/_matrix/client/v3/rooms/${enc(roomId)}/state/org.matrix.msc3401.call.member/${enc(stateKey)}`;
  expect((await matrixRequest(stack, "PUT", path, user, content)).status).toBe(200);
  return stateKey;
}

/** The call memberships of `roomId` that are still announced (non-empty), by state key. */
async function announced(roomId: string, reader: TestUser): Promise<string[]> {
  const res = await matrixRequest(stack, "GET", `/_matrix/client/v3/rooms/${enc(roomId)}/state`, reader);
  const events = res.body as unknown as { type: string; state_key: string; content: object }[];
  return events
    .filter((e) => e.type === "org.matrix.msc3401.call.member" && Object.keys(e.content).length > 0)
    .map((e) => e.state_key)
    .sort();
}

describe("a running call", () => {
  it("loses the counsellor who hands over, at once, and everybody when the conversation is closed", async () => {
    const c = await activeCall();
    const counsellor = await started(c);
    const seeker = await connectSignal(String((await getToken(c.seeker, c.roomId)).body.jwt));
    expect(await inCall(c.roomId)).toEqual([c.counsellor.userId, c.seeker.userId].sort());
    const counsellorKey = await announce(c.counsellor, c.roomId);
    const seekerKey = await announce(c.seeker, c.roomId);

    const handover = await callApi(
      stack.appserviceUrl,
      "POST",
      `/api/v1/enquiries/${c.enquiryId}/handover`,
      await openIdToken(stack, c.counsellor),
      { counsellor_id: c.colleague.userId },
    );
    expect(handover.status).toBe(200);
    // "Handed over" is true when we say it: the counsellor is out of the call already.
    expect(await inCall(c.roomId)).toEqual([c.seeker.userId]);
    // ... and no longer announced as in it: the seeker's client does not ring for them.
    expect(await announced(c.roomId, c.seeker)).toEqual([seekerKey]);
    expect(counsellorKey).not.toBe(seekerKey);
    await counsellor.closed;

    await joinRoom(c.colleague, c.roomId);
    const colleague = await connectSignal(String((await getToken(c.colleague, c.roomId)).body.jwt));
    expect(await inCall(c.roomId)).toEqual([c.colleague.userId, c.seeker.userId].sort());
    const close = await callApi(
      stack.appserviceUrl,
      "POST",
      `/api/v1/enquiries/${c.enquiryId}/close`,
      await openIdToken(stack, c.colleague),
      {},
    );
    expect(close.status).toBe(200);
    expect(await inCall(c.roomId)).toEqual([]);
    // The closed room (read-only: their clients cannot leave it themselves) shows no call.
    expect(await announced(c.roomId, c.seeker)).toEqual([]);
    await Promise.all([seeker.closed, colleague.closed]);
  });
});
