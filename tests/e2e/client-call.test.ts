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
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CHROMIUM, CHROMIUM_ARGS } from "../support/browser.ts";
import {
  counsellorFirstLogin,
  messages,
  pagesText,
  seekerFirstBrowserLogin,
  sendMessage,
} from "../support/client-flows.ts";
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
async function callContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ locale: "de-DE", permissions: ["camera", "microphone"] });
  await context.addInitScript(() => {
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

/** What the page's peer connections received so far: decoded video frames, audio samples. */
function received(page: Page): Promise<{ framesDecoded: number; samples: number }> {
  return page.evaluate(async () => {
    let framesDecoded = 0;
    let samples = 0;
    for (const pc of (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections) {
      if (pc.connectionState === "closed") continue;
      (await pc.getStats()).forEach((report: Record<string, unknown>) => {
        if (report.type !== "inbound-rtp") return;
        if (report.kind === "video") framesDecoded += Number(report.framesDecoded ?? 0);
        if (report.kind === "audio") samples += Number(report.totalSamplesReceived ?? 0);
      });
    }
    return { framesDecoded, samples };
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

/** The call section's status line. */
const callStatus = (page: Page): Promise<string> => page.getByTestId("call-status").innerText();

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
});

async function videoCall(): Promise<void> {
  const agency = await seedIntakeAgency(stack, 1);
  const counsellor = agency.counsellors[0] as TestUser;
  const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
  expect((await matrixRequest(stack, "POST", "/_matrix/client/v3/logout", seeker, {})).status).toBe(200);

  const desk = await (await callContext()).newPage();
  await counsellorFirstLogin(stack, desk, counsellor, "de");
  const chat = await (await callContext()).newPage();
  await seekerFirstBrowserLogin(stack, chat, seeker);
  const enquiry = `Können wir telefonieren? ${unique()}`;
  await sendMessage(chat, enquiry);
  const item = desk.getByTestId("queue-item").filter({ hasText: enquiry });
  await item.waitFor({ timeout: 60_000 });
  await item.getByRole("button").click();
  await desk.waitForURL(/\/beratung\/gespraech\/\d+$/);
  await expect.poll(async () => (await messages(desk)).join("\n"), { timeout: 30_000 }).toContain(enquiry);

  // The seeker cannot start a call; the counsellor can.
  expect(await chat.getByRole("button", { name: "Videoanruf starten" }).count()).toBe(0);
  await desk.getByRole("button", { name: "Videoanruf starten" }).click();
  await expect.poll(() => callStatus(desk), { timeout: 60_000 }).toContain("Warten auf die andere Person");

  // The seeker's conversation shows the call running, and the seeker joins.
  await expect.poll(() => callStatus(chat), { timeout: 60_000 }).toBe("Ein Videoanruf läuft in diesem Gespräch.");
  await chat.getByRole("button", { name: "Dem Anruf beitreten" }).click();

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

  // Microphone and camera off, by their buttons; then the seeker leaves.
  await chat.getByRole("button", { name: "Mikrofon stummschalten" }).click();
  await chat.getByRole("button", { name: "Mikrofon einschalten" }).waitFor();
  await chat.getByRole("button", { name: "Kamera ausschalten" }).click();
  await chat.getByRole("button", { name: "Kamera einschalten" }).waitFor();
  await chat.getByRole("button", { name: "Anruf verlassen" }).click();
  await expect.poll(() => callStatus(chat), { timeout: 30_000 }).not.toContain("Sie sind im Anruf");
  await expect.poll(() => desk.getByTestId("call-remote").count(), { timeout: 30_000 }).toBe(0);
  await desk.getByRole("button", { name: "Anruf verlassen" }).click();
  await expect.poll(() => callStatus(desk), { timeout: 30_000 }).toBe("Der Anruf ist beendet.");
}
