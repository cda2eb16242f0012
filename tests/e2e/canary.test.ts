import { randomBytes } from "node:crypto";
import * as sdk from "matrix-js-sdk";
import { afterAll, describe, expect, inject, it } from "vitest";
import { dumpDatabase, stackFilesContaining } from "../support/canary.ts";
import { cryptoClient, eventually, matrixRequest, registerUser } from "../support/matrix.ts";

const stack = inject("stack");
const clients: sdk.MatrixClient[] = [];
afterAll(() => clients.forEach((c) => c.stopClient()));

describe("end-to-end encryption canary", () => {
  it("two Rust-crypto clients exchange an encrypted message that no database table contains", async () => {
    // Alice creates the room as the workflow's bot would: a server admin (people create no rooms).
    const [alice, bob] = await Promise.all([registerUser(stack, "alice", true), registerUser(stack, "bob")]);
    const [a, b] = await Promise.all([cryptoClient(stack, alice), cryptoClient(stack, bob)]);
    clients.push(a, b);

    const canary = `canary-${randomBytes(16).toString("hex")}`;
    // Room topics are room state, which Matrix does not encrypt: the dumps must find this one,
    // which shows that they would find the canary if it were stored in plain text.
    const control = `control-${randomBytes(16).toString("hex")}`;

    const { room_id: roomId } = await a.createRoom({
      preset: sdk.Preset.PrivateChat,
      invite: [bob.userId],
      topic: control,
    });
    await eventually("bob's invite", () => b.getRoom(roomId)?.getMyMembership() === "invite");
    await b.joinRoom(roomId);
    await eventually("bob's join seen by alice", () => a.getRoom(roomId)?.getMember(bob.userId)?.membership === "join");
    await eventually("encryption known to alice", () => a.getCrypto()?.isEncryptionEnabledInRoom(roomId));
    await a.sendTextMessage(roomId, canary);

    const received = await eventually("bob decrypts the canary", async () => {
      const events = b.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [];
      for (const event of events.filter((e) => e.getWireType() === "m.room.encrypted")) {
        await b.decryptEventIfNeeded(event);
        if (event.getContent().body === canary) return event;
      }
      return null;
    });
    expect(received.isEncrypted()).toBe(true);
    expect(received.getSender()).toBe(alice.userId);

    // What the server holds is ciphertext only.
    const messages = await matrixRequest(
      stack,
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`,
      alice,
    );
    const wire = JSON.stringify(messages.body);
    expect(wire).toContain("m.room.encrypted");
    expect(wire).not.toContain(canary);

    for (const database of ["synapse", "connecta"] as const) {
      const dump = await dumpDatabase(stack, database);
      expect(dump).toContain("CREATE TABLE");
      expect(dump.includes(canary), `canary in ${database} dump`).toBe(false);
      if (database === "synapse") expect(dump).toContain(control);
    }
    // Also raw: database files and write-ahead log, media store, logs.
    expect(stackFilesContaining(stack, canary)).toEqual([]);
    expect(stackFilesContaining(stack, control).length).toBeGreaterThan(0);
  });
});
