/**
 * The whole counselling journey in the browser, against the real stack (Synapse, PostgreSQL,
 * the application service and the client): a seeker (one browser context) and a counsellor
 * (another) with Rust crypto in the page.
 *
 * Intake and first enquiry → the counsellor sees it decrypted in the queue and takes it →
 * messages and an encrypted attachment both ways → the seeker logs in on a fresh context with
 * password and passphrase and reads the whole history → handover to a colleague (whose
 * matrix-js-sdk client decrypts the earlier history) → close → reopen → the idle counsellor's
 * screen locks and unlocks as the same device, with the draft and what was written meanwhile.
 * Every request of both contexts goes to our own origins; the passphrase appears in no request;
 * nobody is ever shown a message as one that cannot be read.
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { a11yViolations } from "../support/a11y.ts";
import { launchChromium } from "../support/browser.ts";
import { pageSession, recordUnreadable } from "../support/client-flows.ts";
import { chooseRadio, sendFileByKeyboard, tabTo, tabToText, typeInto } from "../support/keyboard.ts";
import { serverSideHits } from "../support/canary.ts";
import { matrixRequest, type TestUser } from "../support/matrix.ts";
import { freshPseudonym, seedIntakeAgency } from "../support/seeker.ts";
import { connectaDb, unique } from "../support/workflow.ts";

const stack = inject("stack");
const clientOrigin = new URL(stack.clientUrl).origin;
const homeserverOrigin = new URL(stack.synapseUrl).origin;
const screenshotDir = join(import.meta.dirname, "../../docs/screenshots");

let browser: Browser;
const requests: { context: string; url: string; body: string; headers: string }[] = [];
const problems: string[] = [];
/** Warnings and errors the pages logged: shown when the journey fails. */
const consoleLog: string[] = [];
/** Every message any page showed as one that cannot be read here (none may be). */
const unreadable: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  await mkdir(screenshotDir, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});

/** A German context whose requests, page errors and CSP violations are recorded. */
async function newContext(name: string): Promise<BrowserContext> {
  const context = await browser.newContext({ locale: "de-DE", reducedMotion: "reduce", acceptDownloads: true });
  await recordUnreadable(context, name, unreadable);
  // Pages' and workers' requests alike (the Matrix client runs in a worker: see the positive
  // control at the end).
  context.on("request", (request) =>
    requests.push({
      context: name,
      url: request.url(),
      body: request.postDataBuffer()?.toString("latin1") ?? "",
      headers: JSON.stringify(request.headers()),
    }),
  );
  context.on("page", (page) => {
    page.on("pageerror", (error) => problems.push(`${name}: ${error.message}`));
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`${name}: ${message.text()}`);
      else if (message.type() === "error" || message.type() === "warning")
        consoleLog.push(`${name}: ${message.text()}`);
    });
  });
  return context;
}

/** Fails with the page's text when `h1` does not become `text` (soft hyphens aside). */
async function expectHeading(page: Page, text: string, timeout = 60_000): Promise<void> {
  await expect
    .poll(async () => (await page.locator("h1").first().innerText()).replaceAll("\u00ad", ""), {
      timeout,
      message: `h1 on ${page.url()}`,
    })
    .toBe(text);
}

/** Every open page's URL and text, to explain a failure. */
async function pagesText(): Promise<string> {
  const texts: string[] = [];
  for (const context of browser.contexts()) {
    for (const page of context.pages()) {
      texts.push(
        `--- ${page.url()}\n${await page
          .locator("main")
          .innerText()
          .catch(() => "(no main)")}`,
      );
    }
  }
  return `${texts.join("\n")}\n--- problems:\n${problems.join("\n")}\n--- unreadable:\n${unreadable.join("\n")}\n--- console:\n${consoleLog.slice(-40).join("\n")}`;
}

describe("the counselling journey in browser contexts", () => {
  it("runs from intake to close", async () => {
    try {
      await journey();
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText()}`, { cause: err });
    }
  }, 600_000);
});

/** Plain text inside both attachments, which must never be found on the server side. */
const FILE_MARKER = `attachment-marker-${unique()}${unique()}`;
/** A 1×1 PNG and a one-page PDF, as a seeker or counsellor might send them, each with the marker. */
const PNG = Buffer.concat([
  Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
    "base64",
  ),
  // After the image's end: decoders ignore it, a server-side scan would find it.
  Buffer.from(FILE_MARKER),
]);
const PDF = Buffer.from(
  `%PDF-1.4\n%${FILE_MARKER}\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj ` +
    "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
);

/**
 * Spellings in which `secret` could travel in a request: as typed, percent-encoded, form-encoded,
 * JSON-escaped, as UTF-8 bytes read as Latin-1 (how bodies are recorded) and in base64.
 */
function spellings(secret: string): string[] {
  const utf8 = Buffer.from(secret);
  return [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    JSON.stringify(secret).slice(1, -1),
    JSON.stringify(secret)
      .slice(1, -1)
      .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
    utf8.toString("latin1"),
    utf8.toString("base64"),
  ];
}

/** Lenient decoding of a URL or body, so that a secret spelled in a way we did not list shows too. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}

/** Recorded requests in whose URL, body or headers `secret` appears in any spelling. */
function requestsCarrying(secret: string): string[] {
  const forms = spellings(secret);
  return requests
    .filter((r) =>
      [r.url, decoded(r.url), r.body, decoded(Buffer.from(r.body, "latin1").toString("utf8")), r.headers].some(
        (where) => forms.some((form) => where.includes(form)),
      ),
    )
    .map((r) => `${r.context}: ${r.url}`);
}

/**
 * Axe on the page as it is now (in light and dark mode, at 390 and 1280 px: see a11y.ts);
 * collects violations per page for one assertion at the end.
 */
const violations: Record<string, unknown[]> = {};
async function checkA11y(page: Page, name: string): Promise<void> {
  const found = await a11yViolations(page);
  if (found.length > 0) violations[name] = found;
}

/**
 * Checks at the homeserver that the page's device is signed by its user's self-signing key
 * (cross-signed, so the user's other devices and everyone who verified them trust it).
 */
async function expectCrossSigned(page: Page, what: string): Promise<void> {
  const session = await page.evaluate(() => JSON.parse(sessionStorage.getItem("connecta.session") ?? "{}") as unknown);
  const { userId, deviceId, accessToken } = session as { userId: string; deviceId: string; accessToken: string };
  const query = async () => {
    const res = await matrixRequest(
      stack,
      "POST",
      "/_matrix/client/v3/keys/query",
      { accessToken },
      {
        device_keys: { [userId]: [] },
      },
    );
    const body = res.body as {
      self_signing_keys?: Record<string, { keys: Record<string, string> }>;
      device_keys?: Record<string, Record<string, { signatures?: Record<string, Record<string, string>> }>>;
    };
    const selfSigning = Object.keys(body.self_signing_keys?.[userId]?.keys ?? {})[0];
    const signatures = body.device_keys?.[userId]?.[deviceId]?.signatures?.[userId] ?? {};
    return selfSigning !== undefined && selfSigning in signatures;
  };
  await expect.poll(query, { timeout: 30_000, message: `${what}: device ${deviceId} cross-signed` }).toBe(true);
}

/** Desktop and narrow phone screenshots of the page as it is now. */
async function screenshots(page: Page, name: string): Promise<void> {
  const size = page.viewportSize() ?? { width: 1280, height: 900 };
  // From the top: sticky bars (the quick exit) are drawn where the page is scrolled to.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: join(screenshotDir, `${name}-de-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(screenshotDir, `${name}-de-phone.png`), fullPage: true });
  await page.setViewportSize(size);
}

/** The messages of the conversation on the page, as text. */
const messages = (page: Page) => page.getByTestId("message").allInnerTexts();

/**
 * A counsellor's first login in the browser, by keyboard: name and the operator's password, the
 * forced password change, then a passphrase for their keys; ends on the desk. Returns the
 * passphrase.
 */
async function counsellorFirstLogin(page: Page, user: TestUser, lang: "de" | "en"): Promise<string> {
  const t = lang === "de" ? GERMAN : ENGLISH;
  await page.goto(`${stack.clientUrl}/beratung?lang=${lang}`, { waitUntil: "networkidle" });
  await page.waitForURL(/\/beratung\/anmelden/);
  await checkA11y(page, `counsellor login ${lang}`);
  await typeInto(page, "#login-name", user.localpart);
  await typeInto(page, "#login-password", user.password);
  await page.keyboard.press("Enter");
  await expectHeading(page, t.changeTitle);
  await checkA11y(page, `password change ${lang}`);
  const newPassword = `Neues Passwort ${unique()} ${unique()}`;
  await typeInto(page, "#new-password", newPassword);
  await typeInto(page, "#new-password-repeat", newPassword);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${stack.clientUrl}/schluessel`);
  await expectHeading(page, t.createTitle);
  await checkA11y(page, `passphrase (counsellor) ${lang}`);
  const passphrase = `Beratung ${unique()} Schlüssel ${unique()}`;
  await typeInto(page, "#passphrase", passphrase);
  await typeInto(page, "#passphrase-repeat", passphrase);
  await page.keyboard.press("Enter");
  await expectHeading(page, t.recoveryTitle, 120_000);
  await checkA11y(page, `recovery key (counsellor) ${lang}`);
  await tabTo(page, "input[type=checkbox]");
  await page.keyboard.press("Space");
  await tabToText(page, t.continue);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${stack.clientUrl}/beratung`);
  await expectHeading(page, t.desk);
  await expectCrossSigned(page, `counsellor ${user.localpart}`);
  user.password = newPassword;
  passphrases.push(passphrase);
  return passphrase;
}

const GERMAN = {
  changeTitle: "Bitte wählen Sie ein eigenes Passwort",
  createTitle: "Ihr Schlüsselsatz",
  recoveryTitle: "Ihr Wiederherstellungsschlüssel",
  continue: "Weiter",
  desk: "Beratung",
};
const ENGLISH = {
  changeTitle: "Please choose your own password",
  createTitle: "Your passphrase",
  recoveryTitle: "Your recovery key",
  continue: "Continue",
  desk: "Counselling",
};

/** Every passphrase used in the journey: none may appear in any request. */
const passphrases: string[] = [];

async function journey(): Promise<void> {
  const agency = await seedIntakeAgency(stack, 2);
  const [userA, userB] = agency.counsellors as [TestUser, TestUser];
  const db = await connectaDb(stack);
  // seedIntakeAgency names counsellors after their user ids; the desk greets them by name.
  await db.query("UPDATE counsellors SET display_name = $2 WHERE user_id = $1", [userA.userId, "Anna Berger"]);
  await db.query("UPDATE counsellors SET display_name = $2 WHERE user_id = $1", [userB.userId, "Ben Krause"]);
  await db.end();

  // Counsellor A is at work: logs in (first time: new password, passphrase).
  const counsellorContext = await newContext("counsellor A");
  const desk = await counsellorContext.newPage();
  await counsellorFirstLogin(desk, userA, "de");
  await checkA11y(desk, "desk (empty) de");
  // Counsellors' pages have no quick exit, and Escape twice does nothing there (the quick exit
  // would hide the page at once, on the second key press).
  expect(await desk.locator("nav.quick-exit").count()).toBe(0);
  await desk.keyboard.press("Escape");
  await desk.keyboard.press("Escape");
  expect(await desk.evaluate(() => document.documentElement.hidden)).toBe(false);
  expect(new URL(desk.url()).pathname).toBe("/beratung");

  // The seeker, keyboard only: intake.
  const pseudonym = freshPseudonym("journey");
  const password = `Fenster Brücke Sonne ${Date.now()}`;
  const passphrase = `Mein geheimer Satz ${Date.now()} am Fluss`;
  passphrases.push(passphrase);
  const seekerContext = await newContext("seeker");
  const seeker = await seekerContext.newPage();
  await seeker.goto(`${stack.clientUrl}/anfrage`, { waitUntil: "networkidle" });
  await tabTo(seeker, "input[name=topic]");
  await chooseRadio(seeker, agency.topic);
  await typeInto(seeker, "#postcode", agency.postcode);
  await tabTo(seeker, "input[name=age_group]");
  await chooseRadio(seeker, "18_26");
  await tabTo(seeker, "button[type=submit]");
  await seeker.keyboard.press("Enter");
  await seeker.locator("#pseudonym").waitFor();
  await checkA11y(seeker, "intake step 2 de");
  await typeInto(seeker, "#pseudonym", pseudonym);
  await typeInto(seeker, "#password", password);
  await typeInto(seeker, "#password-repeat", password);
  await seeker.keyboard.press("Enter");

  // The encryption passphrase: keys are created, the recovery key is shown once.
  await seeker.waitForURL(`${stack.clientUrl}/schluessel`, { timeout: 60_000 });
  await expectHeading(seeker, "Ihr Schlüsselsatz");
  await checkA11y(seeker, "passphrase de");
  await screenshots(seeker, "passphrase");
  await typeInto(seeker, "#passphrase", passphrase);
  await typeInto(seeker, "#passphrase-repeat", passphrase);
  await seeker.keyboard.press("Enter");
  await expectHeading(seeker, "Ihr Wiederherstellungsschlüssel", 120_000);
  expect(await seeker.getByTestId("recovery-key").innerText()).toMatch(/^E[Ss]\w{2}( \w{4}){11}$/);
  await checkA11y(seeker, "recovery key de");
  await screenshots(seeker, "recovery-key");
  await tabTo(seeker, "input[type=checkbox]");
  await seeker.keyboard.press("Space");
  await tabTo(seeker, "button.button-primary");
  await seeker.keyboard.press("Enter");

  // The first enquiry, with a draft that survives a reload encrypted.
  await seeker.waitForURL(`${stack.clientUrl}/gespraech`);
  await expectHeading(seeker, "Ihr Gespräch");
  await expectCrossSigned(seeker, "the seeker's first device");
  const enquiry = `Ich weiß nicht mehr weiter ${unique()}`;
  await typeInto(seeker, "#composer", enquiry);
  await expect
    .poll(() => seeker.evaluate(() => Object.keys(sessionStorage).some((k) => k.startsWith("connecta.draft."))))
    .toBe(true);
  const stored = await seeker.evaluate(() => JSON.stringify(sessionStorage));
  expect(stored).not.toContain(enquiry);
  await seeker.reload({ waitUntil: "load" });
  await expect.poll(() => seeker.locator("#composer").inputValue(), { timeout: 30_000 }).toBe(enquiry);
  await tabTo(seeker, "#composer");
  await seeker.keyboard.press("ControlOrMeta+Enter");
  await expect.poll(async () => (await messages(seeker)).join("\n"), { timeout: 30_000 }).toMatch(/gesendet|gelesen/);
  expect((await messages(seeker)).join("\n")).toContain(enquiry);
  await checkA11y(seeker, "conversation waiting de");

  // The counsellor's desk shows it, decrypted, without a reload; A takes it.
  const item = desk.getByTestId("queue-item").filter({ hasText: enquiry });
  await item.waitFor({ timeout: 60_000 });
  await checkA11y(desk, "desk with queue de");
  await screenshots(desk, "counsellor-desk");
  // The counsellor by keyboard too, from here on.
  await tabToText(desk, "übernehmen");
  await desk.keyboard.press("Enter");
  await desk.waitForURL(/\/beratung\/gespraech\/\d+$/);
  await expect.poll(async () => (await messages(desk)).join("\n"), { timeout: 30_000 }).toContain(enquiry);

  // Messages and attachments both ways.
  const reply = `Danke, dass Sie schreiben. ${unique()}`;
  await typeInto(desk, "#composer", reply);
  await desk.keyboard.press("ControlOrMeta+Enter");
  await sendFileByKeyboard(desk, { name: "infoblatt.pdf", mimeType: "application/pdf", buffer: PDF });
  await expect.poll(async () => (await messages(desk)).join("\n"), { timeout: 30_000 }).toContain("infoblatt.pdf");
  await expect.poll(async () => (await messages(seeker)).join("\n"), { timeout: 30_000 }).toContain(reply);
  // The answer tells the seeker's page that the enquiry was taken: the waiting notice goes.
  await expect.poll(() => seeker.getByText("Ihre Anfrage ist angekommen").count(), { timeout: 30_000 }).toBe(0);
  await expect.poll(async () => (await messages(seeker)).join("\n"), { timeout: 30_000 }).toContain("infoblatt.pdf");
  // The seeker's enquiry shows as read once the counsellor has seen it.
  await expect.poll(async () => (await messages(seeker))[0], { timeout: 30_000 }).toContain("gelesen");
  await sendFileByKeyboard(seeker, { name: "foto.png", mimeType: "image/png", buffer: PNG });
  await expect.poll(async () => (await messages(desk)).join("\n"), { timeout: 30_000 }).toContain("foto.png");
  // Both open what the other sent: decrypted in the browser.
  await tabToText(desk, "Bild anzeigen", true);
  await desk.keyboard.press("Enter");
  await expect
    .poll(() => desk.locator("img.attachment-image").evaluate((img: HTMLImageElement) => img.naturalWidth), {
      timeout: 30_000,
    })
    .toBe(1);
  // The seeker by keyboard: back to the file's button, open it; focus moves to the save link.
  await tabToText(seeker, "Datei öffnen", true);
  await seeker.keyboard.press("Enter");
  await expect
    .poll(() => seeker.evaluate(() => document.activeElement?.textContent ?? ""), { timeout: 30_000 })
    .toBe("infoblatt.pdf speichern");
  const [download] = await Promise.all([seeker.waitForEvent("download"), seeker.keyboard.press("Enter")]);
  expect(download.suggestedFilename()).toBe("infoblatt.pdf");
  expect(Buffer.from(await readFile(await download.path())).equals(PDF)).toBe(true);
  await checkA11y(seeker, "conversation active de");
  await checkA11y(desk, "counsellor conversation de");
  await screenshots(seeker, "conversation");
  await screenshots(desk, "counsellor-conversation");

  // A is away for a while: the seeker sees the absence notice.
  const conversationUrl = desk.url();
  await tabToText(desk, "Zurück zur Übersicht");
  await desk.keyboard.press("Enter");
  await desk.getByRole("heading", { name: "Abwesenheit" }).waitFor();
  await tabTo(desk, "input[type=checkbox]");
  await desk.keyboard.press("Space");
  await typeInto(desk, "#absence-message", "Ich bin ab Montag wieder für Sie da.");
  await tabToText(desk, "Speichern");
  await desk.keyboard.press("Enter");
  await desk.getByText("Ihre Abwesenheit ist eingeschaltet.").waitFor();
  await seeker.reload({ waitUntil: "load" });
  await seeker.getByText("Ich bin ab Montag wieder für Sie da.").waitFor({ timeout: 30_000 });
  await checkA11y(seeker, "conversation with absence de");
  await desk.goto(conversationUrl, { waitUntil: "load" });

  // The seeker on a fresh device (English this time): password, passphrase, whole history.
  const secondContext = await newContext("seeker, second device");
  const second = await secondContext.newPage();
  await second.goto(`${stack.clientUrl}/anmelden?lang=en`, { waitUntil: "networkidle" });
  await checkA11y(second, "seeker login en");
  // Keyboard only, as on the first device.
  await typeInto(second, "#login-name", pseudonym);
  await typeInto(second, "#login-password", password);
  await second.keyboard.press("Enter");
  await second.waitForURL(`${stack.clientUrl}/schluessel`);
  await expectHeading(second, "Unlock your messages");
  await checkA11y(second, "unlock en");
  // The language switch keeps the state: German and back, still on the way to unlocking.
  await tabTo(second, 'a[hreflang="de"]');
  await second.keyboard.press("Enter");
  await expectHeading(second, "Ihre Nachrichten entsperren");
  await checkA11y(second, "unlock de");
  await tabTo(second, 'a[hreflang="en"]');
  await second.keyboard.press("Enter");
  await expectHeading(second, "Unlock your messages");
  await typeInto(second, "#passphrase", "not my passphrase at all");
  await second.keyboard.press("Enter");
  await expect.poll(() => second.locator(".error-summary").innerText(), { timeout: 60_000 }).toContain("does not fit");
  await tabTo(second, "#passphrase");
  await second.keyboard.press("ControlOrMeta+A");
  await second.keyboard.type(passphrase);
  await second.keyboard.press("Enter");
  await second.waitForURL(`${stack.clientUrl}/gespraech`, { timeout: 120_000 });
  await expect
    .poll(async () => (await messages(second)).join("\n"), { timeout: 60_000 })
    .toMatch(new RegExp(`${enquiry}[\\s\\S]*${reply}[\\s\\S]*infoblatt.pdf[\\s\\S]*foto.png`));
  expect((await messages(second)).join("\n")).not.toContain("cannot be decrypted");
  await checkA11y(second, "conversation en");
  // The new device took over the seeker's identity: it is cross-signed, so it is trusted.
  await expectCrossSigned(second, "the seeker's second device");

  // Counsellor B logs in (English); A hands over from the browser; B reads the whole history.
  const colleagueContext = await newContext("counsellor B");
  const colleague = await colleagueContext.newPage();
  const passphraseB = await counsellorFirstLogin(colleague, userB, "en");
  await tabTo(desk, "#colleague");
  for (let i = 0; i < 5 && (await desk.locator("#colleague").inputValue()) !== userB.userId; i++) {
    await desk.keyboard.press("ArrowDown");
  }
  expect(await desk.locator("#colleague").inputValue()).toBe(userB.userId);
  await tabToText(desk, "Übergeben …");
  await desk.keyboard.press("Enter");
  // The handover asks first (the question takes the focus).
  await expect.poll(() => desk.evaluate(() => document.activeElement?.textContent ?? "")).toContain("Wirklich an");
  await tabToText(desk, "Ja, übergeben");
  await desk.keyboard.press("Enter");
  await desk.waitForURL(/\/beratung\?uebergeben=1$/);
  const mine = colleague.getByRole("link", { name: /Enquiry \d+/ });
  await mine.waitFor({ timeout: 60_000 });
  await checkA11y(colleague, "desk with conversation en");
  await tabToText(colleague, "Enquiry");
  await colleague.keyboard.press("Enter");
  await expect
    .poll(async () => (await messages(colleague)).join("\n"), { timeout: 60_000 })
    .toMatch(new RegExp(`${enquiry}[\\s\\S]*${reply}`));
  // Every message and both files, and B opens the photo.
  expect((await messages(colleague)).join("\n")).toMatch(/infoblatt\.pdf[\s\S]*foto\.png/);
  expect((await messages(colleague)).join("\n")).not.toContain("cannot be decrypted");
  await colleague.getByRole("button", { name: /Show image/ }).click();
  await expect
    .poll(() => colleague.locator("img.attachment-image").evaluate((img: HTMLImageElement) => img.naturalWidth), {
      timeout: 30_000,
    })
    .toBe(1);
  await checkA11y(colleague, "counsellor conversation en");

  // B closes; the seeker sees that the conversation has ended and cannot write any more.
  await tabToText(colleague, "End the conversation …");
  await colleague.keyboard.press("Enter");
  await tabToText(colleague, "Yes, end it");
  await colleague.keyboard.press("Enter");
  await colleague.getByText("This conversation has ended.").first().waitFor({ timeout: 30_000 });
  await second.reload({ waitUntil: "load" });
  await second.getByText("No more messages can be written.").waitFor({ timeout: 60_000 });
  expect(await second.locator("#composer").count()).toBe(0);
  await checkA11y(second, "conversation closed en");
  // The seeker reopens it (keyboard): B is responsible again and the seeker can write.
  await tabToText(second, "Reopen the conversation");
  await second.keyboard.press("Enter");
  await second.locator("#composer").waitFor({ timeout: 60_000 });
  const after = `One more thing ${unique()}`;
  await typeInto(second, "#composer", after);
  await second.keyboard.press("ControlOrMeta+Enter");
  await expect.poll(async () => (await messages(colleague)).join("\n"), { timeout: 60_000 }).toContain(after);

  // Counsellor A logs out everywhere: the desk's login ends at the homeserver too.
  const tokenA = await desk.evaluate(
    () => (JSON.parse(sessionStorage.getItem("connecta.session") ?? "{}") as { accessToken: string }).accessToken,
  );
  await tabToText(desk, "Auf allen Geräten abmelden");
  await desk.keyboard.press("Enter");
  await desk.waitForURL(`${stack.clientUrl}/beratung/anmelden`);
  expect(await desk.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith("connecta.")))).toEqual([]);
  expect((await matrixRequest(stack, "GET", "/_matrix/client/v3/account/whoami", { accessToken: tokenA })).status).toBe(
    401,
  );

  // Counsellor B walks away from the conversation, a draft in the composer: after the idle time
  // the screen locks. The device stays, nothing in the tab can use its login; the seeker writes
  // meanwhile; B unlocks with the passphrase and is back as the same device, with the draft and
  // the new message.
  const conversationB = colleague.url();
  const deviceB = await pageSession(colleague);
  await colleague.clock.install();
  await colleague.goto(conversationB, { waitUntil: "load" });
  await colleague.locator("form.composer button[type=submit]:not([disabled])").waitFor({ timeout: 60_000 });
  const draft = `A reply I am still thinking about ${unique()}`;
  await colleague.evaluate(() => {
    (window as unknown as { typedInto?: Element | null }).typedInto = document.getElementById("composer");
  });
  await typeInto(colleague, "#composer", draft);
  // Every key typed arrived (none lost to a composer drawn anew, or to the focus moving away).
  const composer = await colleague.evaluate(() => ({
    value: (document.getElementById("composer") as HTMLTextAreaElement | null)?.value,
    same: (window as unknown as { typedInto?: Element | null }).typedInto === document.getElementById("composer"),
    focused: document.activeElement?.id ?? document.activeElement?.tagName,
  }));
  expect(composer).toEqual({ value: draft, same: true, focused: "composer" });
  // The whole draft is stored (encrypted: its length tells), not a part saved while typing paused.
  // The tab's clock is installed: the draft's delayed save runs only when time is moved on.
  await expect
    .poll(async () => {
      await colleague.clock.runFor(1000);
      return colleague.evaluate(() => {
        const key = Object.keys(sessionStorage).find((k) => k.startsWith("connecta.draft."));
        return key ? atob(sessionStorage.getItem(key)?.split(".")[1] ?? "").length : 0;
      });
    })
    .toBe(new TextEncoder().encode(draft).length + 16);
  await colleague.clock.fastForward("16:00");
  await colleague.waitForURL(/\/beratung\/gesperrt\?weiter=/, { timeout: 30_000 });
  await expectHeading(colleague, "Screen locked");
  await checkA11y(colleague, "lock screen en");
  expect(await colleague.evaluate(() => sessionStorage.getItem("connecta.session"))).toBeNull();
  expect(await colleague.evaluate(() => JSON.stringify(sessionStorage))).not.toContain(deviceB.accessToken);
  const whoamiB = async () =>
    (await matrixRequest(stack, "GET", "/_matrix/client/v3/account/whoami", { accessToken: deviceB.accessToken }))
      .status;
  expect(await whoamiB()).toBe(200);
  const meanwhile = `While you were away ${unique()}`;
  await typeInto(second, "#composer", meanwhile);
  await second.keyboard.press("ControlOrMeta+Enter");
  await expect.poll(async () => (await messages(second)).join("\n"), { timeout: 30_000 }).toContain(meanwhile);
  await typeInto(colleague, "#passphrase", "not the passphrase at all");
  await colleague.keyboard.press("Enter");
  await expect
    .poll(() => colleague.locator(".error-summary").innerText(), { timeout: 60_000 })
    .toContain("does not fit");
  await tabTo(colleague, "#passphrase");
  await colleague.keyboard.press("ControlOrMeta+A");
  await colleague.keyboard.type(passphraseB);
  await colleague.keyboard.press("Enter");
  await colleague.waitForURL(conversationB, { timeout: 60_000 });
  expect((await pageSession(colleague)).deviceId).toBe(deviceB.deviceId);
  await expect.poll(() => colleague.locator("#composer").inputValue(), { timeout: 30_000 }).toBe(draft);
  await expect.poll(async () => (await messages(colleague)).join("\n"), { timeout: 60_000 }).toContain(meanwhile);

  // Quick exit from the logged-in conversation: no session, keys or drafts left in that tab,
  // and the login ended at the homeserver.
  const secondToken = await second.evaluate(
    () => (JSON.parse(sessionStorage.getItem("connecta.session") ?? "{}") as { accessToken: string }).accessToken,
  );
  const historyLength = await second.evaluate(() => history.length);
  await second.keyboard.press("Escape");
  await second.keyboard.press("Escape");
  await second.waitForURL(`${stack.clientUrl}/rezept`);
  await expect
    .poll(() =>
      second.evaluate(async () => ({
        session: sessionStorage.length,
        local: localStorage.length,
        databases: (await indexedDB.databases()).length,
      })),
    )
    .toEqual({ session: 0, local: 0, databases: 0 });
  expect(await second.evaluate(() => history.length)).toBe(historyLength);
  await expect
    .poll(
      async () =>
        (await matrixRequest(stack, "GET", "/_matrix/client/v3/account/whoami", { accessToken: secondToken })).status,
    )
    .toBe(401);

  // Only our origins; no passphrase in any request; no CSP violation or page error.
  const origins = new Set(requests.map((r) => new URL(r.url).origin));
  expect([...origins].sort()).toEqual([clientOrigin, homeserverOrigin].sort());
  for (const secret of passphrases) expect(requestsCarrying(secret), "a passphrase travelled").toEqual([]);
  // Positive controls: the Matrix worker's requests are recorded (sync, key upload), and the
  // check finds a secret that does travel: the seeker's password, sent to register.
  const seekerUrls = requests.filter((r) => r.context === "seeker").map((r) => new URL(r.url).pathname);
  expect(seekerUrls).toContain("/_matrix/client/v3/sync");
  expect(seekerUrls).toContain("/_matrix/client/v3/keys/upload");
  expect(requestsCarrying(password).length, "the password's registration request").toBeGreaterThan(0);
  // Nothing the people wrote or sent is readable anywhere on the server side.
  expect(await serverSideHits(stack, [enquiry, reply, after, meanwhile, FILE_MARKER])).toEqual([]);
  expect(problems).toEqual([]);
  expect(JSON.stringify(violations, null, 1)).toBe("{}");
  // Nobody who should read a message was ever told it cannot be read (a moment of "Decrypting …"
  // while a key is on its way is fine).
  expect(unreadable).toEqual([]);
}
