import { randomBytes, randomUUID } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../appservice/src/config/config.ts";
import { createPool } from "../../appservice/src/db/pool.ts";
import { processTransaction, type MatrixEvent } from "../../appservice/src/transactions/transactions.ts";
import { freePort, stopService, type Service } from "../../ops/stack/processes.ts";
import { appserviceEnv, startAppservice } from "../../ops/stack/stack.ts";
import { eventually, matrixRequest, registerUser, stackSecret, type TestUser } from "../support/matrix.ts";
import {
  callApi,
  connectaDb,
  createAgency,
  createCounsellor,
  createTopic,
  enquiryState,
  openIdToken,
  openTestEnquiry,
} from "../support/workflow.ts";

const stack = inject("stack");
const hsToken = stackSecret(stack, "hsToken");
const enc = encodeURIComponent;
const started: Service[] = [];
let db: pg.Client;
beforeAll(async () => {
  db = await connectaDb(stack);
});
afterAll(async () => {
  await Promise.all(started.map((s) => stopService(s)));
  await db?.end();
});

async function extraAppservice(name: string): Promise<{ service: Service; url: string }> {
  const port = await freePort(stack.bindAddress);
  const service = await startAppservice(stack, port, name);
  started.push(service);
  return { service, url: `http://${stack.bindAddress}:${port}` };
}

function putTransaction(url: string, txnId: string, body: unknown, token: string | null = hsToken, raw?: string) {
  return fetch(`${url}/_matrix/app/v1/transactions/${encodeURIComponent(txnId)}`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: raw ?? JSON.stringify(body),
  });
}

async function counter(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^connecta_appservice_${name}_total\\{kind="timeline"\\} (\\d+)$`, "m").exec(text);
  return match ? Number(match[1]) : 0;
}

const processedEvents = (url: string) => counter(url, "events_processed");
const skippedEvents = (url: string) => counter(url, "events_skipped");

function events(count: number) {
  return Array.from({ length: count }, (_, i) => ({
    type: "m.room.message",
    event_id: `$${randomBytes(8).toString("hex")}-${i}`,
    room_id: "!room:localhost",
    sender: "@someone:localhost",
    content: { msgtype: "m.text", body: "ciphertext stands here in real life" },
  }));
}

describe("the transaction endpoint", () => {
  it("refuses a missing or wrong hs_token with a Matrix error", async () => {
    const missing = await putTransaction(stack.appserviceUrl, "auth-1", { events: [] }, null);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ errcode: "M_UNAUTHORIZED" });
    const wrong = await putTransaction(stack.appserviceUrl, "auth-2", { events: [] }, "wrong-token");
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ errcode: "M_FORBIDDEN" });
    const legacyWrong = await fetch(`${stack.appserviceUrl}/_matrix/app/v1/transactions/auth-3?access_token=wrong`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(legacyWrong.status).toBe(403);
  });

  it("answers Synapse's ping, which Synapse then reports, and no one else's", async () => {
    // What the service asks at start and twice a minute, so that Synapse sends what it holds at once.
    const asToken = { accessToken: stackSecret(stack, "asToken") };
    const ping = await matrixRequest(stack, "POST", "/_matrix/client/v1/appservice/connecta/ping", asToken, {});
    expect(ping.status).toBe(200);
    expect(typeof ping.body.duration_ms).toBe("number");
    const pingUs = (token: string | null) =>
      fetch(`${stack.appserviceUrl}/_matrix/app/v1/ping`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: "{}",
      });
    expect((await pingUs(null)).status).toBe(401);
    expect((await pingUs("wrong-token")).status).toBe(403);
    expect((await pingUs(hsToken)).status).toBe(200);
  });

  it("answers malformed bodies with 4xx Matrix errors", async () => {
    const cases: [string, string, number, string][] = [
      ["not json", "{events:", 400, "M_NOT_JSON"],
      ["array body", "[]", 400, "M_BAD_JSON"],
      ["events not a list", JSON.stringify({ events: "x" }), 400, "M_BAD_JSON"],
      ["oversized body", JSON.stringify({ events: [], pad: "x".repeat(21 * 1024 * 1024) }), 413, "M_TOO_LARGE"],
    ];
    for (const [name, raw, status, errcode] of cases) {
      const res = await putTransaction(stack.appserviceUrl, `bad-${name}`, null, hsToken, raw);
      expect(res.status, name).toBe(status);
      expect(await res.json(), name).toMatchObject({ errcode });
    }
  });

  it("processes a replayed transaction once, also across a crash and restart", async () => {
    const first = await extraAppservice("appservice-replay-1");
    const txnId = `replay-${randomBytes(6).toString("hex")}`;
    const body = { events: events(3) };

    expect((await putTransaction(first.url, txnId, body)).status).toBe(200);
    expect(await processedEvents(first.url)).toBe(3);
    expect((await putTransaction(first.url, txnId, body)).status).toBe(200);
    expect(await processedEvents(first.url)).toBe(3);

    // A crash: no clean shutdown.
    await stopService(first.service, "SIGKILL");
    const second = await extraAppservice("appservice-replay-2");
    const replay = await putTransaction(second.url, txnId, body);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({});
    expect(await processedEvents(second.url)).toBe(0);

    expect((await putTransaction(second.url, `${txnId}-next`, { events: events(2) })).status).toBe(200);
    expect(await processedEvents(second.url)).toBe(2);
  });

  it("processes a transaction once when two replicas receive it at the same time", async () => {
    const [one, two] = await Promise.all([extraAppservice("appservice-race-1"), extraAppservice("appservice-race-2")]);
    const txnId = `race-${randomBytes(6).toString("hex")}`;
    const body = { events: events(1) };
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => putTransaction(i % 2 ? one.url : two.url, txnId, body)),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect((await processedEvents(one.url)) + (await processedEvents(two.url))).toBe(1);
  });

  it("receives events from Synapse through the registration", async () => {
    // A server admin: people create no rooms (homeserver-config/connecta_rules.py).
    const user = await registerUser(stack, "invites-bot", true);
    const before = await processedEvents(stack.appserviceUrl);
    const room = await matrixRequest(stack, "POST", "/_matrix/client/v3/createRoom", user, {
      invite: [stack.botUserId],
    });
    expect(room.status).toBe(200);
    await eventually(
      "the invite reaches the application service",
      async () => (await processedEvents(stack.appserviceUrl)) > before,
    );
  });
});

/** A counsellor's control room, driven through Synapse's client API as a plain client would. */
interface ControlRoom {
  roomId: string;
  /** Sends a text message with `body`; returns its event id. */
  send(body: string): Promise<string>;
  /** Resolves with the body of Connecta's answer to the message `eventId`. */
  answerTo(eventId: string): Promise<string>;
}

async function controlRoom(counsellor: TestUser): Promise<ControlRoom> {
  const res = await callApi(
    stack.appserviceUrl,
    "POST",
    "/api/v1/control-room",
    await openIdToken(stack, counsellor),
    {},
  );
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const roomId = String(res.body.room_id);
  const room = `/_matrix/client/v3/rooms/${enc(roomId)}`;
  await eventually(
    "joining the control room",
    async () =>
      (await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(roomId)}`, counsellor, {})).status === 200,
  );
  return {
    roomId,
    async send(body) {
      const sent = await matrixRequest(stack, "PUT", `${room}/send/m.room.message/${randomUUID()}`, counsellor, {
        msgtype: "m.text",
        body,
      });
      expect(sent.status, JSON.stringify(sent.body)).toBe(200);
      return String(sent.body.event_id);
    },
    answerTo(eventId) {
      return eventually(`the answer to ${eventId}`, async () => {
        const messages = await matrixRequest(stack, "GET", `${room}/messages?dir=b&limit=50`, counsellor);
        const chunk = (messages.body.chunk ?? []) as { content: Record<string, unknown> }[];
        const answer = chunk.find(
          (e) =>
            (e.content["m.relates_to"] as { "m.in_reply_to"?: { event_id?: string } } | undefined)?.["m.in_reply_to"]
              ?.event_id === eventId,
        );
        return answer ? String(answer.content.body) : null;
      });
    },
  };
}

/** An enquiry of `agencyId` whose room exists and whose seeker has joined but not written yet. */
async function quietEnquiry(agencyId: number, topicId: string) {
  const seeker = await registerUser(stack, "seeker");
  const enquiry = await openTestEnquiry(db, seeker, agencyId, topicId);
  const joined = await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(enquiry.roomId)}`, seeker, {});
  expect(joined.status).toBe(200);
  return { seeker, ...enquiry };
}

describe("hostile input in transactions", () => {
  it("keeps handling events after a counsellor writes U+0000 in their control room", async () => {
    const topic = await createTopic(db);
    const agency = await createAgency(db, [topic]);
    const counsellor = await createCounsellor(stack, db, agency);
    const room = await controlRoom(counsellor);
    const { seeker, enquiryId, roomId } = await quietEnquiry(agency, topic);

    // Synapse takes the message and pushes it to us in a transaction like any other.
    const nul = await room.send("\u0000");

    // The stream goes on: the seeker's first message puts the enquiry into the queue within seconds.
    const sent = await matrixRequest(
      stack,
      "PUT",
      `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.encrypted/${randomUUID()}`,
      seeker,
      { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "AwgAEn" },
    );
    expect(sent.status).toBe(200);
    await eventually("the enquiry waits", async () => (await enquiryState(db, enquiryId))?.state === "waiting", 15_000);
    // Commands are still answered, the U+0000 one too (as a word nobody knows, never stored raw).
    expect(await room.answerTo(await room.send("queue"))).toMatch(new RegExp(`^#${enquiryId} · `, "m"));
    expect(await room.answerTo(nul)).toBe(
      "„\ufffd“ kenne ich leider nicht. Mit help sehen Sie, was Sie hier schreiben können.",
    );
  });

  it("skips events it cannot handle, records them without their content and handles the rest", async () => {
    const topic = await createTopic(db);
    const agency = await createAgency(db, [topic]);
    const counsellor = await createCounsellor(stack, db, agency);
    const room = await controlRoom(counsellor);
    const { seeker, enquiryId, roomId } = await quietEnquiry(agency, topic);
    const secret = `secret-${randomBytes(6).toString("hex")}`;
    const id = (label: string) => `$${label}-${randomBytes(6).toString("hex")}`;
    const message = (fields: Partial<MatrixEvent> & Record<string, unknown>) => ({
      type: "m.room.message",
      event_id: id("m"),
      room_id: roomId,
      sender: seeker.userId,
      origin_server_ts: Date.now(),
      content: { msgtype: "m.text", body: secret },
      ...fields,
    });
    const command = (body: string) =>
      message({ room_id: room.roomId, sender: counsellor.userId, content: { msgtype: "m.text", body } });
    const nulCommand = command("\u0000");
    const surrogateCommand = command(`\ud800 ${secret}`);
    // Refused at the edge: ids with U+0000, lone surrogates, line breaks, or no string at all.
    const refused = [
      message({ event_id: `$nul\u0000${secret}` }),
      message({ room_id: `!room\u0000:${stack.serverName}` }),
      message({ sender: `@x\ud800:${stack.serverName}` }),
      message({ type: "m.room.message\u0000" }),
      message({ event_id: 12 as unknown as string }),
      message({
        type: "m.room.member",
        sender: counsellor.userId,
        state_key: `@x\u0000:${stack.serverName}`,
        content: { membership: "invite" },
      }),
      // No event at all: failing the transaction for it would stop every one after it.
      { event_id: id("typeless"), room_id: roomId, content: {} },
      7,
    ];
    // Odd, but nothing in them reaches SQL: handled (and ignored).
    const odd = [
      message({ type: "m.room.member", state_key: seeker.userId, content: { membership: 5 } }),
      message({ type: "m.room.member", state_key: seeker.userId, content: ["leave"] }),
      message({ room_id: room.roomId, sender: counsellor.userId, content: 42 }),
      message({ room_id: room.roomId, sender: counsellor.userId, content: null, origin_server_ts: 1e300 }),
      message({ sender: counsellor.userId, origin_server_ts: -1, content: { body: "x".repeat(60 * 1024) } }),
    ];
    // Last: the seeker's first message, which must still put the enquiry into the queue.
    const first = message({
      type: "m.room.encrypted",
      origin_server_ts: Number.MAX_VALUE,
      content: { algorithm: "x" },
    });
    const events = [nulCommand, surrogateCommand, ...refused, ...odd, first];
    const skippedBefore = await skippedEvents(stack.appserviceUrl);
    const txnId = `hostile-${randomBytes(6).toString("hex")}`;

    const res = await putTransaction(stack.appserviceUrl, txnId, { events });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toEqual({});

    expect((await enquiryState(db, enquiryId))?.state).toBe("waiting");
    const { rows } = await db.query<{ event_id: string | null; reason: string; row: string }>(
      "SELECT event_id, reason, row_to_json(s)::text AS row FROM skipped_events s WHERE txn_id = $1 ORDER BY id",
      [txnId],
    );
    expect(rows.map((r) => r.reason)).toEqual([
      "event_id must not contain control characters",
      "room_id must not contain control characters",
      "sender must be valid Unicode (it holds a lone surrogate)",
      "type must not contain control characters",
      "event_id must be a string",
      "state_key must not contain control characters",
      "not an event: no type",
      "not an event: no type",
    ]);
    expect(rows[0]?.event_id).toBe(`$nul\ufffd${secret}`.slice(0, 255));
    // Never the content: the secret appears only where the test put it into an event id.
    expect(rows.slice(1).every((r) => !r.row.includes(secret))).toBe(true);
    expect(await skippedEvents(stack.appserviceUrl)).toBe(skippedBefore + refused.length);

    // Both commands were cleaned, recorded and answered.
    for (const event of [nulCommand, surrogateCommand]) {
      expect(await room.answerTo(event.event_id)).toMatch(/^„\ufffd“ kenne ich leider nicht/);
    }
    const commands = await db.query<{ command: string }>(
      "SELECT command::text FROM control_commands WHERE event_id = ANY($1)",
      [[nulCommand.event_id, surrogateCommand.event_id]],
    );
    expect(commands.rows.map((r) => r.command)).toEqual([
      `{"kind": "unknown", "word": "\ufffd"}`,
      `{"kind": "unknown", "word": "\ufffd"}`,
    ]);

    // A full transaction of 100 events of 60 KiB each goes through as well.
    const big = Array.from({ length: 100 }, () => message({ content: { body: "y".repeat(60 * 1024) } }));
    const processedBefore = await processedEvents(stack.appserviceUrl);
    expect((await putTransaction(stack.appserviceUrl, `${txnId}-big`, { events: big })).status).toBe(200);
    expect(await processedEvents(stack.appserviceUrl)).toBeGreaterThanOrEqual(processedBefore + 100);
  });

  it("answers transaction ids with control characters, broken encoding or over 255 characters with 400", async () => {
    const cases = ["\u0000", "a\u0000b", "\u0001", "line\nbreak", "tab\there", "\u007f", "\u0085", "x".repeat(256)];
    for (const txnId of cases) {
      const res = await putTransaction(stack.appserviceUrl, txnId, { events: [] });
      expect([res.status, ((await res.json()) as { errcode: string }).errcode], JSON.stringify(txnId)).toEqual([
        400,
        "M_INVALID_PARAM",
      ]);
    }
    // A lone surrogate cannot be percent-encoded as UTF-8; its CESU bytes are no UTF-8.
    for (const raw of ["%ED%A0%80", "%FF", "%zz"]) {
      const res = await fetch(`${stack.appserviceUrl}/_matrix/app/v1/transactions/${raw}`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${hsToken}` },
        body: "{}",
      });
      expect(res.status, raw).toBe(400);
    }
    const longest = await putTransaction(stack.appserviceUrl, `ok-${"x".repeat(252)}`, { events: [] });
    expect(longest.status).toBe(200);
  });
});

describe("processTransaction", () => {
  let pool: pg.Pool;
  beforeAll(() => {
    const config = loadConfig(appserviceEnv(stack, 1));
    pool = createPool(config.databaseUrl, config.databasePassword);
  });
  afterAll(async () => {
    await pool?.end();
  });

  /** A handler that counts each event in a rate-limit bucket of its own, then does what the event says. */
  const bucket = (event: MatrixEvent) => `test-txn:${String(event.event_id)}`;
  const handle = async (event: MatrixEvent, client: pg.PoolClient) => {
    await client.query("INSERT INTO rate_limit_counters (bucket, window_start, hits) VALUES ($1, now(), 1)", [
      bucket(event),
    ]);
    const action = (event.content as { action?: string }).action;
    if (action === "nul") await client.query("SELECT $1::text", ["a\u0000b"]);
    if (action === "throw") throw new TypeError("handler failed on purpose");
    if (action === "kill") await client.query("SELECT pg_terminate_backend(pg_backend_pid())");
  };
  /** How many of `events` were counted, in order (one query at a time on the shared client). */
  const counted = async (events: MatrixEvent[]) => {
    const counts: (number | null)[] = [];
    for (const e of events) {
      counts.push((await db.query("SELECT 1 FROM rate_limit_counters WHERE bucket = $1", [bucket(e)])).rowCount);
    }
    return counts;
  };
  const event = (action: string): MatrixEvent => ({
    type: "m.room.message",
    event_id: `$${action}-${randomBytes(6).toString("hex")}`,
    room_id: "!r:localhost",
    content: { action },
  });

  it("rolls back and records an event whose handler fails, and commits the others", async () => {
    const events = [event("ok"), event("nul"), event("throw"), event("ok")];
    const txnId = `savepoints-${randomBytes(6).toString("hex")}`;
    const result = await processTransaction(pool, txnId, events, [], handle);
    expect(result.outcome).toBe("processed");
    expect(result.handled).toEqual({ timeline: 2, ephemeral: 0 });
    expect(result.skipped.map((s) => s.reason)).toEqual([
      expect.stringMatching(/^22021 error: invalid byte sequence for encoding/),
      "TypeError: handler failed on purpose",
    ]);
    expect(await counted(events)).toEqual([1, 0, 0, 1]);
    const { rows } = await db.query("SELECT event_id FROM skipped_events WHERE txn_id = $1 ORDER BY id", [txnId]);
    expect(rows).toEqual([{ event_id: events[1]?.event_id }, { event_id: events[2]?.event_id }]);
  });

  it("fails the whole transaction when the database connection is lost, so Synapse sends it again", async () => {
    const events = [event("ok"), event("kill"), event("ok")];
    const txnId = `lost-${randomBytes(6).toString("hex")}`;
    await expect(processTransaction(pool, txnId, events, [], handle)).rejects.toThrow();
    expect(await counted(events)).toEqual([0, 0, 0]);
    const recorded = await db.query("SELECT 1 FROM appservice_transactions WHERE txn_id = $1", [txnId]);
    expect(recorded.rowCount).toBe(0);
    // Sent again to a working database, it is processed.
    const again = [event("ok")];
    expect((await processTransaction(pool, txnId, again, [], handle)).outcome).toBe("processed");
  });
});
