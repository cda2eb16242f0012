// The seeker's copy of their data (Art. 15 and 20 GDPR) as files: what our server keeps about
// them (GET /api/v1/me/export) and their conversations, decrypted in their own browser
// (lib/matrix/export.ts). Two forms: JSON for machines and a single, self-contained HTML file for
// people, with attachments embedded as data: URLs, every text escaped, no script and a CSP that
// forbids any request. Pure: no DOM, no network (unit-tested).
import type { Answer } from "../api/connecta.ts";
import type { ExportedRoom } from "../matrix/export.ts";
import type { Language } from "../i18n/negotiate.ts";
import { dateFormat, type Translate } from "../i18n/index.ts";

/** What the server keeps about the seeker. */
export type ServerRecord = Answer<"GET /api/v1/me/export">;

/** Everything that goes into the copy. */
export interface PersonalCopy {
  account: ServerRecord;
  rooms: ExportedRoom[];
}

/** Base64 of bytes, in chunks (String.fromCharCode with a huge spread overflows the stack). */
export function toBase64(data: ArrayBuffer): string {
  const bytes = new Uint8Array(data);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Text made safe for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** The types we embed as data: URLs (those we accept as attachments, see attachments.ts). */
const EMBEDDABLE = /^(image\/(jpeg|png|webp)|application\/pdf)$/;
const safeType = (mimetype: string): string => (EMBEDDABLE.test(mimetype) ? mimetype : "application/octet-stream");

/** The copy as JSON: the server's record and every message, attachments as base64. */
export function exportJson(copy: PersonalCopy, sender: (own: boolean, name: string) => string): string {
  return JSON.stringify(
    {
      format: "connecta-personal-data/1",
      account: copy.account,
      conversations: copy.rooms.map((room) => ({
        room_id: room.roomId,
        readable: room.readable,
        enquiry_id: copy.account.enquiries.find((e) => e.room_id === room.roomId)?.enquiry_id ?? null,
        messages: room.messages.map((m) => ({
          sender: sender(m.own, m.senderName),
          own: m.own,
          time: new Date(m.ts).toISOString(),
          kind: m.kind,
          body: m.body,
          ...(m.file
            ? {
                attachment: {
                  name: m.file.name,
                  mimetype: m.file.mimetype,
                  size: m.file.size,
                  data_base64: m.file.data ? toBase64(m.file.data) : null,
                },
              }
            : {}),
        })),
      })),
    },
    null,
    2,
  );
}

/** The copy as one HTML file that needs nothing else: no script, no request, all text escaped. */
export function exportHtml(
  copy: PersonalCopy,
  lang: Language,
  t: Translate,
  sender: (own: boolean, name: string) => string,
): string {
  const when = dateFormat(lang, "longDateTime");
  const day = dateFormat(lang, "longDate");
  const e = escapeHtml;
  const date = (iso: string | null, format = when): string => (iso ? e(format.format(new Date(iso))) : "–");
  const enquiries = copy.account.enquiries
    .map(
      (q) => `<section>
<h3>${e(t("myData.file.enquiry", { values: { id: q.enquiry_id } }))}</h3>
<dl>
<dt>${e(t("myData.file.topic"))}</dt><dd>${e(lang === "en" ? q.topic.name_en : q.topic.name_de)}</dd>
<dt>${e(t("myData.file.agency"))}</dt><dd>${e(q.agency)}</dd>
<dt>${e(t("myData.file.state"))}</dt><dd>${e(q.state)}</dd>
<dt>${e(t("myData.file.language"))}</dt><dd>${e(q.language)}</dd>
<dt>${e(t("myData.file.ageGroup"))}</dt><dd>${e(q.age_group)}</dd>
<dt>${e(t("myData.file.createdAt"))}</dt><dd>${date(q.created_at)}</dd>
<dt>${e(t("myData.file.closedAt"))}</dt><dd>${date(q.closed_at)}</dd>
<dt>${e(t("myData.file.deletionAt"))}</dt><dd>${date(q.deletion_at, day)}</dd>
</dl>
</section>`,
    )
    .join("\n");
  const intakes = copy.account.intakes
    .map(
      (i) =>
        `<li>${e(i.pseudonym)}, ${e(t("myData.file.postcode"))}: ${e(i.postcode ?? "–")}, ${e(
          t("myData.file.language"),
        )}: ${e(i.language)}, ${e(t("myData.file.ageGroup"))}: ${e(i.age_group)}, ${e(
          t("myData.file.createdAt"),
        )}: ${date(i.created_at)}</li>`,
    )
    .join("\n");
  const conversations = copy.rooms
    .map((room) => {
      const enquiry = copy.account.enquiries.find((q) => q.room_id === room.roomId);
      const messages = room.messages
        .map((m) => {
          let body: string;
          if (m.kind === "undecryptable") body = `<p><em>${e(t("myData.file.undecryptable"))}</em></p>`;
          else if (m.file) {
            const label = `${e(t(m.kind === "image" ? "chat.image" : "chat.file"))}: ${e(m.file.name)}`;
            if (!m.file.data) body = `<p>${label} <em>(${e(t("myData.file.attachmentMissing"))})</em></p>`;
            else {
              const url = `data:${safeType(m.file.mimetype)};base64,${toBase64(m.file.data)}`;
              body =
                m.kind === "image" && EMBEDDABLE.test(m.file.mimetype)
                  ? `<p>${label}</p><img src="${url}" alt="${e(m.file.name)}">`
                  : `<p><a href="${url}" download="${e(m.file.name)}">${label}</a></p>`;
            }
          } else body = `<p class="body">${e(m.body)}</p>`;
          return `<li${m.own ? ' class="own"' : ""}><p class="meta"><strong>${e(sender(m.own, m.senderName))}</strong> <time datetime="${new Date(m.ts).toISOString()}">${e(when.format(m.ts))}</time></p>${body}</li>`;
        })
        .join("\n");
      const title = enquiry
        ? t("myData.file.conversation", { values: { id: enquiry.enquiry_id } })
        : t("myData.file.conversationUnknown");
      return `<section>
<h2>${e(title)}</h2>
${
  !room.readable
    ? `<p><em>${e(t("myData.file.roomUnreadable"))}</em></p>`
    : room.messages.length === 0
      ? `<p>${e(t("myData.file.noMessages"))}</p>`
      : `<ol>\n${messages}\n</ol>`
}
</section>`;
    })
    .join("\n");
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(t("myData.file.title"))}</title>
<style>
body{font-family:system-ui,sans-serif;line-height:1.5;max-width:48rem;margin:0 auto;padding:1rem;color:#1a1a1a;background:#fff}
ol{list-style:none;padding:0}
li{border:1px solid #767676;border-radius:.5rem;padding:.5rem 1rem;margin:.5rem 0}
li.own{border-color:#0b5cad}
.meta{margin:0;color:#4a4a4a}
.body{white-space:pre-wrap;overflow-wrap:anywhere}
img{max-width:100%}
dt{font-weight:600}
</style>
</head>
<body>
<main>
<h1>${e(t("myData.file.title"))}</h1>
<p>${e(t("myData.file.exportedAt", { values: { date: when.format(new Date(copy.account.exported_at)) } }))}</p>
<p>${e(t("myData.file.intro"))}</p>
${conversations}
<h2>${e(t("myData.file.accountTitle"))}</h2>
<p>${e(t("myData.file.userId"))}: ${e(copy.account.user_id)}</p>
${enquiries}
${intakes ? `<h3>${e(t("myData.file.intakes"))}</h3>\n<ul>\n${intakes}\n</ul>` : ""}
</main>
</body>
</html>
`;
}

/** The date on which a conversation will be deleted, as the page says it ("12. März 2027"). */
export function deletionDate(iso: string, lang: Language): string {
  return dateFormat(lang, "longDate").format(new Date(iso));
}
