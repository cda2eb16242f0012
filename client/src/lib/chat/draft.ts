// Drafts that survive a reload without being stored in plain text: the text is encrypted with
// AES-GCM under a key that cannot be exported (kept as a CryptoKey object in IndexedDB), and
// only the ciphertext goes to this tab's sessionStorage. Quick exit and logout wipe both.

const DB_NAME = "connecta.drafts";
const STORE = "keys";
const PREFIX = "connecta.draft.";

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error("IndexedDB request failed"));
  });
}

async function draftKey(): Promise<CryptoKey> {
  const db = await openDb();
  try {
    const existing = await new Promise<CryptoKey | undefined>((resolve, reject) => {
      const request = db.transaction(STORE).objectStore(STORE).get("key");
      request.onsuccess = () => resolve(request.result as CryptoKey | undefined);
      request.onerror = () => reject(request.error ?? new Error("IndexedDB request failed"));
    });
    if (existing) return existing;
    const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction(STORE, "readwrite");
      tx.objectStore(STORE).put(key, "key");
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
    });
    return key;
  } finally {
    db.close();
  }
}

const toBase64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

// Saves run one after another, in the order they were asked for: two at once could otherwise
// both create a key (the draft stored under the first one then cannot be read back) or finish
// the wrong way round (an older, shorter draft written over the whole one).
let saving: Promise<void> = Promise.resolve();

/** Saves (or with an empty text, removes) the draft of a conversation. */
export function saveDraft(conversationId: string, text: string): Promise<void> {
  const save = saving.then(() => store(conversationId, text));
  saving = save.catch(() => {});
  return save;
}

async function store(conversationId: string, text: string): Promise<void> {
  if (text === "") {
    sessionStorage.removeItem(PREFIX + conversationId);
    return;
  }
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await draftKey(), new TextEncoder().encode(text)),
  );
  sessionStorage.setItem(PREFIX + conversationId, `${toBase64(iv)}.${toBase64(data)}`);
}

/** The draft of a conversation, or "" (also when it cannot be decrypted any more). */
export async function loadDraft(conversationId: string): Promise<string> {
  const stored = sessionStorage.getItem(PREFIX + conversationId);
  if (!stored) return "";
  const [iv, data] = stored.split(".");
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64(iv ?? "") },
      await draftKey(),
      fromBase64(data ?? ""),
    );
    return new TextDecoder().decode(plain);
  } catch {
    sessionStorage.removeItem(PREFIX + conversationId);
    return "";
  }
}
