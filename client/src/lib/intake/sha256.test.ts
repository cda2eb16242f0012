import { createHash, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { leadingZeroBits, sha256Ascii, solves } from "./sha256.ts";

const hex = (words: Uint32Array) => [...words].map((w) => w.toString(16).padStart(8, "0")).join("");

describe("sha256Ascii", () => {
  it("matches node:crypto for messages of every padding length", () => {
    for (let length = 0; length < 200; length++) {
      const text = "x:".repeat(length).slice(0, length);
      expect(hex(sha256Ascii(text)), `length ${length}`).toBe(createHash("sha256").update(text).digest("hex"));
    }
    const challenge = `${randomUUID()}:123456`;
    expect(hex(sha256Ascii(challenge))).toBe(createHash("sha256").update(challenge).digest("hex"));
  });
});

describe("solves", () => {
  it("finds a nonce the server's check accepts", () => {
    const id = randomUUID();
    let n = 0;
    while (!solves(id, String(n), 12)) n++;
    const digest = createHash("sha256").update(`${id}:${n}`).digest();
    expect(digest.readUInt16BE(0) >> 4).toBe(0);
  });

  it("counts zero bits across words", () => {
    expect(leadingZeroBits(new Uint32Array([0, 1, 0]))).toBe(63);
    expect(leadingZeroBits(new Uint32Array([0x00ffffff]))).toBe(8);
  });
});
