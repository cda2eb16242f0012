/**
 * The whole counselling journey through the real stack, with Rust-crypto clients for everyone:
 * intake → enquiry in the queue of the matching agency only → the agency's counsellors decrypt
 * the first enquiry → counsellor A takes it → A and the seeker write → handover to B with the
 * room-key history (MSC4268) → B reads everything, A nothing written after the handover →
 * close → archived. No plaintext anywhere on the server side.
 */
import { randomBytes } from "node:crypto";
import type * as sdk from "matrix-js-sdk";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { freePort, stopService, type Service } from "../../ops/stack/processes.ts";
import { startAppservice } from "../../ops/stack/stack.ts";
import { serverSideHits } from "../support/canary.ts";
import {
  bootstrapCrossSigning,
  decryptRoomHistory,
  inviteSharingHistory,
  joinInvitedRoom,
  toDeviceBarrier,
} from "../support/crypto-identity.ts";
import { cryptoClient, eventually, matrixRequest, type TestUser, roomMembers } from "../support/matrix.ts";
import { intakeSeeker } from "../support/seeker.ts";
import { callApi, connectaDb, createAgency, createCounsellor, createTopic, openIdToken } from "../support/workflow.ts";

const stack = inject("stack");
const enc = encodeURIComponent;
let db: pg.Client;
const clients: sdk.MatrixClient[] = [];
const services: Service[] = [];

beforeAll(async () => {
  db = await connectaDb(stack);
});
afterAll(async () => {
  clients.forEach((c) => c.stopClient());
  await Promise.all(services.map((s) => stopService(s)));
  await db?.end();
});

async function client(user: TestUser): Promise<sdk.MatrixClient> {
  const c = await cryptoClient(stack, user);
  clients.push(c);
  return c;
}

const canary = (label: string) => `${label}-${randomBytes(12).toString("hex")}`;

/** Resolves when `reader` has decrypted a message with body `text` in `roomId`. */
function decrypts(reader: sdk.MatrixClient, roomId: string, text: string) {
  return eventually(
    `${reader.getUserId()} decrypts ${text.split("-")[0]}`,
    async () => {
      const events = reader.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [];
      for (const event of events.filter((e) => e.getWireType() === "m.room.encrypted")) {
        await reader.decryptEventIfNeeded(event);
        if (event.getContent().body === text) return true;
      }
      return false;
    },
    60_000,
  );
}

async function enquiryState(id: number): Promise<string | undefined> {
  return (await db.query<{ state: string }>("SELECT state FROM enquiries WHERE id = $1", [id])).rows[0]?.state;
}

async function queueIds(token: string): Promise<number[]> {
  const res = await callApi(stack.appserviceUrl, "GET", "/api/v1/queue", token);
  return (res.body.enquiries as { enquiry_id: number }[]).map((e) => e.enquiry_id);
}

describe("the counselling journey", () => {
  it("goes from intake to archive, end-to-end encrypted, with each agency seeing only its own", async () => {
    const topic = await createTopic(db, "Journey");
    const north = await createAgency(db, [topic], [["10000", "19999"]]);
    const south = await createAgency(db, [topic], [["20000", "29999"]]);
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => createCounsellor(stack, db, north)));
    const s1 = await createCounsellor(stack, db, south);
    if (!a || !b || !c) throw new Error("counsellors");
    // Counsellors are online (their devices exist) before the seeker writes.
    const [ca, cb, cc, cs1] = await Promise.all([a, b, c, s1].map(client));
    if (!ca || !cb || !cc || !cs1) throw new Error("clients");
    await Promise.all([bootstrapCrossSigning(ca, a), bootstrapCrossSigning(cb, b)]);
    const tokens = { a: await openIdToken(stack, a), b: await openIdToken(stack, b), s1: await openIdToken(stack, s1) };

    // --- Intake and first enquiry --------------------------------------------------------------
    const seeker = await intakeSeeker(stack, { topic, postcode: "10115", ageGroup: "27_49", language: "de" });
    const cseeker = await client(seeker);
    await joinInvitedRoom(cseeker, seeker.roomId);
    const first = canary("first-enquiry");
    const firstId = (await cseeker.sendTextMessage(seeker.roomId, first)).event_id;
    await eventually("the enquiry waits in the queue", async () =>
      (await queueIds(tokens.a)).includes(seeker.enquiryId),
    );
    expect(await queueIds(tokens.s1)).not.toContain(seeker.enquiryId);

    // The agency's counsellors read the first enquiry before anyone takes it.
    for (const cl of [ca, cb, cc]) await joinInvitedRoom(cl, seeker.roomId);
    await Promise.all([ca, cb, cc].map((cl) => decrypts(cl, seeker.roomId, first)));
    // The other agency's counsellor is not in the room and cannot get in.
    const sneak = await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(seeker.roomId)}`, s1, {});
    expect(sneak.status).toBe(403);

    // --- A takes it ----------------------------------------------------------------------------
    const claim = await callApi(
      stack.appserviceUrl,
      "POST",
      `/api/v1/enquiries/${seeker.enquiryId}/claim`,
      tokens.a,
      {},
    );
    expect(claim.status).toBe(200);
    await eventually(
      "B and C are removed",
      async () =>
        JSON.stringify(await roomMembers(stack, seeker.roomId, seeker)) ===
        JSON.stringify([stack.botUserId, a.userId, seeker.userId].sort()),
    );
    await eventually("the clients see B and C removed", () =>
      [cseeker, ca].every((cl) =>
        [b, c].every((x) => cl.getRoom(seeker.roomId)?.getMember(x.userId)?.membership === "leave"),
      ),
    );
    const fromSeeker = canary("seeker-to-a");
    const fromSeekerId = (await cseeker.sendTextMessage(seeker.roomId, fromSeeker)).event_id;
    await decrypts(ca, seeker.roomId, fromSeeker);
    const fromA = canary("a-to-seeker");
    const fromAId = (await ca.sendTextMessage(seeker.roomId, fromA)).event_id;
    await decrypts(cseeker, seeker.roomId, fromA);
    // C, removed at the claim, holds no key for what was written after it: once anything the
    // writers' devices might have sent C has arrived, C reads the first enquiry and nothing else.
    await toDeviceBarrier(stack, [seeker, a], cc);
    const cView = await decryptRoomHistory(stack, seeker, seeker.roomId, cc);
    expect(cView.map((e) => e.eventId)).toEqual([firstId, fromSeekerId, fromAId]);
    expect(cView.filter((e) => e.failure === null).map((e) => e.eventId)).toEqual([firstId]);

    // --- Handover to B, with the history ---------------------------------------------------------
    await inviteSharingHistory(ca, seeker.roomId, b.userId);
    expect(await joinInvitedRoom(cb, seeker.roomId)).toBe(a.userId);
    const handover = await callApi(
      stack.appserviceUrl,
      "POST",
      `/api/v1/enquiries/${seeker.enquiryId}/handover`,
      tokens.a,
      { counsellor_id: b.userId },
    );
    expect(handover.status).toBe(200);
    expect(handover.body.counsellor_id).toBe(b.userId);
    await eventually(
      "A is removed",
      async () =>
        JSON.stringify(await roomMembers(stack, seeker.roomId, seeker)) ===
        JSON.stringify([stack.botUserId, b.userId, seeker.userId].sort()),
    );
    for (const text of [first, fromSeeker, fromA]) await decrypts(cb, seeker.roomId, text);
    // Clients encrypt for the members they know of: wait until both have seen A leave.
    await eventually("the clients see A removed", () =>
      [cseeker, cb].every((cl) => cl.getRoom(seeker.roomId)?.getMember(a.userId)?.membership === "leave"),
    );

    const afterHandover = [canary("seeker-to-b"), canary("b-to-seeker")];
    const afterIds = [(await cseeker.sendTextMessage(seeker.roomId, afterHandover[0] ?? "")).event_id];
    await decrypts(cb, seeker.roomId, afterHandover[0] ?? "");
    afterIds.push((await cb.sendTextMessage(seeker.roomId, afterHandover[1] ?? "")).event_id);
    await decrypts(cseeker, seeker.roomId, afterHandover[1] ?? "");
    // A decrypts nothing written after the handover, also once anything sent to A has arrived.
    await toDeviceBarrier(stack, [seeker, b], ca);
    const aView = await decryptRoomHistory(stack, seeker, seeker.roomId, ca);
    expect(aView.map((e) => e.eventId)).toEqual([firstId, fromSeekerId, fromAId, ...afterIds]);
    expect(aView.filter((e) => e.failure === null).map((e) => e.eventId)).toEqual([firstId, fromSeekerId, fromAId]);

    // --- A second seeker in the south: the north never sees it --------------------------------------
    const other = await intakeSeeker(stack, { topic, postcode: "20095" });
    const cother = await client(other);
    await joinInvitedRoom(cother, other.roomId);
    await cother.sendTextMessage(other.roomId, canary("south-enquiry"));
    await eventually("the south's queue", async () => (await queueIds(tokens.s1)).includes(other.enquiryId));
    expect(await queueIds(tokens.a)).not.toContain(other.enquiryId);
    expect(await roomMembers(stack, other.roomId, other)).not.toContain(a.userId);

    // --- Close, then archive ------------------------------------------------------------------------
    const close = await callApi(
      stack.appserviceUrl,
      "POST",
      `/api/v1/enquiries/${seeker.enquiryId}/close`,
      tokens.b,
      {},
    );
    expect(close.status).toBe(200);
    expect(close.body.state).toBe("closed");
    await eventually("the room is read-only", async () => {
      const levels = await matrixRequest(
        stack,
        "GET",
        `/_matrix/client/v3/rooms/${enc(seeker.roomId)}/state/m.room.power_levels/`,
        seeker,
      );
      return (levels.body.events as Record<string, number> | undefined)?.["m.room.encrypted"] === 100;
    });
    const late = await matrixRequest(
      stack,
      "PUT",
      `/_matrix/client/v3/rooms/${enc(seeker.roomId)}/send/m.room.encrypted/closed-${Date.now()}`,
      seeker,
      { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "x" },
    );
    expect(late.status).toBe(403);
    // Once its reopening window (14 days by default) has passed, a new replica archives it at its
    // start. Only this enquiry is made older: a replica with a window of zero days would archive
    // every closed enquiry, also those other test files are about to reopen.
    await db.query("UPDATE enquiries SET closed_at = now() - interval '15 days' WHERE id = $1", [seeker.enquiryId]);
    const port = await freePort(stack.bindAddress);
    services.push(await startAppservice(stack, port, "appservice-archive"));
    await eventually("archived", async () => (await enquiryState(seeker.enquiryId)) === "archived");

    // --- Nothing readable on the server side -------------------------------------------------------
    expect(await serverSideHits(stack, [first, fromSeeker, fromA, ...afterHandover])).toEqual([]);
  }, 300_000);
});
