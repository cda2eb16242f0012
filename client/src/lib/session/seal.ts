// Sealing a tab's login while a counsellor's screen is locked (lock.ts): the access token and the
// crypto store's key are encrypted with a "lock key" derived from the secret-storage key, which
// only the passphrase (or the recovery key) gives back. While locked, nothing in the tab can use
// the login. Plain WebCrypto, no SDK: the page seals, the Matrix worker opens (it derives the
// secret-storage key from the passphrase, as on the keys page).

/** Ciphertext of AES-256-GCM with its IV, both base64. */
export interface Sealed {
  iv: string;
  data: string;
}

const toBase64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/**
 * The lock key (base64, 32 bytes) of a secret-storage key: HKDF-SHA-256 with a purpose of its
 * own, so that the lock key, which lies in the tab's sessionStorage while it is unlocked, tells
 * nothing about the secret-storage key and opens nothing else.
 */
export async function lockKeyOf(secretStorageKey: Uint8Array<ArrayBuffer>): Promise<string> {
  const base = await crypto.subtle.importKey("raw", secretStorageKey, "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new Uint8Array(32),
      info: new TextEncoder().encode("connecta idle lock v1"),
    },
    base,
    256,
  );
  return toBase64(new Uint8Array(bits));
}

const aesKey = (lockKey: string): Promise<CryptoKey> =>
  crypto.subtle.importKey("raw", fromBase64(lockKey), "AES-GCM", false, ["encrypt", "decrypt"]);

/** Encrypts `plain` with the lock key. */
export async function seal(lockKey: string, plain: string): Promise<Sealed> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    await aesKey(lockKey),
    new TextEncoder().encode(plain),
  );
  return { iv: toBase64(iv), data: toBase64(new Uint8Array(data)) };
}

/** Decrypts what {@link seal} made; throws if `lockKey` is not the key it was sealed with. */
export async function unseal(lockKey: string, sealed: Sealed): Promise<string> {
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromBase64(sealed.iv) },
    await aesKey(lockKey),
    fromBase64(sealed.data),
  );
  return new TextDecoder().decode(plain);
}
