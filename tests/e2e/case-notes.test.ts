/**
 * Case notes (issue 15, acceptance 2) against the real stack: the enquiry's notes room, which the
 * workflow makes at the claim, is read by the assigned counsellor and, after a handover, by the
 * colleague (with the key history the leaving counsellor's device shares, MSC4268); the seeker
 * cannot join it, cannot read its events, and their client, given the ciphertext, cannot decrypt
 * it; no note's text is anywhere on the server.
 */
import { randomBytes } from "node:crypto";
import type * as sdk from "matrix-js-sdk";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { serverSideHits } from "../support/canary.ts";
import {
  bootstrapCrossSigning,
  decryptRoomHistory,
  inviteSharingHistory,
  joinInvitedRoom,
} from "../support/crypto-identity.ts";
import { cryptoClient, eventually, matrixRequest, roomMembers, stackSecret, type TestUser } from "../support/matrix.ts";
import { callApi, connectaDb, openIdToken, workflowScene } from "../support/workflow.ts";

const stack = inject("stack");
const enc = encodeURIComponent;
const clients: sdk.MatrixClient[] = [];
let db: pg.Client;

beforeAll(async () => {
  db = await connectaDb(stack);
});
afterAll(async () => {
  clients.forEach((c) => c.stopClient());
  await db?.end();
});

async function start(user: TestUser): Promise<sdk.MatrixClient> {
  const client = await cryptoClient(stack, user);
  clients.push(client);
  return client;
}

/** Sends each of `texts` (made unique) as a note; returns what was sent. */
async function note(client: sdk.MatrixClient, roomId: string, ...texts: string[]): Promise<string[]> {
  const sent: string[] = [];
  for (const text of texts) {
    const body = `${text} notiz-${randomBytes(8).toString("hex")}`;
    await client.sendTextMessage(roomId, body);
    sent.push(body);
  }
  return sent;
}

/** The caller's entry of an enquiry in `GET /api/v1/enquiries`, if listed. */
async function listed(user: TestUser, enquiryId: number): Promise<Record<string, unknown> | undefined> {
  const res = await callApi(stack.appserviceUrl, "GET", "/api/v1/enquiries", await openIdToken(stack, user));
  expect(res.status).toBe(200);
  return (res.body.enquiries as Record<string, unknown>[]).find((e) => e.enquiry_id === enquiryId);
}

describe("case notes", () => {
  it("are read by the assigned counsellor and after the handover by the colleague, never by the seeker", async () => {
    const { enquiryId, roomId, seeker, counsellors } = await workflowScene(stack, db, { counsellors: 2 });
    const [a, b] = counsellors as [TestUser, TestUser];
    const bot = { accessToken: stackSecret(stack, "asToken") };

    const claimed = await callApi(
      stack.appserviceUrl,
      "POST",
      `/api/v1/enquiries/${enquiryId}/claim`,
      await openIdToken(stack, a),
      {},
    );
    expect(claimed.status).toBe(200);
    const notesRoom = String(claimed.body.notes_room_id);
    expect(notesRoom).toMatch(/^!/);
    expect(notesRoom).not.toBe(roomId);
    // Only the assigned counsellor is told of it.
    expect((await listed(a, enquiryId))?.notes_room_id).toBe(notesRoom);
    expect((await listed(seeker, enquiryId))?.notes_room_id).toBeNull();
    expect(await listed(b, enquiryId)).toBeUndefined();
    // In Element it is named for its enquiry, and says nothing of the notes.
    const name = await matrixRequest(
      stack,
      "GET",
      `/_matrix/client/v3/rooms/${enc(notesRoom)}/state/m.room.name/`,
      bot,
    );
    expect(name.body).toEqual({ name: `Notizen zu Anfrage #${enquiryId}` });
    expect(await roomMembers(stack, notesRoom, bot)).toEqual([stack.botUserId, a.userId].sort());

    const [ca, cb, cs] = await Promise.all([start(a), start(b), start(seeker)]);
    // Both counsellors' devices are cross-signed (as the web client's are after the keys page):
    // A's to share the notes' history at the handover, B's to receive it.
    await Promise.all([bootstrapCrossSigning(ca, a), bootstrapCrossSigning(cb, b)]);
    expect(await joinInvitedRoom(ca, notesRoom)).toBe(stack.botUserId);
    const byA = await note(ca, notesRoom, "A: Erstgespräch, Thema Schule", "A: nächster Termin Dienstag");

    // The seeker cannot join, nor read what the server holds of the room.
    const join = await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(notesRoom)}`, seeker, {});
    expect(join.status).toBe(403);
    expect(join.body).toEqual({ errcode: "M_FORBIDDEN", error: "You are not invited to this room." });
    const read = await matrixRequest(stack, "GET", `/_matrix/client/v3/rooms/${enc(notesRoom)}/messages?dir=b`, seeker);
    expect(read.status).toBe(403);
    // An invite of the seeker (by the counsellor, who may invite for a handover) is taken back.
    expect(
      (
        await matrixRequest(stack, "POST", `/_matrix/client/v3/rooms/${enc(notesRoom)}/invite`, a, {
          user_id: seeker.userId,
        })
      ).status,
    ).toBe(200);
    await eventually("the seeker's invite to the notes taken back", async () => {
      const members = await roomMembers(stack, notesRoom, bot);
      return !members.includes(seeker.userId);
    });
    expect((await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(notesRoom)}`, seeker, {})).body).toEqual({
      errcode: "M_FORBIDDEN",
      error: "You are not invited to this room.",
    });

    // Handover: A's device invites B into the notes, sharing their history, then the API.
    await inviteSharingHistory(ca, notesRoom, b.userId);
    const handed = await callApi(
      stack.appserviceUrl,
      "POST",
      `/api/v1/enquiries/${enquiryId}/handover`,
      await openIdToken(stack, a),
      { counsellor_id: b.userId },
    );
    expect(handed.status).toBe(200);
    expect(handed.body.notes_room_id).toBeNull();
    expect((await listed(b, enquiryId))?.notes_room_id).toBe(notesRoom);
    expect(await joinInvitedRoom(cb, notesRoom)).toBe(a.userId);
    expect(await roomMembers(stack, notesRoom, bot)).toEqual([stack.botUserId, b.userId].sort());
    const byB = await note(cb, notesRoom, "B: übernommen, melde mich");

    // B reads A's notes and their own.
    const all = [...byA, ...byB];
    const forB = await eventually(
      "B decrypts every note",
      async () => {
        const history = await decryptRoomHistory(stack, b, notesRoom, cb);
        return all.every((n) => history.some((h) => h.body === n)) ? history : null;
      },
      30_000,
    );
    expect(forB.map((h) => h.body)).toEqual(all);

    // The seeker's client, given every note's ciphertext, holds no key for any of them (the Rust
    // crypto names a missing key of a room it never joined "historical").
    const forSeeker = await decryptRoomHistory(stack, b, notesRoom, cs);
    expect(forSeeker).toHaveLength(all.length);
    for (const h of forSeeker) {
      expect(h.body).toBeNull();
      expect(["MEGOLM_UNKNOWN_INBOUND_SESSION_ID", "HISTORICAL_MESSAGE_USER_NOT_JOINED"]).toContain(h.failure);
    }
    // Nor can the seeker join now.
    expect((await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(notesRoom)}`, seeker, {})).status).toBe(
      403,
    );

    // No note's text on the server: databases, media store, logs.
    expect(await serverSideHits(stack, all)).toEqual([]);
  });
});
