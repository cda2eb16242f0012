/**
 * Counsellors drive the workflow from their control room with a plain Matrix client (as Element
 * would): an unencrypted room with Connecta where they write queue, take, handover, close, help.
 */
import { randomBytes } from "node:crypto";
import * as sdk from "matrix-js-sdk";
import type { Logger } from "matrix-js-sdk/lib/logger.js";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, matrixRequest, registerUser, stackSecret, type TestUser } from "../support/matrix.ts";
import {
  callApi,
  connectaDb,
  createAgency,
  createCounsellor,
  createTopic,
  openIdToken,
  openTestEnquiry,
} from "../support/workflow.ts";

const stack = inject("stack");
const enc = encodeURIComponent;
let db: pg.Client;
const clients: sdk.MatrixClient[] = [];

beforeAll(async () => {
  db = await connectaDb(stack);
});
afterAll(async () => {
  for (const client of clients) client.stopClient();
  await db?.end();
});

const quietLogger: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (...msg: unknown[]) => console.error(...msg),
  getChild: () => quietLogger,
};

/** A counsellor in their control room, through a syncing matrix-js-sdk client without crypto. */
interface ControlRoom {
  client: sdk.MatrixClient;
  roomId: string;
  /** Writes `text` and resolves with the body of Connecta's answer to it. */
  say(text: string): Promise<string>;
}

function repliedTo(event: sdk.MatrixEvent): string | undefined {
  const relates = event.getContent()["m.relates_to"] as { "m.in_reply_to"?: { event_id?: string } } | undefined;
  return relates?.["m.in_reply_to"]?.event_id;
}

/** Asks for the counsellor's control room, accepts the invitation and joins it. */
async function openControlRoom(user: TestUser): Promise<ControlRoom> {
  const res = await callApi(stack.appserviceUrl, "POST", "/api/v1/control-room", await openIdToken(stack, user), {});
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const roomId = String(res.body.room_id);

  const client = sdk.createClient({
    baseUrl: stack.synapseUrl,
    userId: user.userId,
    deviceId: user.deviceId,
    accessToken: user.accessToken,
    logger: quietLogger,
  });
  clients.push(client);
  const answers = new Map<string, string>();
  client.on(sdk.RoomEvent.Timeline, (event, room) => {
    const inReplyTo = repliedTo(event);
    if (room?.roomId === roomId && event.getSender() !== user.userId && inReplyTo) {
      answers.set(inReplyTo, String(event.getContent().body));
    }
  });
  const prepared = new Promise<void>((resolve) => {
    client.on(sdk.ClientEvent.Sync, (state) => {
      if (state === sdk.SyncState.Prepared || state === sdk.SyncState.Syncing) resolve();
    });
  });
  await client.startClient({ initialSyncLimit: 10 });
  await prepared;
  await eventually("the invitation", () => client.getRoom(roomId)?.getMyMembership() === "invite");
  await client.joinRoom(roomId);
  await eventually("joined", () => client.getRoom(roomId)?.getMyMembership() === "join");

  return {
    client,
    roomId,
    async say(text) {
      const { event_id: eventId } = await client.sendTextMessage(roomId, text);
      return eventually(`the answer to ${JSON.stringify(text)}`, () => answers.get(eventId), 60_000);
    },
  };
}

/** The seeker joins their enquiry room and writes, so the enquiry waits in the queue. */
async function waitingEnquiry(agencyId: number, topicId: string): Promise<number> {
  const seeker = await registerUser(stack, "seeker");
  const { enquiryId, roomId } = await openTestEnquiry(db, seeker, agencyId, topicId);
  expect((await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(roomId)}`, seeker, {})).status).toBe(200);
  const sent = await matrixRequest(
    stack,
    "PUT",
    `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.encrypted/${Date.now()}`,
    seeker,
    { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "AwgAEn", sender_key: "x", device_id: "y", session_id: "z" },
  );
  expect(sent.status).toBe(200);
  await eventually("the enquiry waiting", async () => (await enquiry(enquiryId)).state === "waiting");
  return enquiryId;
}

async function enquiry(id: number) {
  const { rows } = await db.query<{ state: string; counsellor_id: string | null }>(
    "SELECT state, counsellor_id FROM enquiries WHERE id = $1",
    [id],
  );
  return rows[0] ?? { state: "missing", counsellor_id: null };
}

/** A line of the queue answer naming enquiry `id`. */
const queueLine = (id: number) => new RegExp(`^#${id} · `, "m");

describe("the control room", () => {
  it("is an unencrypted room only counsellors get, the same on every call", async () => {
    const topic = await createTopic(db);
    const agency = await createAgency(db, [topic]);
    const counsellor = await createCounsellor(stack, db, agency);
    const room = await openControlRoom(counsellor);

    const encryption = await matrixRequest(
      stack,
      "GET",
      `/_matrix/client/v3/rooms/${enc(room.roomId)}/state/m.room.encryption/`,
      counsellor,
    );
    expect(encryption.status).toBe(404);
    expect(room.client.getRoom(room.roomId)?.hasEncryptionStateEvent()).toBe(false);
    // Connecta's welcome is already there, in German.
    const messages = await matrixRequest(
      stack,
      "GET",
      `/_matrix/client/v3/rooms/${enc(room.roomId)}/messages?dir=b&limit=20`,
      counsellor,
    );
    const bodies = (messages.body.chunk as { content: { body?: string } }[]).map((e) => e.content.body ?? "");
    expect(bodies.some((b) => b.startsWith("Willkommen in Ihrem Steuerungsraum"))).toBe(true);

    // The counsellor may write, but not bring anyone else in.
    const outsider = await registerUser(stack, "user");
    const invite = await matrixRequest(
      stack,
      "POST",
      `/_matrix/client/v3/rooms/${enc(room.roomId)}/invite`,
      counsellor,
      {
        user_id: outsider.userId,
      },
    );
    expect(invite.status).toBe(403);

    const again = await callApi(
      stack.appserviceUrl,
      "POST",
      "/api/v1/control-room",
      await openIdToken(stack, counsellor),
      {},
    );
    expect(again.body).toEqual({ room_id: room.roomId });

    // A counsellor who left their control room gets it back on the next call.
    await room.client.leave(room.roomId);
    room.client.stopClient();
    const back = await openControlRoom(counsellor);
    expect(await back.say("help")).toMatch(/^Das können Sie hier schreiben:/);

    const seeker = await registerUser(stack, "seeker");
    const refused = await callApi(
      stack.appserviceUrl,
      "POST",
      "/api/v1/control-room",
      await openIdToken(stack, seeker),
      {},
    );
    expect(refused.status).toBe(403);
    expect(refused.body.errcode).toBe("M_FORBIDDEN");
  });

  it("lets counsellors list, take, hand over and close enquiries with kind answers", async () => {
    const topic = await createTopic(db, `Sucht ${randomBytes(2).toString("hex")}`);
    const [agency, otherAgency] = [await createAgency(db, [topic]), await createAgency(db, [topic])];
    const [first, second, colleague] = [
      await createCounsellor(stack, db, agency),
      await createCounsellor(stack, db, agency),
      await createCounsellor(stack, db, agency),
    ];
    const enquiryId = await waitingEnquiry(agency, topic);
    const elsewhere = await waitingEnquiry(otherAgency, topic);
    const topicName = (await db.query<{ name_de: string }>("SELECT name_de FROM topics WHERE id = $1", [topic])).rows[0]
      ?.name_de;

    const room = await openControlRoom(first);
    const help = await room.say("help");
    for (const command of ["queue", "take", "handover", "close", "help"]) expect(help).toContain(command);

    const queue = await room.say("queue");
    expect(queue).toMatch(queueLine(enquiryId));
    expect(queue).toContain(`#${enquiryId} · ${topicName} · wartet seit `);
    expect(queue).not.toMatch(queueLine(elsewhere));

    expect(await room.say(`take ${enquiryId}`)).toBe(
      `Anfrage #${enquiryId} gehört jetzt zu Ihnen. Sie finden sie in Ihrer Raumliste.`,
    );
    expect(await enquiry(enquiryId)).toEqual({ state: "active", counsellor_id: first.userId });
    expect(await room.say("queue")).not.toMatch(queueLine(enquiryId));

    const secondRoom = await openControlRoom(second);
    expect(await secondRoom.say(`take #${enquiryId}`)).toMatch(
      new RegExp(`^Anfrage #${enquiryId} hat schon eine Kollegin oder ein Kollege übernommen\\.`),
    );
    // Another agency's enquiry does not exist for them.
    expect(await secondRoom.say(`take ${elsewhere}`)).toMatch(/^Ich finde keine Anfrage/);
    // Only the counsellor of an enquiry (or a team lead) closes it.
    expect(await secondRoom.say(`close ${enquiryId}`)).toMatch(/kann nur, wer sie gerade berät/);
    expect(await enquiry(enquiryId)).toEqual({ state: "active", counsellor_id: first.userId });

    expect(
      await room.say(`handover ${enquiryId} @nobody-${randomBytes(2).toString("hex")}:${stack.serverName}`),
    ).toMatch(/berät nicht in der Beratungsstelle dieser Anfrage/);
    expect(await room.say(`handover ${enquiryId} ${colleague.userId}`)).toBe(
      `Anfrage #${enquiryId} ist an ${colleague.userId} übergeben. Danke!`,
    );
    expect(await enquiry(enquiryId)).toEqual({ state: "active", counsellor_id: colleague.userId });

    const colleagueRoom = await openControlRoom(colleague);
    expect(await colleagueRoom.say(`close ${enquiryId}`)).toMatch(
      new RegExp(`^Anfrage #${enquiryId} ist abgeschlossen\\.`),
    );
    expect((await enquiry(enquiryId)).state).toBe("closed");
    expect(await colleagueRoom.say(`take ${enquiryId}`)).toMatch(/wartet nicht \(mehr\)/);
  });

  it("answers unknown commands and malformed arguments kindly and keeps going", async () => {
    const topic = await createTopic(db);
    const agency = await createAgency(db, [topic]);
    const counsellor = await createCounsellor(stack, db, agency);
    const room = await openControlRoom(counsellor);

    expect(await room.say("tkae 12")).toBe(
      "„tkae“ kenne ich leider nicht. Mit help sehen Sie, was Sie hier schreiben können.",
    );
    expect(await room.say("take abc")).toBe(
      "Dafür brauche ich etwas mehr Angaben. Schreiben Sie zum Beispiel: take 12",
    );
    expect(await room.say("handover 12")).toMatch(/Schreiben Sie zum Beispiel: handover 12 @/);
    expect(await room.say("close")).toMatch(/close 12$/);
    expect(await room.say("take 999999999")).toMatch(/^Ich finde keine Anfrage #999999999/);
    expect(await room.say(`handover 999999999 ${counsellor.userId}`)).toMatch(/^Ich finde keine Anfrage/);
    expect(await room.say("queue")).toBe("Im Moment wartet keine Anfrage.");
  });

  it("answers English counsellors in English", async () => {
    const topic = await createTopic(db, "Addiction");
    const agency = await createAgency(db, [topic]);
    const counsellor = await createCounsellor(stack, db, agency);
    await db.query("UPDATE counsellors SET language = 'en' WHERE user_id = $1", [counsellor.userId]);
    const enquiryId = await waitingEnquiry(agency, topic);
    const room = await openControlRoom(counsellor);

    expect(await room.say("help")).toMatch(/^Here is what you can write:/);
    expect(await room.say("queue")).toMatch(new RegExp(`^#${enquiryId} · Addiction · waiting for `, "m"));
    expect(await room.say(`take ${enquiryId}`)).toBe(
      `Enquiry #${enquiryId} is yours now. You will find it in your room list.`,
    );
    expect(await room.say("frobnicate")).toBe(
      `Sorry, I don't know "frobnicate". Write help to see what you can write here.`,
    );
  });

  it("answers a command once when Synapse sends it twice, also in a re-sent transaction", async () => {
    const topic = await createTopic(db);
    const agency = await createAgency(db, [topic]);
    const counsellor = await createCounsellor(stack, db, agency);
    const room = await openControlRoom(counsellor);
    const command = {
      type: "m.room.message",
      event_id: `$control-${randomBytes(8).toString("hex")}`,
      room_id: room.roomId,
      sender: counsellor.userId,
      origin_server_ts: Date.now(),
      content: { msgtype: "m.text", body: "help" },
    };
    const put = (txnId: string) =>
      fetch(`${stack.appserviceUrl}/_matrix/app/v1/transactions/${txnId}`, {
        method: "PUT",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${stackSecret(stack, "hsToken")}`,
        },
        body: JSON.stringify({ events: [command, command] }),
      });
    const txnId = `control-dup-${randomBytes(4).toString("hex")}`;
    expect((await put(txnId)).status).toBe(200);
    expect((await put(txnId)).status).toBe(200);
    expect((await put(`${txnId}-again`)).status).toBe(200);

    const answered = async () =>
      (
        await db.query<{ answered_at: Date | null }>("SELECT answered_at FROM control_commands WHERE event_id = $1", [
          command.event_id,
        ])
      ).rows;
    await eventually("the command answered", async () => (await answered())[0]?.answered_at);
    expect(await answered()).toHaveLength(1);
    // Give a second answer, if there were one, time to arrive.
    expect(await room.say("queue")).toBe("Im Moment wartet keine Anfrage.");
    const messages = await matrixRequest(
      stack,
      "GET",
      `/_matrix/client/v3/rooms/${enc(room.roomId)}/messages?dir=b&limit=50`,
      counsellor,
    );
    const answers = (messages.body.chunk as { content: Record<string, unknown> }[]).filter(
      (e) =>
        (e.content["m.relates_to"] as { "m.in_reply_to"?: { event_id?: string } } | undefined)?.["m.in_reply_to"]
          ?.event_id === command.event_id,
    );
    expect(answers).toHaveLength(1);
    expect(String(answers[0]?.content.body)).toMatch(/^Das können Sie hier schreiben:/);
  });
});
