/**
 * The anonymous intake in the browser (client/src/routes/(seeker)/anfrage/): a seeker fills in
 * the form with the keyboard only, the browser solves the proof of work, registers at Synapse and
 * completes the intake through our own origin. Checks where every request goes and that the
 * password reaches Synapse only.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { a11yViolations } from "../support/a11y.ts";
import { launchChromium } from "../support/browser.ts";
import { chooseRadio, focusVisible, tabTo } from "../support/keyboard.ts";
import { freshPseudonym, intakeSeeker, seedIntakeAgency } from "../support/seeker.ts";
import { connectaDb } from "../support/workflow.ts";

const stack = inject("stack");
const clientOrigin = new URL(stack.clientUrl).origin;
const homeserverOrigin = new URL(stack.synapseUrl).origin;
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe("the intake in Chromium", () => {
  it("takes a seeker from the form to an enquiry room with the keyboard only", async () => {
    const agency = await seedIntakeAgency(stack, 1);
    const pseudonym = freshPseudonym("browser");
    const password = `Wolke Tisch Fahrrad ${Date.now()}`;

    const context = await browser.newContext({ locale: "de-DE" });
    const page = await context.newPage();
    const requests: { url: string; method: string; body: string }[] = [];
    const problems: string[] = [];
    context.on("request", (request) =>
      requests.push({ url: request.url(), method: request.method(), body: request.postData() ?? "" }),
    );
    // CSP violations (Chromium logs them as "Refused to ..."); failed requests are expected
    // (Synapse answers the first registration step with 401).
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));

    const response = await page.goto(`${stack.clientUrl}/anfrage`, { waitUntil: "networkidle" });
    expect(response?.status()).toBe(200);
    expect(await page.locator("h1").innerText()).toBe("Beratung anfragen");

    // Step 1, keyboard only.
    await tabTo(page, "input[name=topic]");
    expect(await focusVisible(page)).toBe(true);
    await chooseRadio(page, agency.topic);
    await tabTo(page, "#postcode");
    await page.keyboard.type(agency.postcode);
    await tabTo(page, "input[name=age_group]");
    await chooseRadio(page, "18_26");
    await tabTo(page, "input[name=language]");
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement).checked)).toBe(true);
    await tabTo(page, "button[type=submit]");
    await page.keyboard.press("Enter");

    // Step 2: the focus moved to the step's heading; a weak password is refused in the browser.
    await page.locator("#pseudonym").waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("step-title");
    await tabTo(page, "#pseudonym");
    await page.keyboard.type(pseudonym);
    await tabTo(page, "#password");
    await page.keyboard.type("Sommer2024!");
    await tabTo(page, "#password-repeat");
    await page.keyboard.type("Sommer2024!");
    await page.keyboard.press("Enter");
    await expect
      .poll(() => page.locator(".error-summary").innerText())
      .toContain("mit Ziffern oder Zeichen davor, danach");
    expect(await page.evaluate(() => document.activeElement?.classList.contains("error-summary"))).toBe(true);
    expect(await a11yViolations(page), "step 1 with errors, en").toEqual([]);

    await tabTo(page, "#password");
    await page.keyboard.press("ControlOrMeta+a");
    await page.keyboard.type(password);
    await tabTo(page, "#password-repeat");
    await page.keyboard.press("ControlOrMeta+a");
    await page.keyboard.type(password);
    await page.keyboard.press("Enter");

    // Next: the encryption passphrase (client/src/routes/schluessel/).
    await page.waitForURL(`${stack.clientUrl}/schluessel`, { timeout: 60_000 }).catch(async (err: unknown) => {
      const shown = await page.locator("main").innerText();
      const sent = requests.map((r) => `${r.method} ${r.url}`).join("\n");
      throw new Error(`${String(err)}\npage:\n${shown}\nrequests:\n${sent}\nconsole:\n${problems.join("\n")}`);
    });
    await expect.poll(() => page.locator("h1").innerText(), { timeout: 60_000 }).toBe("Ihr Schlüsselsatz");

    // The login is kept for this tab only.
    const storage = await page.evaluate(() => ({
      session: sessionStorage.getItem("connecta.session"),
      local: Object.keys(localStorage),
      cookies: document.cookie,
    }));
    const session = JSON.parse(storage.session ?? "{}") as Record<string, unknown>;
    expect(session.userId).toBe(`@${pseudonym}:${stack.serverName}`);
    expect(String(session.accessToken)).not.toBe("");
    expect(storage.local).toEqual([]);
    expect((await context.cookies()).map((c) => c.name)).toEqual([]);

    // The enquiry and its room exist.
    const db = await connectaDb(stack);
    try {
      const { rows } = await db.query<{ room_id: string | null; topic_id: string; agency_id: string }>(
        "SELECT room_id, topic_id, agency_id FROM enquiries WHERE seeker_id = $1",
        [session.userId],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]?.topic_id).toBe(agency.topic);
      expect(Number(rows[0]?.agency_id)).toBe(agency.agencyId);
      expect(rows[0]?.room_id).toBe(session.roomId);
      expect(String(rows[0]?.room_id)).toMatch(/^!/);
    } finally {
      await db.end();
    }

    // Only our two origins; the password only in the registration at Synapse.
    const origins = new Set(requests.map((r) => new URL(r.url).origin));
    expect([...origins].sort()).toEqual([clientOrigin, homeserverOrigin].sort());
    const withPassword = requests.filter((r) => r.url.includes(password) || r.body.includes(password));
    expect(withPassword.length).toBeGreaterThan(0);
    for (const r of withPassword) {
      expect(new URL(r.url).origin).toBe(homeserverOrigin);
      expect(new URL(r.url).pathname).toBe("/_matrix/client/v3/register");
    }
    const api = requests.filter((r) => new URL(r.url).origin === clientOrigin && r.url.includes("/api/v1/"));
    expect(api.map((r) => new URL(r.url).pathname)).toEqual(
      expect.arrayContaining(["/api/v1/intake/challenge", "/api/v1/intake", expect.stringMatching(/\/complete$/)]),
    );
    expect(problems).toEqual([]);
    await context.close();
  });

  it("explains a taken pseudonym in English and lets the seeker choose another", async () => {
    const agency = await seedIntakeAgency(stack, 1);
    const taken = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
    const context = await browser.newContext({ locale: "en-GB" });
    const page = await context.newPage();
    await page.goto(`${stack.clientUrl}/anfrage?lang=en`, { waitUntil: "networkidle" });
    expect(await page.locator("h1").innerText()).toBe("Ask for counselling");

    // Nothing chosen: the summary names every missing answer and takes the focus.
    await page.getByRole("button", { name: "Continue" }).click();
    const summary = page.locator(".error-summary");
    await expect.poll(() => summary.innerText()).toContain("Please choose a topic.");
    expect(await summary.innerText()).toContain("Please choose your age.");
    expect(await page.evaluate(() => document.activeElement?.classList.contains("error-summary"))).toBe(true);

    await page.check(`input[name=topic][value="${agency.topic}"]`);
    await page.fill("#postcode", agency.postcode);
    await page.check("input[name=age_group][value=unknown]");
    await page.getByRole("button", { name: "Continue" }).click();
    await page.fill("#pseudonym", "anna 0176");
    const password = "Kiesel Laterne Morgenrot";
    await page.fill("#password", password);
    await page.fill("#password-repeat", password);
    await page.getByRole("button", { name: "Send request" }).click();
    await expect.poll(() => summary.innerText()).toContain("no spaces");

    await page.fill("#pseudonym", taken.pseudonym);
    await page.getByRole("button", { name: "Send request" }).click();
    await expect.poll(() => summary.innerText(), { timeout: 30_000 }).toContain("already taken");
    expect(await page.getAttribute("#pseudonym", "aria-invalid")).toBe("true");
    // A way back in for whoever has written before under that pseudonym.
    expect(
      await page.getByRole("link", { name: "Is it your own pseudonym? Then log in here." }).getAttribute("href"),
    ).toBe("/anmelden");
    expect(await a11yViolations(page), "step 2 with errors, en").toEqual([]);

    await page.fill("#pseudonym", freshPseudonym("browser"));
    await page.getByRole("button", { name: "Send request" }).click();
    await page.waitForURL(`${stack.clientUrl}/schluessel`, { timeout: 60_000 });
    await expect.poll(() => page.locator("h1").innerText(), { timeout: 60_000 }).toBe("Your passphrase");
    await context.close();
  });
});
