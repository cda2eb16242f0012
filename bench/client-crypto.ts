/**
 * Web client benchmarks with Rust crypto in the browser, on a fresh stack, everything on
 * loopback, Debian's headless Chromium driven by playwright-core:
 *
 * 1. Login → decrypted timeline. A seeker set up in the browser (intake, passphrase, recovery
 *    key) writes 10 messages in the composer; a counsellor (matrix-js-sdk in Node) claims the
 *    enquiry and answers 10 times, alternating: 20 messages, whose keys the seeker's browser
 *    device backs up. Then, in fresh browser contexts (a new device each, cold HTTP cache, empty
 *    IndexedDB), the seeker logs in at /anmelden, unlocks with the passphrase at /schluessel and
 *    reads the conversation at /gespraech. Timed inside the page (performance.timeOrigin + now,
 *    so the bench's typing is not counted): (A) login form submitted → passphrase form shown;
 *    (B) passphrase submitted → the client is at /gespraech (restore done); (C) → all 20
 *    messages shown decrypted. Baselines in the same run, interleaved: bare Synapse `/login` +
 *    initial `/sync` round trips, and a matrix-js-sdk Rust-crypto client in Node doing the
 *    client's steps (login, crypto init + first sync, the restoreKeys() steps, all messages
 *    decrypted in the timeline of its first sync).
 * 2. Restore 1,000 keys. A second seeker set up in the browser; a matrix-js-sdk client in Node
 *    logs in as them, unlocks secret storage with the same passphrase (cross-signs itself, enables
 *    the backup the browser created), creates a room with `rotation_period_msgs: 1` and sends
 *    1,000 messages there: 1,000 Megolm sessions, waited for in the server-side backup. Then, in
 *    fresh contexts, from the passphrase submit to arriving at /gespraech, split by the progress
 *    the page shows ("{done} von {total} Schlüsseln wiederhergestellt"), whose last value must be
 *    1,000 of 1,000. Baseline: the same restore steps in Node.
 *
 * Synapse's message and login rate limits are raised for the run (CONNECTA_SYNAPSE_EXTRA_CONFIG):
 * the run logs in as the same seeker dozens of times within minutes. Every device a run creates
 * is logged out after it, so each run sees the same number of devices.
 *
 *   npm run -w client build && node bench/client-crypto.ts [login runs, default 10] [restore runs, default 5]
 *   (in the environment ops/connecta sets up; CONNECTA_CHROMIUM overrides /usr/bin/chromium)
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import * as sdk from "matrix-js-sdk";
import { deriveRecoveryKeyFromPassphrase, ImportRoomKeyStage } from "matrix-js-sdk/lib/crypto-api/index.js";
import { logger as sdkLogger, type Logger } from "matrix-js-sdk/lib/logger.js";
import { chromium, type Browser, type Page } from "playwright-core";
import { ROOT } from "../ops/stack/config.ts";
import type { StackInfo } from "../ops/stack/stack.ts";
import { joinInvitedRoom } from "../tests/support/crypto-identity.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../tests/support/browser.ts";
import { cryptoClient, matrixRequest, type TestUser } from "../tests/support/matrix.ts";
import { freshPseudonym, seedIntakeAgency, type IntakeAgency } from "../tests/support/seeker.ts";
import { callApi, openIdToken } from "../tests/support/workflow.ts";
import { benchDataDir, benchStack, requireClientBuild } from "./support.ts";

const LOGIN_RUNS = Number(process.argv[2] ?? 10);
const RESTORE_RUNS = Number(process.argv[3] ?? 5);
/** Messages in the conversation of measurement 1 (half the seeker's, half the counsellor's). */
const MESSAGES = 20;
/** Megolm sessions in the backup of measurement 2. */
const KEYS = 1000;
/** The key under which the client keeps a tab's login (client/src/lib/session/session.ts). */
const SESSION_KEY = "connecta.session";

/** The German texts the bench waits for, from the client's own messages. */
const de = JSON.parse(readFileSync(join(ROOT, "client", "src", "lib", "i18n", "de.json"), "utf8")) as {
  login: { submit: string };
  intake: { next: string };
  keys: {
    unlockTitle: string;
    unlockSubmit: string;
    createTitle: string;
    createSubmit: string;
    recoveryTitle: string;
    continue: string;
    restoreCount: string;
    steps: { restore: string };
  };
  chat: { send: string; state: { sent: string; read: string } };
};

// --- Statistics --------------------------------------------------------------------------------

/** Nearest-rank quantile: with 10 samples, p95 is the slowest. */
const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
};
const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(0) : "–");
const row = (name: string, values: number[]) =>
  console.log(`| ${name} | ${values.length} | ${ms(quantile(values, 0.5))} | ${ms(quantile(values, 0.95))} |`);
const log = (line: string) => console.error(line);

// --- In the page: what the user sees, with timestamps ------------------------------------------

interface RecorderOptions {
  /** Message texts that must all be shown decrypted at /gespraech (the last one is the newest). */
  expected: string[];
  unlockTitle: string;
  restoreStep: string;
  /** Source of a RegExp matching the restore count, done and total as groups 1 and 2. */
  progress: string;
}

/**
 * Runs in every document of a context before the page's scripts (so it must be self-contained):
 * reports, with absolute timestamps (performance.timeOrigin + now, comparable across documents),
 * every form submit, every path the tab shows, the passphrase form, the restore step and each
 * restore count shown, and when the expected messages are all shown decrypted.
 */
function recorder(o: RecorderOptions): void {
  const report = (window as unknown as { __benchMark: (name: string, t: number) => Promise<void> }).__benchMark;
  const now = () => performance.timeOrigin + performance.now();
  const seen = new Set<string>();
  const once = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    void report(name, now());
  };
  const progress = new RegExp(o.progress);
  let lastProgress = "";
  const check = () => {
    const path = location.pathname;
    once(`path:${path}`);
    if (path === "/schluessel") {
      const h1 = document.querySelector("h1")?.textContent?.trim();
      if (h1 === o.unlockTitle && document.querySelector("#passphrase")) once("keys-form");
      const box = document.querySelector(".progress-box")?.textContent ?? "";
      if (box.includes(o.restoreStep)) once("restore-step");
      const found = progress.exec(box);
      if (found && found[0] !== lastProgress) {
        lastProgress = found[0];
        const digits = (s: string | undefined) => (s ?? "").replace(/\D/g, "");
        void report(`progress:${digits(found[1])}/${digits(found[2])}`, now());
      }
    } else if (path === "/gespraech" && o.expected.length > 0) {
      const messages = document.querySelectorAll('[data-testid="message"]');
      if (messages.length === 0) return;
      once("first-message");
      const bodies = new Set([...document.querySelectorAll('[data-testid="message"] .body')].map((e) => e.textContent));
      const undecryptable = document.querySelector('[data-testid="message"] .undecryptable') !== null;
      if (undecryptable) once("undecryptable-shown");
      if (bodies.has(o.expected[o.expected.length - 1] ?? "")) once("last-message");
      if (!undecryptable && o.expected.every((text) => bodies.has(text))) once("all-messages");
    }
  };
  addEventListener("submit", () => void report(`submit:${location.pathname}`, now()), true);
  for (const method of ["pushState", "replaceState"] as const) {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with apply(this, …) below
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History["pushState"]>) {
      original.apply(this, args);
      check();
    };
  }
  new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true });
  check();
}

/** A German browser context whose pages report to `marks`; page errors go to `problems`. */
async function recordingContext(browser: Browser, options: RecorderOptions, name: string) {
  const context = await browser.newContext({ locale: "de-DE", reducedMotion: "reduce" });
  const marks: { name: string; t: number }[] = [];
  await context.exposeFunction("__benchMark", (mark: string, t: number) => void marks.push({ name: mark, t }));
  await context.addInitScript(recorder, options);
  context.on("page", (page) => {
    page.on("pageerror", (error) => problems.push(`${name}: page error: ${error.message}`));
    page.on("console", (message) => {
      // Chromium logs every answer >= 400 as "Failed to load resource": recorded with its URL below.
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
        problems.push(`${name}: console error: ${message.text()}`);
      }
    });
    page.on("response", (response) => {
      if (response.status() < 400) return;
      const url = new URL(response.url());
      const path = url.pathname.replace(/![^/]+/g, "!room").replace(/@[^/]+/g, "@user");
      problems.push(
        `${name.replace(/ (run|restore) \d+\/\d+| warm-up/, "")}: ${response.request().method()} ${path} → ${response.status()}`,
      );
    });
  });
  const first = (mark: string) => marks.find((m) => m.name === mark)?.t;
  const waitFor = async (mark: string, timeoutMs: number): Promise<number> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = first(mark);
      if (t !== undefined) return t;
      if (Date.now() > deadline)
        throw new Error(`${name}: no "${mark}" within ${timeoutMs} ms; seen: ${marks.map((m) => m.name).join(", ")}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { context, marks, first, waitFor };
}

const problems: string[] = [];
// The SDK's global logger, used where no client logger is passed (e.g. MatrixRTCSession, which
// logs to stdout): errors only. Its child loggers, made later, copy its method factory.
{
  type Factory = (method: string, level: number, name: string) => (...msg: unknown[]) => void;
  const root = sdkLogger as unknown as { methodFactory: Factory; rebuild: () => void };
  const original = root.methodFactory;
  root.methodFactory = (method, level, name) => (method === "error" ? original(method, level, name) : () => {});
  root.rebuild();
}

/** Escapes a text for a RegExp. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** The restore count as the page shows it, numbers (digits, maybe grouped) as groups 1 and 2. */
const PROGRESS = literal(de.keys.restoreCount)
  .replace(literal("{done}"), "([\\d.,\u00a0\u202f]+)")
  .replace(literal("{total}"), "([\\d.,\u00a0\u202f]+)");

// --- Seekers in the browser --------------------------------------------------------------------

interface BrowserSeeker {
  pseudonym: string;
  password: string;
  passphrase: string;
}

/** The session of the tab, as the client keeps it in sessionStorage. */
async function tabSession(
  page: Page,
): Promise<{ userId: string; accessToken: string; deviceId: string; roomId?: string; enquiryId?: number }> {
  const text = await page.evaluate((key) => sessionStorage.getItem(key), SESSION_KEY);
  if (!text) throw new Error(`no session in the tab at ${page.url()}`);
  return JSON.parse(text) as {
    userId: string;
    accessToken: string;
    deviceId: string;
    roomId?: string;
    enquiryId?: number;
  };
}

async function heading(page: Page, text: string, timeout = 120_000): Promise<void> {
  await page.locator("h1", { hasText: text }).first().waitFor({ timeout });
}

/** The intake and the passphrase in the browser, as in tests/e2e/client-journey.test.ts; ends at /gespraech. */
async function intakeInBrowser(
  page: Page,
  stack: StackInfo,
  agency: IntakeAgency,
  prefix: string,
): Promise<BrowserSeeker> {
  const seeker = {
    pseudonym: freshPseudonym(prefix),
    password: `Fenster Brücke Sonne ${Date.now()}`,
    passphrase: `Mein geheimer Satz ${Date.now()} am Fluss`,
  };
  await page.goto(`${stack.clientUrl}/anfrage`, { waitUntil: "networkidle" });
  await page.check(`input[name=topic][value="${agency.topic}"]`);
  await page.fill("#postcode", agency.postcode);
  await page.check('input[name=age_group][value="18_26"]');
  await page.getByRole("button", { name: de.intake.next }).click();
  await page.locator("#pseudonym").waitFor();
  await page.fill("#pseudonym", seeker.pseudonym);
  await page.fill("#password", seeker.password);
  await page.fill("#password-repeat", seeker.password);
  await page.press("#password-repeat", "Enter");
  await page.waitForURL(`${stack.clientUrl}/schluessel`, { timeout: 120_000 });
  await heading(page, de.keys.createTitle);
  await page.fill("#passphrase", seeker.passphrase);
  await page.fill("#passphrase-repeat", seeker.passphrase);
  await page.getByRole("button", { name: de.keys.createSubmit }).click();
  await heading(page, de.keys.recoveryTitle);
  await page.getByRole("checkbox").check();
  await page.getByRole("button", { name: de.keys.continue }).click();
  await page.waitForURL(`${stack.clientUrl}/gespraech`);
  await page.locator("#composer").waitFor({ timeout: 120_000 });
  return seeker;
}

/**
 * Sends a message with the composer and waits until the server has it and the composer is free
 * again (it is cleared only when the send has completed, see the report).
 */
async function sendInBrowser(page: Page, text: string): Promise<void> {
  await page.fill("#composer", text);
  await page.getByRole("button", { name: de.chat.send }).click();
  const sent = new RegExp(`${literal(de.chat.state.sent)}|${literal(de.chat.state.read)}`);
  await page.getByTestId("message").filter({ hasText: text }).filter({ hasText: sent }).waitFor({ timeout: 60_000 });
  await page.waitForFunction(() => document.querySelector<HTMLTextAreaElement>("#composer")?.value === "", undefined, {
    timeout: 60_000,
  });
  await page.getByRole("button", { name: de.chat.send }).and(page.locator(":enabled")).waitFor({ timeout: 60_000 });
}

/** Logs in at /anmelden in a fresh tab; resolves once the passphrase form is shown. */
async function loginInBrowser(page: Page, stack: StackInfo, seeker: BrowserSeeker): Promise<void> {
  await page.goto(`${stack.clientUrl}/anmelden`, { waitUntil: "networkidle" });
  await page.fill("#login-name", seeker.pseudonym);
  await page.fill("#login-password", seeker.password);
  await page.getByRole("button", { name: de.login.submit }).click();
}

// --- matrix-js-sdk in Node: the client's steps without the browser ----------------------------

const quietLogger: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (...msg: unknown[]) => {
    const text = msg.map(String).join(" ");
    // A request still in flight when the bench logs the stopped client's device out.
    if (!text.startsWith("Unable to refresh token")) problems.push(`node client: ${text}`);
  },
  getChild: () => quietLogger,
};

interface Login {
  userId: string;
  accessToken: string;
  deviceId: string;
}

/** Password login at Synapse, as client/src/lib/session/login.ts does it. */
async function passwordLogin(stack: StackInfo, name: string, password: string): Promise<Login> {
  const res = await matrixRequest(stack, "POST", "/_matrix/client/v3/login", null, {
    type: "m.login.password",
    identifier: { type: "m.id.user", user: name },
    password,
    initial_device_display_name: "Connecta bench",
  });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    userId: String(res.body.user_id),
    accessToken: String(res.body.access_token),
    deviceId: String(res.body.device_id),
  };
}

async function logout(stack: StackInfo, login: Pick<Login, "accessToken">): Promise<void> {
  const res = await matrixRequest(stack, "POST", "/_matrix/client/v3/logout", login, {});
  if (res.status !== 200) throw new Error(`logout: ${res.status} ${JSON.stringify(res.body)}`);
}

const openClients = new Set<sdk.MatrixClient>();

/**
 * A client started as client/src/lib/matrix/client.ts starts it (Rust crypto, first sync with the
 * same options), but with an in-memory crypto store; `unlock` answers secret storage's key.
 */
async function nodeClient(stack: StackInfo, login: Login) {
  let secretStorageKey: Uint8Array<ArrayBuffer> | null = null;
  const client = sdk.createClient({
    baseUrl: stack.synapseUrl,
    userId: login.userId,
    accessToken: login.accessToken,
    deviceId: login.deviceId,
    timelineSupport: true,
    logger: quietLogger,
    cryptoCallbacks: {
      getSecretStorageKey: ({ keys }) => {
        const keyId = Object.keys(keys)[0];
        return Promise.resolve(secretStorageKey && keyId !== undefined ? [keyId, secretStorageKey] : null);
      },
    },
  });
  openClients.add(client);
  await client.initRustCrypto({ useIndexedDB: false });
  const synced = new Promise<void>((resolve, reject) => {
    client.on(sdk.ClientEvent.Sync, (state) => {
      if (state === sdk.SyncState.Prepared || state === sdk.SyncState.Syncing) resolve();
      if (state === sdk.SyncState.Error) reject(new Error(`sync failed for ${login.userId}`));
    });
  });
  await client.startClient({ initialSyncLimit: 30, lazyLoadMembers: true });
  await synced;
  if ((await client.secretStorage.getDefaultKeyId()) === null) throw new Error("the account has no secret storage");

  /** The steps of restoreKeys() in client/src/lib/matrix/client.ts; returns the keys imported. */
  const restore = async (
    passphrase: string,
    onProgress: (done: number, total: number) => void,
    onRestoreStep: () => void = () => {},
  ) => {
    const crypto = client.getCrypto();
    const found = await client.secretStorage.getKey();
    if (!crypto || !found?.[1].passphrase) throw new Error("no crypto or no passphrase-based secret storage");
    const info = found[1];
    const p = info.passphrase;
    const key = await deriveRecoveryKeyFromPassphrase(passphrase, p.salt, p.iterations, p.bits);
    if (!(await client.secretStorage.checkKey(key, info))) throw new Error("the passphrase does not fit");
    secretStorageKey = key;
    await crypto.bootstrapCrossSigning({});
    await crypto.loadSessionBackupPrivateKeyFromSecretStorage();
    await crypto.checkKeyBackupAndEnable();
    onRestoreStep();
    const result = await crypto.restoreKeyBackup({
      progressCallback: (progress) => {
        if (progress.stage === ImportRoomKeyStage.LoadKeys)
          onProgress(progress.successes + progress.failures, progress.total);
      },
    });
    return result.imported;
  };
  const stop = () => {
    client.stopClient();
    openClients.delete(client);
  };
  return { client, restore, stop };
}

/** Resolves when `predicate` holds, checking every 5 ms. */
async function until(what: string, predicate: () => boolean, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now();
}

/** Whether every text is in the room's live timeline, decrypted. */
function decryptedAll(client: sdk.MatrixClient, roomId: string, texts: string[]): boolean {
  const events = client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [];
  const bodies = new Set(events.filter((e) => !e.isDecryptionFailure()).map((e) => e.getContent().body as unknown));
  return texts.every((text) => bodies.has(text));
}

/** The server-side key backup of the user: its version and how many keys it holds per room. */
async function backupKeys(stack: StackInfo, login: Pick<Login, "accessToken">) {
  const version = await matrixRequest(stack, "GET", "/_matrix/client/v3/room_keys/version", login);
  if (version.status !== 200) return { count: 0, rooms: new Map<string, Set<string>>() };
  const keys = await matrixRequest(
    stack,
    "GET",
    `/_matrix/client/v3/room_keys/keys?version=${String(version.body.version)}`,
    login,
  );
  const rooms = new Map<string, Set<string>>();
  for (const [roomId, room] of Object.entries((keys.body.rooms ?? {}) as Record<string, { sessions: object }>)) {
    rooms.set(roomId, new Set(Object.keys(room.sessions)));
  }
  return { count: Number(version.body.count), rooms };
}

/** The Megolm session ids of a room's encrypted events, as `login` reads them with /messages. */
async function roomSessions(stack: StackInfo, login: Login, roomId: string): Promise<Set<string>> {
  const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=1000`;
  const res = await matrixRequest(stack, "GET", path, login);
  if (res.status !== 200) throw new Error(`/messages: ${res.status}`);
  const chunk = (res.body.chunk ?? []) as { type: string; content: { session_id?: string } }[];
  return new Set(chunk.filter((e) => e.type === "m.room.encrypted").map((e) => String(e.content.session_id)));
}

// --- The run -----------------------------------------------------------------------------------

const builtAt = requireClientBuild();
const commit = (() => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "?";
  }
})();

const dataDir = benchDataDir("client-crypto");
const extra = join(dataDir, "bench-synapse.yaml");
writeFileSync(
  extra,
  [
    "rc_message: {per_second: 1000, burst_count: 10000}",
    "rc_login:",
    "  address: {per_second: 100, burst_count: 1000}",
    "  account: {per_second: 100, burst_count: 1000}",
    "  failed_attempts: {per_second: 100, burst_count: 1000}",
    "",
  ].join("\n"),
);
let browser: Browser | undefined;
const { stack, cleanup } = benchStack(dataDir, { CONNECTA_SYNAPSE_EXTRA_CONFIG: extra }, async () => {
  for (const client of openClients) client.stopClient();
  openClients.clear();
  await browser?.close();
});

try {
  const info = await stack.ready;
  const loadBefore = loadavg()[0] ?? 0;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  const agency = await seedIntakeAgency(info, 1);
  const counsellor = agency.counsellors[0] as TestUser;

  // --- 1. Setup: a seeker with a conversation of 20 messages -----------------------------------
  log("setup 1: a seeker in the browser, 20 messages with a counsellor");
  const texts: string[] = [];
  const setup = await recordingContext(
    browser,
    { expected: [], unlockTitle: "", restoreStep: "", progress: "^$" },
    "setup seeker",
  );
  const setupPage = await setup.context.newPage();
  const seeker = await intakeInBrowser(setupPage, info, agency, "bench");
  const seekerTab = await tabSession(setupPage);
  const roomId = seekerTab.roomId;
  if (!roomId || seekerTab.enquiryId === undefined) throw new Error("the seeker's session has no enquiry");
  texts.push(`Nachricht 1 der Ratsuchenden ${Date.now()}`);
  await sendInBrowser(setupPage, texts[0] as string);
  const token = await openIdToken(info, counsellor);
  let claimed = { status: 0, body: {} as Record<string, unknown> };
  for (let i = 0; i < 300 && claimed.status !== 200; i++) {
    claimed = await callApi(info.appserviceUrl, "POST", `/api/v1/enquiries/${seekerTab.enquiryId}/claim`, token, {});
    if (claimed.status !== 200) await new Promise((r) => setTimeout(r, 200));
  }
  if (claimed.status !== 200) throw new Error(`claim: ${claimed.status} ${JSON.stringify(claimed.body)}`);
  const desk = await cryptoClient(info, counsellor);
  openClients.add(desk);
  await joinInvitedRoom(desk, roomId);
  for (let i = 2; i <= MESSAGES; i++) {
    if (i % 2 === 0) {
      const text = `Antwort ${i / 2} der Beraterin ${Date.now()}`;
      texts.push(text);
      await desk.sendTextMessage(roomId, text);
      await setupPage.locator('[data-testid="message"] .body', { hasText: text }).waitFor({ timeout: 60_000 });
    } else {
      const text = `Nachricht ${(i + 1) / 2} der Ratsuchenden ${Date.now()}`;
      texts.push(text);
      await sendInBrowser(setupPage, text);
    }
  }
  const order = await setupPage.locator('[data-testid="message"] .body').allInnerTexts();
  if (order.join("\n") !== texts.join("\n")) {
    problems.push(
      `setup seeker: the chat shows the messages in another order than sent: ${order.map((o) => o.split(" ").slice(0, 3).join(" ")).join(" | ")}`,
    );
  }
  // Every session of the room must be in the backup, which the browser device uploads by itself.
  const sessions = await roomSessions(info, seekerTab, roomId);
  const backupStart = Date.now();
  for (;;) {
    const backedUp = (await backupKeys(info, seekerTab)).rooms.get(roomId) ?? new Set<string>();
    if ([...sessions].every((s) => backedUp.has(s))) break;
    if (Date.now() - backupStart > 120_000)
      throw new Error(`only ${backedUp.size} of ${sessions.size} sessions backed up`);
    await new Promise((r) => setTimeout(r, 500));
  }
  log(`  ${texts.length} messages in ${sessions.size} Megolm sessions, all in the seeker's key backup`);
  desk.stopClient();
  openClients.delete(desk);
  await setup.context.close();

  // --- 1. Login → decrypted timeline, browser and baselines, interleaved ----------------------
  const recorderOptions: RecorderOptions = {
    expected: texts,
    unlockTitle: de.keys.unlockTitle,
    restoreStep: de.keys.steps.restore,
    progress: PROGRESS,
  };
  const browserPhases = {
    request: [] as number[],
    connect: [] as number[],
    login: [] as number[],
    unlock: [] as number[],
    timeline: [] as number[],
    lastMessage: [] as number[],
    total: [] as number[],
  };
  const nodePhases = {
    request: [] as number[],
    login: [] as number[],
    unlock: [] as number[],
    timeline: [] as number[],
    total: [] as number[],
  };
  const bare = { login: [] as number[], sync: [] as number[], total: [] as number[] };
  let undecryptableShown = 0;
  for (let run = 0; run <= LOGIN_RUNS; run++) {
    const warmup = run === 0;
    const label = warmup ? "warm-up" : `run ${run}/${LOGIN_RUNS}`;
    // Browser.
    const rec = await recordingContext(browser, recorderOptions, `login ${label}`);
    const page = await rec.context.newPage();
    await loginInBrowser(page, info, seeker);
    await rec.waitFor("keys-form", 120_000);
    await page.fill("#passphrase", seeker.passphrase);
    await page.getByRole("button", { name: de.keys.unlockSubmit }).click();
    await rec.waitFor("all-messages", 180_000);
    const shown = await page.getByTestId("message").count();
    if (shown !== MESSAGES) throw new Error(`${label}: ${shown} messages shown, expected ${MESSAGES}`);
    const t = (mark: string) => rec.first(mark) as number;
    const login = t("keys-form") - t("submit:/anmelden");
    const unlock = t("path:/gespraech") - t("submit:/schluessel");
    const timeline = t("all-messages") - t("path:/gespraech");
    if (rec.first("undecryptable-shown") !== undefined) undecryptableShown++;
    const tab = await tabSession(page);
    await rec.context.close();
    await logout(info, tab);
    if (!warmup) {
      browserPhases.request.push(t("path:/schluessel") - t("submit:/anmelden"));
      browserPhases.connect.push(t("keys-form") - t("path:/schluessel"));
      browserPhases.login.push(login);
      browserPhases.unlock.push(unlock);
      browserPhases.timeline.push(timeline);
      browserPhases.lastMessage.push(t("last-message") - t("path:/gespraech"));
      browserPhases.total.push(login + unlock + timeline);
    }
    // matrix-js-sdk in Node, the same steps.
    const n0 = performance.now();
    const nodeLogin = await passwordLogin(info, seeker.pseudonym, seeker.password);
    const nLogin = performance.now();
    const node = await nodeClient(info, nodeLogin);
    const n1 = performance.now();
    await node.restore(seeker.passphrase, () => {});
    const n2 = performance.now();
    const n3 = await until("the Node client's decrypted timeline", () => decryptedAll(node.client, roomId, texts));
    node.stop();
    await logout(info, nodeLogin);
    // Bare Synapse: /login and the initial /sync (the client's timeline limit, lazy members).
    const b0 = performance.now();
    const bareLogin = await passwordLogin(info, seeker.pseudonym, seeker.password);
    const b1 = performance.now();
    const filter = encodeURIComponent(
      JSON.stringify({ room: { timeline: { limit: 30 }, state: { lazy_load_members: true } } }),
    );
    const synced = await matrixRequest(info, "GET", `/_matrix/client/v3/sync?timeout=0&filter=${filter}`, bareLogin);
    if (synced.status !== 200) throw new Error(`bare /sync: ${synced.status}`);
    const b2 = performance.now();
    await logout(info, bareLogin);
    if (!warmup) {
      nodePhases.request.push(nLogin - n0);
      nodePhases.login.push(n1 - n0);
      nodePhases.unlock.push(n2 - n1);
      nodePhases.timeline.push(n3 - n2);
      nodePhases.total.push(n3 - n0);
      bare.login.push(b1 - b0);
      bare.sync.push(b2 - b1);
      bare.total.push(b2 - b0);
    }
    log(
      `${label}: browser ${ms(login)} + ${ms(unlock)} + ${ms(timeline)} ms; ` +
        `node ${ms(n1 - n0)} + ${ms(n2 - n1)} + ${ms(n3 - n2)} ms; bare ${ms(b1 - b0)} + ${ms(b2 - b1)} ms`,
    );
  }

  // --- 2. Setup: 1,000 keys in a second seeker's backup ----------------------------------------
  log(`setup 2: a second seeker in the browser, ${KEYS} Megolm sessions from Node`);
  const setup2 = await recordingContext(
    browser,
    { expected: [], unlockTitle: "", restoreStep: "", progress: "^$" },
    "setup seeker 2",
  );
  const seeker2 = await intakeInBrowser(await setup2.context.newPage(), info, agency, "bench-keys");
  await setup2.context.close();
  const senderLogin = await passwordLogin(info, seeker2.pseudonym, seeker2.password);
  const sender = await nodeClient(info, senderLogin);
  // Unlocks secret storage with the passphrase: the device is cross-signed, the backup enabled.
  const before = await sender.restore(seeker2.passphrase, () => {});
  if (before !== 0) throw new Error(`the new seeker's backup already held ${before} keys`);
  if (!(await sender.client.getCrypto()?.getActiveSessionBackupVersion()))
    throw new Error("backup not enabled in Node");
  const created = await sender.client.createRoom({
    name: "bench keys",
    initial_state: [
      {
        type: "m.room.encryption",
        state_key: "",
        content: { algorithm: "m.megolm.v1.aes-sha2", rotation_period_msgs: 1 },
      },
    ],
  });
  const keysRoom = created.room_id;
  await until(
    "the keys room synced",
    () => sender.client.getRoom(keysRoom)?.hasEncryptionStateEvent() === true,
    30_000,
  );
  const encryption = sender.client
    .getRoom(keysRoom)
    ?.currentState.getStateEvents("m.room.encryption", "")
    ?.getContent();
  if (encryption?.rotation_period_msgs !== 1) throw new Error(`keys room encryption: ${JSON.stringify(encryption)}`);
  const sendStart = performance.now();
  for (let i = 1; i <= KEYS; i++) {
    await sender.client.sendTextMessage(keysRoom, `Schlüssel ${i}`);
    if (i % 200 === 0) log(`  ${i} messages sent (${((performance.now() - sendStart) / 1000).toFixed(0)} s)`);
  }
  const keySessions = await roomSessions(info, senderLogin, keysRoom);
  if (keySessions.size !== KEYS) throw new Error(`${keySessions.size} Megolm sessions in the keys room, not ${KEYS}`);
  const backupWait = performance.now();
  let backup = await backupKeys(info, senderLogin);
  while (backup.count < KEYS) {
    if (performance.now() - backupWait > 300_000) throw new Error(`only ${backup.count} keys backed up`);
    await new Promise((r) => setTimeout(r, 1000));
    backup = await backupKeys(info, senderLogin);
  }
  log(
    `  ${KEYS} messages, ${keySessions.size} sessions; backup holds ${backup.count} keys ` +
      `(${((performance.now() - sendStart) / 1000).toFixed(0)} s in all)`,
  );
  sender.stop();
  await logout(info, senderLogin);

  // --- 2. Restore 1,000 keys, browser and Node, interleaved -----------------------------------
  const restorePhases = {
    prepare: [] as number[],
    download: [] as number[],
    import: [] as number[],
    finish: [] as number[],
    total: [] as number[],
  };
  const nodeRestore = {
    prepare: [] as number[],
    download: [] as number[],
    import: [] as number[],
    total: [] as number[],
  };
  const shownCounts: string[] = [];
  for (let run = 1; run <= RESTORE_RUNS; run++) {
    const label = `restore ${run}/${RESTORE_RUNS}`;
    const rec = await recordingContext(browser, { ...recorderOptions, expected: [] }, label);
    const page = await rec.context.newPage();
    await loginInBrowser(page, info, seeker2);
    await rec.waitFor("keys-form", 120_000);
    await page.fill("#passphrase", seeker2.passphrase);
    await page.getByRole("button", { name: de.keys.unlockSubmit }).click();
    await rec.waitFor("path:/gespraech", 600_000);
    const t = (mark: string) => rec.first(mark) as number;
    const counts = rec.marks.filter((m) => m.name.startsWith("progress:"));
    const firstCount = counts[0];
    const lastCount = counts.at(-1);
    if (!firstCount || !lastCount) throw new Error(`${label}: no restore count was shown`);
    shownCounts.push(lastCount.name.slice("progress:".length));
    if (lastCount.name !== `progress:${KEYS}/${KEYS}`)
      throw new Error(`${label}: the page's last count was ${lastCount.name}`);
    const submit = t("submit:/schluessel");
    restorePhases.prepare.push(t("restore-step") - submit);
    restorePhases.download.push(firstCount.t - t("restore-step"));
    restorePhases.import.push(lastCount.t - firstCount.t);
    restorePhases.finish.push(t("path:/gespraech") - lastCount.t);
    restorePhases.total.push(t("path:/gespraech") - submit);
    const tab = await tabSession(page);
    await rec.context.close();
    await logout(info, tab);

    const nodeLogin = await passwordLogin(info, seeker2.pseudonym, seeker2.password);
    const node = await nodeClient(info, nodeLogin);
    let step = 0;
    let firstProgress = 0;
    let lastProgress = { done: 0, total: 0 };
    const n0 = performance.now();
    const imported = await node.restore(
      seeker2.passphrase,
      (done, total) => {
        firstProgress ||= performance.now();
        lastProgress = { done, total };
      },
      () => (step = performance.now()),
    );
    const n1 = performance.now();
    node.stop();
    await logout(info, nodeLogin);
    if (imported !== KEYS || lastProgress.done !== KEYS) throw new Error(`${label}: Node imported ${imported} keys`);
    nodeRestore.prepare.push(step - n0);
    nodeRestore.download.push(firstProgress - step);
    nodeRestore.import.push(n1 - firstProgress);
    nodeRestore.total.push(n1 - n0);
    log(
      `${label}: browser ${ms(t("path:/gespraech") - submit)} ms (shown ${counts.map((c) => c.name.slice(9)).join(", ")}); ` +
        `node ${ms(n1 - n0)} ms, ${imported} keys imported`,
    );
  }

  // --- Results -------------------------------------------------------------------------------
  const version = browser.version();
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ` +
      `Chromium ${version}; matrix-js-sdk ${(JSON.parse(readFileSync(join(ROOT, "node_modules", "matrix-js-sdk", "package.json"), "utf8")) as { version: string }).version}; ` +
      `client at ${commit}, built ${builtAt.toISOString()}; load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after; ${new Date().toISOString()}`,
  );
  console.log("");
  console.log(`Login → decrypted timeline (${MESSAGES} messages), after one warm-up run:`);
  console.log("");
  console.log("| measurement | samples | median ms | p95 ms |");
  console.log("|---|---|---|---|");
  row("browser A: login submitted → passphrase form shown", browserPhases.login);
  row("(of A: → at /schluessel: login request, enquiry, SDK loaded)", browserPhases.request);
  row("(of A: → passphrase form: crypto init, first sync)", browserPhases.connect);
  row("browser B: passphrase submitted → at /gespraech (keys restored)", browserPhases.unlock);
  row("browser C: at /gespraech → all messages shown decrypted", browserPhases.timeline);
  row("(of C: → the newest message shown)", browserPhases.lastMessage);
  row("browser A + B + C", browserPhases.total);
  row("Node matrix-js-sdk A: login, crypto init, first sync", nodePhases.login);
  row("(of A: login request)", nodePhases.request);
  row("Node matrix-js-sdk B: restoreKeys() steps", nodePhases.unlock);
  row("Node matrix-js-sdk C: → all messages decrypted", nodePhases.timeline);
  row("Node matrix-js-sdk A + B + C", nodePhases.total);
  row("bare Synapse: POST /login", bare.login);
  row("bare Synapse: initial GET /sync (timeline limit 30, lazy members)", bare.sync);
  row("bare Synapse: /login + /sync", bare.total);
  console.log("");
  console.log(`Restore ${KEYS} keys from the backup (counts the page showed last: ${shownCounts.join(", ")}):`);
  console.log("");
  console.log("| measurement | samples | median ms | p95 ms |");
  console.log("|---|---|---|---|");
  row(
    "browser: passphrase submitted → restore step shown (derive key, identity, enable backup)",
    restorePhases.prepare,
  );
  row("browser: → first count shown (download the backup)", restorePhases.download);
  row("browser: → last count shown (decrypt and import, in chunks of 200)", restorePhases.import);
  row("browser: → at /gespraech (restoreKeys() returns, navigation)", restorePhases.finish);
  row("browser: passphrase submitted → at /gespraech", restorePhases.total);
  row("Node matrix-js-sdk: derive key, identity, enable backup", nodeRestore.prepare);
  row("Node matrix-js-sdk: → first count (download the backup)", nodeRestore.download);
  row("Node matrix-js-sdk: → keys imported", nodeRestore.import);
  row("Node matrix-js-sdk: restoreKeys() steps in all", nodeRestore.total);
  console.log("");
  console.log(
    `The "cannot be decrypted" placeholder was shown in ${undecryptableShown} of ${LOGIN_RUNS + 1} login runs.`,
  );
  if (problems.length > 0) {
    console.log(`Errors the pages or the Node clients logged (${problems.length}):`);
    const counted = new Map<string, number>();
    for (const problem of problems) counted.set(problem, (counted.get(problem) ?? 0) + 1);
    for (const [problem, n] of [...counted].slice(0, 40)) console.log(`  ${n} × ${problem}`);
  }
} catch (error) {
  // What the open tabs showed, to explain the failure.
  for (const context of browser?.contexts() ?? []) {
    for (const page of context.pages()) {
      const text = await page
        .locator("main")
        .innerText({ timeout: 2000 })
        .catch(() => "(no main)");
      console.error(`--- ${page.url()}\n${text}`);
    }
  }
  for (const problem of problems.slice(-20)) console.error(problem);
  throw error;
} finally {
  await cleanup();
}
// Everything this run started has stopped, but matrix-js-sdk leaves the timeout timer of every
// request it made running after the request ended (http-api/utils.js timeoutSignal: 110 s for a
// /sync, 60 s for others, some of 5 min): without this, Node would wait for them.
process.exit(0);
