import { describe, expect, it } from "vitest";
import { KeyProviderEvent } from "livekit-client";
import { KEY_OPTIONS, MatrixKeyProvider } from "./keys.ts";

describe("MatrixKeyProvider", () => {
  it("sets each participant's own key with its index, in the order the keys arrive, never one shared key", async () => {
    const provider = new MatrixKeyProvider();
    const seen: { identity: string | undefined; index: number | undefined }[] = [];
    provider.on(KeyProviderEvent.SetKey, (info) =>
      seen.push({ identity: info.participantIdentity, index: info.keyIndex }),
    );
    const key = (n: number) => new Uint8Array(16).fill(n);
    void provider.setParticipantKey({ key: key(1), index: 0, identity: "seeker" });
    void provider.setParticipantKey({ key: key(2), index: 0, identity: "counsellor" });
    await provider.setParticipantKey({ key: key(3), index: 1, identity: "seeker" });
    expect(seen).toEqual([
      { identity: "seeker", index: 0 },
      { identity: "counsellor", index: 0 },
      { identity: "seeker", index: 1 },
    ]);
    expect(provider.getOptions()).toMatchObject(KEY_OPTIONS);
    expect(provider.getOptions().sharedKey).toBe(false);
  });
});
