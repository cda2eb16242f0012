// A conversation (one counselling room) as the chat view shows it: decrypted messages with their
// delivery and read state, kept up to date from the client's events. Runs in the Matrix worker
// with client.ts; everything it hands out is plain data the page can receive.
import {
  ClientEvent,
  Direction,
  EventStatus,
  EventType,
  MatrixError,
  MatrixEventEvent,
  Method,
  MsgType,
  RoomEvent,
  type MatrixClient,
  type MatrixEvent,
  type Room,
} from "matrix-js-sdk";
import type { RoomMessageEventContent } from "matrix-js-sdk/lib/@types/events.js";
import type { CryptoBackend } from "matrix-js-sdk/lib/common-crypto/CryptoBackend.js";
import { CryptoEvent, DecryptionFailureCode } from "matrix-js-sdk/lib/crypto-api/index.js";
import { decryptAttachment, encryptAttachment, type AcceptedType, type EncryptedFile } from "./attachments.ts";

/** One line of the chat. */
export interface ChatMessage {
  id: string;
  sender: string;
  /** The sender's display name in the room (their user id if they have none). */
  senderName: string;
  own: boolean;
  /** Milliseconds since the epoch. */
  ts: number;
  /**
   * `decrypting`: not decrypted yet, but its key may still arrive (see {@link KEY_GRACE_MS});
   * `undecryptable`: this device cannot read it, for the reason in `unreadable`.
   */
  kind: "text" | "image" | "file" | "decrypting" | "undecryptable";
  body: string;
  file?: { file: EncryptedFile; mimetype: string; size: number; name: string };
  /** Why an `undecryptable` message cannot be read here (see {@link unreadableReason}). */
  unreadable?: UnreadableReason | undefined;
  /**
   * Own messages only: sending (until the server has it and its key is in the key backup),
   * sent, read (by someone else in the room), failed.
   */
  state?: "sending" | "sent" | "read" | "failed" | undefined;
}

/**
 * Why a message cannot be read on this device: `missingKey` when its key never reached this
 * device (written before the device existed or could receive it, or withheld from it),
 * `untrustedSender` when it came from a device its owner has not cross-signed (see client.ts).
 */
export type UnreadableReason = "missingKey" | "untrustedSender";

/** The reason to show for a decryption failure of the SDK. */
export function unreadableReason(code: DecryptionFailureCode | null): UnreadableReason {
  return code === DecryptionFailureCode.UNKNOWN_SENDER_DEVICE ||
    code === DecryptionFailureCode.UNSIGNED_SENDER_DEVICE ||
    code === DecryptionFailureCode.SENDER_IDENTITY_PREVIOUSLY_VERIFIED
    ? "untrustedSender"
    : "missingKey";
}

/**
 * How long a message that cannot be decrypted yet is shown as "being decrypted" before the chat
 * says that it cannot be read here. Its key is often still on its way: a room key sent with the
 * message (to-device messages can come a sync later), a sender's device keys not fetched yet
 * (retryUntrustedSenders), the backup download the SDK starts for a missing key. Counted from
 * when this device first failed on it, or from when the keys page finished taking over the
 * dehydrated device and restoring the backup, whichever is later.
 */
export const KEY_GRACE_MS = 30_000;

/** When this worker first failed to decrypt each event. */
const firstFailure = new WeakMap<MatrixEvent, number>();
/** While keys are being restored (keys page), no failure is final; afterwards the grace runs from then. */
let restoring = 0;
let keysArrivedAt = 0;

/**
 * Marks that keys are arriving now (rehydration, backup restore): until the returned function
 * is called, and for {@link KEY_GRACE_MS} after, messages without a key count as still decrypting.
 */
export function keysArriving(): () => void {
  restoring++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    restoring--;
    keysArrivedAt = Date.now();
  };
}

/** Whether a failure first seen at `failedAt` may still resolve at `now` (pure, for tests). */
export function stillDecrypting(failedAt: number, now: number, keysAt: number, keysRestoring: boolean): boolean {
  return keysRestoring || now - Math.max(failedAt, keysAt) < KEY_GRACE_MS;
}

function decryptionState(event: MatrixEvent): Pick<ChatMessage, "kind" | "unreadable"> {
  const now = Date.now();
  let failedAt = firstFailure.get(event);
  if (failedAt === undefined) firstFailure.set(event, (failedAt = now));
  if (stillDecrypting(failedAt, now, keysArrivedAt, restoring > 0)) return { kind: "decrypting" };
  return { kind: "undecryptable", unreadable: unreadableReason(event.decryptionFailureReason) };
}

// --- Sent means recoverable -------------------------------------------------------------------
//
// A message of ours is shown as sent only once the server has it AND its room key is in this
// account's key backup: then any later device of the sender (after the quick exit, a closed tab,
// the idle logout) reads it again after unlocking. (Room keys also go to the sender's own
// dehydrated device before the message is sent, but whether the sending device knew of it yet
// cannot be asked; the backup can, at the server.)

/** Transaction ids, then event ids, of our messages whose key is not yet known to be backed up. */
const unsecured = new Set<string>();
/** Megolm sessions known to be in the backup: later messages of a session need no new check. */
const securedSessions = new Set<string>();
/** Every send of this worker from the first request until its key is in the backup. */
const sends = new Set<Promise<void>>();
const sendListeners = new Set<() => void>();
const sendsChanged = (): void => sendListeners.forEach((listener) => listener());

const isUnsecured = (event: MatrixEvent): boolean => {
  const txnId = event.getTxnId() ?? event.getUnsigned().transaction_id;
  const id = event.getId();
  return (txnId !== undefined && unsecured.has(txnId)) || (id !== undefined && unsecured.has(id));
};

/** Calls `onChange` with the number of sends not yet safe, now and whenever it changes. */
export function watchSends(onChange: (pending: number) => void): () => void {
  const listener = (): void => onChange(sends.size);
  sendListeners.add(listener);
  listener();
  return () => sendListeners.delete(listener);
}

/**
 * Waits until every send of this worker is safe (on the server, key in the backup), at most
 * `maxMs`. Returns how many are still not.
 */
export async function settleSends(maxMs: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([Promise.allSettled([...sends]), new Promise((resolve) => (timer = setTimeout(resolve, maxMs)))]);
  clearTimeout(timer);
  return sends.size;
}

/** Whether the backup `version` at the server holds the key of `sessionId`. */
async function inBackup(client: MatrixClient, version: string, roomId: string, sessionId: string): Promise<boolean> {
  try {
    await client.http.authedRequest(
      Method.Get,
      `/room_keys/keys/${encodeURIComponent(roomId)}/${encodeURIComponent(sessionId)}`,
      { version },
    );
    return true;
  } catch (err) {
    if (err instanceof MatrixError && err.errcode === "M_NOT_FOUND") return false;
    throw err;
  }
}

/** Resolves when the SDK reports backup progress, or after `ms`. */
function backupProgress(client: MatrixClient, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      client.off(CryptoEvent.KeyBackupSessionsRemaining, done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    client.on(CryptoEvent.KeyBackupSessionsRemaining, done);
  });
}

/**
 * Waits until the room key of our event `eventId` is in the key backup at the server. Keeps
 * trying (the SDK's upload retries by itself) as long as the tab lives; gives up only when this
 * device has no backup to wait for.
 */
async function keyBackedUp(client: MatrixClient, roomId: string, eventId: string): Promise<void> {
  const crypto = client.getCrypto();
  if (!crypto) return;
  const room = client.getRoom(roomId);
  const local = room?.findEventById(eventId) ?? room?.getPendingEvents().find((e) => e.getId() === eventId);
  let sessionId: unknown = local?.getWireContent().session_id;
  if (typeof sessionId !== "string") sessionId = (await client.fetchRoomEvent(roomId, eventId)).content?.session_id;
  if (typeof sessionId !== "string") return; // not encrypted: nothing to keep
  for (let wait = 250; !securedSessions.has(sessionId); wait = Math.min(wait * 2, 10_000)) {
    let version = await crypto.getActiveSessionBackupVersion();
    if (version === null) {
      // Not (yet) uploading to a backup this device trusts: look once more at the server.
      await crypto.checkKeyBackupAndEnable();
      version = await crypto.getActiveSessionBackupVersion();
    }
    if (version === null) {
      console.warn("no key backup on this device: a sent message's key is kept by the dehydrated device only");
      return;
    }
    try {
      if (await inBackup(client, version, roomId, sessionId)) securedSessions.add(sessionId);
      else await backupProgress(client, wait);
    } catch (err) {
      console.warn("asking for the key backup", err);
      await backupProgress(client, wait);
    }
  }
}

/** The changes of an enquiry the workflow's bot marks in its room (appservice/src/domain.ts). */
export const MARKER_CHANGES = ["claimed", "handed_over", "closed", "reopened"] as const;

/**
 * A marker in the conversation: the enquiry was taken, handed over, closed or reopened, from the
 * state event the workflow's bot sets with each change (`de.connecta.enquiry`). No names: the
 * seeker reads it too.
 */
export interface Marker {
  id: string;
  /** Milliseconds since the epoch. */
  ts: number;
  change: (typeof MARKER_CHANGES)[number];
  /** The enquiry's state after the change (a reopened enquiry may wait for a new counsellor). */
  state: string;
}

/** The state event that marks an enquiry's room and its changes. */
const ENQUIRY_STATE_EVENT = "de.connecta.enquiry";

/** The marker of `event`, or null when it is none (only the bot changes the enquiry's state event). */
export function markerOf(event: MatrixEvent): Marker | null {
  if (event.getType() !== ENQUIRY_STATE_EVENT || event.getStateKey() !== "") return null;
  const { change, state } = event.getContent<{ change?: unknown; state?: unknown }>();
  const known = MARKER_CHANGES.find((c) => c === change);
  if (!known || typeof state !== "string") return null;
  return { id: event.getId() ?? "", ts: event.getTs(), change: known, state };
}

/** The chat's view of a room. */
export interface ConversationState {
  messages: ChatMessage[];
  /** Markers of the enquiry's changes, oldest first (see {@link Marker}). */
  markers: Marker[];
  /** Messages of others after the own read marker. */
  unread: number;
  /** False while older messages may exist on the server. */
  complete: boolean;
  /** The room is closed for writing (power levels forbid our messages). */
  readOnly: boolean;
}

function toMessage(room: Room, event: MatrixEvent, me: string, readUpTo: number, index: number): ChatMessage | null {
  const own = event.getSender() === me;
  const sender = event.getSender() ?? "";
  const base = {
    id: event.getId() ?? event.getTxnId() ?? String(index),
    sender,
    senderName: room.getMember(sender)?.name ?? sender,
    own,
    ts: event.getTs(),
  };
  let state: ChatMessage["state"];
  if (own) {
    const status = event.status;
    if (status === EventStatus.NOT_SENT) state = "failed";
    else if (status !== null || isUnsecured(event)) state = "sending";
    else state = index <= readUpTo ? "read" : "sent";
  }
  if (event.isDecryptionFailure()) return { ...base, ...decryptionState(event), body: "", state };
  if (event.getType() !== (EventType.RoomMessage as string)) return null;
  const content = event.getContent();
  if (typeof content.body !== "string") return null; // redacted or empty
  if ((content.msgtype === MsgType.Image || content.msgtype === MsgType.File) && content.file) {
    const info = (content.info ?? {}) as { mimetype?: string; size?: number };
    return {
      ...base,
      kind: content.msgtype === MsgType.Image ? "image" : "file",
      body: content.body,
      file: {
        file: content.file as EncryptedFile,
        mimetype: String(info.mimetype ?? "application/octet-stream"),
        size: Number(info.size ?? 0),
        name: content.body,
      },
      state,
    };
  }
  return { ...base, kind: "text", body: content.body, state };
}

/** Computes the chat's state from the room's live timeline. */
export function conversationState(client: MatrixClient, room: Room): ConversationState {
  const me = client.getSafeUserId();
  // What the server gave us by /messages (see loadOlder) and the live timeline, once each (the
  // copy that could be decrypted, when only one could), in server order; then what is still
  // being sent.
  const byId = new Map<string, MatrixEvent>();
  for (const event of [...(history.get(room.roomId) ?? []), ...room.getLiveTimeline().getEvents()]) {
    const id = event.getId();
    if (id && (byId.get(id)?.isDecryptionFailure() ?? true)) byId.set(id, event);
  }
  const events = [...byId.values()].sort((a, b) => a.getTs() - b.getTs());
  const pending = room.getPendingEvents();
  const all = [...events, ...pending.filter((p) => !events.includes(p))];
  // The last of our events that another member of the room has read.
  let readUpTo = -1;
  const others = room.getJoinedMembers().filter((m) => m.userId !== me);
  for (let i = all.length - 1; i >= 0 && readUpTo < 0; i--) {
    const event = all[i] as MatrixEvent;
    const id = event.getId();
    if (event.status !== null || !id || event.getSender() !== me) continue;
    if (others.some((m) => room.hasUserReadEvent(m.userId, id))) readUpTo = i;
  }
  const messages: ChatMessage[] = [];
  all.forEach((event, i) => {
    const message = toMessage(room, event, me, readUpTo, i);
    if (message) messages.push(message);
  });
  // Messages of others after our own read receipt and our own last message. Not the SDK's
  // hasUserReadEvent: it takes any event of ours as having read everything before it, our join
  // too, and a counsellor often joins a room after the seeker wrote.
  const ownReceipt = room.getEventReadUpTo(me, true);
  let unread = 0;
  for (let i = all.length - 1; i >= 0; i--) {
    const event = all[i] as MatrixEvent;
    if (event.status !== null) continue;
    if (ownReceipt !== null && event.getId() === ownReceipt) break;
    if (event.getType() !== (EventType.RoomMessage as string) && !event.isDecryptionFailure()) continue;
    if (event.getSender() === me) break;
    unread++;
  }
  const readOnly = !room.currentState.maySendMessage(me);
  const complete = room.getLiveTimeline().getPaginationToken(Direction.Backward) === null;
  const markers = events.map(markerOf).filter((m) => m !== null);
  return { messages, markers, unread, complete, readOnly };
}

/**
 * Calls `onChange` with the room's state now and whenever it changes (new or decrypted events,
 * receipts, local echo updates, membership). Returns the function that stops watching.
 */
export function watchConversation(
  client: MatrixClient,
  roomId: string,
  onChange: (state: ConversationState) => void,
): () => void {
  let scheduled = false;
  let recheck: ReturnType<typeof setTimeout> | undefined;
  const update = (): void => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      const room = client.getRoom(roomId);
      if (!room) return;
      const state = conversationState(client, room);
      onChange(state);
      // A message still decrypting turns "cannot be read here" when its grace has run out.
      clearTimeout(recheck);
      if (state.messages.some((m) => m.kind === "decrypting")) recheck = setTimeout(update, 5000);
    });
  };
  const onEvent = (event: MatrixEvent): void => {
    if (event.getRoomId() === roomId) update();
  };
  client.on(RoomEvent.Timeline, onEvent);
  client.on(RoomEvent.TimelineReset, update);
  client.on(RoomEvent.Receipt, update);
  client.on(RoomEvent.LocalEchoUpdated, onEvent);
  client.on(MatrixEventEvent.Decrypted, onEvent);
  client.on(ClientEvent.Room, update);
  client.on(RoomEvent.MyMembership, update);
  sendListeners.add(update);
  update();
  return () => {
    clearTimeout(recheck);
    sendListeners.delete(update);
    client.off(RoomEvent.Timeline, onEvent);
    client.off(RoomEvent.TimelineReset, update);
    client.off(RoomEvent.Receipt, update);
    client.off(RoomEvent.LocalEchoUpdated, onEvent);
    client.off(MatrixEventEvent.Decrypted, onEvent);
    client.off(ClientEvent.Room, update);
    client.off(RoomEvent.MyMembership, update);
  };
}

/** Each room's events as loaded from the server's /messages, oldest first. */
const history = new Map<string, MatrixEvent[]>();

/**
 * Loads the room's history from the server (up to `max` events) and decrypts it. Read directly,
 * not by paginating the SDK's timeline: a counsellor removed at the claim and invited back for
 * a handover has a timeline with a gap where the events of the absence belong, which
 * pagination never fills.
 */
export async function loadOlder(client: MatrixClient, roomId: string, max = 1000): Promise<void> {
  const mapper = client.getEventMapper();
  const loaded: MatrixEvent[] = [];
  let from: string | null = null;
  while (loaded.length < max) {
    const page = await client.createMessagesRequest(roomId, from, 100, Direction.Backward);
    const events = page.chunk.map(mapper);
    loaded.unshift(...events.reverse());
    if (!page.end || page.chunk.length === 0) break;
    from = page.end;
  }
  await Promise.all(loaded.map((event) => client.decryptEventIfNeeded(event)));
  history.set(roomId, loaded);
}

/**
 * Why the crypto refused to encrypt a message (device isolation, see client.ts):
 * `unverifiedDevice` while this device is not cross-signed by its owner (the keys were not set
 * up or unlocked on it), `identityChanged` when the cross-signing identity of an account this
 * device had verified (our own) was replaced. The page explains each; the text is kept.
 */
export type SendRefusal = "unverifiedDevice" | "identityChanged";

/** A message was not sent because of a {@link SendRefusal}, which is the error's message. */
export class SendRefusedError extends Error {
  override name = "SendRefusedError";
}

/**
 * The refusal behind an error of `sendMessage`, or null for any other failure. The Rust crypto
 * tells its reasons (SessionRecipientCollectionError) only by their text.
 */
export function refusal(err: unknown): SendRefusal | null {
  const text = err instanceof Error ? err.message : String(err);
  if (/cross-signing is not set up|your device is not verified/i.test(text)) return "unverifiedDevice";
  if (/verified have changed their identity/i.test(text)) return "identityChanged";
  return null;
}

/**
 * Sends a message (encrypted by the SDK); a refusal of the crypto becomes a SendRefusedError.
 * Resolves once the server has it; the message shows as "sending" until its key is also in the
 * key backup, and the send counts as pending (watchSends, settleSends) until then.
 */
async function sendEncrypted(client: MatrixClient, roomId: string, content: RoomMessageEventContent): Promise<void> {
  const txnId = client.makeTxnId();
  unsecured.add(txnId);
  let sent!: (eventId: string | null) => void;
  const eventId = new Promise<string | null>((resolve) => (sent = resolve));
  const send = eventId
    .then((id) => (id === null ? undefined : keyBackedUp(client, roomId, id).finally(() => unsecured.delete(id))))
    .catch((err: unknown) => console.warn("waiting for the key backup", err))
    .finally(() => {
      unsecured.delete(txnId);
      sends.delete(send);
      sendsChanged();
    });
  sends.add(send);
  sendsChanged();
  try {
    const { event_id } = await client.sendMessage(roomId, content, txnId);
    unsecured.add(event_id);
    sent(event_id);
  } catch (err) {
    sent(null);
    const reason = refusal(err);
    throw reason === null ? err : new SendRefusedError(reason);
  }
}

/** Failures because the sender's device was unknown or not cross-signed when we decrypted. */
const UNTRUSTED_SENDER = new Set<DecryptionFailureCode | null>([
  DecryptionFailureCode.UNKNOWN_SENDER_DEVICE,
  DecryptionFailureCode.UNSIGNED_SENDER_DEVICE,
]);

/**
 * Decrypts again the messages that were refused because their sender's device was unknown or
 * not (yet) cross-signed (see client.ts), whenever the crypto learns new devices or a new
 * identity of their sender. A room key often arrives before the sender's device keys (a seeker
 * who has just joined and written), and the SDK does not retry such failures by itself. Returns
 * the function that stops.
 */
export function retryUntrustedSenders(client: MatrixClient): () => void {
  // The SDK's own way to retry (as rust-crypto.ts does for late room keys): the Rust crypto
  // object behind getCrypto() is the client's CryptoBackend.
  const crypto = client.getCrypto() as CryptoBackend | undefined;
  const retry = (userIds: string[]): void => {
    if (!crypto) return;
    for (const room of client.getRooms()) {
      for (const event of [...(history.get(room.roomId) ?? []), ...room.getLiveTimeline().getEvents()]) {
        if (UNTRUSTED_SENDER.has(event.decryptionFailureReason) && userIds.includes(event.getSender() ?? "")) {
          event.attemptDecryption(crypto, { isRetry: true }).catch(() => {});
        }
      }
    }
  };
  const onIdentity = (userId: string): void => retry([userId]);
  client.on(CryptoEvent.DevicesUpdated, retry);
  client.on(CryptoEvent.UserTrustStatusChanged, onIdentity);
  return () => {
    client.off(CryptoEvent.DevicesUpdated, retry);
    client.off(CryptoEvent.UserTrustStatusChanged, onIdentity);
  };
}

/** Sends a text message. */
export async function sendText(client: MatrixClient, roomId: string, text: string): Promise<void> {
  await sendEncrypted(client, roomId, { msgtype: MsgType.Text, body: text });
}

/** Marks everything up to the newest event as read (a public receipt: the counsellor sees it). */
export async function markRead(client: MatrixClient, roomId: string): Promise<void> {
  const room = client.getRoom(roomId);
  const events = room?.getLiveTimeline().getEvents() ?? [];
  const last = [...events].reverse().find((e) => e.getId() && !e.status);
  // Compared with our own receipt as the server has it, as the unread count is (conversationState).
  // Not the SDK's hasUserReadEvent: it takes any event of ours as read up to there, our join too,
  // so a room whose newest event is our join was never marked read and stayed unread.
  if (room && last && room.getEventReadUpTo(client.getSafeUserId(), true) !== last.getId()) {
    await client.sendReadReceipt(last);
  }
}

/**
 * Encrypts and uploads a file, then sends it as an image or file message. `name` is only put
 * inside the encrypted message; the upload itself carries no name or type. Returns the upload's
 * `mxc://` URI, which the page reports to our API so that the file is deleted with the
 * conversation (lib/privacy/media.ts).
 */
export async function sendFile(
  client: MatrixClient,
  roomId: string,
  plain: ArrayBuffer,
  name: string,
  type: AcceptedType,
  onProgress: (done: number, total: number) => void,
): Promise<string> {
  const { data, file } = await encryptAttachment(plain);
  const upload = await client.uploadContent(new Blob([data]), {
    type: "application/octet-stream",
    includeFilename: false,
    progressHandler: ({ loaded, total }) => onProgress(loaded, total),
  });
  const image = type.startsWith("image/");
  await sendEncrypted(client, roomId, {
    msgtype: image ? MsgType.Image : MsgType.File,
    body: name,
    info: { mimetype: type, size: plain.byteLength },
    file: { ...file, url: upload.content_uri },
  } as RoomMessageEventContent);
  return upload.content_uri;
}

/** Downloads and decrypts an attachment. */
export async function openAttachment(client: MatrixClient, message: Pick<ChatMessage, "file">): Promise<Blob> {
  if (!message.file) throw new Error("no file");
  const url = client.mxcUrlToHttp(message.file.file.url, undefined, undefined, undefined, false, true, true);
  if (!url) throw new Error("bad media url");
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${client.getAccessToken() ?? ""}` },
    credentials: "omit",
  });
  if (!res.ok) throw new Error(`download ${res.status}`);
  const plain = await decryptAttachment(await res.arrayBuffer(), message.file.file);
  return new Blob([plain], { type: message.file.mimetype });
}

/** What a counsellor's lists show of a room: first and last message, unread count, waiting time. */
export interface RoomOverview {
  /** The first message of the seeker (the enquiry), or null if none is there yet. */
  first: ChatMessage | null;
  /** The newest message of anyone (the list's preview), or null. */
  last: ChatMessage | null;
  unread: number;
  /**
   * Milliseconds since the epoch of the seeker's oldest message that no counsellor has answered
   * yet, or null when the last word was a counsellor's (see {@link waitingSince}).
   */
  waitingSince: number | null;
  /** Milliseconds since the epoch of the newest event, or null. */
  lastActivity: number | null;
  /** The other person's name in the room (the seeker's pseudonym for a counsellor). */
  counterpart: string | null;
  /** Own membership: "join", "invite" or null when the room is unknown. */
  membership: string | null;
}

/**
 * When the seeker started waiting for an answer: the time of their oldest message after the last
 * message of anyone else (a counsellor: this one, or one before a handover), or null when there
 * is none. Without `seekerId`, every message not our own counts as the seeker's.
 */
export function waitingSince(
  messages: readonly Pick<ChatMessage, "sender" | "own" | "ts">[],
  seekerId?: string,
): number | null {
  const fromSeeker = (m: Pick<ChatMessage, "sender" | "own">): boolean =>
    seekerId === undefined ? !m.own : m.sender === seekerId;
  let since: number | null = null;
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as Pick<ChatMessage, "sender" | "own" | "ts">;
    if (!fromSeeker(message)) break;
    since = message.ts;
  }
  return since;
}

/** The overview of a room for the counsellor's queue and session lists. */
export function roomOverview(client: MatrixClient, roomId: string, seekerId?: string): RoomOverview {
  const room = client.getRoom(roomId);
  if (!room) {
    return {
      first: null,
      last: null,
      unread: 0,
      waitingSince: null,
      lastActivity: null,
      counterpart: null,
      membership: null,
    };
  }
  const membership = room.getMyMembership();
  const state = conversationState(client, room);
  const first = state.messages.find((m) => !m.own && (seekerId === undefined || m.sender === seekerId)) ?? null;
  const lastEvent = room.getLiveTimeline().getEvents().at(-1);
  const counterpart = seekerId ? (room.getMember(seekerId)?.name ?? seekerId) : null;
  return {
    first,
    last: state.messages.at(-1) ?? null,
    unread: state.unread,
    waitingSince: waitingSince(state.messages, seekerId),
    lastActivity: lastEvent ? lastEvent.getTs() : null,
    counterpart,
    membership,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Joins the rooms of `roomIds` this user is invited to (a counsellor's queue and assigned
 * enquiries, as our API lists them: never a room only because someone invited us). Joining
 * imports the room-key history the inviter shared (MSC4268). With `waitMs`, waits that long
 * for an invite the API already knows of but the sync has not brought yet (a handover), and
 * returns whether every room is joined.
 */
export async function joinInvited(client: MatrixClient, roomIds: string[], waitMs = 0): Promise<boolean> {
  let all = true;
  for (const roomId of roomIds) {
    const deadline = Date.now() + waitMs;
    let membership = client.getRoom(roomId)?.getMyMembership();
    while (membership !== "invite" && membership !== "join" && Date.now() < deadline) {
      await sleep(250);
      membership = client.getRoom(roomId)?.getMyMembership();
    }
    for (let attempt = 0; attempt < 2 && client.getRoom(roomId)?.getMyMembership() === "invite"; attempt++) {
      try {
        await client.joinRoom(roomId);
      } catch (err) {
        // Taken by someone else and we were removed meanwhile (the next refresh drops it), or
        // the join went through and only a later step failed: the sync tells.
        console.warn("joining", roomId, err);
      }
      // Sending needs the room's encryption settings, which arrive with the join in the sync.
      for (let i = 0; i < 100; i++) {
        const room = client.getRoom(roomId);
        if (room?.getMyMembership() === "join" && room.hasEncryptionStateEvent()) break;
        await sleep(100);
      }
    }
    // The server has the last word: under load the sync can lag behind a join that went through.
    if (client.getRoom(roomId)?.getMyMembership() !== "join") {
      const joined = await client.getJoinedRooms().catch(() => ({ joined_rooms: [] as string[] }));
      if (!joined.joined_rooms.includes(roomId)) all = false;
    }
  }
  return all;
}

/**
 * Invites a colleague from this (cross-signed) device, sharing the room's key history. Always
 * asks the server: this client's member list may be stale (members load lazily), and a colleague
 * removed at the claim may still look invited here.
 */
export async function inviteColleague(client: MatrixClient, roomId: string, userId: string): Promise<void> {
  try {
    await client.invite(roomId, userId);
  } catch (err) {
    // Already invited or in the room (a retried handover): nothing to do.
    if (!(err instanceof MatrixError && err.errcode === "M_FORBIDDEN" && /already/i.test(err.message))) throw err;
  }
}

/**
 * Calls `onChange` when rooms or messages change anywhere, and `onInvite` when this user is
 * invited somewhere (a new enquiry in the queue); returns the stop function.
 */
export function watchRooms(client: MatrixClient, onChange: () => void, onInvite: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const update = (): void => {
    clearTimeout(timer);
    timer = setTimeout(onChange, 200);
  };
  const membership = (_room: Room, membership: string): void => {
    if (membership === "invite") onInvite();
    update();
  };
  client.on(RoomEvent.Timeline, update);
  client.on(RoomEvent.MyMembership, membership);
  client.on(RoomEvent.Receipt, update);
  client.on(MatrixEventEvent.Decrypted, update);
  return () => {
    clearTimeout(timer);
    client.off(RoomEvent.Timeline, update);
    client.off(RoomEvent.MyMembership, membership);
    client.off(RoomEvent.Receipt, update);
    client.off(MatrixEventEvent.Decrypted, update);
  };
}
