// Drafts saved quickly one after another (typing, with pauses just long enough for a save) must
// end as the last text typed. IndexedDB and sessionStorage are small in-memory fakes here (Node
// has neither); the encryption is Node's real WebCrypto. The fake answers the first key lookup
// late, as a busy browser may: saves running side by side would then finish the wrong way round.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadDraft, saveDraft } from "./draft.ts";

function fakeStorage(): Storage {
  const items = new Map<string, string>();
  return {
    get length() {
      return items.size;
    },
    clear: () => items.clear(),
    getItem: (key) => items.get(key) ?? null,
    key: (index) => [...items.keys()][index] ?? null,
    removeItem: (key) => void items.delete(key),
    setItem: (key, value) => void items.set(key, value),
  };
}

/** Just what draft.ts uses of IndexedDB: one database, one store, get and put. */
function fakeIndexedDb(): IDBFactory {
  const store = new Map<string, unknown>();
  let lookups = 0;
  const later = (ms: number, fn: () => void) => setTimeout(fn, ms);
  const db = {
    close: () => {},
    transaction: () => {
      const tx: Record<string, unknown> = {
        objectStore: () => ({
          get: (key: string) => {
            const request: Record<string, unknown> = {};
            // The first lookup is slow, the ones after it quick.
            later(lookups++ === 0 ? 30 : 0, () => {
              request.result = store.get(key);
              (request.onsuccess as () => void)();
            });
            return request;
          },
          put: (value: unknown, key: string) => {
            store.set(key, value);
            later(0, () => (tx.oncomplete as () => void)());
          },
        }),
      };
      return tx;
    },
  };
  return {
    open: () => {
      const request: Record<string, unknown> = { result: db };
      later(0, () => (request.onsuccess as () => void)());
      return request;
    },
  } as unknown as IDBFactory;
}

describe("drafts", () => {
  beforeEach(() => {
    Object.assign(globalThis, { indexedDB: fakeIndexedDb(), sessionStorage: fakeStorage() });
  });
  afterEach(() => {
    Reflect.deleteProperty(globalThis, "indexedDB");
    Reflect.deleteProperty(globalThis, "sessionStorage");
  });

  it("keep the last text when saves overlap, and store it encrypted", async () => {
    const first = saveDraft("!room", "Ich weiß");
    const last = saveDraft("!room", "Ich weiß nicht, wie ich anfangen soll");
    await Promise.all([first, last]);
    expect(await loadDraft("!room")).toBe("Ich weiß nicht, wie ich anfangen soll");
    expect(sessionStorage.getItem("connecta.draft.!room")).not.toContain("anfangen");
  });

  it("remove the draft when the text is emptied after it was saved", async () => {
    void saveDraft("!room", "Hallo");
    await saveDraft("!room", "");
    expect(sessionStorage.getItem("connecta.draft.!room")).toBeNull();
    expect(await loadDraft("!room")).toBe("");
  });
});
