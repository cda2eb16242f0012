// Encrypted attachments as the Matrix spec defines them (`EncryptedFile`, v2): the file is
// encrypted in the browser with a fresh AES-256-CTR key before upload; the key, IV and SHA-256
// of the ciphertext travel inside the (Megolm-encrypted) message. The homeserver stores bytes it
// cannot read. Pure WebCrypto: no dependency, no network.

/** What we accept: images a browser shows and PDF, checked by their first bytes, not the name. */
export const ACCEPTED_TYPES = ["image/jpeg", "image/png", "image/webp", "application/pdf"] as const;
export type AcceptedType = (typeof ACCEPTED_TYPES)[number];

/** Largest file we upload (the homeserver's max_upload_size too; encryption adds nothing). */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;

/** The `file` object of an encrypted attachment message. */
export interface EncryptedFile {
  url: string;
  key: { kty: "oct"; key_ops: string[]; alg: "A256CTR"; k: string; ext: true };
  iv: string;
  hashes: { sha256: string };
  v: "v2";
}

const MAGIC: { type: AcceptedType; bytes: number[]; offset?: number }[] = [
  { type: "image/jpeg", bytes: [0xff, 0xd8, 0xff] },
  { type: "image/png", bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { type: "application/pdf", bytes: [0x25, 0x50, 0x44, 0x46, 0x2d] },
  // RIFF....WEBP
  { type: "image/webp", bytes: [0x57, 0x45, 0x42, 0x50], offset: 8 },
];

/** The type of a file by its content, or null if we do not accept it. */
export function sniffType(head: Uint8Array): AcceptedType | null {
  for (const { type, bytes, offset = 0 } of MAGIC) {
    if (bytes.every((byte, i) => head[offset + i] === byte)) {
      if (type === "image/webp" && !(head[0] === 0x52 && head[1] === 0x49 && head[2] === 0x46 && head[3] === 0x46))
        continue;
      return type;
    }
  }
  return null;
}

/** Why a file cannot be sent, or null if it can. */
export function fileProblem(size: number, type: AcceptedType | null): "empty" | "tooLarge" | "type" | null {
  if (size === 0) return "empty";
  if (size > MAX_FILE_BYTES) return "tooLarge";
  if (type === null) return "type";
  return null;
}

/** Unpadded base64 as the spec wants it; `urlSafe` for the JWK. */
function base64(bytes: Uint8Array, urlSafe = false): string {
  let text = btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
  if (urlSafe) text = text.replace(/\+/g, "-").replace(/\//g, "_");
  return text;
}

function unbase64(text: string): Uint8Array<ArrayBuffer> {
  const normal = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(normal + "=".repeat((4 - (normal.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Encrypts a file; returns the ciphertext and the `file` object without its `url`. */
export async function encryptAttachment(
  plain: ArrayBuffer,
): Promise<{ data: ArrayBuffer; file: Omit<EncryptedFile, "url"> }> {
  const key = await crypto.subtle.generateKey({ name: "AES-CTR", length: 256 }, true, ["encrypt", "decrypt"]);
  // 64 random bits, then a 64-bit counter starting at zero (as the spec recommends).
  const iv = new Uint8Array(16);
  crypto.getRandomValues(iv.subarray(0, 8));
  const data = await crypto.subtle.encrypt({ name: "AES-CTR", counter: iv, length: 64 }, key, plain);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return {
    data,
    file: {
      key: { kty: "oct", key_ops: ["encrypt", "decrypt"], alg: "A256CTR", k: String(jwk.k), ext: true },
      iv: base64(iv),
      hashes: { sha256: base64(hash) },
      v: "v2",
    },
  };
}

/** The ciphertext was changed or belongs to another message. */
export class AttachmentIntegrityError extends Error {}

/**
 * Decrypts a downloaded attachment after checking its SHA-256.
 *
 * @throws AttachmentIntegrityError when the hash does not match
 */
export async function decryptAttachment(data: ArrayBuffer, file: Omit<EncryptedFile, "url">): Promise<ArrayBuffer> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  if (base64(hash) !== file.hashes.sha256.replace(/=+$/, "")) throw new AttachmentIntegrityError("hash mismatch");
  const key = await crypto.subtle.importKey(
    "jwk",
    { kty: "oct", k: file.key.k, alg: "A256CTR", ext: true, key_ops: ["encrypt", "decrypt"] },
    { name: "AES-CTR" },
    false,
    ["decrypt"],
  );
  return crypto.subtle.decrypt({ name: "AES-CTR", counter: unbase64(file.iv), length: 64 }, key, data);
}
