/**
 * Case notes, the handover's confirmation and the conversation's markers in the browser, against
 * the real stack in Chromium (issue 15): counsellor A (German) takes an enquiry, writes a note,
 * hands over to B (English) after confirming, with a note for B; B reads both notes on the
 * device that received the handover and again after logging in on a fresh device; the seeker
 * (German, then English) sees kind markers for taken, handed over, closed and reopened, and
 * never a note; the counsellors see theirs, in their language.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "../support/browser.ts";
import {
  counsellorFirstLogin,
  counsellorLogin,
  messages,
  pagesText,
  recordUnreadable,
  seekerFirstBrowserLogin,
  sendMessage,
} from "../support/client-flows.ts";
import { matrixRequest, type TestUser } from "../support/matrix.ts";
import { intakeSeeker, seedIntakeAgency } from "../support/seeker.ts";
import { unique } from "../support/workflow.ts";

const stack = inject("stack");
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** A new browser context (a new device) in `locale` whose unreadable messages are recorded. */
async function newPage(who: string, unreadable: string[], locale = "de-DE"): Promise<Page> {
  const context = await browser.newContext({ locale });
  await recordUnreadable(context, who, unreadable);
  return context.newPage();
}

const notes = (page: Page): Promise<string[]> => page.getByTestId("note").allInnerTexts();
const markers = (page: Page): Promise<string[]> => page.getByTestId("marker").allInnerTexts();

describe("case notes and markers in the browser", () => {
  it("hands over after a confirmation with a note only the colleague reads, and marks each change for both", async () => {
    const unreadable: string[] = [];
    try {
      await caseNotes(unreadable);
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText(browser)}\nunreadable: ${unreadable.join("\n")}`, {
        cause: err,
      });
    }
  }, 600_000);
});

async function caseNotes(unreadable: string[]): Promise<void> {
  const agency = await seedIntakeAgency(stack, 2);
  const [a, b] = agency.counsellors as [TestUser, TestUser];
  const desk = await newPage("counsellor A", unreadable);
  await counsellorFirstLogin(stack, desk, a, "de");
  const colleague = await newPage("counsellor B", unreadable, "en-GB");
  const passphraseB = await counsellorFirstLogin(stack, colleague, b, "en");

  const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
  expect((await matrixRequest(stack, "POST", "/_matrix/client/v3/logout", seeker, {})).status).toBe(200);
  const chat = await newPage("seeker", unreadable);
  await seekerFirstBrowserLogin(stack, chat, seeker);
  const enquiry = `Ich brauche Hilfe ${unique()}`;
  await sendMessage(chat, enquiry);

  // A takes the enquiry: both see that it was taken; the seeker without a name.
  await desk.reload({ waitUntil: "load" });
  const item = desk.getByTestId("queue-item").filter({ hasText: enquiry });
  await item.waitFor({ timeout: 90_000 });
  await item.getByRole("button", { name: /übernehmen/ }).click();
  await desk.waitForURL(/\/beratung\/gespraech\/\d+$/);
  await expect.poll(() => markers(desk), { timeout: 60_000 }).toEqual([expect.stringContaining("Anfrage übernommen")]);
  await expect
    .poll(() => markers(chat), { timeout: 60_000 })
    .toEqual([expect.stringContaining("Eine Beraterin oder ein Berater hat Ihre Anfrage übernommen")]);

  // A writes a note: shown with author and time, in the notes, not in the chat.
  const first = `Erstgespräch: Schule, Schlaf ${unique()}`;
  await desk.locator("#case-note").fill(first);
  await desk.getByRole("button", { name: "Notiz speichern" }).click();
  await expect.poll(() => notes(desk), { timeout: 60_000 }).toEqual([expect.stringContaining(first)]);
  expect((await notes(desk))[0]).toMatch(/^Sie\s+\d{2}\.\d{2}\.\d{2}, \d{2}:\d{2}/);

  // The handover asks first; cancelling hands nothing over.
  await desk.locator("#colleague").selectOption(b.userId);
  const forB = `Bitte Dienstag nachfragen ${unique()}`;
  await desk.locator("#handover-note").fill(forB);
  await desk.getByRole("button", { name: "Übergeben …" }).click();
  const question = desk.getByText(`Wirklich an ${b.localpart} übergeben?`);
  await question.waitFor();
  await expect.poll(() => desk.evaluate(() => document.activeElement?.textContent ?? "")).toContain("Wirklich an");
  await desk.getByRole("button", { name: "Abbrechen" }).click();
  await desk.getByRole("button", { name: "Übergeben …" }).waitFor();
  expect(await notes(desk)).toHaveLength(1);
  await desk.getByRole("button", { name: "Übergeben …" }).click();
  await desk.getByRole("button", { name: "Ja, übergeben" }).click();
  await desk.waitForURL(/\/beratung\?uebergeben=1$/, { timeout: 90_000 });

  // B reads the conversation, both notes (A's, and the handover note) and the markers, in English.
  await colleague.reload({ waitUntil: "load" });
  const mine = colleague.getByRole("link", { name: `Enquiry ${seeker.enquiryId}` });
  await mine.waitFor({ timeout: 60_000 });
  await mine.click();
  await colleague.waitForURL(/\/beratung\/gespraech\/\d+$/);
  await expect.poll(async () => (await messages(colleague)).join("\n"), { timeout: 60_000 }).toContain(enquiry);
  await expect
    .poll(async () => (await notes(colleague)).join("\n"), { timeout: 90_000 })
    .toMatch(new RegExp(`${a.localpart}[\\s\\S]*${first}[\\s\\S]*${a.localpart}[\\s\\S]*Notiz zur Übergabe: ${forB}`));
  await expect
    .poll(() => markers(colleague), { timeout: 60_000 })
    .toEqual([expect.stringContaining("Enquiry taken"), expect.stringContaining("Enquiry handed over")]);
  const fromB = `B: read everything ${unique()}`;
  await colleague.locator("#case-note").fill(fromB);
  await colleague.getByRole("button", { name: "Save note" }).click();
  await expect.poll(async () => (await notes(colleague)).join("\n"), { timeout: 60_000 }).toContain(fromB);

  // The seeker: told kindly that a colleague took over, nothing of the notes, no name.
  await expect
    .poll(() => markers(chat), { timeout: 60_000 })
    .toEqual([
      expect.stringContaining("hat Ihre Anfrage übernommen"),
      expect.stringContaining("an eine Kollegin oder einen Kollegen übergeben"),
    ]);

  // B closes; the seeker reads that it is closed and reopens it, in English.
  await colleague.getByRole("button", { name: "End the conversation …" }).click();
  await colleague.getByRole("button", { name: "Yes, end it" }).click();
  await expect
    .poll(() => markers(colleague), { timeout: 60_000 })
    .toEqual([
      expect.stringContaining("Enquiry taken"),
      expect.stringContaining("Enquiry handed over"),
      expect.stringContaining("Conversation closed"),
    ]);
  await chat.goto(`${stack.clientUrl}/gespraech?lang=en`, { waitUntil: "load" });
  await expect
    .poll(() => markers(chat), { timeout: 60_000 })
    .toEqual([
      expect.stringContaining("A counsellor has taken on your enquiry"),
      expect.stringContaining("Your enquiry was passed on to a colleague"),
      expect.stringContaining("The conversation was closed"),
    ]);
  await chat.getByRole("button", { name: "Reopen the conversation" }).click();
  await expect
    .poll(async () => (await markers(chat)).at(-1) ?? "", { timeout: 60_000 })
    .toContain("You reopened the conversation. You can write again.");
  await expect
    .poll(async () => (await markers(colleague)).at(-1) ?? "", { timeout: 60_000 })
    .toContain("Conversation reopened by the advice seeker");

  // B on a fresh device (a new login, keys unlocked from the backup) reads the notes too.
  const fresh = await newPage("counsellor B, fresh device", unreadable);
  await counsellorLogin(stack, fresh, b, passphraseB);
  await fresh.goto(colleague.url(), { waitUntil: "load" });
  await expect
    .poll(async () => (await notes(fresh)).join("\n"), { timeout: 90_000 })
    .toMatch(new RegExp(`${first}[\\s\\S]*${forB}[\\s\\S]*${fromB}`));

  // No note ever reached the seeker's page; nobody was shown anything unreadable.
  const seekerText = await chat.locator("body").innerText();
  for (const text of [first, forB, fromB]) expect(seekerText).not.toContain(text);
  expect(await chat.getByTestId("note").count()).toBe(0);
  expect(unreadable).toEqual([]);
}
