/**
 * The quick exit from a logged-in conversation, against the real stack: besides wiping the tab,
 * it ends the login at the homeserver, so that the access token that was in the tab is worth
 * nothing afterwards.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "../support/browser.ts";
import { pageSession, seekerFirstBrowserLogin } from "../support/client-flows.ts";
import { matrixRequest } from "../support/matrix.ts";
import { intakeSeeker, seedIntakeAgency } from "../support/seeker.ts";

const stack = inject("stack");
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe("the quick exit", () => {
  it("leaves no page of the service behind Back: the service took one history entry, now the neutral page's", async () => {
    const context = await browser.newContext({ locale: "de-DE" });
    const page = await context.newPage();
    // Where the person was before: a page of another origin.
    const before = `${stack.synapseUrl}/_matrix/client/versions`;
    await page.goto(before);
    await page.goto(`${stack.clientUrl}/`, { waitUntil: "networkidle" });
    const arrived = await page.evaluate(() => history.length);
    // Around the service: the footer's pages, the language, the intake form, the login.
    await page.getByRole("contentinfo").getByRole("link", { name: "Impressum" }).click();
    await page.waitForURL(/\/impressum$/);
    await page.getByRole("link", { name: "English" }).click();
    await page.waitForURL(/\?lang=en$/);
    await page.getByRole("link", { name: "To the start page" }).click();
    await page.getByRole("link", { name: "I have written before – Log in" }).click();
    await page.waitForURL(/\/anmelden$/);
    await page.locator("h1").waitFor();

    await page.getByRole("link", { name: /Leave this page quickly/ }).click();
    await page.waitForURL(`${stack.clientUrl}/rezept`);
    await page.waitForLoadState("networkidle");
    // No entry added: the neutral page stands in the place of the whole visit.
    expect(await page.evaluate(() => history.length)).toBe(arrived);
    await page.goBack({ waitUntil: "load" });
    await expect.poll(() => page.url()).toBe(before);
    await context.close();
  });
});

describe("the quick exit from a logged-in conversation", () => {
  it("ends the login at the homeserver: the old access token answers 401 and the device is gone", async () => {
    const agency = await seedIntakeAgency(stack, 1);
    const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
    const context = await browser.newContext({ locale: "de-DE" });
    const page = await context.newPage();
    await seekerFirstBrowserLogin(stack, page, seeker);
    const { accessToken, deviceId } = await pageSession(page);
    const whoami = async () =>
      (await matrixRequest(stack, "GET", "/_matrix/client/v3/account/whoami", { accessToken })).status;
    expect(await whoami()).toBe(200);

    await page.keyboard.press("Escape");
    await page.keyboard.press("Escape");
    await page.waitForURL(`${stack.clientUrl}/rezept`);
    expect(await page.locator("h1").innerText()).toBe("Einfacher Apfelkuchen vom Blech");

    await expect.poll(whoami, { timeout: 15_000 }).toBe(401);
    // Synapse deleted the device with the login: nobody encrypts for it any more.
    const devices = await matrixRequest(stack, "GET", "/_matrix/client/v3/devices", seeker);
    expect((devices.body.devices as { device_id: string }[]).map((d) => d.device_id)).not.toContain(deviceId);
    await context.close();
  });
});
