/**
 * The seeker's way in and the trust pages, against the real stack in Chromium, on a phone
 * (390 px) and a desktop (1280 px), in German and English: a way back in from the start page and
 * from the counsellors' login for a seeker's account; Datenschutz and Impressum answer with the
 * operator's text or a calm placeholder, never 404; the operator's crisis line stands next to 112.
 * The shared test stack is started with tests/support/site.json: an Impressum and a crisis line,
 * no privacy notice.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { a11yViolations } from "../support/a11y.ts";
import { launchChromium } from "../support/browser.ts";
import { intakeSeeker, seedIntakeAgency } from "../support/seeker.ts";

const stack = inject("stack");
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const TEXT = {
  de: {
    locale: "de-DE",
    loginAgain: "Ich habe schon geschrieben – Anmelden",
    loginTitle: "Anmelden",
    imprint: "Impressum",
    imprintText: "Beispielweg 1, 12345 Beispielstadt",
    privacy: "Datenschutz",
    missing: "hat diesen Text noch nicht hinterlegt",
    crisis: "TelefonSeelsorge: 0800 111 0 111 (rund um die Uhr, kostenlos)",
    notCounsellor: "Dieses Konto ist kein Beratungskonto.",
    seekerLogin: "Sie suchen Beratung? Mit Ihrem Pseudonym melden Sie sich hier an.",
    counsellorName: "Benutzername",
    counsellorPassword: "Passwort",
    counsellorSubmit: "Anmelden",
  },
  en: {
    locale: "en-GB",
    loginAgain: "I have written before – Log in",
    loginTitle: "Log in",
    imprint: "Legal notice (Impressum)",
    imprintText: "Represented by the board.",
    privacy: "Privacy",
    missing: "has not provided this text yet",
    crisis: "TelefonSeelsorge (telephone counselling): 0800 111 0 111 (day and night, free of charge)",
    notCounsellor: "This account is not a counsellor's account.",
    seekerLogin: "Looking for counselling? Log in with your pseudonym here.",
    counsellorName: "User name",
    counsellorPassword: "Password",
    counsellorSubmit: "Log in",
  },
} as const;

async function open(lang: "de" | "en", width: number, path: string): Promise<Page> {
  const context = await browser.newContext({ locale: TEXT[lang].locale, viewport: { width, height: 844 } });
  const page = await context.newPage();
  const res = await page.goto(`${stack.clientUrl}${path}?lang=${lang}`, { waitUntil: "networkidle" });
  expect(res?.status(), path).toBe(200);
  return page;
}

describe.each([
  ["de", 390],
  ["de", 1280],
  ["en", 390],
  ["en", 1280],
] as const)("in %s at %i px", (lang, width) => {
  const t = TEXT[lang];

  it("the start page leads back in and names the operator's crisis line next to 112", async () => {
    const page = await open(lang, width, "/");
    expect(await page.getByRole("link", { name: /112/ }).getAttribute("href")).toBe("tel:112");
    const crisis = page.getByTestId("crisis-lines");
    expect((await crisis.innerText()).replace(/\s+/g, " ").trim()).toBe(t.crisis);
    expect(await crisis.getByRole("link").getAttribute("href")).toBe("tel:08001110111");
    expect(await a11yViolations(page)).toEqual([]);
    await page.getByRole("link", { name: t.loginAgain }).click();
    await page.waitForURL(/\/anmelden/);
    expect(await page.locator("h1").innerText()).toBe(t.loginTitle);
    await page.context().close();
  });

  it("the footer's Impressum shows the operator's text, its Datenschutz a placeholder, neither a 404", async () => {
    const page = await open(lang, width, "/");
    await page
      .getByRole("contentinfo")
      .getByRole("link", { name: lang === "de" ? "Impressum" : "Legal notice" })
      .click();
    await page.waitForURL(/\/impressum/);
    expect(await page.locator("h1").innerText()).toBe(t.imprint);
    const text = page.getByTestId("operator-text");
    expect(await text.innerText()).toContain(t.imprintText);
    // Paragraphs of plain text: the blank line of the file separates them.
    expect(await text.locator("p").count()).toBe(2);
    expect(await a11yViolations(page)).toEqual([]);

    await page.goto(`${stack.clientUrl}/datenschutz?lang=${lang}`, { waitUntil: "networkidle" });
    expect(await page.locator("h1").innerText()).toBe(t.privacy);
    expect(await page.getByTestId("operator-text-missing").innerText()).toContain(t.missing);
    expect(await a11yViolations(page)).toEqual([]);
    await page.context().close();
  });
});

describe("a seeker at the counsellors' login", () => {
  it("is told it is not a counselling account and led to the seekers' login", async () => {
    const agency = await seedIntakeAgency(stack, 1);
    const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
    for (const lang of ["de", "en"] as const) {
      const t = TEXT[lang];
      const page = await open(lang, 390, "/beratung/anmelden");
      await page.getByLabel(t.counsellorName, { exact: true }).fill(seeker.pseudonym);
      await page.getByLabel(t.counsellorPassword, { exact: true }).fill(seeker.password);
      await page.getByRole("button", { name: t.counsellorSubmit }).click();
      await expect
        .poll(() => page.locator(".error-summary").innerText(), { timeout: 30_000 })
        .toContain(t.notCounsellor);
      expect(await page.getByRole("link", { name: t.seekerLogin }).getAttribute("href")).toBe("/anmelden");
      await page.context().close();
    }
  });
});
