// Who is who in a call: the MatrixRTC membership of a device (user, device, member id) and the
// identity LiveKit knows it by. The token service signs the identity exactly so (docs/calls.md,
// appservice/src/rtc/identity.ts), and the media keys are bound to it: a key set for the wrong
// identity decrypts nothing.

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

/**
 * The LiveKit identity of a membership: `<user id>:<device id>`. Our memberships are the SDK's
 * legacy `m.call.member` state events, and for those every MatrixRTC client (matrix-js-sdk's
 * `rtcBackendIdentity`, Element Call) expects exactly this identity in LiveKit and binds the
 * member's media key to it; the token service's older request (`/sfu/get`) signs it so. (The
 * hashed identity of MSC4195's `get_token` belongs to sticky-event memberships, MSC4354.)
 */
export const livekitIdentity = ({ userId, deviceId }: CallMemberId): string => `${userId}:${deviceId}`;
