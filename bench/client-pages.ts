/**
 * Web client page benchmarks on a fresh stack, everything on loopback:
 * - JavaScript shipped to a page: every script response (modules, modulepreloads, workers,
 *   inline scripts) and any WebAssembly that headless Chromium loads for it, raw and gzipped
 *   (level 9, by this script, whatever the server sent), and whether any of it is
 *   matrix-js-sdk or its Rust crypto (markers in the bodies, application/wasm);
 * - Lighthouse (performance, accessibility, best practices), German, mobile (Lighthouse's
 *   default, the main number) and desktop, the median of N runs each, one fresh Chromium per run;
 * - the baseline in the same run: a blank German HTML page from a node:http server on loopback,
 *   scored the same way.
 *
 * Pages that need a login (the chat) get a `prepare` step: it runs in the very tab that
 * Lighthouse then uses, and Lighthouse navigates with `disableStorageReset`, so whatever
 * `prepare` left in the tab's sessionStorage is there when the page loads. The HTTP cache is
 * cleared after `prepare`, so such a page loads as cold as the others. The intake page is run
 * once more that way with a dummy session value, checked after the run; the chat page
 * (/gespraech) of a seeker with 20 messages is prepared by logging in and unlocking with the
 * passphrase in that tab: see PAGES below.
 *
 *   npm run -w client build && node bench/client-pages.ts [runs, default 3]
 *   (in the environment ops/connecta sets up; CONNECTA_LIGHTHOUSE_REPORTS=<folder> keeps every
 *   run's HTML report there; CONNECTA_CHROMIUM overrides /usr/bin/chromium)
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { constants, gzipSync } from "node:zlib";
import { desktopConfig, generateReport, navigation } from "lighthouse";
import type { Config, Flags, Result } from "lighthouse";
import * as sdk from "matrix-js-sdk";
import { logger as sdkLogger, type Logger } from "matrix-js-sdk/lib/logger.js";
import { chromium, type Browser as PlaywrightBrowser, type Response } from "playwright-core";
// puppeteer-core is Lighthouse's own dependency (installed with it): Lighthouse drives the
// tab through it, and so does `prepare`.
import puppeteer, { type Browser as PuppeteerBrowser, type Page } from "puppeteer-core";
import { loadStackConfig } from "../ops/stack/config.ts";
import type { StackInfo } from "../ops/stack/stack.ts";
import { bootstrapCrossSigning, joinInvitedRoom } from "../tests/support/crypto-identity.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../tests/support/browser.ts";
import { matrixRequest } from "../tests/support/matrix.ts";
import { intakeSeeker, seedIntakeAgency, type Seeker } from "../tests/support/seeker.ts";
import { benchDataDir, benchStack, requireClientBuild } from "./support.ts";

const RUNS = Number(process.argv[2] ?? 3);
/**
 * CONNECTA_BENCH_PAGES=<text>: only the pages whose name contains it (the baseline always runs),
 * for working on one page; the results are then incomplete and not for docs/benchmarks.md.
 */
const { benchPages: ONLY, lighthouseReports: REPORTS } = loadStackConfig();
/** Ours (tests/support/browser.ts), plus German. */
const GERMAN_CHROMIUM_ARGS = [...CHROMIUM_ARGS, "--lang=de-DE", "--accept-lang=de-DE,de"];
const CATEGORIES = ["performance", "accessibility", "best-practices"] as const;
type Category = (typeof CATEGORIES)[number];
const TARGETS: Record<Category, number> = { performance: 95, accessibility: 100, "best-practices": 95 };
/** Target for the start page: gzipped JavaScript, in kB (1,000 bytes, as Vite counts). */
const START_PAGE_JS_TARGET_KB = 60;
/** The key under which the client keeps a tab's login (client/src/lib/session/session.ts). */
const SESSION_KEY = "connecta.session";

interface Context {
  stack: StackInfo;
  baselineUrl: string;
  /** The seeker whose chat page is measured, set up on first use. */
  chatSeeker?: Promise<ChatSeeker>;
}

/** A page to measure. */
interface PageEntry {
  name: string;
  url: (ctx: Context) => string;
  /** Whether the project's targets apply (not to the baseline nor to mechanism checks). */
  targets: boolean;
  /** Whether to measure the JavaScript shipped to it. */
  scripts: boolean;
  /**
   * Runs in the tab Lighthouse will use, before Lighthouse navigates there (without resetting
   * storage): e.g. log in and put the session into sessionStorage.
   */
  prepare?: (page: Page, ctx: Context) => Promise<void>;
  /** Runs in the same tab after Lighthouse's run; throws if the page was not as prepared. */
  check?: (page: Page, ctx: Context) => Promise<void>;
}

/** Opens a document of the web client's origin in `page` and sets sessionStorage items there. */
async function setSessionStorage(page: Page, ctx: Context, items: Record<string, string>): Promise<void> {
  // /healthz: a same-origin document that runs none of the client's code.
  await page.goto(`${ctx.stack.clientUrl}/healthz`);
  await page.evaluate((entries: [string, string][]) => {
    for (const [key, value] of entries) sessionStorage.setItem(key, value);
  }, Object.entries(items));
}

const DUMMY_SESSION = JSON.stringify({ bench: "client-pages: a dummy value, not a session" });

/** Messages in the measured chat. */
const CHAT_MESSAGES = 20;

interface ChatSeeker extends Seeker {
  passphrase: string;
  /** The messages in the seeker's room, oldest first. */
  texts: string[];
}

const quietLogger: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (...msg: unknown[]) => console.error(...msg),
  getChild: () => quietLogger,
};

// The SDK's global logger, used where no client logger is passed (e.g. MatrixRTCSession, which
// logs to stdout, where the results go): errors only. Its child loggers, made later, copy its
// method factory.
{
  type Factory = (method: string, level: number, name: string) => (...msg: unknown[]) => void;
  const root = sdkLogger as unknown as { methodFactory: Factory; rebuild: () => void };
  const original = root.methodFactory;
  root.methodFactory = (method, level, name) => (method === "error" ? original(method, level, name) : () => {});
  root.rebuild();
}

/**
 * A seeker after the intake whose first device (matrix-js-sdk with Rust crypto in Node) set up
 * keys as the web client's createKeys() does (cross-signing, secret storage from a passphrase, key
 * backup) and wrote CHAT_MESSAGES messages into the enquiry room; resolves once their keys are in
 * the backup.
 */
async function chatSeeker(stack: StackInfo): Promise<ChatSeeker> {
  const agency = await seedIntakeAgency(stack, 1);
  const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
  let secretStorageKey: Uint8Array<ArrayBuffer> | null = null;
  const client = sdk.createClient({
    baseUrl: stack.synapseUrl,
    userId: seeker.userId,
    accessToken: seeker.accessToken,
    deviceId: seeker.deviceId,
    logger: quietLogger,
    cryptoCallbacks: {
      getSecretStorageKey: ({ keys }) => {
        const keyId = Object.keys(keys)[0];
        return Promise.resolve(secretStorageKey && keyId !== undefined ? [keyId, secretStorageKey] : null);
      },
      cacheSecretStorageKey: (_keyId, _info, key) => {
        secretStorageKey = key;
      },
    },
  });
  try {
    await client.initRustCrypto({ useIndexedDB: false });
    const synced = new Promise<void>((resolve) =>
      client.on(sdk.ClientEvent.Sync, (state) => {
        if (state === sdk.SyncState.Prepared || state === sdk.SyncState.Syncing) resolve();
      }),
    );
    await client.startClient({ initialSyncLimit: 30 });
    await synced;
    const crypto = client.getCrypto();
    if (!crypto) throw new Error("no crypto");
    await bootstrapCrossSigning(client, seeker);
    const passphrase = `Leuchtturm ${randomBytes(6).toString("hex")} am Meer`;
    const generated = await crypto.createRecoveryKeyFromPassphrase(passphrase);
    secretStorageKey = generated.privateKey;
    await crypto.bootstrapSecretStorage({
      createSecretStorageKey: () => Promise.resolve(generated),
      setupNewSecretStorage: true,
      setupNewKeyBackup: true,
    });
    await joinInvitedRoom(client, seeker.roomId);
    const texts: string[] = [];
    for (let i = 1; i <= CHAT_MESSAGES; i++) {
      const text = `Nachricht ${i}: ${i % 2 === 0 ? "Wie geht es weiter?" : "Ich schreibe, weil es mir nicht gut geht."}`;
      for (;;) {
        try {
          await client.sendTextMessage(seeker.roomId, text);
          break;
        } catch (err) {
          // Synapse's message rate limit (rc_message) is not raised for this benchmark.
          if (!(err instanceof sdk.MatrixError) || err.httpStatus !== 429) throw err;
          await new Promise((r) => setTimeout(r, err.getRetryAfterMs() ?? 1000));
        }
      }
      texts.push(text);
    }
    for (let i = 0; ; i++) {
      const backup = await matrixRequest(stack, "GET", "/_matrix/client/v3/room_keys/version", seeker);
      if (Number(backup.body.count) >= 1) break;
      if (i > 120) throw new Error(`the chat seeker's keys were not backed up: ${JSON.stringify(backup.body)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    return { ...seeker, passphrase, texts };
  } finally {
    client.stopClient();
  }
}

/** Waits until the tab shows the seeker's conversation, every message decrypted. */
async function chatShown(page: Page, texts: string[]): Promise<void> {
  await page.waitForFunction(
    (expected: string[]) => {
      const bodies = new Set([...document.querySelectorAll('[data-testid="message"] .body')].map((e) => e.textContent));
      return (
        location.pathname === "/gespraech" &&
        document.querySelector('[data-testid="message"] .undecryptable') === null &&
        expected.every((text) => bodies.has(text))
      );
    },
    { timeout: 120_000 },
    texts,
  );
}

const ALL_PAGES: PageEntry[] = [
  { name: "start page /", url: (ctx) => `${ctx.stack.clientUrl}/`, targets: true, scripts: true },
  { name: "intake page /anfrage", url: (ctx) => `${ctx.stack.clientUrl}/anfrage`, targets: true, scripts: true },
  {
    // Checks the mechanism that logged-in pages need: the value set by `prepare` must still be
    // in the tab's sessionStorage after Lighthouse loaded the page (the client reads but never
    // removes a value it does not understand).
    name: "intake page /anfrage, prepared sessionStorage (mechanism check)",
    url: (ctx) => `${ctx.stack.clientUrl}/anfrage`,
    targets: false,
    scripts: false,
    prepare: (page, ctx) => setSessionStorage(page, ctx, { [SESSION_KEY]: DUMMY_SESSION }),
    check: async (page) => {
      const seen = await page.evaluate(
        (key: string) => ({ path: location.pathname, value: sessionStorage.getItem(key) }),
        SESSION_KEY,
      );
      if (seen.path !== "/anfrage" || seen.value !== DUMMY_SESSION) {
        throw new Error(`prepared sessionStorage did not survive Lighthouse's run: ${JSON.stringify(seen)}`);
      }
    },
  },
  // --- Pages that need a login ----------------------------------------------------------------
  // `prepare` runs in Lighthouse's tab, and Lighthouse keeps storage for entries that have one
  // (sessionStorage and IndexedDB, where the crypto store lives).
  {
    // A seeker's chat, reloaded: `prepare` logs in at /anmelden and unlocks with the passphrase
    // in the tab (a new device whose keys come from the backup), until the conversation is shown
    // decrypted; Lighthouse then loads /gespraech again in that tab, with its session and crypto
    // store. Measured: what a logged-in seeker's reload costs (the SDK, the WASM, opening the
    // crypto store, the first sync, the decrypted conversation).
    name: "chat page /gespraech (logged in, reloaded)",
    url: (ctx) => `${ctx.stack.clientUrl}/gespraech`,
    targets: true,
    scripts: false, // the script measurement runs no `prepare` (yet)
    prepare: async (page, ctx) => {
      const seeker = await (ctx.chatSeeker ??= chatSeeker(ctx.stack));
      await page.goto(`${ctx.stack.clientUrl}/anmelden`, { waitUntil: "networkidle0" });
      await page.type("#login-name", seeker.pseudonym);
      await page.type("#login-password", seeker.password);
      await page.click("form button[type=submit]");
      await page.waitForSelector("#passphrase", { timeout: 120_000 });
      await page.type("#passphrase", seeker.passphrase);
      await page.click("form button[type=submit]");
      await chatShown(page, seeker.texts);
    },
    check: async (page, ctx) => {
      const seeker = await (ctx.chatSeeker as Promise<ChatSeeker>);
      await chatShown(page, seeker.texts);
    },
  },
  // ---------------------------------------------------------------------------------------------
  { name: "baseline: blank HTML page (node:http)", url: (ctx) => ctx.baselineUrl, targets: false, scripts: false },
];

const PAGES = ALL_PAGES.filter((p) => !ONLY || p.name.includes(ONLY) || p.name.startsWith("baseline"));

const FORM_FACTORS: { name: "mobile" | "desktop"; config: Config | undefined }[] = [
  { name: "mobile", config: undefined },
  { name: "desktop", config: desktopConfig },
];

// --- Helpers ---------------------------------------------------------------------------------

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
const kB = (bytes: number) => (bytes / 1000).toFixed(1);
const gzip = (body: Buffer) => gzipSync(body, { level: constants.Z_BEST_COMPRESSION }).length;

function isLoopback(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === "data:" || protocol === "blob:" || protocol === "about:") return true;
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Markers of matrix-js-sdk and its Rust crypto in a script's text. */
const MARKERS: [string, RegExp][] = [
  ["matrix-sdk-crypto", /matrix[-_]sdk[-_]crypto/i],
  ["OlmMachine", /olmmachine/i],
  ["megolm", /megolm/i],
  ["m.olm.v1", /m\.olm\.v1/],
  ["matrix-js-sdk (org.matrix.msc…)", /org\.matrix\.msc\d+/],
];
const markersIn = (text: string) => MARKERS.filter(([, re]) => re.test(text)).map(([name]) => name);

interface Shipped {
  url: string;
  kind: "script" | "worker" | "inline" | "wasm";
  raw: number;
  gzip: number;
  /** Bytes on the wire and the server's Content-Encoding. */
  served: number;
  encoding: string;
  markers: string[];
}

/** Loads `url` in a fresh context and records every script and WebAssembly it loaded. */
async function shippedScripts(browser: PlaywrightBrowser, url: string) {
  const context = await browser.newContext({ locale: "de-DE" });
  const foreign: string[] = [];
  const pending: Promise<Shipped | null>[] = [];
  const workerUrls: string[] = [];
  const record = async (response: Response): Promise<Shipped | null> => {
    const request = response.request();
    const type = request.resourceType();
    const contentType = response.headers()["content-type"] ?? "";
    const wasm = contentType.includes("application/wasm") || /\.wasm(\?|$)/.test(response.url());
    const script =
      type === "script" || /javascript|ecmascript/.test(contentType) || /\.m?js(\?|$)/.test(response.url());
    if (!wasm && !script) return null;
    const body = await response.body();
    const sizes = await request.sizes();
    return {
      url: response.url(),
      kind: wasm ? "wasm" : workerUrls.includes(response.url()) ? "worker" : "script",
      raw: body.length,
      gzip: gzip(body),
      served: sizes.responseBodySize,
      encoding: response.headers()["content-encoding"] ?? "identity",
      markers: wasm ? ["application/wasm"] : markersIn(body.toString("utf8")),
    };
  };
  context.on("request", (request) => {
    if (!isLoopback(request.url())) foreign.push(request.url());
  });
  context.on("response", (response) =>
    pending.push(
      record(response).catch((error: unknown) => {
        console.error(`  could not read ${response.url()}: ${String(error)}`);
        return null;
      }),
    ),
  );
  try {
    const page = await context.newPage();
    page.on("worker", (worker) => workerUrls.push(worker.url()));
    await page.goto(url, { waitUntil: "networkidle" });
    const lang = await page.evaluate(() => document.documentElement.lang);
    const inline = await page.$$eval("script:not([src])", (scripts) => scripts.map((s) => s.textContent ?? ""));
    const files = (await Promise.all(pending)).filter((s): s is Shipped => s !== null);
    for (const shipped of files) if (workerUrls.includes(shipped.url)) shipped.kind = "worker";
    // A worker whose script the network events did not show is fetched here.
    for (const workerUrl of workerUrls) {
      if (files.some((f) => f.url === workerUrl)) continue;
      const body = Buffer.from(await (await fetch(workerUrl)).arrayBuffer());
      const markers = markersIn(body.toString("utf8"));
      files.push({
        url: workerUrl,
        kind: "worker",
        raw: body.length,
        gzip: gzip(body),
        served: NaN,
        encoding: "?",
        markers,
      });
    }
    inline.forEach((text, i) => {
      const body = Buffer.from(text);
      const markers = markersIn(text);
      files.push({
        url: `inline script ${i + 1}`,
        kind: "inline",
        raw: body.length,
        gzip: gzip(body),
        served: 0,
        encoding: "",
        markers,
      });
    });
    return { files, foreign, lang };
  } finally {
    await context.close();
  }
}

/** Every URL that Lighthouse saw the page request. */
function requestedUrls(lhr: Result): string[] {
  const details = lhr.audits["network-requests"]?.details as { items?: { url?: unknown }[] } | undefined;
  return (details?.items ?? []).map((item) => String(item.url));
}

/** Lighthouse's own failure to run (e.g. NO_NAVSTART: it asks to be run again). */
class LighthouseFailure extends Error {}
const ATTEMPTS = 3;
let retries = 0;

let openBrowser: PuppeteerBrowser | undefined;

/** One Lighthouse run of `entry` in a fresh Chromium. */
async function lighthouseRun(entry: PageEntry, formFactor: (typeof FORM_FACTORS)[number], ctx: Context) {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: GERMAN_CHROMIUM_ARGS,
    defaultViewport: null,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  openBrowser = browser;
  try {
    const page = await browser.newPage();
    if (entry.prepare) {
      await entry.prepare(page, ctx);
      // Lighthouse keeps the HTTP cache too when it keeps storage: empty it, so that this page
      // loads as cold as the others.
      const cdp = await page.createCDPSession();
      await cdp.send("Network.clearBrowserCache");
      await cdp.detach();
    }
    const flags: Flags = {
      locale: "de",
      onlyCategories: [...CATEGORIES],
      disableStorageReset: entry.prepare !== undefined,
      logLevel: "error",
    };
    const result = await navigation(
      page,
      entry.url(ctx),
      formFactor.config ? { config: formFactor.config, flags } : { flags },
    );
    if (!result) throw new Error(`${entry.name}: Lighthouse returned no result`);
    const lhr = result.lhr;
    if (lhr.runtimeError) {
      throw new LighthouseFailure(`${entry.name}: ${lhr.runtimeError.code}: ${lhr.runtimeError.message}`);
    }
    const foreign = requestedUrls(lhr).filter((url) => !isLoopback(url));
    if (foreign.length > 0) throw new Error(`${entry.name}: requests outside loopback: ${foreign.join(", ")}`);
    const lang = await page.evaluate(() => document.documentElement.lang);
    if (lang !== "de") throw new Error(`${entry.name}: the page was rendered in "${lang}", not German`);
    if (entry.check) await entry.check(page, ctx);
    return lhr;
  } finally {
    openBrowser = undefined;
    await browser.close();
  }
}

const score = (lhr: Result, category: Category) => Math.round((lhr.categories[category]?.score ?? 0) * 100);
const metric = (lhr: Result, id: string) => lhr.audits[id]?.numericValue ?? NaN;

/** The first three rows of an audit's table (what it blames), shortened. */
function topItems(audit: Result["audits"][string]): string {
  const items = (audit.details as { items?: Record<string, unknown>[] } | undefined)?.items ?? [];
  return items
    .slice(0, 3)
    .map((item) => {
      const url = typeof item.url === "string" && item.url.startsWith("http") ? new URL(item.url).pathname : item.url;
      const label = url ?? item.groupLabel ?? item.group ?? item.label ?? "";
      const what = typeof label === "string" ? label : JSON.stringify(label);
      const unit = (["wastedBytes", "totalBytes", "wastedMs", "total", "duration"] as const).find(
        (k) => typeof item[k] === "number",
      );
      return unit ? `${what} ${Math.round(item[unit] as number)} ${unit.endsWith("Bytes") ? "B" : "ms"}` : what;
    })
    .filter((text) => text.trim() !== "")
    .join("; ");
}

/** Audits of `category` that did not pass in `lhr`: failed binary audits, numeric ones under 0.9. */
function failingAudits(lhr: Result, category: Category) {
  const refs = lhr.categories[category]?.auditRefs ?? [];
  return refs.flatMap((ref) => {
    const audit = lhr.audits[ref.id];
    if (!audit || audit.score === null) return [];
    const mode = audit.scoreDisplayMode;
    const failed =
      mode === "binary" ? audit.score < 1 : (mode === "numeric" || mode === "metricSavings") && audit.score < 0.9;
    return failed
      ? [{ id: audit.id, title: audit.title, displayValue: audit.displayValue ?? "", top: topItems(audit) }]
      : [];
  });
}

// --- The run ---------------------------------------------------------------------------------

const builtAt = requireClientBuild();

const baseline: Server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(
    '<!doctype html><html lang="de"><head><meta charset="utf-8">' +
      '<meta name="viewport" content="width=device-width, initial-scale=1">' +
      '<meta name="description" content="Eine leere Seite als Vergleich."><title>Leer</title>' +
      "</head><body><main><h1>Leer</h1><p>Eine leere Seite als Vergleich.</p></main></body></html>",
  );
});
await new Promise<void>((resolve) => baseline.listen(0, "127.0.0.1", resolve));
const baselineUrl = `http://127.0.0.1:${(baseline.address() as AddressInfo).port}/`;

let playwrightBrowser: PlaywrightBrowser | undefined;
const { stack, cleanup } = benchStack(benchDataDir("client-pages"), {}, async () => {
  await Promise.all(
    [openBrowser?.close(), playwrightBrowser?.close()].map(
      (closing) => closing?.catch(() => undefined) ?? Promise.resolve(),
    ),
  );
  baseline.close();
});

try {
  const ctx: Context = { stack: await stack.ready, baselineUrl };
  const loadBefore = loadavg()[0] ?? 0;
  const print = (line: string) => console.log(line);

  // --- JavaScript shipped ---------------------------------------------------------------------
  playwrightBrowser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: GERMAN_CHROMIUM_ARGS,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  const shipped: { entry: PageEntry; files: Shipped[] }[] = [];
  for (const entry of PAGES.filter((p) => p.scripts)) {
    const { files, foreign, lang } = await shippedScripts(playwrightBrowser, entry.url(ctx));
    if (foreign.length > 0) throw new Error(`${entry.name}: requests outside loopback: ${foreign.join(", ")}`);
    if (lang !== "de") throw new Error(`${entry.name}: rendered in "${lang}", not German`);
    shipped.push({ entry, files });
  }
  await playwrightBrowser.close();
  playwrightBrowser = undefined;

  // --- Lighthouse -----------------------------------------------------------------------------
  const runs = new Map<string, Result[]>();
  const key = (entry: PageEntry, ff: string) => `${entry.name}\u0000${ff}`;
  for (let run = 1; run <= RUNS; run++) {
    for (const entry of PAGES) {
      for (const formFactor of FORM_FACTORS) {
        const started = performance.now();
        let lhr: Result | undefined;
        for (let attempt = 1; lhr === undefined; attempt++) {
          try {
            lhr = await lighthouseRun(entry, formFactor, ctx);
          } catch (error) {
            if (!(error instanceof LighthouseFailure) || attempt >= ATTEMPTS) throw error;
            console.error(`  ${error.message}; running it again`);
            retries++;
          }
        }
        const list = runs.get(key(entry, formFactor.name)) ?? [];
        list.push(lhr);
        runs.set(key(entry, formFactor.name), list);
        console.error(
          `run ${run}/${RUNS} ${formFactor.name} ${entry.name}: ${CATEGORIES.map((c) => score(lhr, c)).join(" / ")} ` +
            `(${((performance.now() - started) / 1000).toFixed(0)} s)`,
        );
        for (const warning of lhr.runWarnings) console.error(`  Lighthouse: ${String(warning)}`);
        if (REPORTS) {
          mkdirSync(REPORTS, { recursive: true });
          const slug = entry.name.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "");
          const file = `${slug}-${formFactor.name}-${run}.html`;
          writeFileSync(join(REPORTS, file), generateReport(lhr, "html"));
          writeFileSync(join(REPORTS, file.replace(/html$/, "json")), generateReport(lhr, "json"));
        }
      }
    }
  }

  // --- Results --------------------------------------------------------------------------------
  const first = runs.values().next().value?.[0];
  print(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ` +
      `${first?.environment.hostUserAgent.match(/Chrome\/[\d.]+/)?.[0] ?? "Chromium"}; Lighthouse ${first?.lighthouseVersion ?? "?"}; ` +
      `client build of ${builtAt.toISOString()}; load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after; ${new Date().toISOString()}`,
  );
  print(
    `Lighthouse's CPU benchmark index of this machine (median): ${median([...runs.values()].flat().map((l) => l.environment.benchmarkIndex))}`,
  );
  print("");
  print("| page | script files | raw kB | gzip -9 kB | as served kB | matrix-js-sdk / crypto / WASM |");
  print("|---|---|---|---|---|---|");
  for (const { entry, files } of shipped) {
    const sum = (f: (s: Shipped) => number) => files.reduce((total, s) => total + f(s), 0);
    const found = files.filter((s) => s.markers.length > 0);
    const crypto = found.length === 0 ? "none" : found.map((s) => `${s.url} (${s.markers.join(", ")})`).join("; ");
    print(
      `| ${entry.name} | ${files.length} | ${kB(sum((s) => s.raw))} | ${kB(sum((s) => s.gzip))} | ${kB(sum((s) => s.served || 0))} | ${crypto} |`,
    );
  }
  print("");
  for (const { entry, files } of shipped) {
    console.log(`${entry.name}:`);
    for (const s of [...files].sort((a, b) => b.gzip - a.gzip)) {
      const path = s.url.startsWith("http") ? new URL(s.url).pathname : s.url;
      console.log(
        `  ${s.kind.padEnd(6)} ${kB(s.raw).padStart(7)} kB raw ${kB(s.gzip).padStart(6)} kB gzip  ${s.encoding.padEnd(8)} ${path}`,
      );
    }
  }
  const start = shipped.find((s) => s.entry === ALL_PAGES[0]);
  if (start) {
    const gz = start.files.reduce((total, s) => total + s.gzip, 0);
    const crypto = start.files.some((s) => s.markers.length > 0);
    print(
      `start page: ${kB(gz)} kB gzipped JavaScript (target ≤ ${START_PAGE_JS_TARGET_KB}: ${gz <= START_PAGE_JS_TARGET_KB * 1000 ? "met" : "MISSED"}), ` +
        `${crypto ? "CRYPTO LOADED (target: none)" : "no matrix-js-sdk, crypto or WASM (target met)"}`,
    );
    print("");
  }

  print(`Lighthouse, median of ${RUNS} runs (targets: performance ≥ 95, accessibility 100, best practices ≥ 95):`);
  print("");
  print("| page | form factor | performance | accessibility | best practices | FCP s | LCP s | TBT ms | CLS |");
  print("|---|---|---|---|---|---|---|---|---|");
  const misses: string[] = [];
  for (const formFactor of FORM_FACTORS) {
    for (const entry of PAGES) {
      const lhrs = runs.get(key(entry, formFactor.name)) ?? [];
      const medians = CATEGORIES.map((c) => median(lhrs.map((l) => score(l, c))));
      const m = (id: string) => median(lhrs.map((l) => metric(l, id)));
      print(
        `| ${entry.name} | ${formFactor.name} | ${medians.join(" | ")} | ${(m("first-contentful-paint") / 1000).toFixed(1)} | ` +
          `${(m("largest-contentful-paint") / 1000).toFixed(1)} | ${m("total-blocking-time").toFixed(0)} | ${m("cumulative-layout-shift").toFixed(3)} |`,
      );
      if (!entry.targets) continue;
      CATEGORIES.forEach((category, i) => {
        if ((medians[i] ?? 0) >= TARGETS[category]) return;
        misses.push(
          `${entry.name}, ${formFactor.name}, ${category}: ${medians[i]} (target ${TARGETS[category]}); failing audits:`,
        );
        const seen = new Map<string, { title: string; displayValue: string; top: string; runs: number }>();
        for (const lhr of lhrs) {
          for (const audit of failingAudits(lhr, category)) {
            const known = seen.get(audit.id);
            seen.set(audit.id, { ...audit, runs: (known?.runs ?? 0) + 1 });
          }
        }
        for (const [id, a] of seen) {
          misses.push(
            `  - ${id}: ${a.title}${a.displayValue ? ` (${a.displayValue})` : ""} [${a.runs}/${lhrs.length} runs]` +
              (a.top ? `: ${a.top}` : ""),
          );
        }
      });
    }
  }
  // Audits that Lighthouse could not compute (grouped by the end of their message), and whether
  // any of them weighs in a score.
  const errored = new Map<string, Set<string>>();
  for (const lhr of [...runs.values()].flat()) {
    for (const audit of Object.values(lhr.audits)) {
      if (audit.scoreDisplayMode !== "error") continue;
      const weighs = Object.values(lhr.categories).some((c) =>
        c.auditRefs.some((r) => r.id === audit.id && r.weight > 0),
      );
      const message = (audit.errorMessage ?? "").split(": ").at(-1) ?? "";
      const ids = errored.get(message) ?? new Set<string>();
      ids.add(weighs ? `${audit.id} (WEIGHS IN A SCORE)` : audit.id);
      errored.set(message, ids);
    }
  }
  for (const [message, ids] of errored) {
    print("");
    print(`Audits in error in some run: ${[...ids].join(", ")}: ${message}`);
  }
  print("");
  if (misses.length === 0) print("Every page meets its Lighthouse targets.");
  else for (const line of ["Targets missed:", ...misses]) print(line);
  print("");
  if (retries > 0) print(`Lighthouse failed to run and was run again ${retries} times (see the log).`);
  for (const entry of PAGES.filter((p) => p.prepare && p.check)) {
    print(`${entry.name}: prepared and checked in all ${RUNS * FORM_FACTORS.length} Lighthouse runs`);
  }
} finally {
  await cleanup();
}
// Everything this run started has stopped, but the chat seeker's matrix-js-sdk client leaves the
// timeout timer of every request it made running after the request ended (http-api/utils.js
// timeoutSignal, up to minutes): without this, Node would wait for them.
process.exit(0);
