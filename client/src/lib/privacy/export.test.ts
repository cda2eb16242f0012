import { describe, expect, it } from "vitest";
import { translator } from "../i18n/index.ts";
import { deletionDate, escapeHtml, exportHtml, exportJson, toBase64, type PersonalCopy } from "./export.ts";

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]).buffer;

function copy(): PersonalCopy {
  return {
    account: {
      user_id: "@seeker:example.org",
      exported_at: "2026-03-01T12:00:00Z",
      enquiries: [
        {
          enquiry_id: 7,
          room_id: "!room:example.org",
          state: "active",
          topic: { id: "t", name_de: "Familie", name_en: "Family" },
          agency: "Beratung <Mitte>",
          language: "de",
          age_group: "18-26",
          created_at: "2026-02-01T10:00:00Z",
          waiting_since: null,
          closed_at: null,
          deletion_at: "2027-03-12T12:00:00Z",
        },
      ],
      intakes: [],
    },
    rooms: [
      {
        roomId: "!room:example.org",
        readable: true,
        messages: [
          {
            id: "1",
            own: true,
            senderName: "@seeker:example.org",
            ts: 0,
            kind: "text",
            body: '<script>alert(1)</script> & "du"',
            file: null,
          },
          {
            id: "2",
            own: false,
            senderName: "Frau Berg",
            ts: 1,
            kind: "image",
            body: "bild.png",
            file: { name: 'bild".png', mimetype: "image/png", size: 11, data: png },
          },
          { id: "3", own: false, senderName: "Frau Berg", ts: 2, kind: "undecryptable", body: "", file: null },
        ],
      },
    ],
  };
}

const sender = (own: boolean, name: string): string => (own ? "Sie" : name);

describe("the personal copy", () => {
  it("escapes text for HTML", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  it("encodes large files to base64 without overflowing", () => {
    const big = new Uint8Array(200_000).fill(65).buffer;
    expect(toBase64(big)).toBe(Buffer.from(new Uint8Array(big)).toString("base64"));
  });

  it("has every message, its sender and the attachment's bytes in the JSON", () => {
    const json = JSON.parse(exportJson(copy(), sender)) as {
      conversations: {
        enquiry_id: number;
        messages: { sender: string; body: string; attachment?: { data_base64: string } }[];
      }[];
    };
    const [conversation] = json.conversations;
    expect(conversation?.enquiry_id).toBe(7);
    expect(conversation?.messages.map((m) => m.sender)).toEqual(["Sie", "Frau Berg", "Frau Berg"]);
    expect(conversation?.messages[0]?.body).toBe('<script>alert(1)</script> & "du"');
    expect(conversation?.messages[1]?.attachment?.data_base64).toBe(
      Buffer.from(new Uint8Array(png)).toString("base64"),
    );
  });

  it("is a self-contained HTML file without any script, all text escaped", () => {
    const html = exportHtml(copy(), "de", translator("de"), sender);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;du&quot;");
    expect(html).toContain("Beratung &lt;Mitte&gt;");
    expect(html).toContain(`src="data:image/png;base64,${Buffer.from(new Uint8Array(png)).toString("base64")}"`);
    expect(html).toContain('alt="bild&quot;.png"');
    expect(html).toContain("default-src 'none'");
    // Nothing that would be fetched from elsewhere.
    expect(html).not.toMatch(/(src|href)="(?!data:)/);
    expect(html).toContain("12. März 2027");
  });

  it("says when a conversation could not be read", () => {
    const partial = copy();
    partial.rooms.push({ roomId: "!gone:example.org", readable: false, messages: [] });
    const html = exportHtml(partial, "en", translator("en"), sender);
    expect(html).toContain("This conversation could not be read when the file was put together.");
    const json = JSON.parse(exportJson(partial, sender)) as { conversations: { readable: boolean }[] };
    expect(json.conversations.map((c) => c.readable)).toEqual([true, false]);
  });

  it("says the deletion date in the page's language", () => {
    expect(deletionDate("2027-03-12T12:00:00Z", "de")).toBe("12. März 2027");
    expect(deletionDate("2027-03-12T12:00:00Z", "en")).toBe("12 March 2027");
  });
});
