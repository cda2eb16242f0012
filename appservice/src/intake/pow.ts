/**
 * The intake's proof of work: find a nonce so that SHA-256 of `${challengeId}:${nonce}` starts
 * with at least `difficulty` zero bits. Checking costs one hash; solving costs 2^difficulty
 * hashes on average.
 */
import { createHash } from "node:crypto";

/** Name of the algorithm, as sent to clients. */
export const POW_ALGORITHM = "sha256-leading-zero-bits";

/** What a nonce may look like: short, URL-safe (clients usually count in decimal). */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Number of leading zero bits of `digest`. */
export function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte !== 0) return bits + Math.clz32(byte) - 24;
    bits += 8;
  }
  return bits;
}

/** SHA-256 of the proof-of-work input. */
export function powDigest(challengeId: string, nonce: string): Buffer {
  return createHash("sha256").update(`${challengeId}:${nonce}`).digest();
}

/** True when `nonce` solves the challenge `challengeId` of `difficulty` bits. */
export function isSolved(challengeId: string, nonce: string, difficulty: number): boolean {
  return NONCE_PATTERN.test(nonce) && leadingZeroBits(powDigest(challengeId, nonce)) >= difficulty;
}

/** Finds a nonce (a decimal counter) that solves the challenge; for tests and tools. */
export function solve(challengeId: string, difficulty: number): string {
  for (let n = 0; ; n++) {
    if (leadingZeroBits(powDigest(challengeId, String(n))) >= difficulty) return String(n);
  }
}
