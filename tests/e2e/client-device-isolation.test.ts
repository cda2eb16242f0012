/**
 * Room keys go only to devices their owner cross-signed (matrix-js-sdk's
 * OnlySignedDevicesIsolationMode in every client the web app starts), against the real stack:
 * a compromised server can add a device to a seeker's account, but the browsers of the seeker
 * and the counsellor share no room key with it.
 */
import type { MatrixClient } from "matrix-js-sdk";
import { DecryptionFailureCode } from "matrix-js-sdk/lib/crypto-api/index.js";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "../support/browser.ts";
import { typeInto } from "../support/keyboard.ts";
import {
  counsellorFirstLogin,
  messages,
  pagesText,
  pageSession,
  seekerFirstBrowserLogin,
  sendMessage,
} from "../support/client-flows.ts";
import { decryptRoomHistory, encryptedEvents } from "../support/crypto-identity.ts";
import { cryptoClient, eventually, matrixRequest, registerUser, type TestUser } from "../support/matrix.ts";
import { intakeSeeker, seedIntakeAgency } from "../support/seeker.ts";
import { unique } from "../support/workflow.ts";

const stack = inject("stack");
let browser: Browser;
let rogue: MatrixClient | undefined;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  rogue?.stopClient();
  await browser?.close();
});

/**
 * What a compromised server (or its operator, or the bot, a Synapse admin) can do to a seeker's
 * account without the seeker's keys: set a password of its choosing without ending the seeker's
 * session, log in with it on a device of its choosing, and run a client there that uploads
 * device keys. The device is not cross-signed: that needs the seeker's private keys.
 */
async function addRogueDevice(seeker: TestUser): Promise<TestUser> {
  const operator = await registerUser(stack, "operator", true);
  const password = `rogue-${unique()}-${unique()}`;
  const reset = await matrixRequest(
    stack,
    "POST",
    `/_synapse/admin/v1/reset_password/${encodeURIComponent(seeker.userId)}`,
    operator,
    { new_password: password, logout_devices: false },
  );
  expect(reset.status, JSON.stringify(reset.body)).toBe(200);
  const deviceId = `ROGUE${unique().toUpperCase()}`;
  const login = await matrixRequest(stack, "POST", "/_matrix/client/v3/login", null, {
    type: "m.login.password",
    identifier: { type: "m.id.user", user: seeker.localpart },
    password,
    device_id: deviceId,
  });
  expect(login.status, JSON.stringify(login.body)).toBe(200);
  return { ...seeker, password, accessToken: String(login.body.access_token), deviceId };
}

/** Whether the homeserver publishes device keys of `deviceId` for `userId`. */
async function publishesDevice(asker: Pick<TestUser, "accessToken">, userId: string, deviceId: string) {
  const res = await matrixRequest(stack, "POST", "/_matrix/client/v3/keys/query", asker, {
    device_keys: { [userId]: [] },
  });
  const devices = (res.body.device_keys ?? {}) as Record<string, Record<string, unknown>>;
  return devices[userId]?.[deviceId] !== undefined;
}

describe("room keys in the web client", () => {
  it("go to no device the server added to the seeker's account, from the seeker's or the counsellor's browser", async () => {
    try {
      await rogueDeviceGetsNoKeys();
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText(browser)}`, { cause: err });
    }
  }, 300_000);

  it("are not sent from a browser device whose keys were not unlocked, and the page says why and what to do", async () => {
    try {
      await unverifiedDeviceCannotSend();
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText(browser)}`, { cause: err });
    }
  }, 300_000);
});

/**
 * The seeker's second browser device skips unlocking its keys (as if the keys page had been
 * left out): it is not cross-signed, so the crypto refuses to send from it.
 */
async function unverifiedDeviceCannotSend(): Promise<void> {
  const agency = await seedIntakeAgency(stack, 1);
  const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
  const first = await (await browser.newContext({ locale: "de-DE" })).newPage();
  await seekerFirstBrowserLogin(stack, first, seeker);
  const second = await (await browser.newContext({ locale: "de-DE" })).newPage();
  await second.goto(`${stack.clientUrl}/anmelden`, { waitUntil: "networkidle" });
  await typeInto(second, "#login-name", seeker.localpart);
  await typeInto(second, "#login-password", seeker.password);
  await second.keyboard.press("Enter");
  await second.waitForURL(`${stack.clientUrl}/schluessel`);
  await second.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem("connecta.session") ?? "{}") as Record<string, unknown>;
    sessionStorage.setItem("connecta.session", JSON.stringify({ ...session, keysReady: true }));
  });
  await second.goto(`${stack.clientUrl}/gespraech`, { waitUntil: "load" });
  const text = `Nicht bestätigt ${unique()}`;
  await sendMessage(second, text);
  await expect
    .poll(() => second.getByRole("alert").innerText(), { timeout: 30_000 })
    .toContain("Dieses Gerät ist noch nicht mit Ihrem Schlüsselsatz bestätigt");
  expect(await second.locator("#composer").inputValue()).toBe(text);
  // The same in English.
  await second.goto(`${stack.clientUrl}/gespraech?lang=en`, { waitUntil: "load" });
  await sendMessage(second, `Not confirmed ${unique()}`);
  await expect
    .poll(() => second.getByRole("alert").innerText(), { timeout: 30_000 })
    .toContain("this device has not been confirmed with your passphrase yet");
  // Nothing reached the room: the first device sees no such message.
  await first.reload({ waitUntil: "load" });
  await first.getByText("Noch keine Nachrichten.").waitFor({ timeout: 30_000 });
  expect(await messages(first)).toEqual([]);
}

async function rogueDeviceGetsNoKeys(): Promise<void> {
  const agency = await seedIntakeAgency(stack, 1);
  const counsellor = agency.counsellors[0] as TestUser;
  const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
  // The intake's own login never had keys; the seeker continues in the browser.
  expect((await matrixRequest(stack, "POST", "/_matrix/client/v3/logout", seeker, {})).status).toBe(200);

  const desk = await (await browser.newContext({ locale: "de-DE" })).newPage();
  await counsellorFirstLogin(stack, desk, counsellor, "de");
  const chat = await (await browser.newContext({ locale: "de-DE" })).newPage();
  await seekerFirstBrowserLogin(stack, chat, seeker);
  const enquiry = `Meine Anfrage ${unique()}`;
  await sendMessage(chat, enquiry);
  const item = desk.getByTestId("queue-item").filter({ hasText: enquiry });
  await item.waitFor({ timeout: 60_000 });
  await item.getByRole("button").click();
  await desk.waitForURL(/\/beratung\/gespraech\/\d+$/);
  await expect.poll(async () => (await messages(desk)).join("\n"), { timeout: 30_000 }).toContain(enquiry);

  // The server side adds a device; the seeker's own session keeps working.
  const rogueUser = await addRogueDevice(seeker);
  rogue = await cryptoClient(stack, rogueUser);
  const seekerSession = await pageSession(chat);
  await eventually("the rogue device's keys published", () =>
    publishesDevice(seekerSession, seeker.userId, rogueUser.deviceId),
  );
  expect((await matrixRequest(stack, "GET", "/_matrix/client/v3/account/whoami", seekerSession)).status).toBe(200);

  // Both browsers write: each reads the other's message.
  const answer = `Antwort der Beratung ${unique()}`;
  await sendMessage(desk, answer);
  await expect.poll(async () => (await messages(chat)).join("\n"), { timeout: 30_000 }).toContain(answer);
  const more = `Noch eine Frage ${unique()}`;
  await sendMessage(chat, more);
  await expect.poll(async () => (await messages(desk)).join("\n"), { timeout: 30_000 }).toContain(more);

  // The rogue device was told that the key is withheld from it, and cannot read either message.
  const events = await encryptedEvents(stack, rogueUser, seeker.roomId);
  const lastFrom = (sender: string) => events.filter((e) => e.sender === sender).at(-1)?.event_id;
  const sent = [lastFrom(counsellor.userId), lastFrom(seeker.userId)];
  expect(sent.every((id) => id !== undefined)).toBe(true);
  const seen = await eventually(
    "the rogue device's verdict on both messages",
    async () => {
      const results = (await decryptRoomHistory(stack, rogueUser, seeker.roomId, rogue as MatrixClient)).filter((r) =>
        sent.includes(r.eventId),
      );
      // Until the withheld notice (or, without the protection, the key) has arrived.
      const settled = results.every(
        (r) => r.body !== null || r.failure !== DecryptionFailureCode.MEGOLM_UNKNOWN_INBOUND_SESSION_ID,
      );
      return results.length === 2 && settled ? results : undefined;
    },
    30_000,
  ).catch(async () =>
    (await decryptRoomHistory(stack, rogueUser, seeker.roomId, rogue as MatrixClient)).filter((r) =>
      sent.includes(r.eventId),
    ),
  );
  expect(seen.map((r) => ({ sender: r.sender, body: r.body, failure: r.failure }))).toEqual([
    {
      sender: counsellor.userId,
      body: null,
      failure: DecryptionFailureCode.MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE,
    },
    { sender: seeker.userId, body: null, failure: DecryptionFailureCode.MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE },
  ]);
}
