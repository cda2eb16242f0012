import { describe, expect, it } from "vitest";
import { lockKeyOf, seal, unseal } from "./seal.ts";

const secretStorageKey = (fill: number) => new Uint8Array(32).fill(fill);

describe("sealing a locked tab's login", () => {
  it("opens with the lock key of the same secret-storage key, and hides what it seals", async () => {
    const lockKey = await lockKeyOf(secretStorageKey(7));
    const sealed = await seal(lockKey, '{"accessToken":"syt_secret"}');
    expect(JSON.stringify(sealed)).not.toContain("syt_secret");
    expect(await unseal(await lockKeyOf(secretStorageKey(7)), sealed)).toBe('{"accessToken":"syt_secret"}');
  });

  it("does not open with the lock key of another secret-storage key", async () => {
    const sealed = await seal(await lockKeyOf(secretStorageKey(7)), "x");
    await expect(unseal(await lockKeyOf(secretStorageKey(8)), sealed)).rejects.toThrow();
  });

  it("derives a lock key that is not the secret-storage key itself", async () => {
    const key = secretStorageKey(7);
    const lockKey = await lockKeyOf(key);
    expect(lockKey).not.toBe(btoa(String.fromCharCode(...key)));
    expect(atob(lockKey)).toHaveLength(32);
  });
});
