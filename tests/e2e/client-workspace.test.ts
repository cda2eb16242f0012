/**
 * The counsellor's workspace in Chromium against the real stack (issue 15, acceptance 1, 4 and
 * 5 for the workspace): a counsellor with 30 conversations sees the one waiting longest for an
 * answer first, with its preview decrypted in the browser, and opens it beside the list; when a
 * seeker writes, that conversation's unread count and the tab title change without a reload,
 * and the notification the counsellor allowed says nothing of the conversation; filter, search
 * and the "next unread" shortcut work; axe finds nothing; on a phone the list and the
 * conversation take turns. The 30 conversations are made through the database, Matrix and our
 * API, not 30 browser journeys: three seekers write real encrypted messages from matrix-js-sdk
 * in Node (their previews must be readable in the browser), the others a stand-in ciphertext.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { MatrixClient } from "matrix-js-sdk";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { a11yViolations, type A11yViolation } from "../support/a11y.ts";
import { launchChromium } from "../support/browser.ts";
import { counsellorFirstLogin, messages, pagesText, pageSession, sendMessage } from "../support/client-flows.ts";
import { bootstrapCrossSigning, joinInvitedRoom } from "../support/crypto-identity.ts";
import { cryptoClient, eventually, matrixRequest, registerUser, type TestUser } from "../support/matrix.ts";
import {
  callApi,
  connectaDb,
  createAgency,
  createCounsellor,
  createTopic,
  enquiryState,
  openIdToken,
  openTestEnquiry,
  seekerWrites,
  unique,
} from "../support/workflow.ts";

const stack = inject("stack");
const screenshotDir = join(import.meta.dirname, "../../docs/screenshots");
const CONVERSATIONS = 30;
/** Which enquiries (by order of creation) write real encrypted messages; the first of them writes first. */
const LONGEST = 4;
const READABLE = [LONGEST, 9, 17];
/** The order in which the seekers write: the longest waiting is not the oldest enquiry. */
const WRITING_ORDER = [LONGEST, ...Array.from({ length: CONVERSATIONS }, (_, i) => i).filter((i) => i !== LONGEST)];

let browser: Browser;
const clients: MatrixClient[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  await mkdir(screenshotDir, { recursive: true });
});
afterAll(async () => {
  for (const client of clients) client.stopClient();
  await browser?.close();
});

interface Conversation {
  seeker: TestUser;
  enquiryId: number;
  roomId: string;
  /** The text of its first message, for the readable ones. */
  text: string | null;
}

/** Records every notification the page creates (title and body), before the page's code runs. */
function recordNotifications(): void {
  const seen: { title: string; body: string | null }[] = [];
  (window as unknown as { __notifications: typeof seen }).__notifications = seen;
  const Original = window.Notification;
  // Static members (permission, requestPermission) are inherited from the original.
  class Recorded extends Original {
    constructor(title: string, options?: NotificationOptions) {
      seen.push({ title, body: options?.body ?? null });
      super(title, options);
    }
  }
  window.Notification = Recorded;
}

const notifications = (page: Page) =>
  page.evaluate(() => (window as unknown as { __notifications: unknown[] }).__notifications);

/** Sends a stand-in for an encrypted message (the server cannot tell) as `seeker`. */
async function standInMessage(seeker: TestUser, roomId: string): Promise<void> {
  const sent = await matrixRequest(
    stack,
    "PUT",
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.encrypted/${unique()}${unique()}`,
    seeker,
    { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "AwgAEn" },
  );
  if (sent.status !== 200) throw new Error(`send: ${sent.status}`);
}

/** The enquiry numbers of the list's conversations, top to bottom. */
const listed = (page: Page): Promise<number[]> =>
  page
    .getByTestId("conversation-item")
    .evaluateAll((items) => items.map((item) => Number(item.getAttribute("data-enquiry"))));

const item = (page: Page, enquiryId: number) =>
  page.locator(`[data-testid=conversation-item][data-enquiry="${enquiryId}"]`);

/** axe on the page in light and dark mode. */
async function axe(page: Page): Promise<A11yViolation[]> {
  const found: A11yViolation[] = [];
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    found.push(...(await a11yViolations(page)));
  }
  await page.emulateMedia({ colorScheme: null });
  return found;
}

/**
 * A counsellor of a fresh agency, logged in in `page` (their keys set up there), with
 * CONVERSATIONS claimed conversations whose seekers wrote in WRITING_ORDER.
 */
async function counsellorWithConversations(page: Page): Promise<Conversation[]> {
  const db = await connectaDb(stack);
  try {
    const topic = await createTopic(db, "Familie");
    const agencyId = await createAgency(db, [topic]);
    const counsellor = await createCounsellor(stack, db, agencyId);
    // The browser's device exists before anyone writes: the room keys are shared with it.
    await counsellorFirstLogin(stack, page, counsellor, "de");
    const session = await pageSession(page);
    const token = await openIdToken(stack, session);
    // Away from the desk while the conversations are made: the browser joins their rooms when it
    // comes back, after the claims, so each room's newest event is the counsellor's own join (a
    // room that must still be marked read when opened).
    await page.goto("about:blank");

    const seekers = await Promise.all(Array.from({ length: CONVERSATIONS }, () => registerUser(stack, "seeker")));
    const conversations: Conversation[] = [];
    for (const seeker of seekers) {
      conversations.push({ seeker, ...(await openTestEnquiry(db, seeker, agencyId, topic)), text: null });
    }

    for (const index of WRITING_ORDER) {
      const c = conversations[index] as Conversation;
      if (READABLE.includes(index)) {
        const client = await cryptoClient(stack, c.seeker);
        clients.push(client);
        // The counsellor's browser reads only what cross-signed devices send (device isolation).
        await bootstrapCrossSigning(client, c.seeker);
        await joinInvitedRoom(client, c.roomId);
        c.text = `Ich brauche Rat, Nummer ${index} (${unique()}).`;
        await client.sendTextMessage(c.roomId, c.text);
        await eventually("the enquiry waits", async () => (await enquiryState(db, c.enquiryId))?.state === "waiting");
      } else {
        await seekerWrites(stack, db, c.seeker, c);
      }
    }
    for (const c of conversations) {
      const claimed = await callApi(stack.appserviceUrl, "POST", `/api/v1/enquiries/${c.enquiryId}/claim`, token, {});
      expect(claimed.status, JSON.stringify(claimed.body)).toBe(200);
    }
    return conversations;
  } finally {
    await db.end();
  }
}

describe("the counsellor's workspace", () => {
  it("shows 30 conversations by need beside the open one, updates them live and notifies without content", async () => {
    try {
      await workspace();
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText(browser)}`, { cause: err });
    }
  }, 900_000);
});

async function workspace(): Promise<void> {
  const context = await browser.newContext({
    locale: "de-DE",
    viewport: { width: 1280, height: 900 },
    permissions: ["notifications"],
  });
  await context.addInitScript(recordNotifications);
  const page = await context.newPage();
  const conversations = await counsellorWithConversations(page);
  const byIndex = (i: number) => conversations[i] as Conversation;
  const longest = byIndex(LONGEST);

  // Sorted by need: the order in which the seekers wrote, the longest waiting first (not the
  // oldest enquiry), with its first message decrypted in this browser.
  await page.goto(`${stack.clientUrl}/beratung`, { waitUntil: "load" });
  const expectedOrder = WRITING_ORDER.map((i) => byIndex(i).enquiryId);
  await expect.poll(() => listed(page), { timeout: 180_000 }).toEqual(expectedOrder);
  expect(longest.enquiryId).not.toBe(Math.min(...expectedOrder));
  const first = page.getByTestId("conversation-item").first();
  await expect.poll(() => first.getByTestId("preview").innerText(), { timeout: 60_000 }).toBe(longest.text);
  expect(await first.innerText()).toContain(longest.seeker.localpart);
  expect(await first.innerText()).toContain("Familie");
  expect(await first.getByTestId("waiting").innerText()).toMatch(/^wartet auf Ihre Antwort seit \d+ Minuten?$/);
  expect(await axe(page), "axe on the workspace's desk").toEqual([]);

  // The phone: one column, the list on the desk.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(screenshotDir, "workspace-mobile.png") });
  await page.setViewportSize({ width: 1280, height: 900 });

  // Opened beside the list, the composer has the focus.
  await first.getByRole("link").click();
  await page.waitForURL(`${stack.clientUrl}/beratung/gespraech/${longest.enquiryId}`);
  const list = page.getByRole("region", { name: "Gespräche und wartende Anfragen" });
  expect(await list.isVisible()).toBe(true);
  await expect.poll(async () => (await messages(page)).join("\n"), { timeout: 60_000 }).toContain(longest.text);
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("composer");
  const context_ = await page.getByTestId("conversation-context").innerText();
  for (const shown of ["Familie", "Deutsch", "Beratungsstelle", "Agency "]) expect(context_).toContain(shown);
  expect(await page.getByRole("heading", { level: 2, name: new RegExp(longest.seeker.localpart) }).count()).toBe(1);
  // Read now: every other conversation has its seeker's one unread message.
  await expect.poll(() => page.title(), { timeout: 60_000 }).toBe(`(29) Anfrage ${longest.enquiryId} – Connecta`);

  // Notifications, allowed by the browser here, are switched on by the counsellor only.
  expect(await notifications(page)).toEqual([]);
  const notifyButton = page.getByRole("button", { name: "Benachrichtigungen" });
  expect(await notifyButton.getAttribute("aria-pressed")).toBe("false");
  await notifyButton.click();
  await expect.poll(() => notifyButton.getAttribute("aria-pressed")).toBe("true");

  // A seeker writes: their unread count and the tab title change live; the notification says
  // only that something is new.
  const writer = byIndex(7);
  expect(await item(page, writer.enquiryId).getAttribute("data-unread")).toBe("1");
  await standInMessage(writer.seeker, writer.roomId);
  await expect.poll(() => item(page, writer.enquiryId).getAttribute("data-unread"), { timeout: 60_000 }).toBe("2");
  await expect.poll(() => page.title(), { timeout: 30_000 }).toBe(`(30) Anfrage ${longest.enquiryId} – Connecta`);
  await expect
    .poll(() => notifications(page), { timeout: 30_000 })
    .toEqual([{ title: "Neue Nachricht", body: "Connecta" }]);

  await page.screenshot({ path: join(screenshotDir, "workspace.png") });
  expect(await axe(page), "axe on the workspace with a conversation open").toEqual([]);

  // The counsellor answers: no longer waiting, it leaves the top of the list.
  await sendMessage(page, `Danke für Ihre Nachricht ${unique()}`);
  await expect.poll(() => item(page, longest.enquiryId).getByTestId("waiting").count(), { timeout: 60_000 }).toBe(0);
  await expect
    .poll(async () => (await listed(page))[0], { timeout: 30_000 })
    .toBe(byIndex(WRITING_ORDER[1] as number).enquiryId);

  // Filter by state, search by pseudonym and by number.
  await page.getByLabel("Wartet auf Antwort").check();
  await expect.poll(async () => (await listed(page)).length).toBe(CONVERSATIONS - 1);
  expect(await listed(page)).not.toContain(longest.enquiryId);
  await page.getByLabel("Alle", { exact: true }).check();
  await expect.poll(async () => (await listed(page)).length).toBe(CONVERSATIONS);
  const search = page.getByLabel("Suchen nach Pseudonym oder Nummer");
  await search.fill(writer.seeker.localpart);
  await expect.poll(() => listed(page)).toEqual([writer.enquiryId]);
  const other = byIndex(21);
  await search.fill(`#${other.enquiryId}`);
  await expect.poll(() => listed(page)).toEqual([other.enquiryId]);
  await search.fill("");
  await expect.poll(async () => (await listed(page)).length).toBe(CONVERSATIONS);

  // The shortcut the button documents opens the next unread conversation, the focus in its composer.
  const nextButton = page.getByRole("button", { name: "Nächstes ungelesenes Gespräch" });
  expect(await nextButton.getAttribute("aria-keyshortcuts")).toBe("Alt+N");
  const nextId = (await listed(page))[0] as number;
  await page.keyboard.press("Alt+N");
  await page.waitForURL(`${stack.clientUrl}/beratung/gespraech/${nextId}`);
  await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe("composer");
  await expect.poll(() => item(page, nextId).getAttribute("data-unread"), { timeout: 60_000 }).toBe("0");

  // On a phone the conversation is shown alone.
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await list.isVisible()).toBe(false);
  // Nothing but the one notification, and never unasked.
  expect(await notifications(page)).toHaveLength(1);
  await context.close();
}
