/**
 * The seeker's way, as issue 15 asks it to be, against the real stack in Chromium on a phone
 * (390 × 844, touch) and a desktop (1280 × 800), in German and English:
 * - honest states: the first step tells who would take the enquiry (an agency nearby, or the
 *   nationwide team when none near the postcode offers the topic, or nobody, before anything is
 *   written); "angekommen" only once the
 *   first message is sent; close, handover and reopening explained, with the reopening date;
 * - fewer, clearer secrets: a step counter that counts all five steps, one sentence per secret,
 *   the password refused as passphrase, a recovery key file with a neutral name, print;
 * - a real mobile chat: composer and send button on the first screen, the conversation at the
 *   screen's full height, our own attach button (the file input is never shown), a preview with
 *   name, size and thumbnail that can be removed before sending, no Ctrl+Enter hint on touch;
 * - a safe-browsing tip by the quick exit; headings that break between words only; checkboxes
 *   beside their labels; a message for each refused password.
 * The whole way (intake to a closed and reopened conversation) runs once, on a phone in German;
 * the other three size and language pairs check each item on shorter ways. axe on every state.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { a11yViolations } from "../support/a11y.ts";
import { launchChromium } from "../support/browser.ts";
import { expectHeading, headingText, messageState, messages, pagesText, sendMessage } from "../support/client-flows.ts";
import { typeInto } from "../support/keyboard.ts";
import { freshPseudonym, intakeSeeker, seedIntakeAgency, type IntakeAgency } from "../support/seeker.ts";
import { callApi, connectaDb, openIdToken, unique } from "../support/workflow.ts";

const stack = inject("stack");
const screenshotDir = join(import.meta.dirname, "../../docs/screenshots");
let browser: Browser;
let agency: IntakeAgency;
/** A postcode no agency covers for the test's topic: the fallback agency would take it. */
let elsewhere: string;

beforeAll(async () => {
  browser = await launchChromium();
  agency = await seedIntakeAgency(stack, 1);
  elsewhere = agency.postcode === "99999" ? "99998" : "99999";
  await ensureFallbackAgency();
});
afterAll(async () => {
  await browser?.close();
});

/** The nationwide (fallback) agency; other test files may create it at the same time. */
async function ensureFallbackAgency(): Promise<void> {
  const db = await connectaDb(stack);
  try {
    await db.query(
      `INSERT INTO agencies (name, is_fallback) SELECT $1, true
       WHERE NOT EXISTS (SELECT 1 FROM agencies WHERE is_fallback)`,
      [`Fallback ${unique()}`],
    );
  } catch (err) {
    // 23505: someone else created it just now.
    if ((err as { code?: string }).code !== "23505") throw err;
  } finally {
    await db.end();
  }
}

const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);

const TEXT = {
  de: {
    locale: "de-DE",
    fiveSteps: "In fünf Schritten",
    step: (n: number) => `Schritt ${n} von 5`,
    secrets: ["Passwort: damit melden Sie sich wieder an", "Schlüsselsatz: damit werden Ihre Nachrichten"],
    next: "Weiter",
    general: "Ihre Anfrage geht deshalb an unser überregionales Beratungsteam",
    local: "Eine Beratungsstelle in Ihrer Nähe bietet dieses Thema an.",
    none: "in der Nähe dieser Postleitzahl gerade keine Beratungsstelle Anfragen an",
    needsPostcode: "Für dieses Thema brauchen wir Ihre Postleitzahl",
    passwords: {
      "Sommer2024!": "mit Ziffern oder Zeichen davor, danach",
      aaaaaaaaaaaa: "nur aus einem Zeichen, das sich wiederholt",
      passwort123: "auf einer Liste häufig benutzter Passwörter",
    } as Record<string, string>,
    personal: "Das Passwort enthält Ihr Pseudonym",
    submit: "Anfrage absenden",
    createTitle: "Ihr Schlüsselsatz",
    isPassword: "Das ist Ihr Passwort",
    recoveryTitle: "Ihr Wiederherstellungsschlüssel",
    fileName: /^notiz-\d{4}-\d{2}-\d{2}\.txt$/,
    print: "Drucken",
    download: "Als Datei speichern",
    continue: "Weiter",
    conversation: "Ihr Gespräch",
    writeFirst: "Erst wenn Sie sie senden, kommt sie bei der Beratungsstelle an.",
    arrived: "Ihre Anfrage ist angekommen",
    sent: "gesendet",
    attach: "Datei anhängen",
    remove: "Anhang foto.png entfernen",
    send: "Senden",
    keyboardHint: "Mit Strg+Eingabe senden.",
    draftHint: "Ihr Entwurf bleibt verschlüsselt erhalten",
    handover: "Übergabe: Wenn Ihre Beraterin oder Ihr Berater das Gespräch",
    active: "Ihre Beraterin oder Ihr Berater antwortet hier.",
    closed: "Dieses Gespräch ist beendet.",
    reopenDays: /\(noch \d+ Tage?\)/,
    reopen: "Gespräch wieder öffnen",
    reopened: "Das Gespräch ist wieder offen.",
    safeTitle: "Sicher surfen",
    safeText: "privaten Fenster",
  },
  en: {
    locale: "en-GB",
    fiveSteps: "in five steps",
    step: (n: number) => `Step ${n} of 5`,
    secrets: ["password: to log in again", "Passphrase: makes your messages readable"],
    next: "Continue",
    general: "Your enquiry therefore goes to our nationwide counselling team",
    local: "A counselling service near you offers this topic.",
    none: "No counselling service near this postcode takes enquiries on this topic at the moment.",
    needsPostcode: "For this topic we need your postcode to find a counselling service.",
    passwords: {
      "Sommer2024!": "with digits or signs before, after or instead of letters",
      aaaaaaaaaaaa: "one character repeated",
      passwort123: "on a list of frequently used passwords",
    } as Record<string, string>,
    personal: "The password contains your pseudonym",
    submit: "Send request",
    createTitle: "Your passphrase",
    isPassword: "This is your password",
    recoveryTitle: "Your recovery key",
    fileName: /^note-\d{4}-\d{2}-\d{2}\.txt$/,
    print: "Print",
    download: "Save as a file",
    continue: "Continue",
    conversation: "Your conversation",
    writeFirst: "Only when you send it does it reach the counselling service.",
    arrived: "Your enquiry has arrived",
    sent: "sent",
    attach: "Attach a file",
    remove: "Remove attachment foto.png",
    send: "Send",
    keyboardHint: "Send with Ctrl+Enter.",
    draftHint: "Your draft is kept encrypted",
    handover: "Handover: if your counsellor hands the conversation over",
    active: "Your counsellor answers here.",
    closed: "This conversation has ended.",
    reopenDays: /\(\d+ days? left\)/,
    reopen: "Reopen the conversation",
    reopened: "The conversation is open again.",
    safeTitle: "Browse safely",
    safeText: "private window",
  },
} as const;

type Lang = keyof typeof TEXT;

/** A phone (touch, no hover) at 390 × 844 or a desktop at 1280 × 800. */
async function newPage(lang: Lang, width: 390 | 1280): Promise<Page> {
  const phone = width === 390;
  const context: BrowserContext = await browser.newContext({
    locale: TEXT[lang].locale,
    viewport: { width, height: phone ? 844 : 800 },
    hasTouch: phone,
    isMobile: phone,
    // axe must not read a colour halfway through a button's hover transition.
    reducedMotion: "reduce",
  });
  return context.newPage();
}

/** axe on the page as it is now (support/a11y.ts checks it from its top, at both widths and schemes). */
async function expectNoViolations(page: Page, state: string): Promise<void> {
  expect(await a11yViolations(page), state).toEqual([]);
}

/**
 * Words of headings broken across lines (other than at a hyphen or soft hyphen), and headings
 * wider than their box: what a long German word does to a heading on a phone.
 */
function brokenHeadingWords(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const broken: string[] = [];
    for (const heading of document.querySelectorAll<HTMLElement>("h1, h2, h3")) {
      if (heading.getClientRects().length === 0) continue;
      if (heading.scrollWidth > heading.clientWidth + 1) broken.push(`overflows: ${heading.textContent}`);
      const walker = document.createTreeWalker(heading, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        // The line of a character: its last box (after a soft hyphen's break, the first box of
        // the next character is the hyphen drawn at the end of the line before).
        const line = (at: number, box: "first" | "last") => {
          const range = document.createRange();
          range.setStart(node, at);
          range.setEnd(node, at + 1);
          const boxes = [...range.getClientRects()].filter((r) => r.width > 0);
          return Math.round((box === "last" ? boxes.at(-1) : boxes[0])?.top ?? -1);
        };
        // Between spaces, soft hyphens and hyphens ("Online-Beratung" may break after its hyphen).
        for (const match of (node.textContent ?? "").matchAll(/[^\s\u00ad-]+/g)) {
          const end = match.index + match[0].length - 1;
          if (line(match.index, "last") !== line(end, "first")) broken.push(match[0]);
        }
      }
    }
    return broken;
  });
}

/** The step counter above the heading ("Schritt 3 von 5"). */
const stepText = (page: Page) => page.locator("p.step").first().innerText();

/** Intake step 1 with the test's topic, `postcode` and an age group; the coverage shown for them. */
async function fillAbout(page: Page, postcode: string): Promise<void> {
  await page.check(`input[name=topic][value="${agency.topic}"]`);
  await page.fill("#postcode", postcode);
  await page.check("input[name=age_group][value=unknown]");
}

/** What the page says about who takes the enquiry, once it says something. */
async function coverageText(page: Page): Promise<string> {
  await expect.poll(() => page.getByTestId("coverage").innerText(), { timeout: 30_000 }).not.toBe("");
  return page.getByTestId("coverage").innerText();
}

/** The refusal of each weak password on step 2, read from the error summary. */
async function expectPasswordReasons(page: Page, lang: Lang, pseudonym: string): Promise<void> {
  const t = TEXT[lang];
  await page.fill("#pseudonym", pseudonym);
  const cases: [string, string][] = [...Object.entries(t.passwords), [`${pseudonym}-geheim`, t.personal]];
  for (const [password, reason] of cases) {
    await page.fill("#password", password);
    await page.fill("#password-repeat", password);
    await page.getByRole("button", { name: t.submit }).click();
    await expect.poll(() => page.locator("#password-error").innerText(), { message: password }).toContain(reason);
    // Each reason has its own words: no other reason's text is shown.
    const others = cases.filter(([, r]) => r !== reason).map(([, r]) => r);
    for (const other of others) expect(await page.locator(".error-summary").innerText()).not.toContain(other);
  }
}

/** The composer, its buttons and the log are on the first screen, the conversation down to its bottom. */
async function expectChatOnFirstScreen(page: Page): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  const screen = page.viewportSize() ?? { width: 0, height: 0 };
  const box = async (selector: string) => {
    const found = await page.locator(selector).boundingBox();
    if (!found) throw new Error(`${selector} has no box`);
    return found;
  };
  for (const selector of ["#composer", "form.composer button[type=submit]", "form.composer button.attach"]) {
    const b = await box(selector);
    expect(b.y, selector).toBeGreaterThanOrEqual(0);
    expect(b.y + b.height, selector).toBeLessThanOrEqual(screen.height);
    expect(b.x + b.width, selector).toBeLessThanOrEqual(screen.width);
  }
  // Full height: the composer ends at the screen's bottom edge, the log takes what is above it.
  const form = await box("form.composer");
  const log = await box("[role=log]");
  expect(screen.height - (form.y + form.height)).toBeLessThan(40);
  expect(form.y - (log.y + log.height)).toBeLessThan(40);
  expect(log.height).toBeGreaterThan(screen.height * 0.3);
}

/**
 * Attaches foto.png with the composer's own button: a preview with name, size and thumbnail;
 * removed again, nothing is sent. The browser's file input is never shown.
 */
async function expectAttachPreviewAndRemove(page: Page, lang: Lang): Promise<void> {
  const t = TEXT[lang];
  const input = await page.locator("input[type=file]").boundingBox();
  expect(input?.width ?? 0).toBeLessThanOrEqual(1);
  const before = (await messages(page)).length;
  const chooser = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: t.attach }).click();
  await (await chooser).setFiles({ name: "foto.png", mimeType: "image/png", buffer: PNG });
  const preview = page.getByTestId("attachment-preview");
  expect(await preview.innerText()).toContain("foto.png (1 KB)");
  const thumbnail = preview.locator("img");
  expect(await thumbnail.getAttribute("src")).toMatch(/^blob:/);
  await expect.poll(() => thumbnail.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(1);
  await expectNoViolations(page, `attachment preview ${lang}`);
  await page.getByRole("button", { name: t.remove }).click();
  expect(await preview.count()).toBe(0);
  // The focus is back on the attach button; nothing was sent.
  expect(await page.evaluate(() => document.activeElement?.classList.contains("attach"))).toBe(true);
  expect((await messages(page)).length).toBe(before);
}

/** The Ctrl+Enter hint on a desktop, not on a touch screen; the draft hint on both. */
async function expectKeyboardHint(page: Page, lang: Lang, touch: boolean): Promise<void> {
  const t = TEXT[lang];
  expect(await page.evaluate(() => matchMedia("(pointer: coarse)").matches)).toBe(touch);
  expect(await page.getByText(t.keyboardHint).isVisible()).toBe(!touch);
  expect(await page.locator("#composer-hint").innerText()).toContain(t.draftHint);
}

/** The safe-browsing tip beside the quick exit opens and tells of private windows. */
async function expectSafeBrowsingTip(page: Page, lang: Lang): Promise<void> {
  const t = TEXT[lang];
  const bar = page.getByRole("navigation", { name: lang === "de" ? "Schnellausstieg" : "Quick exit" });
  const tip = bar.locator("details");
  expect(await tip.locator("p").isVisible()).toBe(false);
  await bar.getByText(t.safeTitle).click();
  expect(await tip.locator("p").innerText()).toContain(t.safeText);
  await expectNoViolations(page, `safe-browsing tip ${lang}`);
  await bar.getByText(t.safeTitle).click();
}

/** The checkbox sits left of its label's text, on its first line, at its own small size. */
async function expectCheckboxBesideLabel(page: Page): Promise<void> {
  const box = await page.locator("label.choice input[type=checkbox]").boundingBox();
  const text = await page.locator("label.choice").evaluate((label) => {
    const node = [...label.childNodes].find((n) => n.nodeType === Node.TEXT_NODE && n.textContent?.trim());
    const range = document.createRange();
    range.selectNodeContents(node as Node);
    const first = range.getClientRects()[0] as DOMRect;
    return { x: first.x, y: first.y, height: first.height };
  });
  if (!box) throw new Error("no checkbox");
  expect(box.width).toBeLessThan(40);
  expect(box.x + box.width).toBeLessThanOrEqual(text.x);
  expect(Math.abs(box.y + box.height / 2 - (text.y + text.height / 2))).toBeLessThan(text.height);
}

/**
 * On the recovery key page: step 4, the file has a name that outs nobody and holds the key,
 * Print prints the key alone.
 */
async function expectRecoveryKeyKept(page: Page, lang: Lang): Promise<string> {
  const t = TEXT[lang];
  await expectHeading(page, t.recoveryTitle, 120_000);
  expect(await stepText(page)).toBe(t.step(4));
  const key = await page.getByTestId("recovery-key").innerText();
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: t.download }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(t.fileName);
  expect(await readFile(await file.path(), "utf8")).toContain(key);
  expect(await page.locator("main").innerText()).toContain(file.suggestedFilename());

  await page.evaluate(() => {
    const w = window as unknown as { printed: number };
    w.printed = 0;
    window.print = () => void (w.printed += 1);
  });
  await page.getByRole("button", { name: t.print }).click();
  expect(await page.evaluate(() => (window as unknown as { printed: number }).printed)).toBe(1);
  await page.emulateMedia({ media: "print" });
  const visibility = (selector: string) =>
    page
      .locator(selector)
      .first()
      .evaluate((el) => getComputedStyle(el).visibility);
  expect(await visibility("[data-testid=recovery-key]")).toBe("visible");
  expect(await visibility("h1")).toBe("hidden");
  expect(await visibility("header")).toBe("hidden");
  await page.emulateMedia({ media: "screen" });

  expect(await brokenHeadingWords(page)).toEqual([]);
  await expectCheckboxBesideLabel(page);
  await expectNoViolations(page, `recovery key ${lang}`);
  await page.locator("label.choice input[type=checkbox]").check();
  await page.getByRole("button", { name: t.continue, exact: true }).click();
  await page.waitForURL(`${stack.clientUrl}/gespraech`);
  return key;
}

/** On the keys page of a first device: step 3, the password refused, then `passphrase` taken. */
async function choosePassphrase(page: Page, lang: Lang, password: string): Promise<void> {
  const t = TEXT[lang];
  await expectHeading(page, t.createTitle);
  expect(await stepText(page)).toBe(t.step(3));
  expect(await brokenHeadingWords(page)).toEqual([]);
  await page.fill("#passphrase", password);
  await page.fill("#passphrase-repeat", password);
  await page.getByRole("button", { name: lang === "de" ? "Schlüssel erzeugen" : "Create keys" }).click();
  await expect.poll(() => page.locator(".error-summary, [role=alert]").first().innerText()).toContain(t.isPassword);
  await expectNoViolations(page, `passphrase equal to password ${lang}`);
  const passphrase = `Mein Satz ${unique()} am Fluss`;
  await page.fill("#passphrase", passphrase);
  await page.fill("#passphrase-repeat", passphrase);
  await page.getByRole("button", { name: lang === "de" ? "Schlüssel erzeugen" : "Create keys" }).click();
}

/** On the conversation page before anything is written: step 5, no "arrived". */
async function expectNotArrivedYet(page: Page, lang: Lang): Promise<void> {
  const t = TEXT[lang];
  await expectHeading(page, t.conversation);
  await page.locator("form.composer button[type=submit]:not([disabled])").waitFor({ timeout: 60_000 });
  await expect.poll(() => page.getByTestId("conversation-state").innerText()).toContain(t.writeFirst);
  expect(await stepText(page)).toBe(t.step(5));
  expect(await page.locator("main").innerText()).not.toContain(t.arrived);
  expect(await page.getByTestId("what-next").innerText()).toContain(t.handover);
}

/** Sends `text`; the page then says the enquiry has arrived, and the step counter is gone. */
async function expectArrivedAfterSending(page: Page, lang: Lang, text: string): Promise<void> {
  const t = TEXT[lang];
  await sendMessage(page, text);
  // Sent, not only shown: "arrived" may already stand from an earlier message, and a message
  // still being sent changes under axe's eyes.
  await expect.poll(() => messageState(page, text), { timeout: 30_000 }).toBe(t.sent);
  await expect.poll(() => page.getByTestId("conversation-state").innerText(), { timeout: 30_000 }).toContain(t.arrived);
  expect(await page.locator("p.step").count()).toBe(0);
}

/** The seeker's enquiry id and an OpenID token of theirs, from the page's session. */
async function seekerApi(page: Page): Promise<{ enquiryId: number; token: string }> {
  const session = await page.evaluate(
    (): { userId: string; accessToken: string; enquiryId: number } =>
      JSON.parse(sessionStorage.getItem("connecta.session") ?? "{}") as never,
  );
  return { enquiryId: session.enquiryId, token: await openIdToken(stack, session) };
}

describe("the whole way in, on a phone in German", () => {
  it("tells the truth at every step, from the first question to a closed and reopened conversation", async () => {
    const lang = "de";
    const t = TEXT[lang];
    const page = await newPage(lang, 390);
    try {
      await page.goto(`${stack.clientUrl}/anfrage?lang=${lang}`, { waitUntil: "networkidle" });
      expect(await page.locator(".lead").innerText()).toContain(t.fiveSteps);
      expect(await stepText(page)).toBe(t.step(1));
      for (const secret of t.secrets) expect(await page.locator("main").innerText()).toContain(secret);
      expect(await brokenHeadingWords(page)).toEqual([]);

      // Step 1 says who would take the enquiry, before "Weiter".
      await fillAbout(page, elsewhere);
      expect(await coverageText(page)).toContain(t.general);
      await expectNoViolations(page, "coverage general de");
      await page.fill("#postcode", agency.postcode);
      await expect.poll(() => page.getByTestId("coverage").innerText()).toBe(t.local);
      await page.getByRole("button", { name: t.next }).click();

      // Step 2: each weak password has its own reason.
      await page.locator("#pseudonym").waitFor();
      expect(await stepText(page)).toBe(t.step(2));
      const pseudonym = freshPseudonym("weg");
      await expectPasswordReasons(page, lang, pseudonym);
      await expectNoViolations(page, "password refused de");
      const password = `Kiesel Laterne ${unique()}`;
      await page.fill("#password", password);
      await page.fill("#password-repeat", password);
      await page.getByRole("button", { name: t.submit }).click();
      await page.waitForURL(`${stack.clientUrl}/schluessel`, { timeout: 60_000 });

      // Steps 3 and 4.
      await choosePassphrase(page, lang, password);
      await expectRecoveryKeyKept(page, lang);

      // Step 5: nothing has arrived before the first message is sent.
      await expectNotArrivedYet(page, lang);
      await expectNoViolations(page, "conversation before the first message de");
      await expectChatOnFirstScreen(page);
      await expectKeyboardHint(page, lang, true);
      expect(await brokenHeadingWords(page)).toEqual([]);
      await expectAttachPreviewAndRemove(page, lang);

      // A file with the first message: sent together, with the Send button.
      const chooser = page.waitForEvent("filechooser");
      await page.getByRole("button", { name: t.attach }).click();
      await (await chooser).setFiles({ name: "foto.png", mimeType: "image/png", buffer: PNG });
      await typeInto(page, "#composer", `Ich weiß nicht weiter ${unique()}`);
      await page.getByRole("button", { name: t.send, exact: true }).click();
      await expect.poll(async () => (await messages(page)).join("\n"), { timeout: 60_000 }).toContain("foto.png");
      await expectArrivedAfterSending(page, lang, `Und noch etwas ${unique()}`);
      await expectNoViolations(page, "conversation arrived de");
      await expectChatOnFirstScreen(page);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(screenshotDir, "mobile-chat.png") });

      // Taken, closed: the page says until when it can be reopened; reopened, it says so.
      const { enquiryId, token } = await seekerApi(page);
      const counsellor = agency.counsellors[0];
      if (!counsellor) throw new Error("no counsellor");
      const counsellorToken = await openIdToken(stack, counsellor);
      const claimed = await callApi(
        stack.appserviceUrl,
        "POST",
        `/api/v1/enquiries/${enquiryId}/claim`,
        counsellorToken,
        {},
      );
      expect(claimed.status, JSON.stringify(claimed.body)).toBe(200);
      await page.reload({ waitUntil: "load" });
      await expect.poll(() => page.getByTestId("conversation-state").innerText(), { timeout: 60_000 }).toBe(t.active);
      const closed = await callApi(
        stack.appserviceUrl,
        "POST",
        `/api/v1/enquiries/${enquiryId}/close`,
        counsellorToken,
        {},
      );
      expect(closed.status, JSON.stringify(closed.body)).toBe(200);
      const mine = await callApi(stack.appserviceUrl, "GET", "/api/v1/enquiries", token);
      const summary = (mine.body.enquiries as { enquiry_id: number; reopen_until: string }[]).find(
        (e) => e.enquiry_id === enquiryId,
      );
      const until = new Intl.DateTimeFormat("de-DE", { dateStyle: "long" }).format(
        new Date(String(summary?.reopen_until)),
      );
      await page.reload({ waitUntil: "load" });
      const state = page.getByTestId("conversation-state");
      await expect.poll(() => state.innerText(), { timeout: 60_000 }).toContain(t.closed);
      expect(await state.innerText()).toContain(`bis zum ${until} wieder öffnen`);
      expect(await state.innerText()).toMatch(t.reopenDays);
      expect(await page.getByTestId("what-next").innerText()).toMatch(/\d+ Tage lang wieder öffnen/);
      await expectNoViolations(page, "conversation closed de");
      await page.getByRole("button", { name: t.reopen }).click();
      await expect.poll(() => state.innerText(), { timeout: 60_000 }).toContain(t.reopened);
      await expectNoViolations(page, "conversation reopened de");
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText(browser)}`, { cause: err });
    } finally {
      await page.context().close();
    }
  }, 600_000);
});

describe.each([
  ["de", 1280],
  ["en", 390],
  ["en", 1280],
] as const)("in %s at %i px", (lang, width) => {
  const t = TEXT[lang];

  it("the intake tells who would take the enquiry, counts five steps and names each refused password", async () => {
    const page = await newPage(lang, width);
    try {
      await page.goto(`${stack.clientUrl}/anfrage?lang=${lang}`, { waitUntil: "networkidle" });
      expect(await stepText(page)).toBe(t.step(1));
      for (const secret of t.secrets) expect(await page.locator("main").innerText()).toContain(secret);
      await fillAbout(page, elsewhere);
      expect(await coverageText(page)).toContain(t.general);
      await expectNoViolations(page, `coverage general ${lang} ${width}`);
      await page.getByRole("button", { name: t.next }).click();
      await page.locator("#pseudonym").waitFor();
      expect(await stepText(page)).toBe(t.step(2));
      await expectPasswordReasons(page, lang, freshPseudonym("weg"));
      await expectNoViolations(page, `password refused ${lang} ${width}`);
      expect(await brokenHeadingWords(page)).toEqual([]);
      await expectSafeBrowsingTip(page, lang);
    } finally {
      await page.context().close();
    }
  });

  it("a seeker's keys and conversation: steps 3 to 5, the secrets kept, the chat on the first screen", async () => {
    const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
    const page = await newPage(lang, width);
    try {
      await page.goto(`${stack.clientUrl}/anmelden?lang=${lang}`, { waitUntil: "networkidle" });
      await page.fill("#login-name", seeker.localpart);
      await page.fill("#login-password", seeker.password);
      await page.keyboard.press("Enter");
      await page.waitForURL(`${stack.clientUrl}/schluessel`);
      await choosePassphrase(page, lang, seeker.password);
      await expectRecoveryKeyKept(page, lang);
      await expectNotArrivedYet(page, lang);
      await expectNoViolations(page, `conversation before the first message ${lang} ${width}`);
      await expectChatOnFirstScreen(page);
      await expectKeyboardHint(page, lang, width === 390);
      await expectAttachPreviewAndRemove(page, lang);
      expect(await brokenHeadingWords(page)).toEqual([]);
      await expectArrivedAfterSending(page, lang, `Hallo ${unique()}`);
      await expectNoViolations(page, `conversation arrived ${lang} ${width}`);
      expect(await headingText(page)).toBe(t.conversation);
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText(browser)}`, { cause: err });
    } finally {
      await page.context().close();
    }
  }, 300_000);
});

describe.each([
  ["de", 390],
  ["de", 1280],
  ["en", 390],
  ["en", 1280],
] as const)("the seeker's other pages in %s at %i px", (lang, width) => {
  it("have headings that break between words only", async () => {
    const page = await newPage(lang, width);
    try {
      for (const path of ["/", "/anmelden", "/impressum", "/datenschutz", "/meine-daten", "/geloescht"]) {
        await page.goto(`${stack.clientUrl}${path}?lang=${lang}`, { waitUntil: "networkidle" });
        expect({ path, broken: await brokenHeadingWords(page) }).toEqual({ path, broken: [] });
      }
    } finally {
      await page.context().close();
    }
  });
});

describe.each([
  ["de", 390],
  ["de", 1280],
  ["en", 390],
  ["en", 1280],
] as const)("when nobody would take the enquiry, in %s at %i px", (lang, width) => {
  // "Nobody" needs a deployment without a nationwide (fallback) agency; this stack has one, which
  // other files rely on. The appservice's answer `none` is proven against PostgreSQL in
  // agencies/match.db.test.ts; here the page's own answer is replaced by it, in this tab only,
  // to show what the seeker is told at the first step.
  it("tells so at the first step, before anything is written, and says what to do", async () => {
    const t = TEXT[lang];
    const page = await newPage(lang, width);
    try {
      await page.route("**/api/v1/topics/*/coverage*", (route) => route.fulfill({ json: { coverage: "none" } }));
      await page.goto(`${stack.clientUrl}/anfrage?lang=${lang}`, { waitUntil: "networkidle" });
      await fillAbout(page, elsewhere);
      await page.getByRole("button", { name: t.next }).click();
      await expect.poll(() => page.locator("#postcode-error").innerText()).toContain(t.none);
      expect(await page.locator(".error-summary").innerText()).toContain(t.none);
      expect(await stepText(page)).toBe(t.step(1));
      await expectNoViolations(page, `nobody near the postcode ${lang} ${width}`);
      await page.fill("#postcode", "");
      await page.getByRole("button", { name: t.next }).click();
      await expect.poll(() => page.locator("#postcode-error").innerText()).toContain(t.needsPostcode);
      expect(await stepText(page)).toBe(t.step(1));
      expect(await page.locator("#pseudonym").count()).toBe(0);
    } finally {
      await page.context().close();
    }
  });
});

describe("GET /api/v1/topics/{topicId}/coverage", () => {
  const ask = async (path: string, origin = stack.clientUrl) => {
    const res = await fetch(`${origin}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it("answers local, general or 404 through the client's origin; the appservice refuses bad input with a Matrix error", async () => {
    const base = `/api/v1/topics/${agency.topic}/coverage`;
    expect(await ask(`${base}?postcode=${agency.postcode}`)).toEqual({ status: 200, body: { coverage: "local" } });
    expect(await ask(`${base}?postcode=${elsewhere}`)).toEqual({ status: 200, body: { coverage: "general" } });
    expect(await ask(base)).toEqual({ status: 200, body: { coverage: "general" } });
    expect((await ask("/api/v1/topics/kein-thema-hier/coverage")).body.errcode).toBe("M_NOT_FOUND");
    for (const bad of [`${base}?postcode=123`, `${base}?postcode=12345&x=1`, "/api/v1/topics/%C3%84rger/coverage"]) {
      const answer = await ask(bad, stack.appserviceUrl);
      expect({ bad, status: answer.status, errcode: answer.body.errcode }).toEqual({
        bad,
        status: 400,
        errcode: "M_INVALID_PARAM",
      });
    }
  });
});
