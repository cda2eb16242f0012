/**
 * Test helpers for cross-signing identities and room-key history sharing (MSC4268 key bundles)
 * with matrix-js-sdk 43 and Rust crypto.
 *
 * How history sharing works in matrix-js-sdk 43 (read from its source, proven by
 * tests/e2e/history-sharing.test.ts against our Synapse):
 *
 * - `MatrixClient.invite(roomId, userId)` shares the history itself: when the room's current
 *   history visibility is `shared` or `world_readable`, it builds an encrypted key bundle of every
 *   Megolm session of the room that was created while the history was shareable, uploads it as
 *   media, and sends its location and key in an Olm-encrypted `m.room_key_bundle` to-device
 *   message to the invitee. The public `CryptoApi` has no `shareRoomHistoryWithUser`; it is an
 *   internal `CryptoBackend` method that `invite()` calls.
 * - It silently shares nothing unless the inviter's device is signed by the inviter's own
 *   cross-signing identity, which this device must trust (it does after bootstrapping it).
 * - The bundle goes only to the invitee's devices that are cross-signed by the invitee (Rust
 *   `CollectStrategy.identityBasedStrategy()`): an invitee without cross-signing gets nothing.
 * - `MatrixClient.joinRoom(roomId)` accepts a bundle only from the user who sent the invite
 *   event the joining client sees (the inviter), and only within 24 hours of joining. The join
 *   option `acceptSharedHistory` is deprecated and has no effect: accepting is always on.
 */
import { randomUUID } from "node:crypto";
import * as sdk from "matrix-js-sdk";
import type { DecryptionFailureCode } from "matrix-js-sdk/lib/crypto-api/index.js";
import type { StackInfo } from "../../ops/stack/stack.ts";
import { eventually, matrixRequest, type TestUser } from "./matrix.ts";

/** The `CryptoApi` of a client started with Rust crypto; throws if it has none. */
function cryptoOf(client: sdk.MatrixClient): NonNullable<ReturnType<sdk.MatrixClient["getCrypto"]>> {
  const crypto = client.getCrypto();
  if (!crypto) throw new Error(`${client.getUserId()} has no crypto: start it with cryptoClient()`);
  return crypto;
}

/**
 * Creates and uploads a new cross-signing identity for `user` and signs the client's device with
 * it, answering Synapse's user-interactive auth with the user's password (`m.login.password`).
 * Secret storage is not set up: the private keys live only in this client's crypto store.
 * Resolves when the client trusts its own identity and sees its device as cross-signed, which
 * is what history sharing requires of the inviter (and of the invitee's receiving device).
 */
export async function bootstrapCrossSigning(client: sdk.MatrixClient, user: TestUser): Promise<void> {
  const crypto = cryptoOf(client);
  await crypto.bootstrapCrossSigning({
    authUploadDeviceSigningKeys: async (makeRequest) => {
      try {
        // Synapse lets a user upload a first cross-signing identity without auth (MSC3967).
        await makeRequest(null);
      } catch (err) {
        if (!(err instanceof sdk.MatrixError) || err.httpStatus !== 401) throw err;
        const session = typeof err.data.session === "string" ? { session: err.data.session } : {};
        await makeRequest({
          type: sdk.AuthType.Password,
          identifier: { type: "m.id.user", user: user.userId },
          password: user.password,
          ...session,
        });
      }
    },
  });
  await eventually(`${user.userId}'s device cross-signed by its own identity`, async () => {
    const device = await crypto.getDeviceVerificationStatus(user.userId, user.deviceId);
    const identity = await crypto.getUserVerificationStatus(user.userId);
    return device?.crossSigningVerified === true && identity.isCrossSigningVerified();
  });
}

/**
 * True if the server publishes, for `userId`, a self-signing key and a device signed with it.
 * Reads `/keys/query` directly: the client's crypto API only knows devices of users it tracks
 * (shares a room with), and the invitee typically shares none with the inviter yet. Signatures are
 * not checked here; the SDK checks them when it sends the bundle.
 */
export async function hasCrossSignedDevice(client: sdk.MatrixClient, userId: string): Promise<boolean> {
  const result = await client.downloadKeysForUsers([userId]);
  const selfSigning = Object.keys(result.self_signing_keys?.[userId]?.keys ?? {});
  const devices = Object.values(result.device_keys[userId] ?? {});
  return devices.some((device) => selfSigning.some((keyId) => device.signatures?.[userId]?.[keyId] !== undefined));
}

/**
 * Invites `inviteeId` into `roomId` from `inviter`'s client and thereby shares the room's
 * history with them (MSC4268 key bundle, see the module comment). Because the SDK skips the
 * sharing silently when a precondition is missing, this checks the preconditions first and
 * throws if one fails: the room's history visibility is `shared` or `world_readable`, the
 * inviter's device is cross-signed by the inviter, and the invitee has a device cross-signed by
 * the invitee. The invitee must then join with {@link joinInvitedRoom} and sees the invite as
 * coming from `inviter`; nobody else may re-invite them in between.
 */
export async function inviteSharingHistory(
  inviter: sdk.MatrixClient,
  roomId: string,
  inviteeId: string,
): Promise<void> {
  const crypto = cryptoOf(inviter);
  const room = inviter.getRoom(roomId);
  if (!room) throw new Error(`${inviter.getUserId()} does not know room ${roomId}`);
  const visibility = room.getHistoryVisibility();
  if (visibility !== sdk.HistoryVisibility.Shared && visibility !== sdk.HistoryVisibility.WorldReadable) {
    throw new Error(`history of ${roomId} is "${visibility}": invite() would not share it`);
  }
  const own = await crypto.getDeviceVerificationStatus(inviter.getSafeUserId(), inviter.getDeviceId() ?? "");
  if (!own?.crossSigningVerified) {
    throw new Error(`${inviter.getUserId()}'s device is not cross-signed: run bootstrapCrossSigning() first`);
  }
  if (!(await hasCrossSignedDevice(inviter, inviteeId))) {
    throw new Error(`${inviteeId} has no cross-signed device: the key bundle would reach no device`);
  }
  await inviter.invite(roomId, inviteeId);
}

/**
 * Waits until `client` sees its invite to `roomId`, joins, waits until the join and the room's
 * encryption state have come down the sync, and returns the inviter (the sender of the invite
 * event), whose key bundle, if any, the SDK imports during or shortly after the join. Each of
 * the two waits gives up after `timeoutMs` (longer under load, bench/load.ts).
 */
export async function joinInvitedRoom(client: sdk.MatrixClient, roomId: string, timeoutMs = 30_000): Promise<string> {
  const me = client.getSafeUserId();
  const inviter = await eventually(
    `${me}'s invite to ${roomId}`,
    () => {
      const member = client.getRoom(roomId)?.getMember(me);
      return member?.membership === sdk.KnownMembership.Invite ? member.events.member?.getSender() : undefined;
    },
    timeoutMs,
  );
  await client.joinRoom(roomId);
  // joinRoom() resolves before the sync delivers the room's state; sending before that fails
  // with "Cannot encrypt event in unconfigured room".
  await eventually(
    `${me}'s join to ${roomId} synced`,
    () => {
      const room = client.getRoom(roomId);
      return room?.getMyMembership() === sdk.KnownMembership.Join && room.hasEncryptionStateEvent();
    },
    timeoutMs,
  );
  return inviter;
}

/** One event of a room's history as a given client could decrypt it. */
export interface DecryptionResult {
  eventId: string;
  sender: string;
  /** The Megolm session the event was encrypted with. */
  sessionId: string;
  /** The plaintext body, or null if the client could not decrypt the event. */
  body: string | null;
  /** Why decryption failed, or null if it worked. */
  failure: DecryptionFailureCode | null;
}

/**
 * The encrypted events of `roomId` (oldest first) as the server returns them to `reader` through
 * `/messages`, each decrypted afresh by `client`, which need not be `reader`'s: this is how a
 * test asks whether a client holds the keys for events it was not sent.
 */
export async function decryptRoomHistory(
  stack: StackInfo,
  reader: TestUser,
  roomId: string,
  client: sdk.MatrixClient,
): Promise<DecryptionResult[]> {
  const raw = await encryptedEvents(stack, reader, roomId);
  const results: DecryptionResult[] = [];
  for (const wire of raw) {
    // A new MatrixEvent each time: the SDK never retries a cached decryption failure by itself.
    const event = new sdk.MatrixEvent(wire);
    await client.decryptEventIfNeeded(event);
    const body: unknown = event.getContent().body;
    results.push({
      eventId: event.getId() ?? "",
      sender: event.getSender() ?? "",
      sessionId: String(wire.content?.session_id ?? ""),
      body: !event.isDecryptionFailure() && typeof body === "string" ? body : null,
      failure: event.decryptionFailureReason,
    });
  }
  return results;
}

/**
 * The raw `m.room.encrypted` events of `roomId` visible to `reader`, oldest first (up to 500).
 * Throws with Synapse's answer if `/messages` is refused.
 */
export async function encryptedEvents(stack: StackInfo, reader: TestUser, roomId: string): Promise<sdk.IEvent[]> {
  const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=500`;
  const res = await matrixRequest(stack, "GET", path, reader);
  if (res.status !== 200) throw new Error(`/messages as ${reader.userId}: ${res.status} ${JSON.stringify(res.body)}`);
  const chunk = (res.body.chunk ?? []) as sdk.IEvent[];
  return chunk.filter((e) => e.type === "m.room.encrypted").reverse();
}

/**
 * Resolves once `receiver` has received, through its sync, a to-device ping that each of
 * `senders` sent now. Synapse delivers a device's to-device messages in the order they were
 * stored, so every room key sent to `receiver` before this call has arrived by then too: a
 * check that `receiver` cannot decrypt something cannot pass merely because a key wrongly sent
 * to it is still on its way.
 */
export async function toDeviceBarrier(
  stack: StackInfo,
  senders: TestUser[],
  receiver: sdk.MatrixClient,
): Promise<void> {
  const userId = receiver.getUserId() ?? "";
  const deviceId = receiver.getDeviceId() ?? "";
  const nonces = new Set<string>(senders.map(() => randomUUID()));
  const arrived = new Promise<void>((resolve) => {
    const onEvent = (event: sdk.MatrixEvent) => {
      const nonce: unknown = event.getContent().nonce;
      if (event.getType() !== "de.connecta.test.ping" || typeof nonce !== "string") return;
      nonces.delete(nonce);
      if (nonces.size > 0) return;
      receiver.off(sdk.ClientEvent.ToDeviceEvent, onEvent);
      resolve();
    };
    receiver.on(sdk.ClientEvent.ToDeviceEvent, onEvent);
  });
  const pending = [...nonces];
  await Promise.all(
    senders.map(async (sender, i) => {
      const path = `/_matrix/client/v3/sendToDevice/de.connecta.test.ping/${randomUUID()}`;
      const body = { messages: { [userId]: { [deviceId]: { nonce: pending[i] } } } };
      const res = await matrixRequest(stack, "PUT", path, sender, body);
      if (res.status !== 200) throw new Error(`to-device ping from ${sender.userId}: ${res.status}`);
    }),
  );
  await Promise.race([
    arrived,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`no to-device ping reached ${userId}`)), 60_000)),
  ]);
}
