import { describe, expect, it } from "vitest";
import { MatrixEvent } from "matrix-js-sdk";
import { CallMembership } from "matrix-js-sdk/lib/matrixrtc/CallMembership.js";
import { livekitIdentity, ownMemberId } from "./identity.ts";

/** Our membership as the SDK writes it: legacy `m.call.member` state of one device. */
function membershipEvent(userId: string, deviceId: string): MatrixEvent {
  return new MatrixEvent({
    type: "org.matrix.msc3401.call.member",
    sender: userId,
    state_key: `_${userId}_${deviceId}_m.call`,
    room_id: "!raum:connecta.test",
    event_id: "$member",
    origin_server_ts: 1,
    content: {
      application: "m.call",
      call_id: "",
      scope: "m.room",
      device_id: deviceId,
      expires: 14_400_000,
      focus_active: { type: "livekit", focus_selection: "oldest_membership" },
      foci_preferred: [{ type: "livekit", livekit_service_url: "https://connecta.test/api/v1/rtc" }],
    },
  });
}

describe("livekitIdentity", () => {
  it("is the identity matrix-js-sdk (and so Element Call) expects in LiveKit for our kind of membership", async () => {
    const userId = "@ratsuchend:connecta.test";
    const membership = await CallMembership.parseFromEvent(membershipEvent(userId, "ABCDEF"));
    const member = { userId, deviceId: "ABCDEF", memberId: ownMemberId(userId, "ABCDEF") };
    expect(livekitIdentity(member)).toBe(membership.rtcBackendIdentity);
    expect(livekitIdentity(member)).toBe("@ratsuchend:connecta.test:ABCDEF");
  });

  it("differs for another device of the same person", () => {
    const a = { userId: "@b:connecta.test", deviceId: "ONE", memberId: ownMemberId("@b:connecta.test", "ONE") };
    const b = { userId: "@b:connecta.test", deviceId: "TWO", memberId: ownMemberId("@b:connecta.test", "TWO") };
    expect(livekitIdentity(a)).not.toBe(livekitIdentity(b));
  });
});
