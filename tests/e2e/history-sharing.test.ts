/**
 * Spike: can a counsellor who joins an enquiry later read what was written before, through the
 * real Synapse, and is a counsellor who left shut out of what follows?
 *
 * 1. Handover: counsellor A invites counsellor B with an MSC4268 key bundle (matrix-js-sdk's
 *    `invite()`), B decrypts the whole earlier conversation, A leaves, and A holds no key for
 *    anything written afterwards.
 * 2. Agency enquiry: a counsellor who is only invited while the seeker writes receives the room
 *    keys directly (Rust crypto encrypts for invited members when history is "shared") and
 *    reads the first enquiry after joining later; a counsellor whose device did not exist yet
 *    when the seeker wrote cannot.
 */
import { randomBytes } from "node:crypto";
import * as sdk from "matrix-js-sdk";
import { afterAll, describe, expect, inject, it } from "vitest";
import { ENQUIRY_STATE_EVENT } from "../../appservice/src/domain.ts";
import {
  bootstrapCrossSigning,
  decryptRoomHistory,
  inviteSharingHistory,
  joinInvitedRoom,
} from "../support/crypto-identity.ts";
import { cryptoClient, eventually, matrixRequest, registerUser, type TestUser } from "../support/matrix.ts";

const stack = inject("stack");
const clients: sdk.MatrixClient[] = [];
afterAll(() => clients.forEach((c) => c.stopClient()));

async function start(user: TestUser): Promise<sdk.MatrixClient> {
  const client = await cryptoClient(stack, user);
  clients.push(client);
  return client;
}

/**
 * A private encrypted room whose history is "shared" from its first event on. Its creator plays
 * the bot: a server admin (only the workflow creates rooms), who marks it as an enquiry room (the
 * only rooms people may invite into, homeserver-config/connecta_rules.py).
 */
async function createEnquiryRoom(creator: sdk.MatrixClient, invite: string[]): Promise<string> {
  const { room_id: roomId } = await creator.createRoom({
    preset: sdk.Preset.PrivateChat,
    invite,
    initial_state: [
      { type: "m.room.history_visibility", state_key: "", content: { history_visibility: "shared" } },
      { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
      { type: ENQUIRY_STATE_EVENT, state_key: "", content: {} },
    ],
  });
  await eventually("room with encryption known to its creator", () =>
    creator.getCrypto()?.isEncryptionEnabledInRoom(roomId),
  );
  return roomId;
}

/** Sends `texts` one after another and returns them tagged with a random marker. */
async function say(client: sdk.MatrixClient, roomId: string, ...texts: string[]): Promise<string[]> {
  const sent: string[] = [];
  for (const text of texts) {
    const body = `${text} [${randomBytes(6).toString("hex")}]`;
    await client.sendTextMessage(roomId, body);
    sent.push(body);
  }
  return sent;
}

/** Waits until `client` decrypts every one of `bodies` in the room's server-side history. */
async function readsAll(reader: TestUser, client: sdk.MatrixClient, roomId: string, bodies: string[]) {
  return eventually(
    `${reader.userId} decrypts ${bodies.length} messages`,
    async () => {
      const history = await decryptRoomHistory(stack, reader, roomId, client);
      const read = new Set(history.map((h) => h.body));
      return bodies.every((b) => read.has(b)) ? history : null;
    },
    30_000,
  );
}

describe("room-key history sharing", () => {
  it("a counsellor handing over shares the earlier conversation, then cannot read what follows", async () => {
    const [seeker, counsellorA, counsellorB] = await Promise.all([
      registerUser(stack, "seeker", true),
      registerUser(stack, "counsellor-a"),
      registerUser(stack, "counsellor-b"),
    ]);
    const [s, a, b] = await Promise.all([start(seeker), start(counsellorA), start(counsellorB)]);
    // Both counsellors need a cross-signed device: A's to send the key bundle at all, B's to be
    // sent it. The seeker needs none.
    await Promise.all([bootstrapCrossSigning(a, counsellorA), bootstrapCrossSigning(b, counsellorB)]);

    const roomId = await createEnquiryRoom(s, [counsellorA.userId]);
    await joinInvitedRoom(a, roomId);
    await eventually(
      "A's join seen by the seeker",
      () => s.getRoom(roomId)?.getMember(counsellorA.userId)?.membership === "join",
    );

    const before = [
      ...(await say(s, roomId, "seeker: my first message")),
      ...(await say(a, roomId, "A: welcome, I am listening")),
      ...(await say(s, roomId, "seeker: second message", "seeker: third message")),
      ...(await say(a, roomId, "A: thank you for telling me")),
    ];
    await readsAll(counsellorA, a, roomId, before);

    // B has never been in the room: given A's copy of the ciphertext, B's client has no key for any of it.
    const beforeInvite = await decryptRoomHistory(stack, counsellorA, roomId, b);
    expect(beforeInvite).toHaveLength(before.length);
    expect(beforeInvite.filter((h) => h.body !== null)).toEqual([]);

    const inviteStarted = Date.now();
    await inviteSharingHistory(a, roomId, counsellorB.userId);
    const inviteMs = Date.now() - inviteStarted;

    const joinStarted = Date.now();
    const inviter = await joinInvitedRoom(b, roomId);
    expect(inviter).toBe(counsellorA.userId);
    const history = await readsAll(counsellorB, b, roomId, before);
    const joinToReadMs = Date.now() - joinStarted;
    console.info(
      `history sharing: invite with bundle ${inviteMs} ms, join to all ${before.length} decrypted ${joinToReadMs} ms`,
    );
    // Every earlier message, the seeker's and A's, in order and none undecryptable.
    expect(history.map((h) => h.body)).toEqual(before);
    expect(new Set(history.map((h) => h.sender))).toEqual(new Set([seeker.userId, counsellorA.userId]));

    // A leaves; the seeker and B go on.
    await a.leave(roomId);
    await eventually(
      "A's leave seen by the seeker",
      () => s.getRoom(roomId)?.getMember(counsellorA.userId)?.membership === "leave",
    );
    await eventually(
      "A's leave seen by B",
      () => b.getRoom(roomId)?.getMember(counsellorA.userId)?.membership === "leave",
    );
    const after = [
      ...(await say(s, roomId, "seeker: message after the handover")),
      ...(await say(b, roomId, "B: I have read everything, let us continue")),
      ...(await say(s, roomId, "seeker: that is good")),
    ];
    const full = await readsAll(counsellorB, b, roomId, [...before, ...after]);
    await readsAll(seeker, s, roomId, [...before, ...after]);

    // The server does not give A anything written after the leave.
    const afterIds = new Set(full.filter((h) => h.body !== null && after.includes(h.body)).map((h) => h.eventId));
    expect(afterIds.size).toBe(after.length);
    const forA = await matrixRequest(
      stack,
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=500`,
      counsellorA,
    );
    // 403 with our config (forget_rooms_on_leave), otherwise the history up to the leave.
    expect([200, 403]).toContain(forA.status);
    const seenByA = ((forA.body.chunk ?? []) as sdk.IEvent[]).map((e) => e.event_id);
    expect(seenByA.filter((id) => afterIds.has(id))).toEqual([]);

    // And even given the ciphertext (here B's copy), A's client holds no key for it: the later
    // messages use new Megolm sessions that were never sent to A.
    const asA = await decryptRoomHistory(stack, counsellorB, roomId, a);
    const beforeSessions = new Set(
      asA.filter((h) => h.body !== null && before.includes(h.body)).map((h) => h.sessionId),
    );
    expect(asA.filter((h) => h.body !== null && before.includes(h.body))).toHaveLength(before.length);
    const laterForA = asA.filter((h) => afterIds.has(h.eventId));
    expect(laterForA).toHaveLength(after.length);
    for (const h of laterForA) {
      expect(h.body).toBeNull();
      expect(h.failure).toBe("MEGOLM_UNKNOWN_INBOUND_SESSION_ID");
      expect(beforeSessions.has(h.sessionId)).toBe(false);
    }
  });

  it("a counsellor only invited while the seeker writes reads the enquiry after joining later", async () => {
    const [workflow, seeker, counsellorC, counsellorD] = await Promise.all([
      registerUser(stack, "workflow", true),
      registerUser(stack, "seeker"),
      registerUser(stack, "counsellor-c"),
      registerUser(stack, "counsellor-d"),
    ]);
    // C is logged in (its device keys are on the server) when the seeker writes; D logs in for the
    // first time afterwards. Neither needs cross-signing for this.
    const [s, c] = await Promise.all([start(seeker), start(counsellorC)]);

    // A third user (as the application service's bot will) creates the room and invites everyone.
    const created = await matrixRequest(stack, "POST", "/_matrix/client/v3/createRoom", workflow, {
      preset: "private_chat",
      invite: [seeker.userId, counsellorC.userId, counsellorD.userId],
      initial_state: [
        { type: "m.room.history_visibility", state_key: "", content: { history_visibility: "shared" } },
        { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
      ],
    });
    expect(created.status).toBe(200);
    const roomId = String(created.body.room_id);
    expect(await joinInvitedRoom(s, roomId)).toBe(workflow.userId);
    const enquiry = await say(s, roomId, "seeker: my enquiry", "seeker: some more detail");

    // While still only invited, C already holds the keys for the enquiry: the seeker's client sent
    // them to C's device with the messages (no key bundle is involved).
    const whileInvited = await eventually("C decrypts the enquiry while only invited", async () => {
      const history = await decryptRoomHistory(stack, seeker, roomId, c);
      return enquiry.every((body) => history.some((h) => h.body === body)) ? history : null;
    });
    expect(whileInvited.map((h) => h.body)).toEqual(enquiry);
    expect(s.getRoom(roomId)?.getMember(counsellorC.userId)?.membership).toBe("invite");

    expect(await joinInvitedRoom(c, roomId)).toBe(workflow.userId);
    const history = await readsAll(counsellorC, c, roomId, enquiry);
    expect(history.map((h) => h.body)).toEqual(enquiry);

    // And the conversation goes on both ways.
    const reply = await say(c, roomId, "C: thank you, I am here");
    await readsAll(seeker, s, roomId, [...enquiry, ...reply]);

    // D's device did not exist when the seeker wrote, so it never got those keys, not even after
    // joining (key requests are off in matrix-js-sdk's Rust crypto); it reads only what follows.
    const d = await start(counsellorD);
    await joinInvitedRoom(d, roomId);
    const later = await say(s, roomId, "seeker: are you still there?");
    const forD = await readsAll(counsellorD, d, roomId, later);
    const unreadable = [...enquiry, ...reply].map(() => null);
    expect(forD.map((h) => h.body)).toEqual([...unreadable, ...later]);
    // Same Megolm session, shared with D's new device only from the current message index on.
    expect(forD.slice(0, unreadable.length).map((h) => h.failure)).not.toContain(null);
  });
});
