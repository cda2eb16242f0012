// The call of a conversation on the Matrix side (MatrixRTC, matrix-js-sdk): who is in it, our
// own membership, and the media keys. Runs in the Matrix worker with the client (worker.ts); the
// page receives plain data only: the members, and each media key with the LiveKit identity it
// belongs to, which the page hands to LiveKit's E2EE (keys.ts).
//
// Media keys: every participant makes its own key and sends it to the other participants'
// devices as Olm-encrypted to-device messages (the SDK's RTCEncryptionManager, switched on with
// `manageMediaKeys`), and makes a new one when someone leaves; no key is shared by everybody.
import type { MatrixClient, Room } from "matrix-js-sdk";
import {
  isLivekitTransportConfig,
  MatrixRTCSessionEvent,
  type CallMembership,
  type LivekitTransportConfig,
  type MatrixRTCSession,
} from "matrix-js-sdk/lib/matrixrtc/index.js";
import { livekitIdentity, ownMemberId, type CallMemberId } from "./identity.ts";

/** The kind of call: with or without pictures. */
export type CallIntent = "audio" | "video";

/** A call as the conversation shows it. */
export interface CallState {
  /** The devices in the call (ours included, marked `own`), oldest first. */
  members: (CallMemberId & { own: boolean })[];
  /** What the members agree the call is, or null when they do not say or disagree. */
  intent: CallIntent | null;
  /** Whether this device is in the call. */
  joined: boolean;
}

/** A media key of a participant, for LiveKit's key provider. */
export interface MediaKey {
  key: Uint8Array<ArrayBuffer>;
  index: number;
  /** The LiveKit identity of the participant who encrypts with it. */
  identity: string;
}

function sessionOf(client: MatrixClient, roomId: string): { room: Room; session: MatrixRTCSession } {
  const room = client.getRoom(roomId);
  if (!room) throw new Error("unknown room");
  return { room, session: client.matrixRTC.getRoomSession(room) };
}

const intentOf = (value: string | undefined): CallIntent | null =>
  value === "audio" || value === "video" ? value : null;

function stateOf(client: MatrixClient, session: MatrixRTCSession): CallState {
  const own = (m: CallMembership): boolean => m.userId === client.getUserId() && m.deviceId === client.getDeviceId();
  return {
    members: session.memberships.map((m) => ({
      userId: m.userId,
      deviceId: m.deviceId,
      memberId: m.memberId,
      own: own(m),
    })),
    intent: intentOf(session.getConsensusCallIntent()),
    joined: session.isJoined(),
  };
}

/** Watches the call of `roomId`: `onChange` with the state now and on every change. */
export function watchCall(client: MatrixClient, roomId: string, onChange: (state: CallState) => void): () => void {
  const { session } = sessionOf(client, roomId);
  const report = (): void => onChange(stateOf(client, session));
  session.on(MatrixRTCSessionEvent.MembershipsChanged, report);
  session.on(MatrixRTCSessionEvent.JoinStateChanged, report);
  report();
  return () => {
    session.off(MatrixRTCSessionEvent.MembershipsChanged, report);
    session.off(MatrixRTCSessionEvent.JoinStateChanged, report);
  };
}

/** The homeserver's LiveKit transport (MSC4143), for our membership. */
async function livekitTransport(client: MatrixClient): Promise<LivekitTransportConfig> {
  const transport = (await client._unstable_getRTCTransports()).find(isLivekitTransportConfig);
  if (!transport) throw new Error("the homeserver names no LiveKit transport");
  return transport;
}

/**
 * Joins the call of `roomId` with this device (an `m.call.member` membership with a delayed
 * leave, MSC4140) and manages the media keys: ours is made and sent to the other members'
 * devices over Olm, theirs are received the same way; `onKey` gets every key, ours included,
 * with the LiveKit identity it belongs to. Answers the function that leaves the call.
 */
export async function joinCall(
  client: MatrixClient,
  roomId: string,
  intent: CallIntent,
  onKey: (key: MediaKey) => void,
): Promise<() => void> {
  const { session } = sessionOf(client, roomId);
  const transport = await livekitTransport(client);
  // Keys in the order the SDK gives them: a later key of a participant must not be overtaken.
  let chain = Promise.resolve();
  const forward = (
    key: Uint8Array<ArrayBuffer>,
    index: number,
    member: Pick<CallMembership, "userId" | "deviceId" | "memberId">,
  ): void => {
    chain = chain
      .then(() => onKey({ key, index, identity: livekitIdentity(member) }))
      .catch((err: unknown) => console.warn("call: a media key was not forwarded", err));
  };
  session.on(MatrixRTCSessionEvent.EncryptionKeyChanged, forward);
  const userId = client.getSafeUserId();
  const deviceId = client.getDeviceId() ?? "";
  session.joinRTCSession({ userId, deviceId, memberId: ownMemberId(userId, deviceId) }, [transport], undefined, {
    manageMediaKeys: true,
    callIntent: intent,
    // The other side's conversation shows the call as ringing from our membership alone; the
    // notification event is for other clients (Element).
    notificationType: "ring",
  });
  let left = false;
  return () => {
    if (left) return;
    left = true;
    session.off(MatrixRTCSessionEvent.EncryptionKeyChanged, forward);
    void session.leaveRoomSession(5_000).catch(() => {});
  };
}
