/**
 * Stateless proof-of-work challenges (docs/intake.md): a challenge is a random id, its difficulty
 * and its expiry, signed with a key only we hold, so handing one out costs no database row and
 * no budget anybody else shares. A challenge is recorded only once it was solved and used (see
 * intakes.ts), which makes it single-use.
 *
 * Format: 44 characters of base64url encoding 33 bytes: 12 random bytes (the id), the difficulty
 * (1 byte), the expiry in Unix seconds (4 bytes, big-endian) and the first 16 bytes of an
 * HMAC-SHA-256 over the 17 bytes before it. Short on purpose: `${challenge}:${nonce}` stays
 * within one SHA-256 block (55 bytes) for nonces of up to 10 digits, so a seeker's phone hashes
 * no more than it did with UUIDs.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";

const ID_BYTES = 12;
const SIGNED_BYTES = ID_BYTES + 1 + 4;
const MAC_BYTES = 16;
/** Length of a challenge as sent: 33 bytes in base64url. */
export const CHALLENGE_LENGTH = ((SIGNED_BYTES + MAC_BYTES) / 3) * 4;

/** A challenge we issued, as read back from its text. */
export interface Challenge {
  /** The text handed to the client: what it hashes (`${text}:${nonce}`) and sends back. */
  text: string;
  /** The random id in hex: the key of its row once used, and the seed of its intake's id. */
  id: string;
  difficulty: number;
  expiresAt: Date;
}

/**
 * The signing key of challenges, derived (HKDF-SHA-256) from the hs_token: a secret every
 * replica has and only Synapse shares with us, so no further secret needs to be generated,
 * distributed and kept in step between replicas. The label keeps the key apart from any other
 * use of the token. A new hs_token invalidates the challenges of the last 10 minutes; their
 * seekers get CONNECTA_CHALLENGE_FAILED and their client fetches a new one.
 */
export function challengeKey(hsToken: string): Buffer {
  return Buffer.from(hkdfSync("sha256", hsToken, "", "connecta intake challenge v1", 32));
}

function mac(key: Buffer, signed: Buffer): Buffer {
  return createHmac("sha256", key).update(signed).digest().subarray(0, MAC_BYTES);
}

/** Issues a challenge of `difficulty` bits that expires `ttlSeconds` from `now` (milliseconds). */
export function issueChallenge(key: Buffer, difficulty: number, ttlSeconds: number, now = Date.now()): Challenge {
  const signed = Buffer.alloc(SIGNED_BYTES);
  randomBytes(ID_BYTES).copy(signed);
  signed.writeUInt8(difficulty, ID_BYTES);
  signed.writeUInt32BE(Math.floor(now / 1000) + ttlSeconds, ID_BYTES + 1);
  const text = Buffer.concat([signed, mac(key, signed)]).toString("base64url");
  const challenge = readChallenge(key, text);
  if (!challenge) throw new Error("an issued challenge does not read back");
  return challenge;
}

/**
 * The challenge `text` stands for, or null when we did not issue it: malformed, or its
 * signature does not match (forged, or tampered with, e.g. an easier difficulty or a later
 * expiry). Expiry is not checked here: a used challenge is answered again after it expired
 * (a retried intake, see intakes.ts).
 */
export function readChallenge(key: Buffer, text: string): Challenge | null {
  if (text.length !== CHALLENGE_LENGTH) return null;
  const bytes = Buffer.from(text, "base64url");
  // Node skips characters that are no base64url; only the canonical text is ours.
  if (bytes.length !== SIGNED_BYTES + MAC_BYTES || bytes.toString("base64url") !== text) return null;
  const signed = bytes.subarray(0, SIGNED_BYTES);
  if (!timingSafeEqual(bytes.subarray(SIGNED_BYTES), mac(key, signed))) return null;
  return {
    text,
    id: signed.subarray(0, ID_BYTES).toString("hex"),
    difficulty: signed.readUInt8(ID_BYTES),
    expiresAt: new Date(signed.readUInt32BE(ID_BYTES + 1) * 1000),
  };
}
