import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, BrowserContext, BrowserContextOptions, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { a11yViolations } from "../support/a11y.ts";
import { launchChromium } from "../support/browser.ts";

const stack = inject("stack");
const clientOrigin = new URL(stack.clientUrl).origin;
const startUrl = `${stack.clientUrl}/`;
const neutralUrl = `${stack.clientUrl}/rezept`;
const screenshotDir = join(import.meta.dirname, "../../docs/screenshots");
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

let browser: Browser;
/** Every URL any page of these tests requested; all must be on the client's origin. */
const requests: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** A fresh German browser context whose requests are recorded in {@link requests}. */
async function newContext(options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ locale: "de-DE", reducedMotion: "reduce", ...options });
  context.on("request", (request) => requests.push(request.url()));
  return context;
}

/** Opens a page of the client and waits until it is hydrated and quiet. */
async function open(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url, { waitUntil: "networkidle" });
  return page;
}

/** Stores something in every kind of storage the quick exit must clear. */
async function fillStorage(page: Page): Promise<void> {
  await page.evaluate(async () => {
    sessionStorage.setItem("draft", "a message not yet sent");
    localStorage.setItem("device", "remembered");
    for (const name of ["connecta-test-crypto", "connecta-test-sync"]) {
      await new Promise<void>((resolve, reject) => {
        const request = indexedDB.open(name, 1);
        request.onupgradeneeded = () => request.result.createObjectStore("keys");
        request.onsuccess = () => {
          request.result.close();
          resolve();
        };
        request.onerror = () => reject(request.error ?? new Error("opening the database failed"));
      });
    }
  });
  const state = await storageState(page);
  expect(state.session).toBeGreaterThanOrEqual(1);
  expect(state.local).toBe(1);
  expect(state.databases).toEqual(expect.arrayContaining(["connecta-test-crypto", "connecta-test-sync"]));
}

/** How much is left in sessionStorage, localStorage and IndexedDB. */
function storageState(page: Page): Promise<{ session: number; local: number; databases: string[] }> {
  return page.evaluate(async () => ({
    session: sessionStorage.length,
    local: localStorage.length,
    databases: (await indexedDB.databases()).map((database) => database.name ?? "").sort(),
  }));
}

/** Checks that the quick exit left for the neutral page, wiped storage and replaced the history entry. */
async function expectExited(page: Page, historyLength: number): Promise<void> {
  await page.waitForURL(neutralUrl);
  await page.waitForLoadState("networkidle");
  expect(await page.locator("h1").innerText()).toBe("Einfacher Apfelkuchen vom Blech");
  expect(await page.getByText("Seite schnell verlassen").count()).toBe(0);
  await expect.poll(() => storageState(page)).toEqual({ session: 0, local: 0, databases: [] });
  // Replaced, not added: Back cannot lead to the counselling page.
  expect(await page.evaluate(() => history.length)).toBe(historyLength);
  await page.goBack().catch(() => null);
  expect(page.url()).not.toBe(startUrl);
}

describe("the web client's accessibility (axe, WCAG 2.1 A+AA and best practices)", () => {
  const pages = [
    { name: "start page", path: "/", status: 200 },
    { name: "neutral page", path: "/rezept", status: 200 },
    { name: "404 page", path: "/no-such-page", status: 404 },
    { name: "intake page", path: "/anfrage", status: 200 },
    { name: "seeker login", path: "/anmelden", status: 200 },
    { name: "counsellor login", path: "/beratung/anmelden", status: 200 },
    { name: "keys page without login", path: "/schluessel", status: 200 },
    { name: "conversation page without login", path: "/gespraech", status: 200 },
    { name: "my data page without login", path: "/meine-daten", status: 200 },
    { name: "page after deleting the account", path: "/geloescht", status: 200 },
  ];
  for (const lang of ["de", "en"]) {
    for (const colorScheme of ["light", "dark"] as const) {
      for (const { name, path, status } of pages) {
        it(`finds no violations on the ${name} in ${lang}${colorScheme === "dark" ? ", dark mode" : ""}`, async () => {
          const context = await newContext({ colorScheme });
          const page = await context.newPage();
          const response = await page.goto(`${stack.clientUrl}${path}${lang === "en" ? "?lang=en" : ""}`, {
            waitUntil: "networkidle",
          });
          expect(response?.status()).toBe(status);
          expect(await page.getAttribute("html", "lang")).toBe(lang);
          expect(await a11yViolations(page)).toEqual([]);
          const exitLabel = lang === "en" ? "Leave this page quickly" : "Seite schnell verlassen";
          // Everywhere but the neutral page and the counsellors' pages (see below).
          const exits = path === "/rezept" || path.startsWith("/beratung") ? 0 : 1;
          expect(await page.getByRole("link", { name: exitLabel }).count()).toBe(exits);
          await context.close();
        });
      }
    }
  }
});

/** A scroll box whose content starts with `line` half cut off at its top edge. */
const scrollBox = (line: string): string =>
  '<div role="log" tabindex="0" aria-label="Verlauf" style="height:6em;overflow-y:auto;background:#fff" id="box">' +
  '<p style="color:#222">Erste Zeile</p>'.repeat(3) +
  line +
  '<p style="color:#222">Weitere Zeile</p>'.repeat(12) +
  "</div>";

/** Scrolls the box (if the page has one) so that its fourth line is cut in half at its top edge. */
const halfCut = (page: Page): Promise<number> =>
  page.evaluate(() => {
    const box = document.getElementById("box");
    const line = box?.children[3] as HTMLElement | undefined;
    if (!box || !line) return 0;
    box.scrollTop = line.offsetTop - box.offsetTop + line.offsetHeight / 2;
    return box.scrollTop;
  });

describe("the axe check itself (positive controls)", () => {
  // Each page below has exactly the problem named: the check must report it, or a clean result
  // elsewhere would prove nothing.
  const cases = [
    {
      problem: "text too faint (WCAG 1.4.3)",
      html: '<p style="color:#bbb;background:#fff">Kaum lesbar</p>',
      rule: "color-contrast",
    },
    {
      problem: "a button too small and too close to the next (WCAG 2.2's 2.5.8)",
      html:
        '<p><button aria-label="Eins" style="width:10px;height:10px;padding:0"></button>' +
        '<button aria-label="Zwei" style="width:10px;height:10px;padding:0"></button></p>',
      rule: "target-size",
    },
    {
      problem: "text over a background image, whose contrast axe cannot compute (undecided)",
      html: '<p style="background-image:linear-gradient(#fff,#eee);color:#222">Über einem Verlauf</p>',
      rule: "incomplete: color-contrast",
    },
    {
      problem: "faint text cut off at the edge of a scroll box (asked again in view)",
      html: scrollBox('<p style="color:#bbb;background:#fff">Kaum lesbar, halb verdeckt</p>'),
      rule: "color-contrast",
    },
    {
      problem: "text that something really lies over (still undecided)",
      html:
        '<div style="position:relative"><p style="color:#222;background:#fff">Darunter</p>' +
        '<div aria-hidden="true" style="position:absolute;top:0.6em;left:0;width:60%;height:2em;background:#ddd"></div></div>',
      rule: "incomplete: color-contrast",
    },
  ];
  for (const { problem, html, rule } of cases) {
    it(`reports ${problem}`, async () => {
      const context = await newContext();
      const page = await context.newPage();
      await page.setContent(
        `<!doctype html><html lang="de"><head><title>Probe</title></head><body><main><h1>Probe</h1>${html}</main></body></html>`,
      );
      await halfCut(page);
      const found = await a11yViolations(page);
      expect(found.map((violation) => violation.rule)).toEqual([rule, rule, rule, rule]);
      await context.close();
    });
  }

  it("names the colours it saw for a contrast failure", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.setContent(
      `<!doctype html><html lang="de"><head><title>Probe</title></head><body><main><h1>Probe</h1>${cases[0]?.html}</main></body></html>`,
    );
    const found = await a11yViolations(page);
    expect(found[0]?.targets).toEqual(["p (#bbbbbb on #ffffff, 1.91:1)"]);
    await context.close();
  });

  it("decides readable text cut off at the edge of a scroll box (no finding), and leaves the box where it was", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.setContent(
      `<!doctype html><html lang="de"><head><title>Probe</title></head><body><main><h1>Probe</h1>${scrollBox(
        '<p style="color:#222;background:#fff">Gut lesbar, halb verdeckt</p>',
      )}</main></body></html>`,
    );
    const top = await halfCut(page);
    expect(top).toBeGreaterThan(0);
    expect(await a11yViolations(page)).toEqual([]);
    expect(await page.evaluate(() => document.getElementById("box")?.scrollTop)).toBe(top);
    await context.close();
  });
});

describe("the quick exit", () => {
  it("leaves by the button and wipes our storage", async () => {
    const context = await newContext();
    const page = await open(context, startUrl);
    await fillStorage(page);
    const historyLength = await page.evaluate(() => history.length);
    await page.getByRole("link", { name: "Seite schnell verlassen" }).click();
    await expectExited(page, historyLength);
    await context.close();
  });

  it("leaves on Escape twice within a second, not on two slow presses", async () => {
    const context = await newContext();
    const page = await open(context, startUrl);
    await fillStorage(page);
    const historyLength = await page.evaluate(() => history.length);
    // When the page saw each Escape (its own clock, as the quick exit's), and whether the exit
    // has begun: it hides <html> at once, before anything asynchronous, then navigates away.
    const escapes: number[] = [];
    await page.exposeFunction("connectaEscapeSeen", (time: number) => escapes.push(time));
    await page.evaluate(() => {
      const report = (window as unknown as { connectaEscapeSeen: (time: number) => void }).connectaEscapeSeen;
      window.addEventListener("keydown", (event) => event.key === "Escape" && report(event.timeStamp), true);
    });
    let navigations = 0;
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    const exitBegun = async () =>
      navigations > 0 || (await page.evaluate(() => document.documentElement.hidden).catch(() => true));

    await page.keyboard.press("Escape");
    await page.waitForTimeout(1200);
    await page.keyboard.press("Escape");
    await page.waitForTimeout(300);
    await expect.poll(() => escapes.length).toBe(2);
    const [first = 0, second = 0] = escapes;
    expect(second - first).toBeGreaterThan(1000);
    expect(await exitBegun()).toBe(false);
    expect(page.url()).toBe(startUrl);
    expect((await storageState(page)).local).toBe(1);

    // The positive control: the same probe, as soon after a press, sees a quick pair begin the exit.
    await page.keyboard.press("Escape");
    await expect.poll(() => escapes.length).toBe(3);
    expect((escapes[2] ?? Infinity) - second).toBeLessThan(1000);
    await page.waitForTimeout(300);
    expect(await exitBegun()).toBe(true);
    await expectExited(page, historyLength);
    await context.close();
  });

  // Every page a seeker sees, opened directly with a session in the tab (set before the page's
  // scripts run; not a valid one: the exit must work whatever the page is doing). The journey
  // test exits a real session.
  for (const path of ["/anfrage", "/anmelden", "/schluessel", "/gespraech", "/meine-daten"]) {
    it(`leaves ${path} on Escape twice and takes the session along`, async () => {
      const context = await newContext();
      await context.addInitScript(() => {
        if (location.pathname !== "/rezept" && !sessionStorage.getItem("connecta.session")) {
          const session = { role: "seeker", userId: "@x:localhost", accessToken: "t", deviceId: "D", keysReady: true };
          sessionStorage.setItem("connecta.session", JSON.stringify(session));
        }
      });
      const url = `${stack.clientUrl}${path}`;
      const page = await open(context, url);
      await fillStorage(page);
      const historyLength = await page.evaluate(() => history.length);
      await page.keyboard.press("Escape");
      await page.keyboard.press("Escape");
      await page.waitForURL(neutralUrl);
      await expect.poll(() => storageState(page)).toEqual({ session: 0, local: 0, databases: [] });
      expect(await page.evaluate(() => history.length)).toBe(historyLength);
      await page.goBack().catch(() => null);
      expect(page.url()).not.toBe(url);
      await context.close();
    });
  }

  // Counsellors' pages have none: it would end the device whose keys a counsellor needs all day.
  it("is not on the counsellors' pages, where Escape twice changes nothing", async () => {
    const context = await newContext();
    const url = `${stack.clientUrl}/beratung/anmelden`;
    const page = await open(context, url);
    await fillStorage(page);
    await page.keyboard.press("Escape");
    await page.keyboard.press("Escape");
    expect(await page.evaluate(() => document.documentElement.hidden)).toBe(false);
    expect(page.url()).toBe(url);
    expect((await storageState(page)).local).toBe(1);
    await context.close();
  });

  it("is the first stop after the skip link, with a visible focus outline", async () => {
    const context = await newContext();
    const page = await open(context, startUrl);
    const focused = () =>
      page.evaluate(() => {
        const element = document.activeElement as HTMLElement;
        const style = getComputedStyle(element);
        const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
        return {
          text: element.textContent?.trim(),
          focusVisible: element.matches(":focus-visible"),
          indicator: outline || style.boxShadow !== "none",
        };
      });
    const historyLength = await page.evaluate(() => history.length);
    await page.keyboard.press("Tab");
    expect(await focused()).toEqual({ text: "Zum Inhalt springen", focusVisible: true, indicator: true });
    await page.keyboard.press("Tab");
    expect(await focused()).toEqual({ text: "Seite schnell verlassen", focusVisible: true, indicator: true });
    await page.keyboard.press("Enter");
    await expectExited(page, historyLength);
    await context.close();
  });

  it("stays in view on a phone while scrolling", async () => {
    const context = await newContext({ viewport: PHONE });
    const page = await open(context, startUrl);
    const button = page.getByRole("link", { name: "Seite schnell verlassen" });
    expect(await button.isVisible()).toBe(true);
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    const box = await button.boundingBox();
    expect(box).not.toBeNull();
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.y + box!.height).toBeLessThanOrEqual(PHONE.height);
    expect(box!.height).toBeGreaterThanOrEqual(44);
    await context.close();
  });
});

describe("screenshots for docs/screenshots", () => {
  it("shows the German start page on a desktop and a phone, and the neutral page", async () => {
    await mkdir(screenshotDir, { recursive: true });
    const shots = [
      { file: "start-de-desktop.png", url: startUrl, viewport: DESKTOP },
      { file: "start-de-phone.png", url: startUrl, viewport: PHONE },
      { file: "neutral-de-phone.png", url: neutralUrl, viewport: PHONE },
    ];
    for (const { file, url, viewport } of shots) {
      const context = await newContext({ viewport, colorScheme: "light" });
      const page = await open(context, url);
      await page.screenshot({ path: join(screenshotDir, file), fullPage: true });
      await context.close();
    }
  });
});

describe("requests", () => {
  it("went to no other origin than the client's", () => {
    expect(requests.length).toBeGreaterThan(10);
    expect([...new Set(requests.map((url) => new URL(url).origin))]).toEqual([clientOrigin]);
  });
});
