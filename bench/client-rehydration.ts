/**
 * A counsellor comes back after seekers wrote while no browser of theirs was open: time from
 * login to a readable history in the web client, with the keys coming from the dehydrated
 * device (MSC3814), against the same history restored from the key backup. Fresh stack, Debian's
 * headless Chromium driven by playwright-core, everything on loopback.
 *
 * Each run: a new agency with one counsellor, who sets up their keys in the browser (first
 * login: password change, passphrase; this creates the dehydrated device), joins 50 enquiry
 * rooms and logs out. A seeker (matrix-js-sdk with Rust crypto in Node, cross-signed) writes 20
 * messages into each room: 50 conversations of 20 messages, one Megolm session each, whose keys
 * only the counsellor's dehydrated device receives. Then, each in a fresh browser context (a new
 * device, empty IndexedDB, cold HTTP cache):
 *
 * - dehydrated: the counsellor logs in and unlocks; the keys page takes over the dehydrated
 *   device (50 room keys in its to-device inbox), then restores the backup (nothing for these
 *   rooms yet). The device then backs the 50 keys up; the script waits for that and logs out.
 * - backup (baseline, same run, same data): the counsellor logs in and unlocks again; the new
 *   dehydrated device has nothing, the 50 keys come from the backup.
 *
 * Timed inside the page (performance.now(), from a script that watches the DOM; the login form,
 * keys page and desk are one document), so the script's typing is not counted: A login
 * submitted → passphrase form shown; B passphrase submitted → at the desk, split at the keys
 * page's steps (B1 key derivation, identity, backup; B2 taking over the dehydrated device and
 * uploading a new one; B3 restoring the backup; each until the next step or the desk); C → the
 * desk shows the first message of all 50 waiting enquiries decrypted. Every message of a
 * conversation is in the same Megolm session, so one readable message means a readable
 * conversation.
 *
 *   npm run -w client build && node bench/client-rehydration.ts [runs, default 3]
 *   (in the environment ops/connecta sets up; CONNECTA_CHROMIUM overrides /usr/bin/chromium)
 */
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import type { MatrixClient } from "matrix-js-sdk";
import { logger as sdkLogger } from "matrix-js-sdk/lib/logger.js";
import { chromium, type Browser, type Page } from "playwright-core";
import { ROOT } from "../ops/stack/config.ts";
import type { StackInfo } from "../ops/stack/stack.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../tests/support/browser.ts";
import { bootstrapCrossSigning, joinInvitedRoom } from "../tests/support/crypto-identity.ts";
import { cryptoClient, matrixRequest, registerUser, type TestUser } from "../tests/support/matrix.ts";
import { seedIntakeAgency } from "../tests/support/seeker.ts";
import { connectaDb } from "../tests/support/workflow.ts";
import { benchDataDir, benchStack, requireClientBuild } from "./support.ts";

const RUNS = Number(process.argv[2] ?? 3);
const CONVERSATIONS = 50;
const MESSAGES = 20;

const log = (line: string) => console.error(line);
// The SDK's global logger (the Node seeker's sends, MatrixRTCSession): errors only. Its child
// loggers, made later, copy its method factory.
{
  type Factory = (method: string, level: number, name: string) => (...msg: unknown[]) => void;
  const root = sdkLogger as unknown as { methodFactory: Factory; rebuild: () => void };
  const original = root.methodFactory;
  root.methodFactory = (method, level, name) => (method === "error" ? original(method, level, name) : () => {});
  root.rebuild();
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? NaN;
const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(0) : "–");
const sleep = (time: number) => new Promise((resolve) => setTimeout(resolve, time));

/** Runs `fn` over `items`, `limit` at a time. */
async function each<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += limit) await Promise.all(items.slice(i, i + limit).map(fn));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(250);
  }
}

/** The page's Matrix login (sessionStorage). */
const tabSession = (page: Page): Promise<{ userId: string; deviceId: string; accessToken: string }> =>
  page.evaluate(
    () =>
      JSON.parse(sessionStorage.getItem("connecta.session") ?? "{}") as {
        userId: string;
        deviceId: string;
        accessToken: string;
      },
  );

async function typeAndEnter(page: Page, fields: Record<string, string>): Promise<void> {
  for (const [selector, text] of Object.entries(fields)) await page.fill(selector, text);
  await page.press(Object.keys(fields).at(-1) as string, "Enter");
}

/** The counsellor's first login: new password, passphrase, recovery key; returns both secrets. */
async function firstLogin(info: StackInfo, page: Page, user: TestUser): Promise<string> {
  await page.goto(`${info.clientUrl}/beratung/anmelden`, { waitUntil: "networkidle" });
  await typeAndEnter(page, { "#login-name": user.localpart, "#login-password": user.password });
  const password = `Bench ${randomUUID()}`;
  await page.locator("#new-password").waitFor({ timeout: 60_000 });
  await typeAndEnter(page, { "#new-password": password, "#new-password-repeat": password });
  const passphrase = `Bench Schlüssel ${randomUUID()}`;
  await page.locator("#passphrase-repeat").waitFor({ timeout: 60_000 });
  await typeAndEnter(page, { "#passphrase": passphrase, "#passphrase-repeat": passphrase });
  await page.locator("input[type=checkbox]").check({ timeout: 120_000 });
  await page.locator("button.button-primary:not([disabled])").click();
  await page.waitForURL(`${info.clientUrl}/beratung`);
  user.password = password;
  return passphrase;
}

/** The Megolm sessions in the user's current key backup, over all rooms. */
async function backedUp(info: StackInfo, user: { accessToken: string }): Promise<number> {
  const version = await matrixRequest(info, "GET", "/_matrix/client/v3/room_keys/version", user);
  if (version.status !== 200) return 0;
  const keys = await matrixRequest(
    info,
    "GET",
    `/_matrix/client/v3/room_keys/keys?version=${String(version.body.version)}`,
    user,
  );
  const rooms = (keys.body.rooms ?? {}) as Record<string, { sessions: object }>;
  return Object.values(rooms).reduce((n, room) => n + Object.keys(room.sessions).length, 0);
}

/** The German texts of the keys page's steps, from the client's own messages. */
const steps = (
  JSON.parse(readFileSync(join(ROOT, "client", "src", "lib", "i18n", "de.json"), "utf8")) as {
    keys: { steps: { rehydrate: string; restore: string } };
  }
).keys.steps;

/**
 * Runs in the page before its scripts: notes (performance.now(), one document from the login
 * form to the desk, all client-side navigation) each form submit and when the passphrase form,
 * the keys page's rehydration and restore steps, the desk and every enquiry's first message
 * decrypted are first shown.
 */
function recorder(o: { rehydrate: string; restore: string; conversations: number }): void {
  const marks: Record<string, number> = {};
  (window as unknown as { __marks: Record<string, number> }).__marks = marks;
  const once = (name: string) => (marks[name] ??= performance.now());
  document.addEventListener("submit", () => (marks[`submit:${location.pathname}`] = performance.now()), true);
  const check = () => {
    if (location.pathname === "/schluessel" && document.querySelector("#passphrase")) once("keys-form");
    const box = document.querySelector(".progress-box")?.textContent ?? "";
    if (box.includes(o.rehydrate)) once("rehydrate");
    if (box.includes(o.restore)) once("restore");
    if (location.pathname === "/beratung") once("desk");
    if (document.querySelectorAll('[data-testid="queue-item"] blockquote.first').length === o.conversations) {
      once("readable");
    }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true });
}

/**
 * A login on a new browser device, timed in the page (see recorder). Logs the device out
 * afterwards, once the backup holds `expectBackedUp` keys.
 */
async function timedLogin(
  info: StackInfo,
  browser: Browser,
  user: TestUser,
  passphrase: string,
  expectBackedUp: number,
) {
  const context = await browser.newContext({ locale: "de-DE" });
  try {
    await context.addInitScript(recorder, { ...steps, conversations: CONVERSATIONS });
    const page = await context.newPage();
    await page.goto(`${info.clientUrl}/beratung/anmelden`, { waitUntil: "networkidle" });
    await typeAndEnter(page, { "#login-name": user.localpart, "#login-password": user.password });
    await page.locator("#passphrase").waitFor({ timeout: 120_000 });
    await typeAndEnter(page, { "#passphrase": passphrase });
    await page
      .waitForFunction(() => (window as unknown as { __marks: Record<string, number> }).__marks.readable, null, {
        timeout: 180_000,
      })
      .catch(async (error: unknown) => {
        const count = (selector: string) => page.locator(`[data-testid="queue-item"] ${selector}`).count();
        const shown = {
          readable: await count("blockquote.first"),
          decrypting: await count('[data-testid="decrypting"]'),
        };
        const unreadable = await page.locator('[data-testid="undecryptable"]').allInnerTexts();
        const main = await page
          .locator("main")
          .innerText()
          .catch(() => "");
        throw new Error(
          `not all readable at ${page.url()}: ${JSON.stringify(shown)}, unreadable: ${unreadable.join(" | ")}\n${main.slice(0, 800)}`,
          {
            cause: error,
          },
        );
      });
    const m = await page.evaluate(() => (window as unknown as { __marks: Record<string, number> }).__marks);
    const undecryptable = await page.locator('[data-testid="undecryptable"]').count();
    if (undecryptable > 0) throw new Error(`${undecryptable} enquiries shown as unreadable`);
    const tab = await tabSession(page);
    await until("the keys in the backup", async () => (await backedUp(info, tab)) >= expectBackedUp);
    await matrixRequest(info, "POST", "/_matrix/client/v3/logout", tab, {});
    const at = (name: string) => m[name] ?? NaN;
    // The keys page's steps, in whatever order it takes them: each lasts until the next one.
    const phase = (name: string) =>
      Math.min(...["rehydrate", "restore", "desk"].map(at).filter((t) => t > at(name))) - at(name);
    return {
      login: at("keys-form") - at("submit:/beratung/anmelden"),
      prepare: Math.min(at("rehydrate"), at("restore")) - at("submit:/schluessel"),
      rehydrate: phase("rehydrate"),
      restore: phase("restore"),
      readable: at("readable") - at("desk"),
      total: at("keys-form") - at("submit:/beratung/anmelden") + at("readable") - at("submit:/schluessel"),
    };
  } finally {
    await context.close();
  }
}

// --- The run -----------------------------------------------------------------------------------

const builtAt = requireClientBuild();
const dataDir = benchDataDir("client-rehydration");
const extra = join(dataDir, "bench-synapse.yaml");
writeFileSync(
  extra,
  [
    "rc_message: {per_second: 1000, burst_count: 10000}",
    "rc_joins: {local: {per_second: 1000, burst_count: 1000}}",
    "rc_login:",
    "  address: {per_second: 100, burst_count: 1000}",
    "  account: {per_second: 100, burst_count: 1000}",
    "  failed_attempts: {per_second: 100, burst_count: 1000}",
    "",
  ].join("\n"),
);
let browser: Browser | undefined;
const clients = new Set<MatrixClient>();
const { stack, cleanup } = benchStack(dataDir, { CONNECTA_SYNAPSE_EXTRA_CONFIG: extra }, async () => {
  for (const client of clients) client.stopClient();
  await browser?.close();
});

const results = { dehydrated: [] as Record<string, number>[], backup: [] as Record<string, number>[] };
try {
  const info = await stack.ready;
  const loadBefore = loadavg()[0] ?? 0;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS] });
  const db = await connectaDb(info);
  // The stack stops in `cleanup`, maybe before this connection ends.
  db.on("error", () => undefined);
  for (let run = 1; run <= RUNS; run++) {
    // The counsellor sets up their keys (and with them the dehydrated device), then goes home.
    const agency = await seedIntakeAgency(info, 1);
    const counsellor = agency.counsellors[0] as TestUser;
    const setup = await browser.newContext({ locale: "de-DE" });
    const setupPage = await setup.newPage();
    const passphrase = await firstLogin(info, setupPage, counsellor);
    const firstDevice = await tabSession(setupPage);

    // 50 enquiry rooms of the agency, made by the application service as after an intake.
    const seeker = await registerUser(info, "bench-seeker");
    const rooms: string[] = [];
    for (let i = 0; i < CONVERSATIONS; i++) {
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO enquiries (intake_id, agency_id, topic_id, language, age_group, seeker_id)
         VALUES ($1, $2, $3, 'de', 'unknown', $4) RETURNING id`,
        [randomUUID(), agency.agencyId, agency.topic, seeker.userId],
      );
      await db.query("INSERT INTO matrix_steps (enquiry_id, kind) VALUES ($1, 'create_room')", [rows[0]?.id]);
    }
    await until("the enquiry rooms", async () => {
      const { rows } = await db.query<{ room_id: string | null }>(
        "SELECT room_id FROM enquiries WHERE agency_id = $1 AND room_id IS NOT NULL",
        [agency.agencyId],
      );
      rooms.splice(0, rooms.length, ...rows.map((r) => r.room_id as string));
      return rooms.length === CONVERSATIONS;
    });
    await each(rooms, 5, async (roomId) => {
      const res = await matrixRequest(
        info,
        "POST",
        `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`,
        firstDevice,
        {},
      );
      if (res.status !== 200) throw new Error(`counsellor join: ${res.status} ${JSON.stringify(res.body)}`);
    });
    await matrixRequest(info, "POST", "/_matrix/client/v3/logout", firstDevice, {});
    await setup.close();

    // The seeker writes while no browser of the counsellor is open.
    log(`run ${run}: ${CONVERSATIONS} × ${MESSAGES} messages`);
    const writer = await cryptoClient(info, seeker);
    clients.add(writer);
    await bootstrapCrossSigning(writer, seeker);
    let written = 0;
    await each(rooms, 5, async (roomId) => {
      await joinInvitedRoom(writer, roomId);
      for (let m = 1; m <= MESSAGES; m++) await writer.sendTextMessage(roomId, `Nachricht ${m} in ${roomId}`);
      if (++written % 10 === 0) log(`run ${run}: ${written} conversations written`);
    });
    writer.stopClient();
    clients.delete(writer);
    await until("every enquiry waiting", async () => {
      const { rows } = await db.query<{ n: string }>(
        "SELECT count(*) AS n FROM enquiries WHERE agency_id = $1 AND state = 'waiting'",
        [agency.agencyId],
      );
      return Number(rows[0]?.n) === CONVERSATIONS;
    });

    // Back at work: keys through the dehydrated device, then (baseline) from the backup.
    log(`run ${run}: the counsellor logs in (keys from the dehydrated device)`);
    const dehydrated = await timedLogin(info, browser, counsellor, passphrase, CONVERSATIONS);
    log(`run ${run}: the counsellor logs in again (keys from the backup)`);
    const backup = await timedLogin(info, browser, counsellor, passphrase, CONVERSATIONS);
    results.dehydrated.push(dehydrated);
    results.backup.push(backup);
    log(`run ${run}: dehydrated ${JSON.stringify(dehydrated)}; backup ${JSON.stringify(backup)}`);
  }
  await db.end();

  const sdkVersion = (
    JSON.parse(readFileSync(join(ROOT, "node_modules", "matrix-js-sdk", "package.json"), "utf8")) as { version: string }
  ).version;
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ` +
      `Chromium ${browser.version()}; matrix-js-sdk ${sdkVersion}; client built ${builtAt.toISOString()}; ` +
      `load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after; ${new Date().toISOString()}`,
  );
  console.log("");
  console.log(
    `| keys from (${CONVERSATIONS} conversations × ${MESSAGES} messages) | runs | A login → passphrase form | ` +
      "B1 passphrase → first key step (derive key, identity, backup) | B2 take over the dehydrated device, upload a new one | " +
      "B3 restore the backup | C desk → all readable | A + B + C |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const [name, rows] of [
    ["dehydrated device", results.dehydrated],
    ["key backup (baseline)", results.backup],
  ] as const) {
    const col = (key: string) => ms(median(rows.map((r) => r[key] ?? NaN)));
    const cols = ["login", "prepare", "rehydrate", "restore", "readable", "total"].map(col);
    console.log(`| ${name} | ${rows.length} | ${cols.join(" | ")} |`);
  }
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await cleanup();
}
// matrix-js-sdk leaves request timeout timers running after its requests ended.
process.exit();
