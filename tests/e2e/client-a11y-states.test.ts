/**
 * axe (tests/support/a11y.ts: WCAG 2.2 A+AA and best practices, light and dark, 390 and 1280 px)
 * on every state of both journeys in German and in English: the forms with their errors, the
 * desk empty, with the queue and with own conversations, the counsellor's conversation, the
 * seeker's chat empty, with messages, with an attachment and closed, and "my data".
 *
 * The other browser tests check many of these states in one language; here each state is
 * checked in the language it was reached in and then reloaded in the other (the language links
 * load the page anew; the tab keeps its login), so that a missing translation or a longer English
 * label that breaks the layout is found too. Form errors do not survive a reload: those flows run
 * once per language.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { a11yViolations, type A11yViolation } from "../support/a11y.ts";
import { launchChromium } from "../support/browser.ts";
import {
  counsellorFirstLogin,
  messages,
  pagesText,
  seekerFirstBrowserLogin,
  sendMessage,
} from "../support/client-flows.ts";
import { sendFileByKeyboard } from "../support/keyboard.ts";
import { intakeSeeker, seedIntakeAgency } from "../support/seeker.ts";

const stack = inject("stack");
type Lang = "de" | "en";
const LANGS: Lang[] = ["de", "en"];

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** A 1×1 PNG, as a seeker might send it. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);

/** Findings per state, asserted together at the end of a test (so one run shows them all). */
interface Findings {
  /** The states checked, to show that each was reached. */
  checked: string[];
  found: Record<string, A11yViolation[]>;
}

async function record(page: Page, state: string, findings: Findings): Promise<void> {
  const lang = await page.getAttribute("html", "lang");
  const name = `${state} (${lang})`;
  findings.checked.push(name);
  const violations = await a11yViolations(page);
  if (violations.length > 0) findings.found[name] = violations;
}

/**
 * Checks the page's state in its language, then loads it again in the other language, waits
 * until `ready` holds and checks it there, then loads it back in the first language.
 */
async function inBothLanguages(
  findings: Findings,
  page: Page,
  state: string,
  ready: (page: Page) => Promise<void>,
): Promise<void> {
  await ready(page);
  await record(page, state, findings);
  const first = (await page.getAttribute("html", "lang")) as Lang;
  for (const lang of [first === "de" ? "en" : "de", first]) {
    const url = new URL(page.url());
    url.searchParams.set("lang", lang);
    await page.goto(url.href, { waitUntil: "load" });
    await ready(page);
    if (lang !== first) await record(page, state, findings);
  }
}

/** A German context's page. */
async function newPage(): Promise<Page> {
  const context = await browser.newContext({ locale: "de-DE", reducedMotion: "reduce" });
  return context.newPage();
}

describe("axe on the forms with their errors, in German and English", () => {
  it("finds nothing on the logins and the intake's first step after a wrong entry", async () => {
    const findings: Findings = { checked: [], found: {} };
    const page = await newPage();
    for (const lang of LANGS) {
      for (const path of ["/beratung/anmelden", "/anmelden"]) {
        await page.goto(`${stack.clientUrl}${path}?lang=${lang}`, { waitUntil: "networkidle" });
        await page.fill("#login-name", "nobody-here");
        await page.fill("#login-password", "not the password at all");
        await page.locator("form button[type=submit]").click();
        await page.locator(".error-summary").waitFor({ timeout: 30_000 });
        await record(page, `${path} with a refused login`, findings);
      }
      await page.goto(`${stack.clientUrl}/anfrage?lang=${lang}`, { waitUntil: "networkidle" });
      await page.locator("form button[type=submit]").click();
      await page.locator(".error-summary").waitFor({ timeout: 30_000 });
      await record(page, "intake step 1 with errors", findings);
    }
    await page.context().close();
    expect(findings.checked).toHaveLength(6);
    expect(findings.found).toEqual({});
  }, 600_000);
});

describe("axe on every state of a conversation, in German and English", () => {
  it("finds nothing on the desk, the counsellor's conversation, the seeker's chat and my data", async () => {
    const findings: Findings = { checked: [], found: {} };
    const agency = await seedIntakeAgency(stack, 1);
    const counsellor = agency.counsellors[0]!;
    const seekerAccount = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
    const desk = await newPage();
    const chat = await newPage();
    try {
      await counsellorFirstLogin(stack, desk, counsellor, "de");
      const deskReady = (queue: number, mine: number) => async (page: Page) => {
        await page.locator("#queue-title").waitFor({ timeout: 60_000 });
        await expect.poll(() => page.getByTestId("queue-item").count(), { timeout: 60_000 }).toBe(queue);
        await expect
          .poll(() => page.locator('a[href^="/beratung/gespraech/"]').count(), { timeout: 60_000 })
          .toBe(mine);
      };
      await inBothLanguages(findings, desk, "desk, empty", deskReady(0, 0));

      await seekerFirstBrowserLogin(stack, chat, seekerAccount);
      const chatReady =
        (texts: string[], composer = true) =>
        async (page: Page) => {
          await expect
            .poll(
              async () => {
                const shown = (await messages(page)).join("\n");
                return texts.filter((text) => shown.includes(text));
              },
              { timeout: 60_000 },
            )
            .toEqual(texts);
          if (composer)
            await page.locator("form.composer button[type=submit]:not([disabled])").waitFor({ timeout: 60_000 });
        };
      await inBothLanguages(findings, chat, "chat, empty", chatReady([]));

      const first = `Ich weiß nicht weiter ${Date.now()}`;
      await sendMessage(chat, first);
      await inBothLanguages(findings, chat, "chat with a message, waiting", chatReady([first]));
      await inBothLanguages(findings, desk, "desk with the queue", deskReady(1, 0));

      await desk.getByTestId("queue-item").getByRole("button").first().click();
      await desk.waitForURL(/\/beratung\/gespraech\/\d+/, { timeout: 60_000 });
      const reply = `Danke für Ihre Nachricht ${Date.now()}`;
      await sendMessage(desk, reply);
      await inBothLanguages(findings, desk, "counsellor's conversation", chatReady([first, reply]));
      await desk.goto(`${stack.clientUrl}/beratung`, { waitUntil: "load" });
      await inBothLanguages(findings, desk, "desk with own conversations", deskReady(0, 1));

      await sendFileByKeyboard(chat, { name: "foto.png", mimeType: "image/png", buffer: PNG });
      await inBothLanguages(
        findings,
        chat,
        "chat with messages and an attachment",
        chatReady([first, reply, "foto.png"]),
      );

      await desk.locator('a[href^="/beratung/gespraech/"]').first().click();
      await chatReady([first, reply, "foto.png"])(desk);
      await desk.getByRole("button", { name: "Gespräch beenden …" }).click();
      await desk.getByRole("button", { name: "Ja, beenden" }).click();
      await desk.getByText("Dieses Gespräch ist beendet.").first().waitFor({ timeout: 30_000 });
      await inBothLanguages(findings, desk, "counsellor's conversation, closed", chatReady([first, reply], false));
      await inBothLanguages(findings, chat, "chat, closed", async (page) => {
        await chatReady([first, reply], false)(page);
        await expect.poll(() => page.locator("#composer").count(), { timeout: 60_000 }).toBe(0);
      });

      await chat.goto(`${stack.clientUrl}/meine-daten`, { waitUntil: "load" });
      await inBothLanguages(findings, chat, "my data", async (page) => {
        await page.locator("h1").waitFor();
        expect(new URL(page.url()).pathname).toBe("/meine-daten");
      });
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText(browser)}`, { cause: err });
    } finally {
      await desk.context().close();
      await chat.context().close();
    }
    expect(findings.checked).toHaveLength(20);
    expect(findings.found).toEqual({});
  }, 900_000);
});
