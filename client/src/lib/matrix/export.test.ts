import { describe, expect, it } from "vitest";
import type { ChatMessage } from "./conversation.ts";
import { exportedMessage } from "./export.ts";

const base: ChatMessage = {
  id: "$1",
  sender: "@s:x",
  senderName: "Sam",
  own: true,
  ts: 5,
  kind: "text",
  body: "Hallo",
};

describe("a message in the copy", () => {
  it("keeps text as it is", () => {
    expect(exportedMessage(base)).toEqual({
      id: "$1",
      own: true,
      senderName: "Sam",
      ts: 5,
      kind: "text",
      body: "Hallo",
      file: null,
    });
  });

  it("leaves out a message that was never sent", () => {
    expect(exportedMessage({ ...base, state: "failed" })).toBeNull();
  });

  it("marks a message without key as not decryptable, with no body", () => {
    expect(exportedMessage({ ...base, kind: "decrypting", body: "" })).toMatchObject({
      kind: "undecryptable",
      body: "",
    });
    expect(exportedMessage({ ...base, kind: "undecryptable", unreadable: "missingKey" })).toMatchObject({
      kind: "undecryptable",
      body: "",
    });
  });

  it("names an attachment, its content still to be downloaded", () => {
    const file = { file: { url: "mxc://x/y" }, mimetype: "image/png", size: 3, name: "a.png" } as NonNullable<
      ChatMessage["file"]
    >;
    expect(exportedMessage({ ...base, kind: "image", body: "a.png", file })?.file).toEqual({
      name: "a.png",
      mimetype: "image/png",
      size: 3,
      data: null,
    });
  });
});
