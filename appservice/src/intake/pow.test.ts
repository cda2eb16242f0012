import { describe, expect, it } from "vitest";
import { isSolved, leadingZeroBits, powDigest, solve } from "./pow.ts";

const id = "6f1c2a4e-8d3b-4c7a-9e2f-1a2b3c4d5e6f";

describe("leadingZeroBits", () => {
  it.each([
    [[0x80], 0],
    [[0x40], 1],
    [[0x01], 7],
    [[0x00, 0xff], 8],
    [[0x00, 0x00, 0x10], 19],
    [[0x00, 0x00], 16],
    [[], 0],
  ])("counts %j as %i", (bytes, expected) => {
    expect(leadingZeroBits(Uint8Array.from(bytes))).toBe(expected);
  });
});

describe("isSolved", () => {
  it("accepts a solution and refuses other nonces and challenges", () => {
    const nonce = solve(id, 12);
    expect(leadingZeroBits(powDigest(id, nonce))).toBeGreaterThanOrEqual(12);
    expect(isSolved(id, nonce, 12)).toBe(true);
    // A solution for fewer bits than asked does not count.
    const weak = [...Array(5000).keys()].map(String).find((n) => leadingZeroBits(powDigest(id, n)) === 2);
    expect(weak).toBeDefined();
    expect(isSolved(id, weak ?? "", 12)).toBe(false);
    // The solution belongs to its challenge.
    const other = "0b6f1c2a-8d3b-4c7a-9e2f-1a2b3c4d5e6f";
    expect(isSolved(other, nonce, 12)).toBe(false);
  });

  it("hashes `${challengeId}:${nonce}` with SHA-256 (as a client computes it)", () => {
    expect(powDigest("abc", "1").toString("hex")).toBe(
      "bfcf0b9cbe9d8208b2cddd9a01c31a9a60698a106a0e4fc1664233a15f16acec",
    );
  });

  it("refuses nonces that are empty, too long or not URL-safe", () => {
    for (const nonce of ["", "x".repeat(65), "1 2", "ä", "1\u200b"]) expect(isSolved(id, nonce, 0)).toBe(false);
    expect(isSolved(id, "x".repeat(64), 0)).toBe(true);
  });
});
