import { describe, expect, it } from "vitest";
import { CHALLENGE_LENGTH, challengeKey, issueChallenge, readChallenge } from "./challenge.ts";

const key = challengeKey("an-hs-token-of-at-least-32-characters");
const now = Date.UTC(2025, 0, 1, 12, 0, 0);

/** `text` with the character at `i` replaced by another base64url character. */
function flip(text: string, i: number): string {
  const other = text[i] === "A" ? "B" : "A";
  return `${text.slice(0, i)}${other}${text.slice(i + 1)}`;
}

describe("intake challenges", () => {
  it("read back as issued: id, difficulty and expiry", () => {
    const challenge = issueChallenge(key, 18, 600, now);
    expect(challenge.text).toMatch(new RegExp(`^[A-Za-z0-9_-]{${CHALLENGE_LENGTH}}$`));
    expect(challenge.id).toMatch(/^[0-9a-f]{24}$/);
    expect(challenge.difficulty).toBe(18);
    expect(challenge.expiresAt.toISOString()).toBe("2025-01-01T12:10:00.000Z");
    expect(readChallenge(key, challenge.text)).toEqual(challenge);
  });

  it("are different every time", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => issueChallenge(key, 18, 600).id));
    expect(ids.size).toBe(1000);
  });

  it("leave a nonce of up to 10 digits within one SHA-256 block", () => {
    expect(`${issueChallenge(key, 18, 600).text}:${"9".repeat(10)}`.length).toBeLessThanOrEqual(55);
  });

  it("refuse every change to any character (an easier difficulty, a later expiry, another id)", () => {
    const { text } = issueChallenge(key, 18, 600, now);
    for (let i = 0; i < text.length; i++) expect(readChallenge(key, flip(text, i)), String(i)).toBeNull();
  });

  it("refuse a challenge signed with another key (another installation's hs_token)", () => {
    const other = challengeKey("another-hs-token-of-at-least-32-characters");
    expect(readChallenge(other, issueChallenge(key, 18, 600).text)).toBeNull();
  });

  it("refuse what is not a challenge of ours: UUIDs, other lengths, characters that are not base64url", () => {
    const { text } = issueChallenge(key, 18, 600);
    for (const bad of [
      "",
      "6f1c2a4e-8d3b-4c7a-9e2f-1a2b3c4d5e6f",
      text.slice(1),
      `${text}A`,
      `${text.slice(0, -1)}=`,
      `${text.slice(0, -1)}+`,
      `${text.slice(0, -1)}.`,
      text.replaceAll("-", "+").replaceAll("_", "/"),
    ]) {
      if (bad === text) continue;
      expect(readChallenge(key, bad), bad).toBeNull();
    }
  });
});
