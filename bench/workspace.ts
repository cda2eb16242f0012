/**
 * The counsellor's workspace with 100 conversations, against the one-column desk it replaced,
 * measured in the same run on the same stack and data. Fresh stack, Debian's headless Chromium
 * driven by playwright-core, everything on loopback.
 *
 * The old desk is the web client built from an older commit (CONNECTA_BENCH_BASELINE_CLIENT, the
 * `client/` folder of that checkout, built): it is served by a second client server on its own
 * port, talking to the same homeserver and application service. Being another origin, it is
 * another browser device of the same counsellor, which takes its keys from the key backup.
 *
 * Setup: an agency with one counsellor, who sets up their keys in a setup tab (first login), and
 * 100 enquiries, each with a seeker's two encrypted messages (one seeker, matrix-js-sdk with Rust
 * crypto in Node, cross-signed), all claimed by the counsellor; once the keys are in the backup,
 * the setup tab closes and the counsellor logs in on the workspace and on the old desk, two
 * devices of the same kind (keys from the backup). Then, alternating between the two:
 *
 * - list: a full load of /beratung in the logged-in tab (worker started, crypto store opened,
 *   first sync) until all 100 conversations are listed, and (workspace only, the old desk shows
 *   none) until all 100 previews are decrypted;
 * - switch: from one open conversation to another until its last message is shown. Workspace:
 *   a click on the conversation in the list beside it. Old desk: "Zurück zur Übersicht", then,
 *   once the desk lists it, a click on the conversation (the way the old desk was used).
 *
 * Timed by this script (Date.now() around Playwright's actions and waits: the same overhead
 * both ways).
 *
 *   npm run -w client build && CONNECTA_BENCH_BASELINE_CLIENT=<old checkout>/client node bench/workspace.ts [loads, default 3] [switches, default 10]
 *
 * An old checkout whose client is built, e.g.:
 *   git worktree add /tmp/connecta-baseline <commit> && ln -s "$PWD/node_modules" /tmp/connecta-baseline/ \
 *     && ln -s "$PWD/client/node_modules" /tmp/connecta-baseline/client/ \
 *     && (cd /tmp/connecta-baseline && npm run -w client build)
 */
import { randomUUID } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import type { MatrixClient } from "matrix-js-sdk";
import { logger as sdkLogger } from "matrix-js-sdk/lib/logger.js";
import { chromium, type Browser, type Page } from "playwright-core";
import { freePort, startService, stopService, type Service } from "../ops/stack/processes.ts";
import type { StackInfo } from "../ops/stack/stack.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../tests/support/browser.ts";
import { bootstrapCrossSigning, joinInvitedRoom } from "../tests/support/crypto-identity.ts";
import { cryptoClient, matrixRequest, registerUser, type TestUser } from "../tests/support/matrix.ts";
import { seedIntakeAgency } from "../tests/support/seeker.ts";
import { callApi, connectaDb, openIdToken } from "../tests/support/workflow.ts";
import { benchDataDir, benchStack, requireClientBuild } from "./support.ts";

const LOADS = Number(process.argv[2] ?? 3);
const SWITCHES = Number(process.argv[3] ?? 10);
const CONVERSATIONS = 100;
const BASELINE = process.env.CONNECTA_BENCH_BASELINE_CLIENT;
if (!BASELINE || !existsSync(join(BASELINE, "build", "handler.js"))) {
  throw new Error("CONNECTA_BENCH_BASELINE_CLIENT must name the built client/ folder of the old desk (see the header)");
}

const log = (line: string) => console.error(line);
// The SDK's global logger (the Node seeker's sends): errors only.
{
  type Factory = (method: string, level: number, name: string) => (...msg: unknown[]) => void;
  const root = sdkLogger as unknown as { methodFactory: Factory; rebuild: () => void };
  const original = root.methodFactory;
  root.methodFactory = (method, level, name) => (method === "error" ? original(method, level, name) : () => {});
  root.rebuild();
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? NaN;
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

async function typeAndEnter(page: Page, fields: Record<string, string>): Promise<void> {
  for (const [selector, text] of Object.entries(fields)) await page.fill(selector, text);
  await page.press(Object.keys(fields).at(-1) as string, "Enter");
}

/** The counsellor's first login at `origin`: new password, passphrase, recovery key; returns the passphrase. */
async function firstLogin(origin: string, page: Page, user: TestUser): Promise<string> {
  await page.goto(`${origin}/beratung/anmelden`, { waitUntil: "networkidle" });
  await typeAndEnter(page, { "#login-name": user.localpart, "#login-password": user.password });
  const password = `Bench ${randomUUID()}`;
  await page.locator("#new-password").waitFor({ timeout: 60_000 });
  await typeAndEnter(page, { "#new-password": password, "#new-password-repeat": password });
  const passphrase = `Bench Schlüssel ${randomUUID()}`;
  await page.locator("#passphrase-repeat").waitFor({ timeout: 60_000 });
  await typeAndEnter(page, { "#passphrase": passphrase, "#passphrase-repeat": passphrase });
  await page.locator("input[type=checkbox]").check({ timeout: 120_000 });
  await page.locator("button.button-primary:not([disabled])").click();
  await page.waitForURL(`${origin}/beratung`);
  user.password = password;
  return passphrase;
}

/** A later login at `origin` on a new device: password, then the passphrase unlocks the keys (from the backup). */
async function login(origin: string, page: Page, user: TestUser, passphrase: string): Promise<void> {
  await page.goto(`${origin}/beratung/anmelden`, { waitUntil: "networkidle" });
  await typeAndEnter(page, { "#login-name": user.localpart, "#login-password": user.password });
  await page.locator("#passphrase").waitFor({ timeout: 120_000 });
  await typeAndEnter(page, { "#passphrase": passphrase });
  await page.waitForURL(`${origin}/beratung`, { timeout: 180_000 });
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

interface Room {
  enquiryId: number;
  roomId: string;
  /** The last message, which shows that the conversation is there. */
  last: string;
}

const lastShown = (page: Page, room: Room) =>
  page.locator('[data-testid="message"]', { hasText: room.last }).first().waitFor({ timeout: 120_000 });
const link = (page: Page, room: Room) => page.locator(`a[href="/beratung/gespraech/${room.enquiryId}"]`).first();

/** A full load of the desk until every conversation is listed (and, in the workspace, every preview decrypted). */
async function loadList(page: Page, origin: string, workspace: boolean): Promise<{ listed: number; previews: number }> {
  const start = Date.now();
  await page.goto(`${origin}/beratung`, { waitUntil: "commit" });
  const items = workspace ? '[data-testid="conversation-item"]' : 'section[aria-labelledby="mine-title"] li';
  await page.waitForFunction((s) => document.querySelectorAll(s).length >= 100, items, {
    timeout: 180_000,
    polling: 20,
  });
  const listed = Date.now() - start;
  if (!workspace) return { listed, previews: NaN };
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll('[data-testid="conversation-item"] [data-testid="preview"]')].filter((p) =>
        p.textContent?.startsWith("Nachricht 2 in"),
      ).length >= 100,
    null,
    { timeout: 180_000, polling: 20 },
  );
  return { listed, previews: Date.now() - start };
}

/** One switch from the open conversation to `to`. */
async function switchTo(page: Page, to: Room, workspace: boolean): Promise<number> {
  const start = Date.now();
  if (!workspace) await page.locator('a[href="/beratung"]').first().click();
  await link(page, to).click();
  await lastShown(page, to);
  return Date.now() - start;
}

/** Starts the old desk's client server on `port`, as ops/stack/stack.ts starts the client. */
async function startBaseline(info: StackInfo, port: number, dataDir: string): Promise<Service> {
  const origin = `http://${info.bindAddress}:${port}`;
  const service = startService(
    "baseline client",
    process.execPath,
    [join(BASELINE as string, "server.js")],
    join(dataDir, "baseline-client.log"),
    {
      cwd: BASELINE,
      env: {
        PATH: process.env.PATH,
        HOST: info.bindAddress,
        PORT: String(port),
        CONNECTA_HOMESERVER_URL: info.synapseUrl,
        CONNECTA_APPSERVICE_URL: info.appserviceUrl,
      },
    },
  );
  await until(
    "the old desk's server",
    async () => (await fetch(`${origin}/healthz`).catch(() => null))?.ok === true,
    60_000,
  );
  return service;
}

// --- The run -----------------------------------------------------------------------------------

const builtAt = requireClientBuild();
const baselineCommit = execFileSync("git", ["-C", BASELINE, "rev-parse", "--short", "HEAD"], {
  encoding: "utf8",
}).trim();
const dataDir = benchDataDir("workspace");
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
let baseline: Service | undefined;
const clients = new Set<MatrixClient>();
const { stack, cleanup } = benchStack(dataDir, { CONNECTA_SYNAPSE_EXTRA_CONFIG: extra }, async () => {
  for (const client of clients) client.stopClient();
  await browser?.close();
  if (baseline) await stopService(baseline);
});

try {
  const info = await stack.ready;
  const loadBefore = loadavg()[0] ?? 0;
  const oldPort = await freePort(info.bindAddress);
  baseline = await startBaseline(info, oldPort, dataDir);
  const oldOrigin = `http://${info.bindAddress}:${oldPort}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS] });
  const db = await connectaDb(info);
  db.on("error", () => undefined);

  log("setup: the counsellor's first login (a setup device)");
  const agency = await seedIntakeAgency(info, 1);
  const counsellor = agency.counsellors[0] as TestUser;
  const viewport = { width: 1280, height: 900 };
  const setup = await browser.newContext({ locale: "de-DE", viewport });
  const setupPage = await setup.newPage();
  const passphrase = await firstLogin(info.clientUrl, setupPage, counsellor);
  const token = await openIdToken(info, await tabSession(setupPage));

  log(`setup: ${CONVERSATIONS} enquiries, two encrypted messages each, all claimed`);
  const seeker = await registerUser(info, "bench-seeker");
  for (let i = 0; i < CONVERSATIONS; i++) {
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO enquiries (intake_id, agency_id, topic_id, language, age_group, seeker_id)
       VALUES ($1, $2, $3, 'de', 'unknown', $4) RETURNING id`,
      [randomUUID(), agency.agencyId, agency.topic, seeker.userId],
    );
    await db.query("INSERT INTO matrix_steps (enquiry_id, kind) VALUES ($1, 'create_room')", [rows[0]?.id]);
  }
  const rooms: Room[] = [];
  await until("the enquiry rooms", async () => {
    const { rows } = await db.query<{ id: string; room_id: string }>(
      "SELECT id, room_id FROM enquiries WHERE agency_id = $1 AND room_id IS NOT NULL ORDER BY id",
      [agency.agencyId],
    );
    rooms.splice(
      0,
      rooms.length,
      ...rows.map((r, i) => ({ enquiryId: Number(r.id), roomId: r.room_id, last: `Nachricht 2 in Gespräch ${i}` })),
    );
    return rooms.length === CONVERSATIONS;
  });
  const writer = await cryptoClient(info, seeker);
  clients.add(writer);
  await bootstrapCrossSigning(writer, seeker);
  await each(rooms, 5, async (room) => {
    await joinInvitedRoom(writer, room.roomId);
    await writer.sendTextMessage(room.roomId, `Nachricht 1 in Gespräch ${rooms.indexOf(room)}: Ich brauche Rat.`);
    await writer.sendTextMessage(room.roomId, room.last);
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
  await each(rooms, 5, async (room) => {
    const claimed = await callApi(info.appserviceUrl, "POST", `/api/v1/enquiries/${room.enquiryId}/claim`, token, {});
    if (claimed.status !== 200) throw new Error(`claim: ${claimed.status} ${JSON.stringify(claimed.body)}`);
  });
  await db.end();
  log("setup: the setup device joins and backs up the keys; then a login on the workspace and on the old desk");
  await loadList(setupPage, info.clientUrl, true);
  await until(
    "the keys in the backup",
    async () => (await backedUp(info, await tabSession(setupPage))) >= CONVERSATIONS,
  );
  await setup.close();
  // Both measured tabs are later devices of the counsellor, their keys from the backup.
  const newPage = await (await browser.newContext({ locale: "de-DE", viewport })).newPage();
  await login(info.clientUrl, newPage, counsellor, passphrase);
  const oldPage = await (await browser.newContext({ locale: "de-DE", viewport })).newPage();
  await login(oldOrigin, oldPage, counsellor, passphrase);

  const results = {
    new: { listed: [] as number[], previews: [] as number[], switches: [] as number[] },
    old: { listed: [] as number[], switches: [] as number[] },
  };
  for (let run = 1; run <= LOADS; run++) {
    const n = await loadList(newPage, info.clientUrl, true);
    const o = await loadList(oldPage, oldOrigin, false);
    results.new.listed.push(n.listed);
    results.new.previews.push(n.previews);
    results.old.listed.push(o.listed);
    log(`list ${run}: workspace ${n.listed} ms (previews ${n.previews} ms), old desk ${o.listed} ms`);
  }
  // Both open the first conversation, then switch through the next ones.
  for (const page of [newPage, oldPage]) {
    await link(page, rooms[0] as Room).click();
    await lastShown(page, rooms[0] as Room);
  }
  for (let i = 1; i <= SWITCHES; i++) {
    const to = rooms[(i * 7) % CONVERSATIONS] as Room;
    const n = await switchTo(newPage, to, true);
    const o = await switchTo(oldPage, to, false);
    results.new.switches.push(n);
    results.old.switches.push(o);
    log(`switch ${i}: workspace ${n} ms, old desk ${o} ms`);
  }

  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ` +
      `Chromium ${browser.version()}; client built ${builtAt.toISOString()}; old desk ${baselineCommit}; ` +
      `load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after; ${new Date().toISOString()}`,
  );
  console.log("");
  console.log(
    `| ${CONVERSATIONS} conversations | list loads | desk load → all listed | → all previews decrypted | switches | per switch |`,
  );
  console.log("|---|---|---|---|---|---|");
  console.log(
    `| workspace | ${LOADS} | ${median(results.new.listed)} | ${median(results.new.previews)} | ${SWITCHES} | ${median(results.new.switches)} |`,
  );
  console.log(
    `| old desk (baseline) | ${LOADS} | ${median(results.old.listed)} | – | ${SWITCHES} | ${median(results.old.switches)} |`,
  );
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await cleanup();
}
// matrix-js-sdk leaves request timeout timers running after its requests ended.
process.exit();
