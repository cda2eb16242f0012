// Who is who in a call: the MatrixRTC membership of a device (user, device, member id) and the
// identity LiveKit knows it by. The token service signs the identity exactly so (docs/calls.md,
// appservice/src/rtc/identity.ts), and the media keys are bound to it: a key set for the wrong
// identity decrypts nothing.

/** The call of a conversation: the room's own call (MatrixRTC slot `m.call#ROOM`). */
export const ROOM_SLOT = "m.call#ROOM";

/** One device's membership in a call, as MatrixRTC describes it. */
export interface CallMemberId {
  userId: string;
  deviceId: string;
  /** The membership's member id (`member.id` of the membership). */
  memberId: string;
}

/**
 * The member id of our own membership. The SDK's legacy membership events (`m.call.member`
 * state, which our rooms allow) always carry `<user id>:<device id>`, so the token request and
 * the other participants' key bookkeeping must use the same.
 */
export const ownMemberId = (userId: string, deviceId: string): string => `${userId}:${deviceId}`;

/** Unpadded standard base64 of `bytes`. */
function unpaddedBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/=+$/, "");
}

/**
 * The LiveKit identity of a membership: unpadded base64 of SHA-256 over the JSON array
 * `[user_id, device_id, member_id]` (MSC4195), as the token service derives it.
 */
export async function livekitIdentity({ userId, deviceId, memberId }: CallMemberId): Promise<string> {
  const data = new TextEncoder().encode(JSON.stringify([userId, deviceId, memberId]));
  return unpaddedBase64(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
}
