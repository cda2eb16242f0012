/**
 * A seeker's data-protection rights in the web client, against the real stack in Chromium: the
 * files sent are reported for deletion, both conversation pages say when the conversation will
 * be deleted, the seeker downloads a copy of everything (JSON and a self-contained HTML file,
 * decrypted in the browser, attachments included, nothing from another seeker's room), and
 * deletes account and conversations from "Meine Daten", asked twice: afterwards the tab keeps
 * nothing, the account is deactivated and the enquiry is gone from our database.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { a11yViolations } from "../support/a11y.ts";
import { launchChromium } from "../support/browser.ts";
import {
  counsellorFirstLogin,
  expectHeading,
  messages,
  messageState,
  pagesText,
  pageSession,
  seekerFirstBrowserLogin,
  sendMessage,
  sendFile,
} from "../support/client-flows.ts";
import { eventually, matrixRequest, stackSecret, type TestUser } from "../support/matrix.ts";
import { intakeSeeker, seedIntakeAgency } from "../support/seeker.ts";
import { connectaDb, unique } from "../support/workflow.ts";

const stack = inject("stack");
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
const PDF = Buffer.from(
  "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj " +
    "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
);

/** Fails with the violations when axe finds any on the page as it is now. */
async function expectAccessible(page: Page, state: string): Promise<void> {
  expect({ state, violations: await a11yViolations(page) }).toEqual({ state, violations: [] });
}

/** Clicks the download link `testId` and returns the downloaded file's text. */
async function download(page: Page, testId: string): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent("download"), page.getByTestId(testId).click()]);
  return readFile(await file.path(), "utf8");
}

/**
 * Opens the HTML copy as a file in a fresh browser: it shows the message with markup as text and
 * the embedded image, runs no script and asks for nothing but itself.
 */
async function readCopy(html: string, markup: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "connecta-copy-"));
  const path = join(dir, "copy.html");
  await writeFile(path, html);
  const context = await browser.newContext({ locale: "de-DE" });
  try {
    const page = await context.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`file://${path}`, { waitUntil: "load" });
    expect(await page.getByText(markup).count()).toBe(1);
    expect(await page.locator("script, b").count()).toBe(0);
    expect(await page.locator("img").evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(1);
    expect(requests.filter((url) => !url.startsWith("data:"))).toEqual([`file://${path}`]);
    expect(errors).toEqual([]);
  } finally {
    await context.close();
    await rm(dir, { recursive: true, force: true });
  }
}

interface ExportedJson {
  account: { user_id: string; enquiries: { enquiry_id: number; deletion_at: string }[] };
  conversations: {
    enquiry_id: number | null;
    messages: {
      sender: string;
      own: boolean;
      body: string;
      attachment?: { name: string; data_base64: string | null };
    }[];
  }[];
}

describe("a seeker's data", () => {
  it("is downloaded decrypted with its attachments and nothing of others, and the account is deleted after asking twice", async () => {
    try {
      await privacy();
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText(browser)}`, { cause: err });
    }
  }, 400_000);
});

async function privacy(): Promise<void> {
  const agency = await seedIntakeAgency(stack, 1);
  const counsellor = agency.counsellors[0] as TestUser;
  const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
  // The intake's own login never had keys; the seeker continues in the browser.
  expect((await matrixRequest(stack, "POST", "/_matrix/client/v3/logout", seeker, {})).status).toBe(200);
  // Another seeker of the same agency writes in their own room: none of it may be in the copy.
  const other = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
  const foreign = `Nachricht eines anderen ${unique()}`;
  const joined = await matrixRequest(
    stack,
    "POST",
    `/_matrix/client/v3/rooms/${encodeURIComponent(other.roomId)}/join`,
    other,
    {},
  );
  expect(joined.status).toBe(200);
  const put = await matrixRequest(
    stack,
    "PUT",
    `/_matrix/client/v3/rooms/${encodeURIComponent(other.roomId)}/send/m.room.message/${unique()}`,
    other,
    { msgtype: "m.text", body: foreign },
  );
  expect(put.status).toBe(200);

  const desk = await (await browser.newContext({ locale: "de-DE" })).newPage();
  await counsellorFirstLogin(stack, desk, counsellor, "de");
  const chat = await (await browser.newContext({ locale: "de-DE", acceptDownloads: true })).newPage();
  await seekerFirstBrowserLogin(stack, chat, seeker);

  // A conversation with messages and attachments both ways.
  const enquiry = `Meine Anfrage ${unique()}`;
  await sendMessage(chat, enquiry);
  const item = desk.getByTestId("queue-item").filter({ hasText: enquiry });
  await item.waitFor({ timeout: 60_000 });
  await item.getByRole("button").click();
  await desk.waitForURL(/\/beratung\/gespraech\/\d+$/);
  await expect.poll(async () => (await messages(desk)).join("\n"), { timeout: 30_000 }).toContain(enquiry);
  const answer = `Antwort der Beratung ${unique()}`;
  await sendMessage(desk, answer);
  await sendFile(desk, { name: "infoblatt.pdf", mimeType: "application/pdf", buffer: PDF });
  await expect.poll(async () => (await messages(chat)).join("\n"), { timeout: 30_000 }).toContain("infoblatt.pdf");
  const markup = `<script>alert("hallo")</script> & <b>fett</b> ${unique()}`;
  await sendMessage(chat, markup);
  await sendFile(chat, { name: "foto.png", mimeType: "image/png", buffer: PNG });
  await expect.poll(async () => (await messages(desk)).join("\n"), { timeout: 30_000 }).toContain("foto.png");
  await expect.poll(() => messageState(chat, "foto.png"), { timeout: 30_000 }).toMatch(/gesendet|gelesen/);
  expect((await messages(chat)).join("\n")).toContain(answer);

  // Both files were reported, so the purge deletes them with the conversation.
  const db = await connectaDb(stack);
  try {
    await eventually(
      "both files reported",
      async () =>
        (await db.query("SELECT media_id FROM enquiry_media WHERE enquiry_id = $1", [seeker.enquiryId])).rowCount === 2,
    );

    // Both pages say, without content, when the conversation will be deleted.
    const datePattern = /Dieses Gespräch wird voraussichtlich am \d{1,2}\. [A-Za-zä]+ \d{4} gelöscht\./;
    await expect.poll(() => chat.getByTestId("deletion-notice").innerText(), { timeout: 30_000 }).toMatch(datePattern);
    await desk.reload({ waitUntil: "load" });
    await expect.poll(() => desk.getByTestId("deletion-notice").innerText(), { timeout: 30_000 }).toMatch(datePattern);

    // The seeker follows the notice's link to their data.
    await chat.getByRole("link", { name: "Meine Daten herunterladen" }).click();
    await chat.waitForURL(`${stack.clientUrl}/meine-daten`);
    await expectHeading(chat, "Meine Daten");
    await expectAccessible(chat, "my data");
    await chat.getByRole("button", { name: "Daten zusammenstellen" }).click();
    await chat.getByTestId("export-ready").waitFor({ timeout: 120_000 });
    await expectAccessible(chat, "my data, files ready");

    const json = JSON.parse(await download(chat, "download-json")) as ExportedJson;
    expect(json.account.user_id).toBe(seeker.userId);
    expect(json.account.enquiries.map((e) => e.enquiry_id)).toEqual([seeker.enquiryId]);
    expect(json.conversations).toHaveLength(1);
    const conversation = json.conversations[0] as ExportedJson["conversations"][number];
    expect(conversation.enquiry_id).toBe(seeker.enquiryId);
    const bodies = conversation.messages.map((m) => m.body);
    expect(bodies).toEqual(expect.arrayContaining([enquiry, answer, markup, "infoblatt.pdf", "foto.png"]));
    expect(conversation.messages.find((m) => m.body === enquiry)?.sender).toBe("Sie");
    expect(conversation.messages.find((m) => m.body === answer)?.own).toBe(false);
    const attachment = (name: string) => conversation.messages.find((m) => m.attachment?.name === name)?.attachment;
    expect(attachment("foto.png")?.data_base64).toBe(PNG.toString("base64"));
    expect(attachment("infoblatt.pdf")?.data_base64).toBe(PDF.toString("base64"));
    const jsonText = JSON.stringify(json);
    expect(jsonText).not.toContain(foreign);
    expect(jsonText).not.toContain(other.roomId);

    const html = await download(chat, "download-html");
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain("&lt;script&gt;alert(&quot;hallo&quot;)&lt;/script&gt; &amp; &lt;b&gt;fett&lt;/b&gt;");
    expect(html).toContain(enquiry);
    expect(html).toContain(answer);
    expect(html).toContain(`data:image/png;base64,${PNG.toString("base64")}`);
    expect(html).toContain(`data:application/pdf;base64,${PDF.toString("base64")}`);
    expect(html).not.toContain(foreign);
    // Nothing in it would be fetched from anywhere.
    expect(html).not.toMatch(/\s(src|href)="(?!data:)/);
    await readCopy(html, markup);

    // Deleting account and conversations: asked twice, in plain words.
    const login = await pageSession(chat);
    await chat.getByRole("button", { name: "Konto und Gespräche löschen" }).click();
    await chat.getByText("Nichts davon lässt sich wiederherstellen").waitFor();
    await expect
      .poll(() => chat.evaluate(() => document.activeElement?.textContent ?? ""))
      .toContain("Bevor Sie löschen");
    await expectAccessible(chat, "erasure, first question");
    await chat.getByRole("button", { name: "Weiter" }).click();
    await chat.getByText("wirklich endgültig löschen").waitFor();
    await expectAccessible(chat, "erasure, second question");
    await chat.getByRole("button", { name: "Ja, endgültig löschen" }).click();
    await chat.waitForURL(`${stack.clientUrl}/geloescht`, { timeout: 60_000 });
    await expectHeading(chat, "Ihr Konto wird gelöscht");
    await expectAccessible(chat, "erased");

    // Nothing is left in the tab, and its login is over.
    // (SvelteKit writes its scroll positions again when the page is left; nothing of ours.)
    const kept = await chat.evaluate(() => Object.keys(sessionStorage));
    expect(kept.filter((key) => !key.startsWith("sveltekit:"))).toEqual([]);
    expect(await chat.evaluate(() => localStorage.length)).toBe(0);
    expect(await chat.evaluate(async () => (await indexedDB.databases()).map((d) => d.name))).toEqual([]);
    expect((await matrixRequest(stack, "GET", "/_matrix/client/v3/account/whoami", login)).status).toBe(401);

    // The server erases the account and deletes the conversation.
    const admin = { accessToken: stackSecret(stack, "asToken") };
    await eventually(
      "the account deactivated",
      async () =>
        (await matrixRequest(stack, "GET", `/_synapse/admin/v2/users/${encodeURIComponent(seeker.userId)}`, admin)).body
          .deactivated === true,
      90_000,
    );
    await eventually(
      "the enquiry deleted",
      async () => (await db.query("SELECT 1 FROM enquiries WHERE id = $1", [seeker.enquiryId])).rowCount === 0,
      90_000,
    );
    // The other seeker's conversation is untouched.
    expect((await db.query("SELECT 1 FROM enquiries WHERE id = $1", [other.enquiryId])).rowCount).toBe(1);
  } finally {
    await db.end();
  }
}
