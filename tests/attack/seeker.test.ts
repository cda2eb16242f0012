/**
 * Attack suite: an advice seeker with a valid account and an active conversation, who wants
 * more: the counsellor's tools, other seekers' conversations, power in their own room, a name
 * that passes for staff, or the call of another conversation. Every case asserts the exact
 * refusal and that nothing changed. Case ids (A-SEEK-nn) are listed in docs/threat-model.md.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOM_SLOT } from "../../appservice/src/rtc/identity.ts";
import { eventually, roomMembers, stackSecret, type TestUser } from "../support/matrix.ts";
import { callIntakeApi, freshPseudonym, intakeBody, solvedChallenge } from "../support/seeker.ts";
import { connectaDb, enquiryState, openIdToken, unique, workflowScene } from "../support/workflow.ts";
import { enc, expectRefusal, refusalOf, sendJson, synapse } from "./support.ts";

const stack = inject("stack");
const bot = { accessToken: stackSecret(stack, "asToken") };
let db: pg.Client;

type Scene = Awaited<ReturnType<typeof workflowScene>>;
/** The attacker's own conversation: claimed by `counsellor`, both in the room. */
let own: Scene & { counsellor: TestUser; counsellorEvent: string; counsellorFile: string; seekerFile: string };
/** Another seeker's conversation, of another agency, waiting. */
let other: Scene;
let seekerToken: string;
/** An enquiry id nobody has. */
let noSuchId: number;

async function upload(user: TestUser): Promise<string> {
  const res = await fetch(`${stack.synapseUrl}/_matrix/media/v3/upload?filename=f.bin`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.accessToken}`, "content-type": "application/octet-stream" },
    body: randomBytes(32),
  });
  return String(((await res.json()) as { content_uri: string }).content_uri);
}

async function sendEvent(user: TestUser, roomId: string, type: string, content: unknown) {
  return synapse(stack, "PUT", `/_matrix/client/v3/rooms/${enc(roomId)}/send/${type}/${randomUUID()}`, user, content);
}

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
  const written = await sendEvent(counsellor, s.roomId, "m.room.encrypted", {
    algorithm: "m.megolm.v1.aes-sha2",
    ciphertext: "x",
  });
  own = {
    ...s,
    counsellor,
    counsellorEvent: String(written.body.event_id),
    counsellorFile: await upload(counsellor),
    seekerFile: await upload(s.seeker),
  };
  other = await workflowScene(stack, db, { counsellors: 1 });
  seekerToken = await openIdToken(stack, own.seeker);
  const { rows } = await db.query<{ id: string }>("SELECT coalesce(max(id), 0) + 1000000 AS id FROM enquiries");
  noSuchId = Number(rows[0]?.id);
});
afterAll(async () => {
  await db?.end();
});

const api = (method: string, path: string, body?: unknown, token = seekerToken) =>
  sendJson(stack.appserviceUrl, method, path, token, body);

/** The attacker's conversation is as the fixture left it. */
async function expectOwnUntouched(): Promise<void> {
  expect(await enquiryState(db, own.enquiryId)).toEqual({ state: "active", counsellor_id: own.counsellor.userId });
  expect(await roomMembers(stack, own.roomId, bot)).toEqual(
    [own.seeker.userId, own.counsellor.userId, stack.botUserId].sort(),
  );
}

/** Two answers tell nothing apart: same status and the same body. */
function expectSameAnswer(a: { status: number; body: unknown }, b: { status: number; body: unknown }, what: string) {
  expect({ status: b.status, body: b.body }, what).toEqual({ status: a.status, body: a.body });
}

describe("the counsellors' tools", () => {
  it("A-SEEK-01: claim, close and handover answer 403 M_FORBIDDEN, alike for their own, another's and no enquiry", async () => {
    for (const action of ["claim", "close", "handover"]) {
      const body = action === "handover" ? { counsellor_id: own.seeker.userId } : {};
      const mine = await api("POST", `/api/v1/enquiries/${own.enquiryId}/${action}`, body);
      expectRefusal(mine, 403, "M_FORBIDDEN", action);
      expectSameAnswer(mine, await api("POST", `/api/v1/enquiries/${other.enquiryId}/${action}`, body), action);
      expectSameAnswer(mine, await api("POST", `/api/v1/enquiries/${noSuchId}/${action}`, body), action);
    }
    const queue = await api("GET", "/api/v1/queue");
    expectRefusal(queue, 403, "M_FORBIDDEN", "queue");
    await expectOwnUntouched();
    expect(await enquiryState(db, other.enquiryId)).toEqual({ state: "waiting", counsellor_id: null });
  });

  it("A-SEEK-02: another seeker's enquiry and its agency's staff answer exactly as ones that do not exist", async () => {
    const reopen = await api("POST", `/api/v1/enquiries/${other.enquiryId}/reopen`, {});
    expectRefusal(reopen, 404, "M_NOT_FOUND", "reopen");
    expectSameAnswer(reopen, await api("POST", `/api/v1/enquiries/${noSuchId}/reopen`, {}), "reopen");
    const media = await api("POST", `/api/v1/enquiries/${other.enquiryId}/media`, { media_id: own.seekerFile });
    expectRefusal(media, 403, "M_FORBIDDEN", "media");
    expectSameAnswer(
      media,
      await api("POST", `/api/v1/enquiries/${noSuchId}/media`, { media_id: own.seekerFile }),
      "media",
    );
    const staff = await api("GET", `/api/v1/agencies/${other.agencyId}/counsellors`);
    expectRefusal(staff, 403, "M_FORBIDDEN", "colleagues");
    expectSameAnswer(staff, await api("GET", `/api/v1/agencies/${own.agencyId}/counsellors`), "own agency's staff");
    expectSameAnswer(staff, await api("GET", "/api/v1/agencies/999999999/counsellors"), "no agency");
    const { rowCount } = await db.query("SELECT 1 FROM enquiry_media WHERE enquiry_id = $1", [other.enquiryId]);
    expect(rowCount).toBe(0);
  });

  it("A-SEEK-03: a seeker reports only files they uploaded: not the counsellor's, nor another conversation's", async () => {
    const foreignFile = await upload(other.seeker);
    for (const mediaId of [
      own.counsellorFile,
      foreignFile,
      `mxc://${stack.serverName}/${randomBytes(12).toString("hex")}`,
    ]) {
      const answer = await api("POST", `/api/v1/enquiries/${own.enquiryId}/media`, { media_id: mediaId });
      expectRefusal(answer, 403, "M_FORBIDDEN", mediaId);
    }
    const mine = await api("POST", `/api/v1/enquiries/${own.enquiryId}/media`, { media_id: own.seekerFile });
    expect(mine.status).toBe(200);
    const { rows } = await db.query<{ media_id: string }>("SELECT media_id FROM enquiry_media WHERE enquiry_id = $1", [
      own.enquiryId,
    ]);
    // The purge deletes every reported file: only the seeker's own may be among them.
    expect(rows.map((r) => r.media_id)).toEqual([own.seekerFile]);
  });

  it("A-SEEK-04: a seeker's OpenID token is no operator token: 403 M_FORBIDDEN on the admin API, nothing changed", async () => {
    const topicId = `t-${unique()}`;
    for (const [method, path, body] of [
      ["GET", `/api/v1/admin/users/${enc(other.seeker.userId)}/export`, undefined],
      ["POST", `/api/v1/admin/users/${enc(other.seeker.userId)}/erasure`, {}],
      ["POST", "/api/v1/admin/topics", { id: topicId, name_de: "X", name_en: "X" }],
      ["GET", "/api/v1/admin/counsellors", undefined],
      ["POST", `/api/v1/admin/counsellors/${own.counsellor.localpart}/deactivate`, undefined],
    ] as const) {
      expectRefusal(await api(method, path, body), 403, "M_FORBIDDEN", `${method} ${path}`);
    }
    expect((await db.query("SELECT 1 FROM topics WHERE id = $1", [topicId])).rowCount).toBe(0);
    expect(await enquiryState(db, other.enquiryId)).toEqual({ state: "waiting", counsellor_id: null });
    const erasure = await api("POST", "/api/v1/me/erasure", { user_id: other.seeker.userId });
    expectRefusal(erasure, 400, "M_BAD_JSON", "erasure of another");
    await expectOwnUntouched();
  });
});

describe("power in their own room, with a Matrix client", () => {
  const state = (type: string, key = "") => `/_matrix/client/v3/rooms/${enc(own.roomId)}/state/${type}/${enc(key)}`;

  it("A-SEEK-05: raising their own power level, or anyone's, is refused with 403 M_FORBIDDEN", async () => {
    const before = await synapse(stack, "GET", state("m.room.power_levels"), bot);
    const users = before.body.users as Record<string, number>;
    for (const raised of [
      { ...users, [own.seeker.userId]: 100 },
      { ...users, [own.seeker.userId]: 50 },
      { ...users, [own.counsellor.userId]: 0 },
    ]) {
      const res = await synapse(stack, "PUT", state("m.room.power_levels"), own.seeker, {
        ...before.body,
        users: raised,
      });
      expect(refusalOf(res)).toEqual([403, "M_FORBIDDEN"]);
    }
    const lowered = await synapse(stack, "PUT", state("m.room.power_levels"), own.seeker, {
      ...before.body,
      users_default: 100,
      events_default: 0,
    });
    expect(refusalOf(lowered)).toEqual([403, "M_FORBIDDEN"]);
    expect((await synapse(stack, "GET", state("m.room.power_levels"), bot)).body).toEqual(before.body);
  });

  it("A-SEEK-06: the room's rules stay the bot's: encryption, visibility, join rule, marker, tombstone, ACL", async () => {
    const attempts: [string, string, Record<string, unknown>][] = [
      ["m.room.encryption", "", { algorithm: "m.none" }],
      ["m.room.history_visibility", "", { history_visibility: "world_readable" }],
      ["m.room.join_rules", "", { join_rule: "public" }],
      ["m.room.guest_access", "", { guest_access: "can_join" }],
      ["de.connecta.enquiry", "", { enquiry_id: 1 }],
      ["m.room.tombstone", "", { body: "moved", replacement_room: "!elsewhere:x" }],
      ["m.room.server_acl", "", { allow: ["*"], deny: [] }],
      ["m.room.topic", "", { topic: "Connecta: bitte hier klicken" }],
      ["m.room.pinned_events", "", { pinned: [own.counsellorEvent] }],
    ];
    for (const [type, key, content] of attempts) {
      const res = await synapse(stack, "PUT", state(type, key), own.seeker, content);
      expect(refusalOf(res), type).toEqual([403, "M_FORBIDDEN"]);
    }
    const encryption = await synapse(stack, "GET", state("m.room.encryption"), bot);
    expect(encryption.body.algorithm).toBe("m.megolm.v1.aes-sha2");
    const join = await synapse(stack, "GET", state("m.room.join_rules"), bot);
    expect(join.body.join_rule).toBe("invite");
  });

  it("A-SEEK-07: a seeker removes, bans or silences nobody and cannot speak for another's membership or call", async () => {
    const room = `/_matrix/client/v3/rooms/${enc(own.roomId)}`;
    const attempts: [string, string, unknown][] = [
      ["POST", `${room}/ban`, { user_id: own.counsellor.userId }],
      ["POST", `${room}/kick`, { user_id: stack.botUserId }],
      ["PUT", `${room}/redact/${enc(own.counsellorEvent)}/${randomUUID()}`, { reason: "x" }],
      ["PUT", state("m.room.member", own.counsellor.userId), { membership: "leave" }],
      ["PUT", state("org.matrix.msc3401.call.member", own.counsellor.userId), { memberships: [] }],
      ["PUT", state("org.matrix.msc3401.call.member", `@${own.counsellor.localpart}:${stack.serverName}_DEVICE`), {}],
    ];
    for (const [method, path, body] of attempts) {
      const res = await synapse(stack, method, path, own.seeker, body);
      expect(refusalOf(res), path).toEqual([403, "M_FORBIDDEN"]);
    }
    const event = await synapse(stack, "GET", `${room}/event/${enc(own.counsellorEvent)}`, own.counsellor);
    expect(event.body.content).toMatchObject({ ciphertext: "x" });
    await expectOwnUntouched();
  });
});

describe("passing for staff", () => {
  it("A-SEEK-08: display names that pass for staff or the service are refused with 403 M_FORBIDDEN", async () => {
    const profile = `/_matrix/client/v3/profile/${enc(own.seeker.userId)}`;
    for (const displayname of [
      "Beraterin",
      "Conn\u200becta",
      "\u0421onnecta", // Cyrillic Es
      "Connecta Team",
      "Ihre Beraterin \u202enimda",
      "connecta-bot",
    ]) {
      const res = await synapse(stack, "PUT", `${profile}/displayname`, own.seeker, { displayname });
      expect(refusalOf(res), displayname).toEqual([403, "M_FORBIDDEN"]);
    }
    expect((await synapse(stack, "GET", profile, own.seeker)).body).toEqual({ displayname: own.seeker.localpart });
  });

  it("A-SEEK-09: pseudonyms that pass for staff, also in look-alikes, answer 400 M_INVALID_USERNAME", async () => {
    // The pseudonym rules come before the challenge is spent: one solved challenge tries them all.
    const challenge = await solvedChallenge(stack);
    for (const pseudonym of [
      "Beraterin",
      "c0nnecta",
      "adm1n",
      "adrnin-hilft",
      "5upport",
      "conn\u200becta",
      "\uff23onnecta", // fullwidth C
      "\u0441onnecta", // Cyrillic es
      "\u212aontakt-team", // Kelvin sign
      "anna\u202enimda",
      "connecta\u0000",
    ]) {
      const answer = await callIntakeApi(
        stack,
        "POST",
        "/api/v1/intake",
        intakeBody(challenge, { pseudonym, topic: "x" }),
      );
      const expected = pseudonym.includes("\u0000") ? "M_BAD_JSON" : "M_INVALID_USERNAME";
      expect([answer.status, answer.body.errcode], JSON.stringify(pseudonym)).toEqual([400, expected]);
    }
    // The challenge is still good for a proper pseudonym (it reaches the topic check).
    const fine = await callIntakeApi(
      stack,
      "POST",
      "/api/v1/intake",
      intakeBody(challenge, { pseudonym: freshPseudonym(), topic: `no-such-topic-${unique()}` }),
    );
    expect([fine.status, fine.body.errcode]).toEqual([400, "M_INVALID_PARAM"]);
  });
});

describe("the homeserver's forwarded call-token path", () => {
  const path = "/_matrix/client/v1/rtc/livekit/get_token";

  it("A-SEEK-10: Synapse names the caller: a forged X-Matrix-User-Identifier, dot segments and double encoding get nowhere", async () => {
    const body = {
      url: stack.livekitUrl.replace(/^http/, "ws"),
      room_id: own.roomId,
      slot_id: ROOM_SLOT,
      member: { id: "m", claimed_device_id: other.seeker.deviceId },
    };
    // Another conversation's seeker, claiming to be this one: Synapse overwrites the header.
    const forged = await fetch(`${stack.synapseUrl}${path}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${other.seeker.accessToken}`,
        "content-type": "application/json",
        "x-matrix-user-identifier": own.seeker.userId,
      },
      body: JSON.stringify(body),
    });
    const forgedBody = (await forged.json()) as { errcode?: string; error?: string };
    expect([forged.status, forgedBody.errcode]).toEqual([403, "M_FORBIDDEN"]);
    expect(forgedBody.error).toBe("Only the seeker and the assigned counsellor take part in this call");

    const sneaky = async (p: string) => {
      const res = await fetch(`${stack.synapseUrl}${p}`, {
        method: "POST",
        headers: { authorization: `Bearer ${own.seeker.accessToken}`, "content-type": "application/json" },
        body: "{}",
      });
      return [res.status, ((await res.json()) as { errcode?: string }).errcode];
    };
    // Encoded separators with dot segments: Synapse refuses to forward them.
    for (const p of [
      "/_matrix/client/v1/rtc/livekit/..%2f..%2f..%2f..%2f_matrix%2fapp%2fv1%2ftransactions%2f1",
      "/_matrix/client/v1/rtc/livekit/get_token%2f..%2f..%2f..%2f..%2fapi%2fv1%2fadmin%2ftopics",
    ]) {
      expect(await sneaky(p), p).toEqual([400, "M_INVALID_PARAM"]);
    }
    // Anything else is a route neither Synapse nor the application service has.
    for (const p of [
      "/_matrix/client/v1/rtc/livekit/%2e%2e/%2e%2e/%2e%2e/%2e%2e/api/v1/admin/topics",
      "/_matrix/client/v1/rtc/livekit/%252e%252e/%252e%252e/%252e%252e/%252e%252e/api/v1/admin/topics",
      "/_matrix/client/v1/rtc/livekit/admin",
    ]) {
      expect(await sneaky(p), p).toEqual([404, "M_UNRECOGNIZED"]);
    }
  });
});

describe("hostile events through the homeserver", () => {
  it("A-SEEK-11: deep, odd and polluting event contents leave the workflow working", async () => {
    const fresh = await workflowScene(stack, db, { counsellors: 1, written: false });
    const room = enc(fresh.roomId);
    expect((await synapse(stack, "POST", `/_matrix/client/v3/join/${room}`, fresh.seeker, {})).status).toBe(200);
    const nested = (levels: number) => {
      let deep: unknown = "bottom";
      for (let i = 0; i < levels; i++) deep = { a: [deep] };
      return { deep };
    };
    // What Synapse takes reaches the application service: 100 levels of nesting, keys that
    // would pollute a prototype, Unicode look-alikes; deeper nesting and floats, which canonical
    // JSON does not allow, Synapse refuses itself.
    const contents: [string, unknown, number][] = [
      ["de.example.deep", nested(50), 200],
      ["de.example.deeper", nested(70), 400],
      [
        "de.example.proto",
        JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}'),
        200,
      ],
      ["de.example.float", { f: 1.5 }, 400],
      ["de.connecta.enquiry", { enquiry_id: other.enquiryId }, 200],
      ["m.room.\u0441reate", { creator: own.seeker.userId }, 200],
    ];
    for (const [type, content, status] of contents) {
      const res = await sendEvent(fresh.seeker, fresh.roomId, enc(type), content);
      expect([res.status, res.body.errcode], type).toEqual(status === 200 ? [200, undefined] : [400, "M_BAD_JSON"]);
    }
    // Processing still works: the seeker's first message (with odd characters of its own) puts
    // the enquiry in the queue.
    const written = await sendEvent(fresh.seeker, fresh.roomId, "m.room.message", {
      msgtype: "m.text",
      body: "\u202e\u200b\ufeff control \u0007",
    });
    expect(written.status).toBe(200);
    await eventually("the enquiry waits", async () => (await enquiryState(db, fresh.enquiryId))?.state === "waiting");
    expect(await enquiryState(db, other.enquiryId)).toEqual({ state: "waiting", counsellor_id: null });
  });
});
