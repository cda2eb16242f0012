import { computeRtcIdentityRaw } from "matrix-js-sdk/lib/matrixrtc/membershipData/rtc.js";
import { describe, expect, it } from "vitest";
import { legacyIdentity, livekitIdentity, livekitRoom, ROOM_SLOT } from "./identity.ts";

describe("LiveKit names of a call", () => {
  it("are the identities matrix-js-sdk computes, which the media keys are bound to", async () => {
    for (const [user, device, member] of [
      ["@seeker:localhost", "ABCDEFGH", "m1"],
      ["@b:x", "ü-device", 'member "quoted"'],
    ] as const) {
      expect(livekitIdentity(user, device, member)).toBe(await computeRtcIdentityRaw(user, device, member));
    }
  });

  it("name the room by room and slot, unpadded base64 of SHA-256 over the JSON array", () => {
    // sha256('["!r:x","m.call#ROOM"]'), computed independently with Python's hashlib.
    expect(livekitRoom("!r:x", ROOM_SLOT)).toBe("pRFzEPtSfqdKIzEf0NCR8PiABfxPTGTxjJq8B7Y6NS4");
    expect(livekitRoom("!r:x", ROOM_SLOT)).not.toBe(livekitRoom("!r:x", "m.call#other"));
    expect(legacyIdentity("@a:x", "DEV")).toBe("@a:x:DEV");
  });
});
