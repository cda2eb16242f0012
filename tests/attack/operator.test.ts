/**
 * Attack suite: a curious operator, and whoever steals one of the installation's tokens (the
 * operator token, the application service's as_token or hs_token, LiveKit's key). Each token
 * opens exactly its own door: the operator token the admin API, not a conversation; the hs_token
 * the transaction endpoint, not Synapse; the as_token the bot's namespace, not a seeker's
 * account. Names the operator gives carry no invisible characters, and no metric names a person.
 * Case ids (A-OPS-nn) are listed in docs/threat-model.md.
 */
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { livekitKeys } from "../../ops/stack/secrets.ts";
import { eventually, stackSecret, type TestUser } from "../support/matrix.ts";
import { connectaDb, enquiryState, openIdToken, unique, workflowScene } from "../support/workflow.ts";
import { enc, expectRefusal, refusalOf, send, sendJson, synapse } from "./support.ts";

const stack = inject("stack");
const operator = stackSecret(stack, "operatorToken");
const asToken = stackSecret(stack, "asToken");
const hsToken = stackSecret(stack, "hsToken");
let db: pg.Client;
/** A seeker whose enquiry waits for their first message (still `created`). */
let scene: Awaited<ReturnType<typeof workflowScene>>;

beforeAll(async () => {
  db = await connectaDb(stack);
  scene = await workflowScene(stack, db, { counsellors: 1, written: false });
  expect((await synapse(stack, "POST", `/_matrix/client/v3/join/${enc(scene.roomId)}`, scene.seeker, {})).status).toBe(
    200,
  );
});
afterAll(async () => {
  await db?.end();
});

const api = (method: string, path: string, token: string | null, body?: unknown) =>
  sendJson(stack.appserviceUrl, method, path, token, body);

describe("the operator token", () => {
  it("A-OPS-01: is no OpenID token: the seekers' and counsellors' routes answer 401 M_UNKNOWN_TOKEN", async () => {
    for (const [method, path, body] of [
      ["GET", "/api/v1/enquiries", undefined],
      ["GET", "/api/v1/queue", undefined],
      ["GET", "/api/v1/me/export", undefined],
      ["POST", `/api/v1/enquiries/${scene.enquiryId}/claim`, {}],
    ] as const) {
      expectRefusal(await api(method, path, operator, body), 401, "M_UNKNOWN_TOKEN", `${method} ${path}`);
    }
    const call = await api("POST", "/api/v1/rtc/sfu/get", null, {
      room: scene.roomId,
      openid_token: { access_token: operator, matrix_server_name: stack.serverName },
      device_id: "OPERATOR",
    });
    expectRefusal(call, 401, "M_UNKNOWN_TOKEN", "call token");
    expect(await enquiryState(db, scene.enquiryId)).toEqual({ state: "created", counsellor_id: null });
  });

  it("A-OPS-02: near misses of it answer 403 M_FORBIDDEN and create nothing", async () => {
    const flipped = `${operator.slice(0, -1)}${operator.endsWith("A") ? "B" : "A"}`;
    const id = `t-${unique()}`;
    for (const near of [
      flipped,
      operator.slice(0, -1),
      `${operator}x`,
      operator.toUpperCase(),
      `${operator}%20`,
      hsToken,
      asToken,
    ]) {
      if (near === operator) continue;
      const res = await api("POST", "/api/v1/admin/topics", near, { id, name_de: "Neu", name_en: "New" });
      expectRefusal(res, 403, "M_FORBIDDEN", near.slice(0, 6));
    }
    expect((await db.query("SELECT 1 FROM topics WHERE id = $1", [id])).rowCount).toBe(0);
  });

  it("A-OPS-03: neither it nor the hs_token is an access token at Synapse", async () => {
    for (const token of [operator, hsToken]) {
      const res = await synapse(stack, "GET", "/_matrix/client/v3/account/whoami", { accessToken: token });
      expect(refusalOf(res)).toEqual([401, "M_UNKNOWN_TOKEN"]);
    }
  });

  it("A-OPS-04: names shown to seekers refuse invisible and direction-changing characters with 400 M_BAD_JSON", async () => {
    const id = `t-${unique()}`;
    for (const name of ["Bera\u200bterin", "Sucht\u202e", "\u2066Connecta\u2069", "Con\u00adnecta", "Hil\ufefffe"]) {
      const topic = await api("POST", "/api/v1/admin/topics", operator, { id, name_de: name, name_en: "x" });
      expectRefusal(topic, 400, "M_BAD_JSON", JSON.stringify(name));
      expect(topic.body.error).toBe(
        "name_de: must not contain control characters or invisible formatting characters (zero-width, direction marks)",
      );
      const agency = await api("POST", "/api/v1/admin/agencies", operator, { name });
      expectRefusal(agency, 400, "M_BAD_JSON", JSON.stringify(name));
      const counsellor = await api(
        "PATCH",
        `/api/v1/admin/counsellors/${(scene.counsellors[0] as TestUser).localpart}`,
        operator,
        {
          display_name: name,
        },
      );
      expectRefusal(counsellor, 400, "M_BAD_JSON", JSON.stringify(name));
    }
    expect((await db.query("SELECT 1 FROM topics WHERE id = $1", [id])).rowCount).toBe(0);
    // Ordinary names with umlauts, emoji and punctuation still go in.
    const fine = await api("POST", "/api/v1/admin/topics", operator, {
      id,
      name_de: "Süchte & Ängste 🌱",
      name_en: "x",
    });
    expect(fine.status).toBe(200);
  });
});

describe("the application service's tokens", () => {
  /** A transaction carrying the seeker's first message, as Synapse would send it. */
  const transaction = () => ({
    events: [
      {
        type: "m.room.encrypted",
        sender: scene.seeker.userId,
        room_id: scene.roomId,
        event_id: `$${randomBytes(20).toString("base64url")}`,
        origin_server_ts: Date.now(),
        content: { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "forged" },
      },
    ],
  });

  it("A-OPS-05: a transaction with anything but the hs_token answers 403 M_FORBIDDEN and is not processed", async () => {
    const path = (txn: string) => `/_matrix/app/v1/transactions/${txn}`;
    for (const [what, headers, query] of [
      ["the as_token", { authorization: `Bearer ${asToken}` }, ""],
      ["the operator token", { authorization: `Bearer ${operator}` }, ""],
      ["the hs_token in other case", { authorization: `Bearer ${hsToken.toUpperCase()}` }, ""],
      ["the hs_token with a prefix", { authorization: `Bearer x${hsToken}` }, ""],
      ["a wrong token in the query", {}, `?access_token=${asToken}`],
    ] as const) {
      if (what.includes("other case") && hsToken.toUpperCase() === hsToken) continue;
      const res = await send(
        stack.appserviceUrl,
        "PUT",
        `${path(randomUUID())}${query}`,
        { "content-type": "application/json", ...headers },
        JSON.stringify(transaction()),
      );
      expect([res.status, res.body.errcode], what).toEqual([403, "M_FORBIDDEN"]);
    }
    expect(await enquiryState(db, scene.enquiryId)).toEqual({ state: "created", counsellor_id: null });
    // The same transaction with the real token is processed: the refusals above were the token's.
    const real = await api("PUT", path(randomUUID()), hsToken, transaction());
    expect(real.status).toBe(200);
    await eventually(
      "the forged-shape event counts",
      async () => (await enquiryState(db, scene.enquiryId))?.state === "waiting",
    );
  });

  it("A-OPS-06: a stolen as_token acts only as the bot's namespace, never as a seeker or counsellor", async () => {
    for (const user of [scene.seeker, scene.counsellors[0] as TestUser]) {
      const res = await synapse(stack, "GET", `/_matrix/client/v3/account/whoami?user_id=${enc(user.userId)}`, {
        accessToken: asToken,
      });
      expect(refusalOf(res), user.userId).toEqual([403, "M_FORBIDDEN"]);
      const read = await synapse(
        stack,
        "GET",
        `/_matrix/client/v3/rooms/${enc(scene.roomId)}/messages?dir=b&user_id=${enc(user.userId)}`,
        { accessToken: asToken },
      );
      expect(refusalOf(read), user.userId).toEqual([403, "M_FORBIDDEN"]);
    }
    // At our API it is nobody: no OpenID token, no operator token.
    expectRefusal(await api("GET", "/api/v1/enquiries", asToken), 401, "M_UNKNOWN_TOKEN", "as OpenID token");
    expectRefusal(await api("GET", "/api/v1/admin/agencies", asToken), 403, "M_FORBIDDEN", "as operator token");
  });
});

describe("LiveKit's server API", () => {
  const keys = livekitKeys(readFileSync(stack.secretFiles.livekitKeys, "utf8"));
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const jwt = (header: object, claims: object, secret: string | null) => {
    const unsigned = `${b64(header)}.${b64(claims)}`;
    const signature = secret === null ? "" : createHmac("sha256", secret).update(unsigned).digest("base64url");
    return `${unsigned}.${signature}`;
  };

  it("A-OPS-07: refuses requests without a token, and tokens not signed with its secret, with 401", async () => {
    const now = Math.floor(Date.now() / 1000);
    const admin = {
      iss: keys.livekitApiKey,
      sub: "x",
      nbf: now - 10,
      exp: now + 600,
      video: { roomList: true, roomAdmin: true, roomCreate: true },
    };
    const tokens = [
      null,
      jwt({ alg: "HS256", typ: "JWT" }, admin, randomBytes(32).toString("base64url")),
      jwt({ alg: "none", typ: "JWT" }, admin, null),
      jwt({ alg: "HS256", typ: "JWT" }, { ...admin, iss: "someone-else" }, keys.livekitApiSecret),
      jwt({ alg: "HS256", typ: "JWT" }, { ...admin, nbf: now - 7200, exp: now - 3600 }, keys.livekitApiSecret),
    ];
    for (const token of tokens) {
      const res = await send(
        stack.livekitUrl,
        "POST",
        "/twirp/livekit.RoomService/ListRooms",
        { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
        "{}",
      );
      // Without a token Twirp's JSON error; with a bad one LiveKit's "invalid token|API key: ..." text.
      expect(res.status, String(token).slice(0, 20)).toBe(401);
      expect(res.text).toMatch(token === null ? /^\{"code":"unauthenticated"/ : /^invalid (token|API key): /);
    }
    // The same claims signed with the secret are let in: the refusals above were the signature's.
    const good = jwt({ alg: "HS256", typ: "JWT" }, admin, keys.livekitApiSecret);
    const res = await send(
      stack.livekitUrl,
      "POST",
      "/twirp/livekit.RoomService/ListRooms",
      { "content-type": "application/json", authorization: `Bearer ${good}` },
      "{}",
    );
    expect(res.status).toBe(200);
  });
});

describe("what the operator's monitoring sees", () => {
  it("A-OPS-08: no metric of the application service or Synapse names a person or a room", async () => {
    const seekerToken = await openIdToken(stack, scene.seeker);
    // Traffic that names the seeker: refusals, their enquiries, a failed claim.
    await api("GET", "/api/v1/enquiries", seekerToken);
    await api("POST", `/api/v1/enquiries/${scene.enquiryId}/claim`, seekerToken, {});
    const texts = [
      await (await fetch(`${stack.appserviceUrl}/metrics`)).text(),
      await (await fetch(`${stack.synapseMetricsUrl}/_synapse/metrics`)).text(),
    ];
    expect(texts[0]).toContain("connecta_");
    for (const text of texts) {
      for (const secret of [
        scene.seeker.localpart,
        (scene.counsellors[0] as TestUser).localpart,
        scene.roomId,
        scene.roomId.slice(1, 12),
      ]) {
        expect(text.includes(secret), secret).toBe(false);
      }
    }
  });
});
