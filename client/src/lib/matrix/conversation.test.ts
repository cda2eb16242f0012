import { describe, expect, it } from "vitest";
import { DecryptionFailureCode } from "matrix-js-sdk/lib/crypto-api/index.js";
import { MatrixEvent } from "matrix-js-sdk";
import { KEY_GRACE_MS, markerOf, refusal, stillDecrypting, unreadableReason, waitingSince } from "./conversation.ts";

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

describe("unreadableReason", () => {
  it("blames the sender's unconfirmed device only when the crypto refused the sender", () => {
    for (const code of [
      DecryptionFailureCode.UNKNOWN_SENDER_DEVICE,
      DecryptionFailureCode.UNSIGNED_SENDER_DEVICE,
      DecryptionFailureCode.SENDER_IDENTITY_PREVIOUSLY_VERIFIED,
    ]) {
      expect(unreadableReason(code)).toBe("untrustedSender");
    }
  });

  it("says the key never reached this device for every missing or withheld key", () => {
    for (const code of [
      DecryptionFailureCode.MEGOLM_UNKNOWN_INBOUND_SESSION_ID,
      DecryptionFailureCode.MEGOLM_KEY_WITHHELD,
      DecryptionFailureCode.MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE,
      DecryptionFailureCode.OLM_UNKNOWN_MESSAGE_INDEX,
      DecryptionFailureCode.HISTORICAL_MESSAGE_NO_KEY_BACKUP,
      DecryptionFailureCode.HISTORICAL_MESSAGE_WORKING_BACKUP,
      DecryptionFailureCode.HISTORICAL_MESSAGE_USER_NOT_JOINED,
      DecryptionFailureCode.UNKNOWN_ERROR,
      null,
    ]) {
      expect(unreadableReason(code)).toBe("missingKey");
    }
  });
});

describe("stillDecrypting", () => {
  it("waits the grace time after the first failure before calling a message unreadable", () => {
    expect(stillDecrypting(1000, 1000 + KEY_GRACE_MS - 1, 0, false)).toBe(true);
    expect(stillDecrypting(1000, 1000 + KEY_GRACE_MS, 0, false)).toBe(false);
  });

  it("counts the grace from the end of a key restore when that is later, and never ends it during one", () => {
    expect(stillDecrypting(0, 5000 + KEY_GRACE_MS - 1, 5000, false)).toBe(true);
    expect(stillDecrypting(0, 5000 + KEY_GRACE_MS, 5000, false)).toBe(false);
    expect(stillDecrypting(0, 10 * KEY_GRACE_MS, 0, true)).toBe(true);
  });
});

describe("markerOf", () => {
  const stateEvent = (content: Record<string, unknown>, type = "de.connecta.enquiry", stateKey = "") =>
    new MatrixEvent({ event_id: "$m", type, state_key: stateKey, origin_server_ts: 1000, content });

  it("reads the enquiry's change the bot set, with its time", () => {
    expect(markerOf(stateEvent({ enquiry_id: 1, state: "active", change: "handed_over", at: "x" }))).toEqual({
      id: "$m",
      ts: 1000,
      change: "handed_over",
      state: "active",
    });
  });

  it("is no marker for the room's first marking, another state event, or an unknown change", () => {
    expect(markerOf(stateEvent({ enquiry_id: 1, agency_id: 2 }))).toBeNull();
    expect(markerOf(stateEvent({ state: "active", change: "claimed" }, "m.room.topic"))).toBeNull();
    expect(markerOf(stateEvent({ state: "active", change: "claimed" }, "de.connecta.enquiry", "x"))).toBeNull();
    expect(markerOf(stateEvent({ state: "active", change: "deleted" }))).toBeNull();
    expect(markerOf(stateEvent({ change: "closed" }))).toBeNull();
  });
});

describe("waitingSince", () => {
  const seeker = "@seeker:example.org";
  const said = (sender: string, ts: number) => ({ sender, own: sender === "@me:example.org", ts });

  it("counts from the seeker's oldest message after the last answer", () => {
    const messages = [said(seeker, 1), said("@me:example.org", 2), said(seeker, 3), said(seeker, 4)];
    expect(waitingSince(messages, seeker)).toBe(3);
  });

  it("counts an answer of the counsellor before a handover as an answer", () => {
    expect(waitingSince([said(seeker, 1), said("@before:example.org", 2)], seeker)).toBeNull();
    expect(waitingSince([said(seeker, 1), said("@before:example.org", 2), said(seeker, 5)], seeker)).toBe(5);
  });

  it("is null without messages or when the last word was a counsellor's", () => {
    expect(waitingSince([], seeker)).toBeNull();
    expect(waitingSince([said(seeker, 1), said("@me:example.org", 2)], seeker)).toBeNull();
  });

  it("takes everyone else's messages as the seeker's when the seeker is not known", () => {
    expect(waitingSince([said("@me:example.org", 1), said(seeker, 2)])).toBe(2);
  });
});
