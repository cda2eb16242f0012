/**
 * Names of a call in LiveKit, derived exactly as matrix-js-sdk and Element Call derive them
 * (MSC4195): the media keys of a call are bound to the participant's LiveKit identity, so any
 * other derivation would leave everybody's video undecryptable. Unpadded standard base64 of
 * SHA-256 over the JSON array of the parts.
 */
import { createHash } from "node:crypto";

const hashOf = (parts: string[]) =>
  createHash("sha256").update(JSON.stringify(parts)).digest("base64").replace(/=+$/, "");

/** The default call of a room (MSC4143 slot), which is the only one we serve. */
export const ROOM_SLOT = "m.call#ROOM";

/** The LiveKit room of the call in Matrix room `roomId`, slot `slotId`. */
export const livekitRoom = (roomId: string, slotId: string): string => hashOf([roomId, slotId]);

/** The LiveKit identity of MatrixRTC member `memberId` of `userId` on `deviceId`. */
export const livekitIdentity = (userId: string, deviceId: string, memberId: string): string =>
  hashOf([userId, deviceId, memberId]);

/** The identity of the legacy token request (`/sfu/get`): user and device, readable. */
export const legacyIdentity = (userId: string, deviceId: string): string => `${userId}:${deviceId}`;
