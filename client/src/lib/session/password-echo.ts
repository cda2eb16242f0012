/**
 * The password just chosen or typed, so that the keys page can refuse it as the passphrase:
 * whoever learns the password (it goes to the homeserver) must not be able to read the messages
 * too. Kept as a SHA-256 digest in this tab's memory only (never in storage), until the keys
 * page has used it or the page is reloaded.
 */
let digest: string | null = null;

async function sha256(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Remembers `password` (as its digest) for {@link isPassword}. */
export async function rememberPassword(password: string): Promise<void> {
  digest = await sha256(password);
}

/** True when `candidate` is the password remembered; false when none is. */
export async function isPassword(candidate: string): Promise<boolean> {
  return digest !== null && (await sha256(candidate)) === digest;
}

/** Forgets the password. */
export function forgetPassword(): void {
  digest = null;
}
