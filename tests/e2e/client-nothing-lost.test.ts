/**
 * Nobody loses what was written, against the real stack in Chromium: what a seeker writes while
 * their counsellor has no browser open reaches the counsellor's dehydrated device (MSC3814) and
 * comes back at the counsellor's next login, and a seeker who closes the tab right after
 * "gesendet" reads their message again at their next login (its key was in the key backup before
 * "gesendet" showed).
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "../support/browser.ts";
import {
  counsellorFirstLogin,
  counsellorLogin,
  messages,
  messageState,
  pagesText,
  pageSession,
  recordUnreadable,
  seekerFirstBrowserLogin,
  seekerLogin,
  sendMessage,
} from "../support/client-flows.ts";
import { tabToText } from "../support/keyboard.ts";
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

/** A new German browser context (a new device) whose unreadable messages are recorded. */
async function newPage(who: string, unreadable: string[]): Promise<Page> {
  const context = await browser.newContext({ locale: "de-DE" });
  await recordUnreadable(context, who, unreadable);
  return context.newPage();
}

/** The user's dehydrated device as the homeserver publishes it, with whether it is cross-signed. */
async function dehydratedDevice(user: Pick<TestUser, "userId" | "accessToken">) {
  const res = await matrixRequest(
    stack,
    "GET",
    "/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device",
    user,
  );
  if (res.status !== 200) return null;
  const deviceId = String(res.body.device_id);
  const keys = await matrixRequest(stack, "POST", "/_matrix/client/v3/keys/query", user, {
    device_keys: { [user.userId]: [] },
  });
  const body = keys.body as {
    self_signing_keys?: Record<string, { keys: Record<string, string> }>;
    device_keys?: Record<string, Record<string, { dehydrated?: boolean; signatures?: Record<string, object> }>>;
  };
  const selfSigning = Object.keys(body.self_signing_keys?.[user.userId]?.keys ?? {})[0];
  const device = body.device_keys?.[user.userId]?.[deviceId];
  return {
    deviceId,
    dehydrated: device?.dehydrated === true,
    crossSigned: selfSigning !== undefined && selfSigning in (device?.signatures?.[user.userId] ?? {}),
  };
}

/** The Megolm sessions of `roomId` in the user's current key backup at the homeserver. */
async function backedUpSessions(user: Pick<TestUser, "accessToken">, roomId: string): Promise<string[]> {
  const version = await matrixRequest(stack, "GET", "/_matrix/client/v3/room_keys/version", user);
  if (version.status !== 200) throw new Error(`no key backup: ${JSON.stringify(version.body)}`);
  const path = `/_matrix/client/v3/room_keys/keys/${encodeURIComponent(roomId)}?version=${String(version.body.version)}`;
  const keys = await matrixRequest(stack, "GET", path, user);
  return keys.status === 200 ? Object.keys(keys.body.sessions ?? {}) : [];
}

describe("what was written while nobody was there", () => {
  it("is read by the counsellor who was logged out when the seeker wrote, and by the seeker who closed the tab a second after 'gesendet'; a colleague without keys then is told why and asked before taking it", async () => {
    const unreadable: string[] = [];
    try {
      await nothingLost(unreadable);
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText(browser)}\nunreadable: ${unreadable.join("\n")}`, {
        cause: err,
      });
    }
  }, 400_000);
});

async function nothingLost(unreadable: string[]): Promise<void> {
  const agency = await seedIntakeAgency(stack, 2);
  const [counsellor, newcomer] = agency.counsellors as [TestUser, TestUser];

  // The counsellor's first login: keys, and a dehydrated device cross-signed by the counsellor.
  const firstDesk = await newPage("counsellor, first device", unreadable);
  const counsellorPassphrase = await counsellorFirstLogin(stack, firstDesk, counsellor, "de");
  const firstDevice = await pageSession(firstDesk);
  const dehydrated = await dehydratedDevice(firstDevice);
  expect(dehydrated).toMatchObject({ dehydrated: true, crossSigned: true });
  // The counsellor logs out: the browser device is gone, the dehydrated one stays.
  await tabToText(firstDesk, "Abmelden");
  await firstDesk.keyboard.press("Enter");
  await firstDesk.waitForURL(`${stack.clientUrl}/beratung/anmelden`);
  await firstDesk.context().close();
  expect((await matrixRequest(stack, "GET", "/_matrix/client/v3/account/whoami", firstDevice)).status).toBe(401);

  // The seeker writes the first enquiry and closes the tab one second after "gesendet".
  const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
  expect((await matrixRequest(stack, "POST", "/_matrix/client/v3/logout", seeker, {})).status).toBe(200);
  const chat = await newPage("seeker, first device", unreadable);
  const seekerPassphrase = await seekerFirstBrowserLogin(stack, chat, seeker);
  const enquiry = `Ich schreibe das zum ersten Mal ${unique()}`;
  await sendMessage(chat, enquiry);
  await expect.poll(() => messageState(chat, enquiry), { timeout: 60_000 }).toBe("gesendet");
  // "gesendet" means its key is in the seeker's key backup already.
  expect(await backedUpSessions(await pageSession(chat), seeker.roomId)).toHaveLength(1);
  await chat.waitForTimeout(1000);
  await chat.context().close();

  // A colleague logs in for the very first time only now: no device of theirs existed to receive
  // the enquiry's key. (Checked below, while the enquiry still waits.)
  const cannotRead: string[] = [];
  const newDesk = await newPage("newcomer", cannotRead);
  await counsellorFirstLogin(stack, newDesk, newcomer, "de");

  // The seeker logs in again on a fresh browser, unlocks, and reads what they wrote.
  const again = await newPage("seeker, second device", unreadable);
  await seekerLogin(stack, again, seeker, seekerPassphrase);
  await expect.poll(async () => (await messages(again)).join("\n"), { timeout: 60_000 }).toContain(enquiry);

  // The counsellor logs in on a new browser and unlocks: the waiting enquiry is readable in the
  // queue before taking it (its key came back from the dehydrated device) ...
  const desk = await newPage("counsellor, second device", unreadable);
  await counsellorLogin(stack, desk, counsellor, counsellorPassphrase);
  const item = desk.getByTestId("queue-item").filter({ hasText: enquiry });
  await item.waitFor({ timeout: 60_000 });
  // ... and a new dehydrated device took the place of the one that was taken over.
  const secondDevice = await pageSession(desk);
  const replaced = await dehydratedDevice(secondDevice);
  expect(replaced).toMatchObject({ dehydrated: true, crossSigned: true });
  expect(replaced?.deviceId).not.toBe(dehydrated?.deviceId);
  // The keys it took over are in the counsellor's backup now: the next device has them too.
  await expect.poll(() => backedUpSessions(secondDevice, seeker.roomId), { timeout: 30_000 }).toHaveLength(1);
  const devices = await matrixRequest(stack, "GET", "/_matrix/client/v3/devices", secondDevice);
  expect((devices.body.devices as { device_id: string }[]).map((d) => d.device_id).sort()).toEqual(
    [secondDevice.deviceId, replaced?.deviceId].sort(),
  );

  // The colleague who had no keys yet is told why the enquiry cannot be read and what helps, and
  // is asked before taking it (here: not taken).
  const unreadableItem = newDesk.getByTestId("queue-item").filter({ hasText: `Anfrage ${seeker.enquiryId} ·` });
  await expect
    .poll(
      () =>
        unreadableItem
          .getByTestId("undecryptable")
          .innerText()
          .catch(() => ""),
      { timeout: 90_000 },
    )
    .toContain("wurde geschrieben, bevor Ihr Gerät sie empfangen konnte");
  await unreadableItem.getByRole("button", { name: /übernehmen/ }).click();
  await expect
    .poll(() => newDesk.evaluate(() => document.activeElement?.textContent ?? ""))
    .toContain("Sie können diese Anfrage auf diesem Gerät nicht lesen");
  await unreadableItem.getByRole("button", { name: "Abbrechen" }).click();
  await unreadableItem.getByRole("button", { name: /übernehmen/ }).waitFor();
  // The recorder of unreadable messages saw it (so its silence elsewhere means something).
  expect(cannotRead.length).toBeGreaterThan(0);
  await newDesk.context().close();

  // ... and after taking it, the whole conversation, both ways.
  await item.getByRole("button", { name: /übernehmen/ }).click();
  await desk.waitForURL(/\/beratung\/gespraech\/\d+$/);
  await expect.poll(async () => (await messages(desk)).join("\n"), { timeout: 60_000 }).toContain(enquiry);
  const more = `Und noch etwas ${unique()}`;
  await sendMessage(again, more);
  await expect.poll(async () => (await messages(desk)).join("\n"), { timeout: 60_000 }).toContain(more);
  const answer = `Danke, dass Sie schreiben ${unique()}`;
  await sendMessage(desk, answer);
  await expect.poll(async () => (await messages(again)).join("\n"), { timeout: 60_000 }).toContain(answer);

  // Nobody was ever told that a message of this conversation cannot be read.
  expect(unreadable).toEqual([]);
}
