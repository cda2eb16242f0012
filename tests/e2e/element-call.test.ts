/**
 * Interop with Element Call (issue 13, acceptance 4): a counsellor in Element joins, with Element
 * Call, a call that our web app started, and every side decodes the others' picture and sound,
 * end-to-end encrypted with per-participant keys. Against the real Synapse, call token service
 * and LiveKit, in Chromium with its fake camera and microphone.
 *
 * Who is who: the counsellor starts a video call in the web app and the seeker joins it there
 * (as in client-call.test.ts); then the same counsellor opens the call in "Element" on another
 * device: Element Call's published embedded build, served from our origin with the config.json
 * of element-call-config/, in a minimal widget host (tests/support/widget-host/). Element Call
 * decodes both web-app participants, and both decode Element Call. Then the counsellor's web app
 * leaves (the others rotate their keys) and the seeker and Element Call go on decoding each other.
 *
 * What each browser decodes is read from the standard WebRTC statistics of the peer connections
 * the page (or Element Call's frame) made: a stream counts when its decoded frames, or its
 * decoded audio samples (not concealment), grow.
 */
import { chromium, type Browser, type BrowserContext, type Frame, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
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
import { openElementCall, serveStaticFiles, type ElementCall } from "../support/widget-host/element-call.ts";
import { unique } from "../support/workflow.ts";

const stack = inject("stack");
let browser: Browser;
/** The pages' console warnings and errors, shown when the test fails. */
const consoleLines: string[] = [];
/** The Element Calls opened, whose Matrix clients stop with the test. */
const opened: ElementCall[] = [];
/** Requests any page made to an address that is not loopback (there must be none). */
const outside: string[] = [];

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
  });
});
afterAll(async () => {
  for (const element of opened) element.stop();
  await browser?.close();
});

/** A browser context whose frames keep every RTCPeerConnection they make, for getStats(). */
async function callContext(who: string, permissions: string[] = []): Promise<BrowserContext> {
  const context = await browser.newContext({
    locale: "de-DE",
    permissions: ["camera", "microphone", ...permissions],
  });
  await context.route(
    (url) => !["127.0.0.1", "localhost", "[::1]"].includes(url.hostname) && url.protocol !== "data:",
    async (route) => {
      outside.push(`${who}: ${route.request().url()}`);
      await route.abort();
    },
  );
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
      consoleLines.push(
        `${who} ${message.type()}: ${message.text().replace(/access_token=[^&\s'"]+/g, "access_token=…")}`,
      );
  });
  context.on("weberror", (error) => consoleLines.push(`${who} page error: ${String(error.error())}`));
  return context;
}

/** Per inbound stream of the frame's peer connections: decoded video frames or audio samples. */
function decodedPerStream(frame: Frame): Promise<{ video: Record<string, number>; audio: Record<string, number> }> {
  return frame.evaluate(async () => {
    const video: Record<string, number> = {};
    const audio: Record<string, number> = {};
    const pcs = (window as unknown as { __peerConnections?: RTCPeerConnection[] }).__peerConnections ?? [];
    for (const [i, pc] of pcs.entries()) {
      if (pc.connectionState === "closed") continue;
      (await pc.getStats()).forEach((report: Record<string, unknown>) => {
        if (report.type !== "inbound-rtp") return;
        const id = `${i}/${String(report.id)}`;
        if (report.kind === "video") video[id] = Number(report.framesDecoded ?? 0);
        // Samples made up to hide a gap (concealment) count in totalSamplesReceived too.
        if (report.kind === "audio")
          audio[id] = Number(report.totalSamplesReceived ?? 0) - Number(report.concealedSamples ?? 0);
      });
    }
    return { video, audio };
  });
}

/** How many inbound video and audio streams of `frame` decode right now (grow within 3 s). */
async function decodingStreams(frame: Frame): Promise<{ video: number; audio: number }> {
  const before = await decodedPerStream(frame);
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const after = await decodedPerStream(frame);
  const growing = (a: Record<string, number>, b: Record<string, number>) =>
    Object.entries(b).filter(([id, n]) => n > (a[id] ?? 0) && n > 0).length;
  return { video: growing(before.video, after.video), audio: growing(before.audio, after.audio) };
}

/** Waits until `frame` decodes `video` picture streams and `audio` sound streams at once. */
async function expectDecoding(frame: Frame, who: string, video: number, audio: number): Promise<void> {
  await expect
    .poll(() => decodingStreams(frame), {
      timeout: 90_000,
      message: `${who} decodes ${video} pictures, ${audio} sounds`,
    })
    .toEqual({ video, audio });
}

/** Element Call's frame in the widget host's page. */
async function elementCallFrame(page: Page): Promise<Frame> {
  await expect
    .poll(() => page.frames().some((f) => f.url().includes("/element-call/")), { timeout: 30_000 })
    .toBe(true);
  return page.frames().find((f) => f.url().includes("/element-call/")) as Frame;
}

/** The call section's status line in the web app. */
const callStatus = (page: Page): Promise<string> => page.getByTestId("call-status").innerText();

/** A conversation in counselling, in two browsers: the seeker wrote, the counsellor took it. */
async function conversation() {
  const agency = await seedIntakeAgency(stack, 1);
  const counsellor = agency.counsellors[0] as TestUser;
  const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
  expect((await matrixRequest(stack, "POST", "/_matrix/client/v3/logout", seeker, {})).status).toBe(200);
  const desk = await (await callContext("desk")).newPage();
  await counsellorFirstLogin(stack, desk, counsellor, "de");
  const chat = await (await callContext("seeker")).newPage();
  await seekerFirstBrowserLogin(stack, chat, seeker, "de");
  const enquiry = `Geht auch Element? ${unique()}`;
  await sendMessage(chat, enquiry);
  const item = desk.getByTestId("queue-item").filter({ hasText: enquiry });
  await item.waitFor({ timeout: 60_000 });
  await item.getByRole("button").click();
  await desk.waitForURL(/\/beratung\/gespraech\/\d+$/);
  await expect.poll(async () => (await messages(desk)).join("\n"), { timeout: 30_000 }).toContain(enquiry);
  return { counsellor, seeker, desk, chat };
}

async function interop(): Promise<void> {
  const { counsellor, seeker, desk, chat } = await conversation();

  // Our web app starts the call; the seeker joins it in the web app.
  await tabToText(desk, "Videoanruf starten");
  await desk.keyboard.press("Enter");
  await expect.poll(() => callStatus(chat), { timeout: 60_000 }).toBe("Ein Videoanruf läuft in diesem Gespräch.");
  await tabToText(chat, "Dem Anruf beitreten");
  await chat.keyboard.press("Enter");
  await expectDecoding(desk.mainFrame(), "counsellor's web app", 1, 1);

  // The counsellor opens the call in Element: Element Call from our origin, in the widget host.
  // Element Call's pages are answered by the test (serveStaticFiles), which Chromium counts as
  // the public address space: it asks before such a page may reach a loopback address (LiveKit,
  // the homeserver). In production nothing is on loopback and nothing is asked; here the person
  // allows it, as they would at the prompt.
  const elementContext = await callContext("element", ["local-network-access"]);
  const files = await serveStaticFiles(elementContext, stack.clientUrl);
  const tokenRequests: string[] = [];
  elementContext.on("request", (request) => {
    if (/\/(sfu\/get|get_token)$/.test(new URL(request.url()).pathname))
      tokenRequests.push(`${request.method()} ${request.url()}`);
  });
  const hostPage = await elementContext.newPage();
  opened.push(await openElementCall(stack, files, hostPage, counsellor, seeker.roomId));
  const frame = await elementCallFrame(hostPage);
  const join = hostPage.frameLocator("iframe").getByRole("button", { name: /^join/i });
  await join.waitFor({ timeout: 90_000 });
  // Not waiting for navigations: Element Call keeps its frame busy while it joins.
  await join.click({ noWaitAfter: true });

  // Element Call decodes both web-app participants, both decode Element Call.
  await expectDecoding(frame, "Element Call", 2, 2);
  await expectDecoding(chat.mainFrame(), "seeker's web app", 2, 2);
  await expectDecoding(desk.mainFrame(), "counsellor's web app", 2, 2);
  // The web app shows Element Call's participant as one of the call, encrypted.
  await expect.poll(() => chat.getByTestId("call-remote").count(), { timeout: 30_000 }).toBe(2);
  for (const remote of await chat.getByTestId("call-remote").all())
    expect(await remote.getAttribute("data-encrypted")).toBe("true");

  // The counsellor's web app leaves: the others make new keys, and go on decoding each other.
  await tabToText(desk, "Anruf verlassen");
  await desk.keyboard.press("Enter");
  await expect.poll(() => chat.getByTestId("call-remote").count(), { timeout: 60_000 }).toBe(1);
  await expectDecoding(frame, "Element Call, after the web app's counsellor left", 1, 1);
  await expectDecoding(chat.mainFrame(), "seeker's web app, after the counsellor's web app left", 1, 1);

  // Element Call's files came from our origin, its config.json too, and it asked our origin's
  // token service (and no other) for its LiveKit tokens; nobody called outside.
  expect(files.served).toContain("/element-call/config.json");
  expect(tokenRequests.length).toBeGreaterThan(0);
  for (const request of tokenRequests) expect(request).toMatch(new RegExp(`^POST ${stack.clientUrl}/api/v1/rtc/`));
  expect(outside).toEqual([]);
}

describe("Element Call", () => {
  it("served from our origin in a widget host, joins a call our web app started; all decode each other's encrypted media", async () => {
    try {
      await interop();
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText(browser)}\n--- console\n${consoleLines.join("\n")}`, {
        cause: err,
      });
    }
  }, 600_000);
});
