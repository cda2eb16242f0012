// A seeker's own copy of their conversations (Art. 15 and 20 GDPR), collected in the Matrix
// worker: the rooms' whole history from the server, decrypted with this device's keys, and every
// attachment downloaded and decrypted. Nothing leaves the browser; the page turns the result into
// the files to download (lib/privacy/export.ts).
import type { MatrixClient } from "matrix-js-sdk";
import { conversationState, joinInvited, loadOlder, openAttachment, type ChatMessage } from "./conversation.ts";

/** One message of an exported conversation, as plain data. */
export interface ExportedMessage {
  id: string;
  /** Written by the person exporting. */
  own: boolean;
  /** The writer's display name in the room (their user id if they have none). */
  senderName: string;
  /** Milliseconds since the epoch. */
  ts: number;
  /** `undecryptable`: this device has no key for it (the body is then empty). */
  kind: "text" | "image" | "file" | "undecryptable";
  body: string;
  /** An attachment, decrypted; `data` is null when it could not be downloaded or decrypted. */
  file: { name: string; mimetype: string; size: number; data: ArrayBuffer | null } | null;
}

/** One exported conversation. */
export interface ExportedRoom {
  roomId: string;
  /** False when the room could not be read (no longer a member, network); `messages` is then empty. */
  readable: boolean;
  messages: ExportedMessage[];
}

/** What the collection is doing: reading the history of room `done + 1` of `total`, or downloading files. */
export type ExportPhase = "history" | "files";

/** The most events read of one room (the chat reads 1,000; a copy should be complete). */
const MAX_EVENTS = 100_000;
/**
 * How long to wait for the keys of messages that could not be decrypted at once: the SDK asks
 * the key backup for a missing key by itself, and the answer comes a moment later.
 */
const KEY_WAIT_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A chat message as exported: failed sends are left out (they never reached the room). */
export function exportedMessage(message: ChatMessage): ExportedMessage | null {
  if (message.state === "failed") return null;
  const kind = message.kind === "decrypting" ? "undecryptable" : message.kind;
  return {
    id: message.id,
    own: message.own,
    senderName: message.senderName,
    ts: message.ts,
    kind,
    body: kind === "undecryptable" ? "" : message.body,
    file: message.file
      ? { name: message.file.name, mimetype: message.file.mimetype, size: message.file.size, data: null }
      : null,
  };
}

/**
 * Collects the rooms of `roomIds` (the seeker's own, as our API lists them): joins a room the
 * seeker was only invited to, reads and decrypts its whole history, then downloads and decrypts
 * every attachment. Reports progress per phase. A room that cannot be read is kept in the
 * result as not readable, so that the others are still exported.
 *
 * @throws when no room at all can be read
 */
export async function collectRooms(
  client: MatrixClient,
  roomIds: string[],
  onProgress: (phase: ExportPhase, done: number, total: number) => void,
): Promise<ExportedRoom[]> {
  const rooms: ExportedRoom[] = [];
  // Each exported attachment's chat message, with its encrypted file's URL and key.
  const sources = new Map<ExportedMessage, ChatMessage>();
  for (const [index, roomId] of roomIds.entries()) {
    onProgress("history", index, roomIds.length);
    let chat: ChatMessage[];
    try {
      chat = await readRoom(client, roomId);
    } catch (err) {
      // Said in the copy and on the page; the other rooms are still exported.
      console.warn("a conversation could not be read for the copy", err);
      rooms.push({ roomId, readable: false, messages: [] });
      continue;
    }
    const messages: ExportedMessage[] = [];
    for (const message of chat) {
      const exported = exportedMessage(message);
      if (!exported) continue;
      messages.push(exported);
      if (exported.file) sources.set(exported, message);
    }
    rooms.push({ roomId, readable: true, messages });
  }
  if (rooms.length > 0 && rooms.every((r) => !r.readable)) throw new Error("no conversation could be read");
  let done = 0;
  onProgress("files", done, sources.size);
  for (const [exported, message] of sources) {
    try {
      if (exported.file) exported.file.data = await (await openAttachment(client, message)).arrayBuffer();
    } catch (err) {
      // Kept in the copy without its content; the page says how many are missing.
      console.warn("an attachment could not be exported", err);
    }
    onProgress("files", ++done, sources.size);
  }
  return rooms;
}

/** The whole history of a room, decrypted as far as this device can, after a short wait for late keys. */
async function readRoom(client: MatrixClient, roomId: string): Promise<ChatMessage[]> {
  if (!(await joinInvited(client, [roomId], 0))) throw new Error("not a member of the room");
  await loadOlder(client, roomId, MAX_EVENTS);
  const room = client.getRoom(roomId);
  if (!room) throw new Error("room unknown");
  let messages = conversationState(client, room).messages;
  for (let waited = 0; waited < KEY_WAIT_MS; waited += 1000) {
    if (!messages.some((m) => m.kind === "decrypting" || m.kind === "undecryptable")) break;
    await sleep(1000);
    messages = conversationState(client, room).messages;
  }
  return messages;
}
