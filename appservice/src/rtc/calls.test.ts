/**
 * Who may open a call without asking LiveKit (calls.ts `checkStarted`): the counsellor always,
 * seekers when the operator lets them. LiveKit here is an address nothing listens on, so a test
 * that asked it would fail; asking it is proven against the real LiveKit in
 * tests/e2e/calls-token.test.ts.
 */
import { describe, expect, it } from "vitest";
import { checkStarted, type Livekit } from "./calls.ts";

const nowhere: Livekit = {
  url: "ws://127.0.0.1:1",
  apiUrl: "http://127.0.0.1:1",
  apiKey: "k",
  apiSecret: "s".repeat(32),
  seekersStart: false,
};

describe("checkStarted", () => {
  it("lets the counsellor open the call without asking LiveKit", async () => {
    await expect(checkStarted(nowhere, "room", "@c:x", "@c:x")).resolves.toBeUndefined();
  });

  it("lets a seeker open it when seekers may start calls", async () => {
    await expect(checkStarted({ ...nowhere, seekersStart: true }, "room", "@s:x", "@c:x")).resolves.toBeUndefined();
  });

  it("asks LiveKit whether the counsellor is in the call before a seeker joins", async () => {
    // Nothing listens: asking fails, which shows that it asked.
    await expect(checkStarted(nowhere, "room", "@s:x", "@c:x")).rejects.toThrow();
  });
});
