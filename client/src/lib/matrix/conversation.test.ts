import { describe, expect, it } from "vitest";
import { refusal } from "./conversation.ts";

describe("refusal", () => {
  // The texts of the Rust crypto's SessionRecipientCollectionError (matrix-sdk-crypto-wasm 18).
  it("tells a device that is not cross-signed from an identity that changed", () => {
    expect(refusal(new Error("Encryption failed because your device is not verified"))).toBe("unverifiedDevice");
    expect(refusal(new Error("Encryption failed because cross-signing is not set up on your account"))).toBe(
      "unverifiedDevice",
    );
    expect(refusal(new Error("one or more users that were verified have changed their identity"))).toBe(
      "identityChanged",
    );
  });

  it("leaves every other failure to the caller", () => {
    expect(refusal(new Error("fetch failed"))).toBeNull();
    expect(refusal("M_FORBIDDEN")).toBeNull();
  });
});
