import { describe, expect, it } from "vitest";
import { computeRtcIdentityRaw } from "matrix-js-sdk/lib/matrixrtc/membershipData/rtc.js";
import { livekitIdentity, ownMemberId } from "./identity.ts";

describe("livekitIdentity", () => {
  it("is the identity matrix-js-sdk derives for a membership, which the token service signs", async () => {
    const member = {
      userId: "@ratsuchend:connecta.test",
      deviceId: "ABCDEF",
      memberId: "@ratsuchend:connecta.test:ABCDEF",
    };
    expect(await livekitIdentity(member)).toBe(
      await computeRtcIdentityRaw(member.userId, member.deviceId, member.memberId),
    );
    expect(await livekitIdentity(member)).not.toMatch(/=$/);
  });

  it("differs for another device of the same person", async () => {
    const a = { userId: "@b:connecta.test", deviceId: "ONE", memberId: ownMemberId("@b:connecta.test", "ONE") };
    const b = { userId: "@b:connecta.test", deviceId: "TWO", memberId: ownMemberId("@b:connecta.test", "TWO") };
    expect(await livekitIdentity(a)).not.toBe(await livekitIdentity(b));
  });
});
