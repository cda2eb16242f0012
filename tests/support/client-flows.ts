/**
 * Flows of the web client in Chromium that several browser tests share: a counsellor's first
 * login, a seeker's login with a new passphrase, and reading what a page shows.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { expect } from "vitest";
import type { StackInfo } from "../../ops/stack/stack.ts";
import { tabTo, tabToText, typeInto } from "./keyboard.ts";
import type { TestUser } from "./matrix.ts";
import { unique } from "./workflow.ts";

/** The Matrix login the page keeps in its tab (sessionStorage). */
export interface PageSession {
  userId: string;
  deviceId: string;
  accessToken: string;
}

/** The page's Matrix login, read from its sessionStorage. */
export async function pageSession(page: Page): Promise<PageSession> {
  const session = await page.evaluate((): unknown => JSON.parse(sessionStorage.getItem("connecta.session") ?? "{}"));
  return session as PageSession;
}

/** The text of the page's `h1`, without the soft hyphens that long words carry for narrow screens. */
export async function headingText(page: Page): Promise<string> {
  return (await page.locator("h1").first().innerText()).replaceAll("\u00ad", "");
}

/** Fails with the page's URL when `h1` does not become `text`. */
export async function expectHeading(page: Page, text: string, timeout = 60_000): Promise<void> {
  await expect.poll(() => headingText(page), { timeout, message: `h1 on ${page.url()}` }).toBe(text);
}

/** The messages of the conversation on the page, as text. */
export const messages = (page: Page): Promise<string[]> => page.getByTestId("message").allInnerTexts();

/**
 * The delivery state shown under our message containing `text` ("wird gesendet", "gesendet",
 * "gelesen", ...), or "" while there is no such message.
 */
export async function messageState(page: Page, text: string): Promise<string> {
  const message = (await messages(page)).find((m) => m.includes(text));
  return message?.trim().split("\n").at(-1)?.trim() ?? "";
}

/** Headings of the key pages and the desk, by language. */
export const HEADINGS = {
  de: {
    changeTitle: "Bitte wählen Sie ein eigenes Passwort",
    createTitle: "Ihr Schlüsselsatz",
    recoveryTitle: "Ihr Wiederherstellungsschlüssel",
    continue: "Weiter",
    desk: "Beratung",
    conversation: "Ihr Gespräch",
  },
  en: {
    changeTitle: "Please choose your own password",
    createTitle: "Your passphrase",
    recoveryTitle: "Your recovery key",
    continue: "Continue",
    desk: "Counselling",
    conversation: "Your conversation",
  },
} as const;

/** Called on each new state of a flow, e.g. to run axe on it. */
export type OnState = (page: Page, name: string) => Promise<void>;

/**
 * On the keys page of a first device: chooses `passphrase`, confirms that the recovery key is
 * kept and continues (keyboard only).
 */
export async function createPassphrase(
  page: Page,
  passphrase: string,
  lang: "de" | "en",
  onState: OnState = async () => {},
  who = "",
): Promise<void> {
  const t = HEADINGS[lang];
  await expectHeading(page, t.createTitle);
  await onState(page, `passphrase${who} ${lang}`);
  await typeInto(page, "#passphrase", passphrase);
  await typeInto(page, "#passphrase-repeat", passphrase);
  await page.keyboard.press("Enter");
  await expectHeading(page, t.recoveryTitle, 120_000);
  await onState(page, `recovery key${who} ${lang}`);
  await tabTo(page, "input[type=checkbox]");
  await page.keyboard.press("Space");
  await tabToText(page, t.continue);
  await page.keyboard.press("Enter");
}

/**
 * A counsellor's first login in the browser, by keyboard: name and the operator's password, the
 * forced password change, then a new passphrase for their keys; ends on the desk. Updates
 * `user.password`; returns the passphrase.
 */
export async function counsellorFirstLogin(
  stack: StackInfo,
  page: Page,
  user: TestUser,
  lang: "de" | "en",
  onState: OnState = async () => {},
): Promise<string> {
  const t = HEADINGS[lang];
  await page.goto(`${stack.clientUrl}/beratung?lang=${lang}`, { waitUntil: "networkidle" });
  await page.waitForURL(/\/beratung\/anmelden/);
  await onState(page, `counsellor login ${lang}`);
  await typeInto(page, "#login-name", user.localpart);
  await typeInto(page, "#login-password", user.password);
  await page.keyboard.press("Enter");
  await expectHeading(page, t.changeTitle);
  await onState(page, `password change ${lang}`);
  const newPassword = `Neues Passwort ${unique()} ${unique()}`;
  await typeInto(page, "#new-password", newPassword);
  await typeInto(page, "#new-password-repeat", newPassword);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${stack.clientUrl}/schluessel`);
  const passphrase = `Beratung ${unique()} Schlüssel ${unique()}`;
  await createPassphrase(page, passphrase, lang, onState, " (counsellor)");
  await page.waitForURL(`${stack.clientUrl}/beratung`);
  await expectHeading(page, t.desk);
  user.password = newPassword;
  return passphrase;
}

/**
 * A seeker whose account exists (e.g. from `intakeSeeker`) logs in on a new browser device and
 * sets up their keys with a new passphrase (the account's first device with keys); ends on the
 * conversation page. Returns the passphrase.
 */
export async function seekerFirstBrowserLogin(
  stack: StackInfo,
  page: Page,
  user: Pick<TestUser, "localpart" | "password">,
  lang: "de" | "en" = "de",
): Promise<string> {
  await page.goto(`${stack.clientUrl}/anmelden?lang=${lang}`, { waitUntil: "networkidle" });
  await typeInto(page, "#login-name", user.localpart);
  await typeInto(page, "#login-password", user.password);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${stack.clientUrl}/schluessel`);
  const passphrase = `Mein Satz ${unique()} am Fluss ${unique()}`;
  await createPassphrase(page, passphrase, lang);
  await page.waitForURL(`${stack.clientUrl}/gespraech`);
  await expectHeading(page, HEADINGS[lang].conversation);
  return passphrase;
}

/**
 * Unlocks the keys of a device on the keys page with `passphrase` (keyboard only); the page then
 * continues to `next` (the desk or the conversation).
 */
export async function unlockKeys(stack: StackInfo, page: Page, passphrase: string, next: string): Promise<void> {
  await expectHeading(page, "Ihre Nachrichten entsperren");
  await typeInto(page, "#passphrase", passphrase);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${stack.clientUrl}${next}`, { timeout: 120_000 });
}

/**
 * A counsellor who set up their keys before logs in on a new browser device and unlocks them
 * with `passphrase` (German, keyboard only); ends on the desk.
 */
export async function counsellorLogin(stack: StackInfo, page: Page, user: TestUser, passphrase: string): Promise<void> {
  await page.goto(`${stack.clientUrl}/beratung/anmelden`, { waitUntil: "networkidle" });
  await typeInto(page, "#login-name", user.localpart);
  await typeInto(page, "#login-password", user.password);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${stack.clientUrl}/schluessel`);
  await unlockKeys(stack, page, passphrase, "/beratung");
  await expectHeading(page, HEADINGS.de.desk);
}

/**
 * A seeker who set up their keys before logs in on a new browser device and unlocks them with
 * `passphrase` (German, keyboard only); ends on the conversation page.
 */
export async function seekerLogin(
  stack: StackInfo,
  page: Page,
  user: Pick<TestUser, "localpart" | "password">,
  passphrase: string,
): Promise<void> {
  await page.goto(`${stack.clientUrl}/anmelden`, { waitUntil: "networkidle" });
  await typeInto(page, "#login-name", user.localpart);
  await typeInto(page, "#login-password", user.password);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${stack.clientUrl}/schluessel`);
  await unlockKeys(stack, page, passphrase, "/gespraech");
  await expectHeading(page, HEADINGS.de.conversation);
}

/**
 * Records, from every page of `context` (`who`), each message shown as one that cannot be read
 * here (the chat's and the desk's `data-testid="undecryptable"`), with its text, into `seen`:
 * a MutationObserver in every document, so that nothing shown even for a moment is missed.
 * Messages still being decrypted (`data-testid="decrypting"`) are not recorded.
 */
export async function recordUnreadable(context: BrowserContext, who: string, seen: string[]): Promise<void> {
  await context.exposeBinding("__connectaUnreadable", ({ page }, text: string) => {
    seen.push(`${who} at ${page.url()}: ${text}`);
  });
  await context.addInitScript(() => {
    const report = (window as unknown as { __connectaUnreadable: (text: string) => Promise<void> })
      .__connectaUnreadable;
    const reported = new WeakSet<Element>();
    const check = (): void => {
      for (const element of document.querySelectorAll('[data-testid="undecryptable"], .undecryptable')) {
        if (reported.has(element)) continue;
        reported.add(element);
        const message = element.closest('[data-testid="message"], [data-testid="queue-item"]') ?? element;
        // The reason (missingKey, untrustedSender) tells a flaky key delivery from a trust change.
        const reason = element.getAttribute("data-reason") ?? "?";
        void report(`[${reason}] ${(message.textContent ?? "").replace(/\s+/g, " ").trim()}`);
      }
    };
    new MutationObserver(check).observe(document, { childList: true, subtree: true });
  });
}

/**
 * Types `text` into the composer and sends it with Ctrl+Enter, once the conversation is ready
 * (its send button enabled: before that, Ctrl+Enter keeps the text and sends nothing).
 */
export async function sendMessage(page: Page, text: string): Promise<void> {
  await page.locator("form.composer button[type=submit]:not([disabled])").waitFor({ timeout: 60_000 });
  await typeInto(page, "#composer", text);
  await page.keyboard.press("ControlOrMeta+Enter");
}

/**
 * Attaches `file` in the chat's composer (its hidden file input) and sends it with the Send
 * button, once the preview shows it; waits until the composer has let go of it.
 */
export async function sendFile(page: Page, file: { name: string; mimeType: string; buffer: Buffer }): Promise<void> {
  await page.locator("form.composer button[type=submit]:not([disabled])").waitFor({ timeout: 60_000 });
  await page.setInputFiles("#attachment", file);
  await page.getByTestId("attachment-preview").filter({ hasText: file.name }).waitFor();
  await page.locator("form.composer button[type=submit]").click();
  await page.getByTestId("attachment-preview").waitFor({ state: "detached", timeout: 60_000 });
}

/** Every open page's URL and main text: to explain a failed browser test. */
export async function pagesText(browser: Browser): Promise<string> {
  const texts: string[] = [];
  for (const context of browser.contexts()) {
    for (const page of context.pages()) {
      const main = await page
        .locator("main")
        .innerText()
        .catch(() => "(no main)");
      texts.push(`--- ${page.url()}\n${main}`);
    }
  }
  return texts.join("\n");
}
