import { describe, expect, it } from "vitest";
import {
  AttachmentIntegrityError,
  MAX_FILE_BYTES,
  decryptAttachment,
  encryptAttachment,
  fileProblem,
  sniffType,
} from "./attachments.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

describe("sniffType", () => {
  it("knows JPEG, PNG, PDF and WebP by their first bytes", () => {
    expect(sniffType(bytes(0xff, 0xd8, 0xff, 0xe0))).toBe("image/jpeg");
    expect(sniffType(bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a))).toBe("image/png");
    expect(sniffType(new TextEncoder().encode("%PDF-1.7\n"))).toBe("application/pdf");
    expect(sniffType(new TextEncoder().encode("RIFF\0\0\0\0WEBPVP8 "))).toBe("image/webp");
  });

  it("refuses everything else, whatever the file is called", () => {
    expect(sniffType(new TextEncoder().encode("<svg xmlns="))).toBeNull();
    expect(sniffType(new TextEncoder().encode("<html><script>"))).toBeNull();
    expect(sniffType(bytes(0x4d, 0x5a, 0x90, 0x00))).toBeNull(); // a Windows program
    expect(sniffType(new TextEncoder().encode("RIFF\0\0\0\0WAVEfmt "))).toBeNull();
    expect(sniffType(new TextEncoder().encode("XXXX\0\0\0\0WEBPVP8 "))).toBeNull();
    expect(sniffType(bytes())).toBeNull();
  });
});

describe("fileProblem", () => {
  it("names empty, too large and unknown files", () => {
    expect(fileProblem(0, "image/png")).toBe("empty");
    expect(fileProblem(MAX_FILE_BYTES + 1, "image/png")).toBe("tooLarge");
    expect(fileProblem(10, null)).toBe("type");
    expect(fileProblem(MAX_FILE_BYTES, "application/pdf")).toBeNull();
  });
});

describe("encrypted attachments", () => {
  const plain = new TextEncoder().encode("%PDF-1.4 a private letter").buffer;

  it("round-trip, and the ciphertext does not contain the plain text", async () => {
    const { data, file } = await encryptAttachment(plain);
    expect(Buffer.from(data).toString("latin1")).not.toContain("private letter");
    expect(file.v).toBe("v2");
    expect(file.key.alg).toBe("A256CTR");
    expect(file.iv).toMatch(/^[A-Za-z0-9+/]{22}$/);
    expect(file.hashes.sha256).toMatch(/^[A-Za-z0-9+/]{43}$/);
    expect(new Uint8Array(await decryptAttachment(data, file))).toEqual(new Uint8Array(plain));
  });

  it("use a new key and IV for every file", async () => {
    const a = await encryptAttachment(plain);
    const b = await encryptAttachment(plain);
    expect(a.file.key.k).not.toBe(b.file.key.k);
    expect(a.file.iv).not.toBe(b.file.iv);
  });

  it("refuse a changed ciphertext", async () => {
    const { data, file } = await encryptAttachment(plain);
    const changed = new Uint8Array(data.slice(0));
    changed[0] = (changed[0] ?? 0) ^ 1;
    await expect(decryptAttachment(changed.buffer, file)).rejects.toBeInstanceOf(AttachmentIntegrityError);
  });
});
