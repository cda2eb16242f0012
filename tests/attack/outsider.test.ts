/**
 * Attack suite: an outsider. Either without any account (anyone on the internet who reaches our
 * ports) or with an account of this server that belongs to no conversation (a stranger: an
 * abandoned intake, say). They want to read a conversation, learn who seeks help, or reach the
 * operator's and the homeserver's interfaces. Every case asserts the exact refusal and that
 * nothing changed. Case ids (A-OUT-nn) are listed in docs/threat-model.md.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { registerUser, roomMembers, stackSecret, type TestUser } from "../support/matrix.ts";
import { connectaDb, enquiryState, openIdToken, workflowScene } from "../support/workflow.ts";
import { enc, expectRefusal, refusalOf, send, sendJson, synapse } from "./support.ts";

const stack = inject("stack");
const bot = { accessToken: stackSecret(stack, "asToken") };
let db: pg.Client;
/** An active conversation: claimed, counsellor and seeker in the room, one message, one file. */
let scene: Awaited<ReturnType<typeof workflowScene>> & { counsellor: TestUser; eventId: string; mxc: string };
/** An account of this server in no conversation. */
let stranger: TestUser;

beforeAll(async () => {
  db = await connectaDb(stack);
  const s = await workflowScene(stack, db, { counsellors: 1 });
  const counsellor = s.counsellors[0] as TestUser;
  const claimed = await sendJson(
    stack.appserviceUrl,
    "POST",
    `/api/v1/enquiries/${s.enquiryId}/claim`,
    await openIdToken(stack, counsellor),
    {},
  );
  expect(claimed.status).toBe(200);
  expect((await synapse(stack, "POST", `/_matrix/client/v3/join/${enc(s.roomId)}`, counsellor, {})).status).toBe(200);
  const sent = await synapse(
    stack,
    "PUT",
    `/_matrix/client/v3/rooms/${enc(s.roomId)}/send/m.room.encrypted/${randomUUID()}`,
    s.seeker,
    { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "AwgAEn", sender_key: "k", session_id: "s", device_id: "D" },
  );
  const upload = await fetch(`${stack.synapseUrl}/_matrix/media/v3/upload?filename=a.bin`, {
    method: "POST",
    headers: { authorization: `Bearer ${s.seeker.accessToken}`, "content-type": "application/octet-stream" },
    body: randomBytes(64),
  });
  const mxc = String(((await upload.json()) as { content_uri: string }).content_uri);
  scene = { ...s, counsellor, eventId: String(sent.body.event_id), mxc };
  stranger = await registerUser(stack, "stranger");
});
afterAll(async () => {
  await db?.end();
});

/** The conversation is exactly as the fixture left it: active, its counsellor, its three members. */
async function expectConversationUntouched(): Promise<void> {
  expect(await enquiryState(db, scene.enquiryId)).toEqual({ state: "active", counsellor_id: scene.counsellor.userId });
  expect(await roomMembers(stack, scene.roomId, bot)).toEqual(
    [scene.seeker.userId, scene.counsellor.userId, stack.botUserId].sort(),
  );
}

describe("an outsider without an account, at the application service", () => {
  it("A-OUT-01: every route that needs a token answers 401 M_MISSING_TOKEN without one", async () => {
    const doc = (await sendJson(stack.appserviceUrl, "GET", "/api/v1/openapi.json", null)).body as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    const protectedOps = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => (op.security ?? []).length > 0)
        .map(([method, op]) => [method, path, op] as const),
    );
    // Seekers', counsellors' and operators' routes alike.
    expect(protectedOps.length).toBeGreaterThan(25);
    for (const [method, path] of protectedOps) {
      const concrete = path
        .replace("{enquiryId}", String(scene.enquiryId))
        .replace("{agencyId}", String(scene.agencyId))
        .replace("{intakeId}", randomUUID())
        .replace("{userId}", enc(scene.seeker.userId))
        .replace(/\{\w+\}/g, "x");
      const body = method === "get" ? undefined : {};
      const answer = await sendJson(stack.appserviceUrl, method.toUpperCase(), concrete, null, body);
      expectRefusal(answer, 401, "M_MISSING_TOKEN", `${method} ${concrete}`);
    }
    await expectConversationUntouched();
  });

  it("A-OUT-02: malformed Authorization headers answer 401 M_UNKNOWN_TOKEN, a token in the query counts as none", async () => {
    const headers = [
      "Basic b3BlcmF0b3I6eA==",
      "bearer lowercase-scheme",
      "Bearer ",
      "Bearer two tokens",
      `Bearer ${"x".repeat(513)}`,
      "Bearer t\u00f6ken",
      "Bearer a, Bearer b",
    ];
    for (const authorization of headers) {
      const answer = await send(stack.appserviceUrl, "GET", "/api/v1/enquiries", { authorization });
      expectRefusal(answer, 401, "M_UNKNOWN_TOKEN", authorization.slice(0, 30));
    }
    const seekerToken = await openIdToken(stack, scene.seeker);
    const query = await send(stack.appserviceUrl, "GET", `/api/v1/enquiries?access_token=${seekerToken}`);
    expectRefusal(query, 401, "M_MISSING_TOKEN", "token in the query");
  });

  it("A-OUT-03: forged OpenID tokens answer 401 M_UNKNOWN_TOKEN, also shaped like Synapse's", async () => {
    for (const token of [
      randomBytes(18).toString("base64url"),
      `syt_${randomBytes(8).toString("base64url")}_${randomBytes(10).toString("base64url")}_0abcde`,
      "' OR '1'='1",
      "..%2f..%2fadmin",
    ]) {
      const answer = await sendJson(
        stack.appserviceUrl,
        "POST",
        `/api/v1/enquiries/${scene.enquiryId}/close`,
        token,
        {},
      );
      expectRefusal(answer, 401, "M_UNKNOWN_TOKEN", token);
    }
    await expectConversationUntouched();
  });

  it("A-OUT-04: a valid OpenID token smuggled as a second parameter into the userinfo check is not honoured", async () => {
    const real = await openIdToken(stack, scene.counsellor);
    for (const token of [
      `x&access_token=${real}`,
      `x%26access_token%3D${real}`,
      `x#${real}`,
      `x;access_token=${real}`,
    ]) {
      const answer = await sendJson(
        stack.appserviceUrl,
        "POST",
        `/api/v1/enquiries/${scene.enquiryId}/close`,
        token,
        {},
      );
      expectRefusal(answer, 401, "M_UNKNOWN_TOKEN", token.slice(0, 20));
    }
    await expectConversationUntouched();
  });
});

describe("an outsider at the homeserver", () => {
  it("A-OUT-05: an OpenID token is no access token, and a Matrix access token no OpenID token", async () => {
    const openId = await openIdToken(stack, scene.seeker);
    const whoami = await synapse(stack, "GET", "/_matrix/client/v3/account/whoami", { accessToken: openId });
    expect(refusalOf(whoami)).toEqual([401, "M_UNKNOWN_TOKEN"]);
    const read = await synapse(stack, "GET", `/_matrix/client/v3/rooms/${enc(scene.roomId)}/messages?dir=b`, {
      accessToken: openId,
    });
    expect(refusalOf(read)).toEqual([401, "M_UNKNOWN_TOKEN"]);
    const asOpenId = await sendJson(stack.appserviceUrl, "GET", "/api/v1/enquiries", scene.seeker.accessToken);
    expectRefusal(asOpenId, 401, "M_UNKNOWN_TOKEN", "access token as OpenID token");
  });

  it("A-OUT-06: a stranger reads nothing of a conversation: state, members, events, context, relations", async () => {
    const room = `/_matrix/client/v3/rooms/${enc(scene.roomId)}`;
    const event = enc(scene.eventId);
    for (const path of [
      `${room}/state`,
      `${room}/state/m.room.member/${enc(scene.seeker.userId)}`,
      `${room}/state/m.room.name/`,
      `${room}/members`,
      `${room}/joined_members`,
      `${room}/messages?dir=b`,
      `/_matrix/client/v1/rooms/${enc(scene.roomId)}/relations/${event}`,
      `/_matrix/client/v1/rooms/${enc(scene.roomId)}/timestamp_to_event?ts=${Date.now()}&dir=b`,
      `/_matrix/client/v1/rooms/${enc(scene.roomId)}/hierarchy`,
    ]) {
      const res = await synapse(stack, "GET", path, stranger);
      expect(refusalOf(res), path).toEqual([403, "M_FORBIDDEN"]);
    }
    // An event by id: answered exactly as an id that does not exist. (Its context answers 403,
    // an unknown id 404: event ids are hashes nobody guesses, docs/threat-model.md.)
    const real = await synapse(stack, "GET", `${room}/event/${event}`, stranger);
    expect(refusalOf(real)).toEqual([404, "M_NOT_FOUND"]);
    const madeUp = enc(`$${randomBytes(32).toString("base64url")}`);
    expect(await synapse(stack, "GET", `${room}/event/${madeUp}`, stranger)).toEqual(real);
    expect(refusalOf(await synapse(stack, "GET", `${room}/context/${event}`, stranger))).toEqual([403, "M_FORBIDDEN"]);
  });

  it("A-OUT-07: a stranger cannot get in: join by id or through a server, knock, invite themselves, write", async () => {
    const room = enc(scene.roomId);
    const attempts: [string, string, unknown][] = [
      ["POST", `/_matrix/client/v3/join/${room}`, {}],
      ["POST", `/_matrix/client/v3/join/${room}?server_name=${enc(stack.serverName)}`, {}],
      ["POST", `/_matrix/client/v3/rooms/${room}/join`, {}],
      ["POST", `/_matrix/client/v3/knock/${room}`, { reason: "let me in" }],
      ["POST", `/_matrix/client/v3/rooms/${room}/invite`, { user_id: stranger.userId }],
      ["PUT", `/_matrix/client/v3/rooms/${room}/send/m.room.encrypted/${randomUUID()}`, { ciphertext: "x" }],
      ["PUT", `/_matrix/client/v3/rooms/${room}/state/m.room.member/${enc(stranger.userId)}`, { membership: "join" }],
    ];
    for (const [method, path, body] of attempts) {
      const res = await synapse(stack, method, path, stranger, body);
      expect(refusalOf(res), `${method} ${path}`).toEqual([403, "M_FORBIDDEN"]);
    }
    await expectConversationUntouched();
  });

  it("A-OUT-08: a file of a conversation needs an account to download; the unauthenticated paths serve nothing", async () => {
    const [server, mediaId] = scene.mxc.replace("mxc://", "").split("/") as [string, string];
    const fresh = await fetch(`${stack.synapseUrl}/_matrix/client/v1/media/download/${server}/${mediaId}`);
    expect([fresh.status, ((await fresh.json()) as { errcode: string }).errcode]).toEqual([401, "M_MISSING_TOKEN"]);
    for (const path of [
      `/_matrix/media/v3/download/${server}/${mediaId}`,
      `/_matrix/media/v3/thumbnail/${server}/${mediaId}?width=32&height=32`,
    ]) {
      const legacy = await fetch(`${stack.synapseUrl}${path}`);
      expect([legacy.status, ((await legacy.json()) as { errcode: string }).errcode], path).toEqual([
        404,
        "M_NOT_FOUND",
      ]);
    }
  });

  it("A-OUT-09: a stranger's token opens no part of Synapse's admin API", async () => {
    for (const [method, path, body] of [
      ["GET", "/_synapse/admin/v2/users?limit=10", undefined],
      ["GET", `/_synapse/admin/v1/rooms/${enc(scene.roomId)}/messages?dir=b`, undefined],
      ["GET", `/_synapse/admin/v1/rooms/${enc(scene.roomId)}/members`, undefined],
      ["PUT", `/_synapse/admin/v2/users/${enc(scene.counsellor.userId)}`, { password: "taken-over-1234" }],
      ["POST", "/_synapse/admin/v1/registration_tokens/new", {}],
      ["POST", `/_synapse/admin/v1/join/${enc(scene.roomId)}`, { user_id: stranger.userId }],
    ] as const) {
      const res = await synapse(stack, method, path, stranger, body);
      expect(refusalOf(res), `${method} ${path}`).toEqual([403, "M_FORBIDDEN"]);
    }
    await expectConversationUntouched();
  });

  it("A-OUT-10: a stranger learns no pseudonym from profiles: a seeker's and a name nobody has answer alike", async () => {
    const profile = (userId: string) => synapse(stack, "GET", `/_matrix/client/v3/profile/${enc(userId)}`, stranger);
    const existing = await profile(scene.seeker.userId);
    const missing = await profile(`@seeker-${randomBytes(5).toString("hex")}:${stack.serverName}`);
    expect(refusalOf(existing)).toEqual([403, "M_FORBIDDEN"]);
    expect(refusalOf(missing)).toEqual(refusalOf(existing));
    const anonymous = await synapse(stack, "GET", `/_matrix/client/v3/profile/${enc(scene.seeker.userId)}`, null);
    expect(refusalOf(anonymous)).toEqual([401, "M_MISSING_TOKEN"]);
  });

  it("A-OUT-11: a stranger cannot ask for another user's OpenID token or device list", async () => {
    const res = await synapse(
      stack,
      "POST",
      `/_matrix/client/v3/user/${enc(scene.seeker.userId)}/openid/request_token`,
      stranger,
      {},
    );
    expect(refusalOf(res)).toEqual([403, "M_FORBIDDEN"]);
    const filter = await synapse(
      stack,
      "GET",
      `/_matrix/client/v3/user/${enc(scene.seeker.userId)}/filter/0`,
      stranger,
    );
    expect(refusalOf(filter)).toEqual([403, "M_FORBIDDEN"]);
    const data = await synapse(
      stack,
      "GET",
      `/_matrix/client/v3/user/${enc(scene.seeker.userId)}/account_data/m.secret_storage.default_key`,
      stranger,
    );
    expect(refusalOf(data)).toEqual([403, "M_FORBIDDEN"]);
  });
});
