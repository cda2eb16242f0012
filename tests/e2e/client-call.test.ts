/**
 * A video call in the web app against the real stack (Synapse, the call token service, LiveKit),
 * in Chromium with its fake camera and microphone: the counsellor starts it in the
 * conversation, the seeker sees it and joins, and each browser receives and decodes the other's
 * picture and sound, end-to-end encrypted with the media keys of MatrixRTC (docs/calls.md).
 *
 * What each browser decodes is read with the standard WebRTC statistics
 * (`RTCPeerConnection.getStats()`) of the peer connections the page made: decoded frames and
 * received audio samples grow only when LiveKit's E2EE worker decrypted them with the sender's
 * key.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as LivekitClient from "livekit-client";
import { AccessToken } from "livekit-server-sdk";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { livekitRoom, ROOM_SLOT } from "../../appservice/src/rtc/identity.ts";
import { livekitKeys } from "../../ops/stack/secrets.ts";
import { a11yViolations } from "../support/a11y.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../support/browser.ts";
import {
  counsellorFirstLogin,
  messages,
  pagesText,
  seekerFirstBrowserLogin,
  sendMessage,
} from "../support/client-flows.ts";
import { tabToText } from "../support/keyboard.ts";
import { matrixRequest, type TestUser } from "../support/matrix.ts";
import { intakeSeeker, seedIntakeAgency } from "../support/seeker.ts";
import { unique } from "../support/workflow.ts";

const stack = inject("stack");
let browser: Browser;
/** The pages' console warnings and errors, shown when the test fails. */
const consoleLines: string[] = [];

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
  });
});
afterAll(async () => {
  await browser?.close();
});

/** A browser context whose pages keep every RTCPeerConnection they make, for getStats(). */
async function callContext(stopped: string[] = []): Promise<BrowserContext> {
  const context = await browser.newContext({ locale: "de-DE", permissions: ["camera", "microphone"] });
  // Which camera and microphone tracks the pages stopped (released), across navigations.
  await context.exposeBinding("__trackStopped", (_source, kind: string) => void stopped.push(kind));
  await context.addInitScript(() => {
    const prototype = MediaStreamTrack.prototype;
    const descriptor = Object.getOwnPropertyDescriptor(prototype, "stop");
    const stop = descriptor?.value as (this: MediaStreamTrack) => void;
    prototype.stop = function (this: MediaStreamTrack) {
      if (this.readyState === "live") {
        void (window as unknown as { __trackStopped: (kind: string) => Promise<void> }).__trackStopped(this.kind);
      }
      stop.call(this);
    };
    const made: RTCPeerConnection[] = [];
    const Original = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Original {
      constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
        super(...args);
        made.push(this);
      }
    };
    (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections = made;
  });
  context.on("console", (message) => {
    if (message.type() === "warning" || message.type() === "error")
      consoleLines.push(`${message.type()}: ${message.text().replace(/access_token=[^&\s'"]+/g, "access_token=…")}`);
  });
  context.on("weberror", (error) => consoleLines.push(`page error: ${String(error.error())}`));
  return context;
}

/**
 * What the page's peer connections received so far: decoded video frames, decoded audio samples
 * (not concealment), video bytes.
 */
function received(page: Page): Promise<{ framesDecoded: number; samples: number; videoBytes: number }> {
  return page.evaluate(async () => {
    let framesDecoded = 0;
    let samples = 0;
    let videoBytes = 0;
    for (const pc of (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections) {
      if (pc.connectionState === "closed") continue;
      (await pc.getStats()).forEach((report: Record<string, unknown>) => {
        if (report.type !== "inbound-rtp") return;
        if (report.kind === "video") framesDecoded += Number(report.framesDecoded ?? 0);
        if (report.kind === "video") videoBytes += Number(report.bytesReceived ?? 0);
        // Samples made up to hide a gap (concealment) count in totalSamplesReceived too; only
        // those decoded from what arrived count here.
        if (report.kind === "audio")
          samples += Number(report.totalSamplesReceived ?? 0) - Number(report.concealedSamples ?? 0);
      });
    }
    return { framesDecoded, samples, videoBytes };
  });
}

/** Waits until the page decodes the other side's picture and sound, and both keep coming. */
async function expectMediaFlowing(page: Page, who: string): Promise<void> {
  await expect
    .poll(() => received(page), { timeout: 60_000, message: `${who} decodes frames and samples` })
    .toSatisfy(({ framesDecoded, samples }) => framesDecoded > 0 && samples > 0);
  const before = await received(page);
  await expect
    .poll(() => received(page), { timeout: 20_000, message: `${who} keeps decoding` })
    .toSatisfy(({ framesDecoded, samples }) => framesDecoded > before.framesDecoded && samples > before.samples);
}

/**
 * Someone with a valid LiveKit token for the conversation's call but no membership and no media
 * key (what the LiveKit operator, or anyone with its API key, could make): a page with
 * livekit-client alone, subscribed to everything, trying to show every video it receives.
 */
async function intruder(roomId: string): Promise<Page> {
  const keys = livekitKeys(readFileSync(stack.secretFiles.livekitKeys, "utf8"));
  const token = new AccessToken(keys.livekitApiKey, keys.livekitApiSecret, {
    identity: `intruder-${unique()}`,
    ttl: 600,
  });
  token.addGrant({ roomJoin: true, room: livekitRoom(roomId, ROOM_SLOT), canSubscribe: true, canPublish: false });
  const jwt = await token.toJwt();
  const page = await (await callContext()).newPage();
  // A page of LiveKit's own origin (its "OK"): Chromium lets no page of another address space
  // (about:blank, a page made up by the test) open a connection to a loopback address.
  await page.goto(stack.livekitUrl);
  const require = createRequire(import.meta.url);
  await page.addScriptTag({
    content: readFileSync(require.resolve("livekit-client"), "utf8"),
  });
  const e2eeWorker = readFileSync(
    join(dirname(require.resolve("livekit-client")), "livekit-client.e2ee.worker.js"),
    "utf8",
  );
  await page.evaluate(
    async ({ url, jwt, e2eeWorker }) => {
      const lk = (window as unknown as { LivekitClient: typeof LivekitClient }).LivekitClient;
      // LiveKit's E2EE with a key of its own guessing: frames that do not decrypt are dropped
      // before the decoder. (Without E2EE the decoder gets the ciphertext, and now and then
      // "decodes" a frame of noise from it.)
      const keyProvider = new lk.ExternalE2EEKeyProvider();
      const worker = new Worker(URL.createObjectURL(new Blob([e2eeWorker], { type: "text/javascript" })));
      const room = new lk.Room({ encryption: { keyProvider, worker } });
      await keyProvider.setKey(crypto.getRandomValues(new Uint8Array(32)).buffer);
      await room.setE2EEEnabled(true);
      room.on(lk.RoomEvent.TrackSubscribed, (track) => {
        document.body.append(track.attach());
      });
      await room.connect(url, jwt, { autoSubscribe: true });
      (window as unknown as { intruderRoom: unknown }).intruderRoom = room;
    },
    { url: stack.livekitUrl.replace(/^http/, "ws"), jwt, e2eeWorker },
  );
  return page;
}

/** The text of the focused element. */
const focusedText = (page: Page): Promise<string> =>
  page.evaluate(() => document.activeElement?.textContent?.trim() ?? "");

/** The call section's status line. */
const callStatus = (page: Page): Promise<string> => page.getByTestId("call-status").innerText();

/** A voice call, in English: sound both ways, encrypted, no picture. */
async function voiceCall(): Promise<void> {
  const { desk, chat } = await conversation("en");
  await tabToText(desk, "Start voice call");
  await desk.keyboard.press("Enter");
  await expect.poll(() => callStatus(desk), { timeout: 60_000 }).toContain("Waiting for the other person");
  await expect.poll(() => callStatus(chat), { timeout: 60_000 }).toBe("A voice call is running in this conversation.");
  await tabToText(chat, "Join the call");
  await chat.keyboard.press("Enter");
  for (const page of [desk, chat]) {
    const remote = page.getByTestId("call-remote");
    await expect.poll(() => remote.getAttribute("data-encrypted"), { timeout: 60_000 }).toBe("true");
    expect(await remote.innerText()).toContain("Other person: No picture");
    await expect.poll(() => callStatus(page), { timeout: 30_000 }).toContain("end-to-end encrypted");
    await expect.poll(() => received(page), { timeout: 60_000 }).toSatisfy(({ samples }) => samples > 0);
    const before = await received(page);
    await expect.poll(() => received(page), { timeout: 20_000 }).toSatisfy(({ samples }) => samples > before.samples);
    expect((await received(page)).framesDecoded).toBe(0);
  }
  // The camera is not turned on in a voice call, but can be.
  expect(await chat.getByRole("button", { name: "Turn camera on" }).count()).toBe(1);
  await tabToText(chat, "Leave the call");
  await chat.keyboard.press("Enter");
  await expect.poll(() => desk.getByTestId("call-remote").count(), { timeout: 30_000 }).toBe(0);
  await tabToText(desk, "Leave the call");
  await desk.keyboard.press("Enter");
  await expect.poll(() => callStatus(desk), { timeout: 30_000 }).toBe("The call has ended.");
}

describe("a call in the web app", () => {
  it("lets the counsellor start a video call that the seeker joins; each decodes the other's encrypted picture and sound", async () => {
    try {
      await videoCall();
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText(browser)}\n--- console\n${consoleLines.join("\n")}`, {
        cause: err,
      });
    }
  }, 400_000);

  it("lets the counsellor start a voice call in English; each hears the other, encrypted, and no camera comes on", async () => {
    try {
      await voiceCall();
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText(browser)}\n--- console\n${consoleLines.join("\n")}`, {
        cause: err,
      });
    }
  }, 300_000);
});

/**
 * A conversation in counselling, in two browsers: the seeker wrote, the counsellor took it.
 * `stopped` collects the seeker's page's released camera and microphone tracks.
 */
async function conversation(lang: "de" | "en", stopped: string[] = []) {
  const agency = await seedIntakeAgency(stack, 1);
  const counsellor = agency.counsellors[0] as TestUser;
  const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
  expect((await matrixRequest(stack, "POST", "/_matrix/client/v3/logout", seeker, {})).status).toBe(200);

  const desk = await (await callContext()).newPage();
  await counsellorFirstLogin(stack, desk, counsellor, lang);
  const chat = await (await callContext(stopped)).newPage();
  await seekerFirstBrowserLogin(stack, chat, seeker, lang);
  const enquiry = `Können wir telefonieren? ${unique()}`;
  await sendMessage(chat, enquiry);
  const item = desk.getByTestId("queue-item").filter({ hasText: enquiry });
  await item.waitFor({ timeout: 60_000 });
  await item.getByRole("button").click();
  await desk.waitForURL(/\/beratung\/gespraech\/\d+$/);
  await expect.poll(async () => (await messages(desk)).join("\n"), { timeout: 30_000 }).toContain(enquiry);
  return { seeker, desk, chat };
}

async function videoCall(): Promise<void> {
  const stopped: string[] = [];
  const { seeker, desk, chat } = await conversation("de", stopped);

  // The seeker cannot start a call; the counsellor can.
  expect(await chat.getByRole("button", { name: "Videoanruf starten" }).count()).toBe(0);
  await tabToText(desk, "Videoanruf starten");
  await desk.keyboard.press("Enter");
  await expect.poll(() => callStatus(desk), { timeout: 60_000 }).toContain("Warten auf die andere Person");

  // The seeker's conversation shows the call running, and the seeker joins.
  await expect.poll(() => callStatus(chat), { timeout: 60_000 }).toBe("Ein Videoanruf läuft in diesem Gespräch.");
  await tabToText(chat, "Dem Anruf beitreten");
  await chat.keyboard.press("Enter");
  // Once in the call, the focus is on the first control.
  await expect.poll(() => focusedText(chat), { timeout: 60_000 }).toBe("Mikrofon stummschalten");

  // Both see the other, end-to-end encrypted (LiveKit's participant.isEncrypted).
  for (const [page, who] of [
    [desk, "counsellor"],
    [chat, "seeker"],
  ] as const) {
    const remote = page.getByTestId("call-remote");
    await remote.waitFor({ timeout: 60_000 });
    await expect.poll(() => remote.getAttribute("data-encrypted"), { timeout: 60_000, message: who }).toBe("true");
    await expect.poll(() => callStatus(page), { timeout: 30_000 }).toContain("Ende-zu-Ende-verschlüsselt");
  }
  await expectMediaFlowing(desk, "counsellor");
  await expectMediaFlowing(chat, "seeker");
  expect(await a11yViolations(desk), "axe on the counsellor's call").toEqual([]);
  expect(await a11yViolations(chat), "axe on the seeker's call").toEqual([]);

  // A LiveKit participant with a token but without a media key receives the encrypted video and
  // decodes not a single frame; the conversation's pages do not show it.
  const outsider = await intruder(seeker.roomId);
  await expect
    .poll(() => received(outsider), { timeout: 30_000, message: "encrypted video reaches the intruder" })
    .toSatisfy(({ videoBytes }) => videoBytes > 50_000);
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  expect(await received(outsider)).toMatchObject({ framesDecoded: 0, samples: 0 });
  expect(await desk.getByTestId("call-remote").count()).toBe(1);
  await outsider.evaluate(() =>
    (window as unknown as { intruderRoom: { disconnect(): Promise<void> } }).intruderRoom.disconnect(),
  );
  await outsider.context().close();

  // Microphone and camera off, by their buttons: the counsellor sees no picture any more.
  await chat.keyboard.press("Enter");
  await expect.poll(() => focusedText(chat), { timeout: 10_000 }).toBe("Mikrofon einschalten");
  await tabToText(chat, "Kamera ausschalten");
  await chat.keyboard.press("Enter");
  await expect.poll(() => focusedText(chat), { timeout: 10_000 }).toBe("Kamera einschalten");
  await expect.poll(() => desk.getByTestId("call-remote").innerText(), { timeout: 30_000 }).toContain("Kein Bild");

  // The seeker leaves (the counsellor's call goes on, the seeker's page offers to join it again)
  // and joins again, this time with the camera refused: the page says so and what to do, and
  // the call goes on. Once allowed, the camera comes on; with new keys, both decode again.
  await tabToText(chat, "Anruf verlassen");
  await chat.keyboard.press("Enter");
  await expect.poll(() => desk.getByTestId("call-remote").count(), { timeout: 30_000 }).toBe(0);
  await expect.poll(() => callStatus(chat), { timeout: 60_000 }).toBe("Ein Videoanruf läuft in diesem Gespräch.");
  await chat.evaluate(() => {
    const devices = navigator.mediaDevices;
    const allowed = devices.getUserMedia.bind(devices);
    (window as unknown as { allowCamera: () => void }).allowCamera = () => void (devices.getUserMedia = allowed);
    devices.getUserMedia = (constraints) =>
      constraints?.video
        ? Promise.reject(new DOMException("Permission denied", "NotAllowedError"))
        : allowed(constraints);
  });
  await tabToText(chat, "Dem Anruf beitreten");
  await chat.keyboard.press("Enter");
  await expect
    .poll(() => chat.getByRole("alert").allInnerTexts(), { timeout: 60_000 })
    .toContainEqual(expect.stringContaining("Der Zugriff auf die Kamera wurde nicht erlaubt."));
  await expect
    .poll(() => desk.getByTestId("call-remote").getAttribute("data-encrypted"), { timeout: 60_000 })
    .toBe("true");
  await chat.evaluate(() => (window as unknown as { allowCamera: () => void }).allowCamera());
  await tabToText(chat, "Kamera einschalten");
  await chat.keyboard.press("Enter");
  await expect.poll(() => focusedText(chat), { timeout: 10_000 }).toBe("Kamera ausschalten");
  expect(await chat.getByRole("alert").count()).toBe(0);
  await expectMediaFlowing(desk, "counsellor, after the seeker joined again");
  await expectMediaFlowing(chat, "seeker, after joining again");

  // The quick exit ends the call: camera and microphone are released, the counsellor sees the
  // seeker gone.
  stopped.length = 0;
  await chat.keyboard.press("Escape");
  await chat.keyboard.press("Escape");
  await chat.waitForURL(`${stack.clientUrl}/rezept`);
  expect([...new Set(stopped)].sort()).toEqual(["audio", "video"]);
  await expect.poll(() => desk.getByTestId("call-remote").count(), { timeout: 30_000 }).toBe(0);

  await expect.poll(() => callStatus(desk), { timeout: 30_000 }).toContain("Warten auf die andere Person");

  // Closing the conversation ends the call for the counsellor too (the workflow removes everybody
  // from LiveKit's room), and no call is offered in the closed conversation.
  await desk.getByRole("button", { name: "Gespräch beenden …" }).click();
  await desk.getByRole("button", { name: "Ja, beenden" }).click();
  await desk.getByText("Dieses Gespräch ist beendet.", { exact: true }).waitFor({ timeout: 60_000 });
  await expect.poll(() => callStatus(desk), { timeout: 30_000 }).toBe("Der Anruf ist beendet.");
  expect(await desk.getByRole("button", { name: /anruf/i }).count()).toBe(0);
}
