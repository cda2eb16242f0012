// The Matrix worker: matrix-js-sdk, its Rust crypto (WASM) and the crypto store run here, off
// the page's main thread, so that decrypting, syncing and restoring keys never make the page
// stutter. Started by remote.ts, one per tab and session; the page calls the API below by name
// (rpc.ts) and receives plain data only.
import type { Session } from "../session/session.ts";
import type { Sealed } from "../session/seal.ts";
import {
  createKeys,
  hasSecretStorage,
  openLock,
  restoreKeys,
  startClient,
  type KeyStep,
  type LockInfo,
  type MatrixClient,
  type PassphraseKdf,
} from "./client.ts";
import {
  conversationState,
  inviteColleague,
  joinInvited,
  loadOlder,
  markRead,
  openAttachment,
  retryUntrustedSenders,
  roomOverview,
  sendFile,
  sendText,
  settleSends,
  watchConversation,
  watchRooms,
  watchSends,
  type ChatMessage,
  type ConversationState,
  type RoomOverview,
} from "./conversation.ts";
import type { AcceptedType } from "./attachments.ts";
import { collectRooms, type ExportedRoom, type ExportPhase } from "./export.ts";
import { serve } from "./rpc.ts";
import { joinCall, watchCall, type CallIntent, type CallState, type MediaKey } from "../call/rtc-session.ts";

declare const self: {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
};

let client: MatrixClient | null = null;
const watches = new Map<number, () => void>();
let lastWatch = 0;

function running(): MatrixClient {
  if (!client) throw new Error("not connected");
  return client;
}

function addWatch(stop: () => void): number {
  watches.set(++lastWatch, stop);
  return lastWatch;
}

/** What the page can ask of the Matrix client. */
const api = {
  /** Starts the client of `session` (crypto store opened, first sync done); once per worker. */
  async connect(session: Session): Promise<void> {
    if (client) throw new Error("already connected");
    client = await startClient(session);
    retryUntrustedSenders(client);
  },
  hasSecretStorage: (): Promise<boolean> => hasSecretStorage(running()),
  createKeys: (
    passphrase: string,
    password: string | null,
    onStep: (step: KeyStep) => void,
  ): Promise<{ recoveryKey: string; lock: LockInfo }> => createKeys(running(), passphrase, password, onStep),
  restoreKeys: (
    secret: { passphrase: string } | { recoveryKey: string },
    onStep: (step: KeyStep) => void,
    onProgress: (done: number, total: number) => void,
  ): Promise<{ restored: number; lock: LockInfo }> => restoreKeys(running(), secret, onStep, onProgress),
  /** Opens a locked tab's login (see client.ts); needs no connection. */
  openLock: (
    sealed: Sealed,
    kdf: PassphraseKdf | null,
    secret: { passphrase: string } | { recoveryKey: string },
  ): Promise<{ plain: string; lockKey: string }> => openLock(sealed, kdf, secret),
  /** Watches how many sent messages are not yet safe (see conversation.ts); returns the id for `unwatch`. */
  watchSends: (onChange: (pending: number) => void): number => addWatch(watchSends(onChange)),
  /** Waits (at most `maxMs`) until every sent message is safe; answers how many are not. */
  settleSends: (maxMs: number): Promise<number> => settleSends(maxMs),
  joinInvited: (roomIds: string[], waitMs: number): Promise<boolean> => joinInvited(running(), roomIds, waitMs),
  inviteColleague: (roomId: string, userId: string): Promise<void> => inviteColleague(running(), roomId, userId),
  sendText: (roomId: string, text: string): Promise<void> => sendText(running(), roomId, text),
  sendFile: (
    roomId: string,
    plain: ArrayBuffer,
    name: string,
    type: AcceptedType,
    onProgress: (done: number, total: number) => void,
  ): Promise<string> => sendFile(running(), roomId, plain, name, type, onProgress),
  openAttachment: (message: ChatMessage): Promise<Blob> => openAttachment(running(), message),
  /** The seeker's copy of their rooms, decrypted here, attachments included (see export.ts). */
  collectRooms: (
    roomIds: string[],
    onProgress: (phase: ExportPhase, done: number, total: number) => void,
  ): Promise<ExportedRoom[]> => collectRooms(running(), roomIds, onProgress),
  markRead: (roomId: string): Promise<void> => markRead(running(), roomId),
  loadOlder: (roomId: string): Promise<void> => loadOlder(running(), roomId),
  conversationState(roomId: string): ConversationState | null {
    const room = running().getRoom(roomId);
    return room ? conversationState(running(), room) : null;
  },
  /** Overviews of rooms, each with its seeker's user id when known (see roomOverview). */
  roomOverviews: (rooms: { roomId: string; seekerId?: string }[]): Record<string, RoomOverview> =>
    Object.fromEntries(rooms.map(({ roomId, seekerId }) => [roomId, roomOverview(running(), roomId, seekerId)])),
  /** Watches a room (see watchConversation); returns the id for `unwatch`. */
  watchConversation: (roomId: string, onChange: (state: ConversationState) => void): number =>
    addWatch(watchConversation(running(), roomId, onChange)),
  /** Watches all rooms (see watchRooms); returns the id for `unwatch`. */
  watchRooms: (onChange: () => void, onInvite: () => void): number =>
    addWatch(watchRooms(running(), onChange, onInvite)),
  /** Watches the call of a room (see call/rtc-session.ts); returns the id for `unwatch`. */
  watchCall: (roomId: string, onChange: (state: CallState) => void): number =>
    addWatch(watchCall(running(), roomId, onChange)),
  /**
   * Joins the call of a room and forwards every media key to `onKey`; returns the id for
   * `unwatch`, which leaves the call.
   */
  joinCall: async (roomId: string, intent: CallIntent, onKey: (key: MediaKey) => void): Promise<number> =>
    addWatch(await joinCall(running(), roomId, intent, onKey)),
  unwatch(id: number): void {
    watches.get(id)?.();
    watches.delete(id);
  },
};

/** The Matrix worker's API, for remote.ts. */
export type MatrixApi = typeof api;

serve(api, self);
