/**
 * Video calls on this machine: how long from the counsellor pressing "Videoanruf starten" until
 * each side decodes the other's picture, and what a participant's browser and the LiveKit server
 * cost while a 720p call runs, end-to-end encrypted (the web app) against the same media without
 * encryption (plain livekit-client pages). Fresh stack (real Synapse, the call token service,
 * LiveKit), Debian's headless Chromium with its fake camera and microphone, all on loopback.
 *
 * Every participant is a Chromium of its own (launched as a server, so its process id is known):
 * its cost is the sum over its process tree (browser, renderer, GPU, network, audio and video
 * capture services), from /proc: CPU time (utime + stime) over a fixed window, proportional set
 * size (PSS, shared pages split between the processes that map them) at its end. LiveKit's cost
 * is its process's CPU time over the same window. Four browsers stay up the whole run: the
 * counsellor's and the seeker's (the web app, logged in, one conversation in counselling) and
 * two for the plain pages.
 *
 * Each round, in an order that rotates from round to round (so that every kind sees the same
 * load on a shared machine):
 *
 * - quiet: nobody in a call for QUIET seconds: LiveKit's baseline, and the idle browsers;
 * - web app (E2EE on): both pages reloaded; the counsellor clicks "Videoanruf starten", the seeker
 *   clicks "Dem Anruf beitreten" as soon as the page offers it; times in the pages (epoch ms,
 *   one clock): click → the seeker's page offers the call, → first decoded remote video frame at
 *   the seeker and at the counsellor (getStats() framesDecoded, polled every 50 ms). Then SETTLE
 *   seconds, then the WINDOW; both leave;
 * - plain, E2EE off (the baseline): two pages of LiveKit's own origin with livekit-client alone
 *   (the web app's version and its defaults: camera at 1280x720 with simulcast, microphone,
 *   every remote track shown in a video element, the own camera too, as the call screen does),
 *   tokens signed with the stack's LiveKit key as tests/e2e/client-call.test.ts does, the room
 *   made through LiveKit's API; both connect at once, first frames timed from there;
 * - plain, E2EE on: the same pages with LiveKit's E2EE worker and one shared key
 *   (ExternalE2EEKeyProvider): the price of encryption without the rest of the web app.
 *
 *   npm run -w client build && node bench/calls.ts [rounds, default 4] [window s, default 20]
 *   (in the environment ops/connecta sets up; CONNECTA_CHROMIUM overrides /usr/bin/chromium)
 */
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import type * as LivekitClient from "livekit-client";
import { AccessToken, RoomServiceClient } from "livekit-server-sdk";
import { chromium, type Browser, type BrowserServer, type Page } from "playwright-core";
import { livekitKeys } from "../ops/stack/secrets.ts";
import type { StackInfo } from "../ops/stack/stack.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../tests/support/browser.ts";
import { matrixRequest, type TestUser } from "../tests/support/matrix.ts";
import { intakeSeeker, seedIntakeAgency } from "../tests/support/seeker.ts";
import { unique } from "../tests/support/workflow.ts";
import { benchDataDir, benchStack, requireClientBuild } from "./support.ts";

const ROUNDS = Number(process.argv[2] ?? 4);
const WINDOW = Number(process.argv[3] ?? 20) * 1000;
const SETTLE = 5_000;
const QUIET = 10_000;
const FIRST_FRAME_TIMEOUT = 60_000;
const TICK = 100; // getconf CLK_TCK on Linux

const log = (line: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${line}`);
const sleep = (time: number) => new Promise((resolve) => setTimeout(resolve, time));
const sorted = (values: number[]) => values.filter(Number.isFinite).sort((a, b) => a - b);
const median = (values: number[]) => sorted(values)[Math.floor((sorted(values).length - 1) / 2)] ?? NaN;
/** Nearest rank: with 5 samples, the largest. */
const p95 = (values: number[]) => sorted(values)[Math.ceil(sorted(values).length * 0.95) - 1] ?? NaN;
const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : "–");

// --- Processes ------------------------------------------------------------------------------------

interface Proc {
  pid: number;
  ppid: number;
  ticks: number;
}

/** Every process of the machine we may read: parent and CPU ticks (user + system). */
function processes(): Map<number, Proc> {
  const all = new Map<number, Proc>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      all.set(Number(name), {
        pid: Number(name),
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
      });
    } catch {
      // ended meanwhile
    }
  }
  return all;
}

/** `root` and every process below it. */
function tree(all: Map<number, Proc>, root: number): Proc[] {
  const children = new Map<number, Proc[]>();
  for (const proc of all.values()) children.set(proc.ppid, [...(children.get(proc.ppid) ?? []), proc]);
  const found: Proc[] = [];
  const visit = (pid: number) => {
    const proc = all.get(pid);
    if (proc) found.push(proc);
    for (const child of children.get(pid) ?? []) visit(child.pid);
  };
  visit(root);
  return found;
}

/**
 * What kind of Chromium process: its --type (utility processes by their service). Chromium
 * rewrites its command line into one string, so the flags are found in the text.
 */
function kind(pid: number): string {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "ended";
  }
  const type = /--type=(\S+)/.exec(cmdline)?.[1];
  if (!type) return "browser";
  if (type !== "utility") return type;
  const service = /--utility-sub-type=(\S+)/.exec(cmdline)?.[1] ?? "";
  if (/video_capture/i.test(service)) return "capture";
  if (/audio/i.test(service)) return "audio";
  if (/network/i.test(service)) return "network";
  return "utility";
}

/** Proportional set size of a process, MB (0 once it ended). */
function pss(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** The machine's busy and total jiffies over all cores (/proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const cpu = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - (cpu[3] ?? 0) - (cpu[4] ?? 0), total };
}

/** CPU (% of one core) per process tree, and for LiveKit, over one window. */
interface Cost {
  /** Per browser: total CPU %, of which the renderer(s), and PSS MB at the end. */
  browsers: Record<string, { cpu: number; renderer: number; pss: number; byKind: Record<string, number> }>;
  livekit: number;
  /** The whole machine's busy share of all its cores, %. */
  machine: number;
}

function startWindow(browsers: Record<string, number>, livekitPid: number) {
  const t0 = performance.now();
  const before = processes();
  const machine0 = machineTicks();
  return (): Cost => {
    const seconds = (performance.now() - t0) / 1000;
    const after = processes();
    const machine1 = machineTicks();
    const used = (proc: Proc) => proc.ticks - (before.get(proc.pid)?.ticks ?? 0);
    const percent = (ticks: number) => (ticks / TICK / seconds) * 100;
    const result: Cost = {
      browsers: {},
      livekit: percent(used(after.get(livekitPid) as Proc)),
      machine: ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 100,
    };
    for (const [name, pid] of Object.entries(browsers)) {
      const procs = tree(after, pid);
      const byKind: Record<string, number> = {};
      for (const proc of procs) byKind[kind(proc.pid)] = (byKind[kind(proc.pid)] ?? 0) + percent(used(proc));
      result.browsers[name] = {
        cpu: percent(procs.reduce((sum, proc) => sum + used(proc), 0)),
        renderer: byKind.renderer ?? 0,
        pss: procs.reduce((sum, proc) => sum + pss(proc.pid), 0),
        byKind,
      };
    }
    return result;
  };
}

// --- In the pages ---------------------------------------------------------------------------------

/**
 * Runs in every page before its scripts: keeps the page's peer connections (for getStats()), and
 * `__watch()` notes (epoch ms) each button's first click, when the call is offered (the join
 * button appears) and the first decoded remote video frame, polling every 50 ms until then.
 */
function pageProbe(joinText: string): void {
  const w = window as unknown as Record<string, unknown>;
  const now = () => performance.timeOrigin + performance.now();
  let marks: Record<string, number> = {};
  const made: RTCPeerConnection[] = [];
  const Original = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Original {
    constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
      super(...args);
      made.push(this);
      marks.peerConnection ??= now();
    }
  };
  w.__peerConnections = made;
  // The call token (the web app asks our token service from the page).
  const originalFetch = window.fetch.bind(window);
  window.fetch = async (...args: Parameters<typeof fetch>) => {
    const response = await originalFetch(...args);
    if (String(args[0] instanceof Request ? args[0].url : args[0]).includes("/rtc/get_token")) marks.token ??= now();
    return response;
  };
  document.addEventListener(
    "click",
    (event) => {
      const button = event.target instanceof Element ? event.target.closest("button") : null;
      if (button) marks[`click:${button.textContent?.trim() ?? ""}`] ??= now();
    },
    true,
  );
  let timer: ReturnType<typeof setInterval> | undefined;
  w.__marks = () => marks;
  w.__watch = () => {
    marks = {};
    clearInterval(timer);
    timer = setInterval(() => {
      if (!marks.offered && [...document.querySelectorAll("button")].some((b) => b.textContent?.trim() === joinText))
        marks.offered = now();
      void Promise.all(made.filter((pc) => pc.connectionState !== "closed").map((pc) => pc.getStats())).then(
        (reports) => {
          let frames = 0;
          let bytes = 0;
          for (const report of reports)
            report.forEach((r: Record<string, unknown>) => {
              if (r.type === "inbound-rtp" && r.kind === "video") frames += Number(r.framesDecoded ?? 0);
              if (r.type === "inbound-rtp" && r.kind === "video") bytes += Number(r.bytesReceived ?? 0);
            });
          if (bytes > 0) marks.firstBytes ??= now();
          if (frames > 0 && !marks.firstFrame) {
            marks.firstFrame = now();
            clearInterval(timer);
          }
        },
      );
    }, 50);
  };
}

interface MediaStats {
  at: number;
  framesDecoded: number;
  /** Audio samples decoded (not concealment). */
  samples: number;
  /** Frames the own camera delivered to the track so far (media-source `frames`). */
  capturedFrames: number;
  /** The largest remote video being received, e.g. "1280x720". */
  received: string;
  /** The own camera as captured (media-source), e.g. "1280x720@30". */
  captured: string;
  /** The own video's simulcast layers as sent, e.g. "q 320x180@30, h 640x360@30, f 1280x720@30". */
  sent: string;
  /** Why the sender holds back (none, cpu, bandwidth), of its largest layer. */
  limitation: string;
}

function mediaStats(page: Page): Promise<MediaStats> {
  return page.evaluate(async () => {
    const stats: MediaStats = {
      at: performance.now(),
      framesDecoded: 0,
      samples: 0,
      capturedFrames: 0,
      received: "",
      captured: "",
      sent: "",
      limitation: "",
    };
    let largest = 0;
    let largestSent = 0;
    const layers: string[] = [];
    const pcs = (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections;
    for (const pc of pcs) {
      if (pc.connectionState === "closed") continue;
      (await pc.getStats()).forEach((r: Record<string, unknown>) => {
        const w = Number(r.frameWidth ?? r.width ?? 0);
        const h = Number(r.frameHeight ?? r.height ?? 0);
        if (r.type === "inbound-rtp" && r.kind === "video") {
          stats.framesDecoded += Number(r.framesDecoded ?? 0);
          if (w * h > largest) [largest, stats.received] = [w * h, `${w}x${h}`];
        }
        if (r.type === "inbound-rtp" && r.kind === "audio")
          stats.samples += Number(r.totalSamplesReceived ?? 0) - Number(r.concealedSamples ?? 0);
        if (r.type === "media-source" && r.kind === "video") stats.capturedFrames += Number(r.frames ?? 0);
        if (r.type === "media-source" && r.kind === "video")
          stats.captured = `${w}x${h}@${Number(r.framesPerSecond ?? 0).toFixed(0)}`;
        if (r.type === "outbound-rtp" && r.kind === "video") {
          const name = typeof r.rid === "string" ? `${r.rid} ` : "";
          if (w) layers.push(`${name}${w}x${h}@${Number(r.framesPerSecond ?? 0).toFixed(0)}`);
          if (w * h >= largestSent) [largestSent, stats.limitation] = [w * h, String(r.qualityLimitationReason)];
        }
      });
    }
    stats.sent = layers.sort().join(", ");
    return stats;
  });
}

const marks = (page: Page) =>
  page.evaluate(() => (window as unknown as { __marks: () => Record<string, number> }).__marks());
const watch = (page: Page) => page.evaluate(() => (window as unknown as { __watch: () => void }).__watch());

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

// --- Participants ---------------------------------------------------------------------------------

interface Participant {
  name: string;
  server: BrowserServer;
  browser: Browser;
  pid: number;
  page: Page;
}

const JOIN = "Dem Anruf beitreten";
/** The pages' console errors and warnings (LiveKit's "missing key" errors counted, not kept). */
const consoleLines: string[] = [];
const missingKeys: Record<string, number> = {};

async function participant(name: string): Promise<Participant> {
  const server = await chromium.launchServer({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, "--use-fake-device-for-media-stream=fps=30", "--use-fake-ui-for-media-stream"],
  });
  const browser = await chromium.connect(server.wsEndpoint());
  const context = await browser.newContext({ locale: "de-DE", permissions: ["camera", "microphone"] });
  await context.addInitScript(pageProbe, JOIN);
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() !== "error" && message.type() !== "warning") return;
    if (message.text().startsWith("MissingKey")) missingKeys[name] = (missingKeys[name] ?? 0) + 1;
    else consoleLines.push(`${new Date().toISOString().slice(11, 23)} ${name}: ${message.text().slice(0, 300)}`);
  });
  page.on("pageerror", (error) => consoleLines.push(`${name}: page error ${String(error)}`));
  return { name, server, browser, pid: server.process().pid as number, page };
}

/** A plain page: LiveKit's own origin (Chromium lets no other address space reach loopback). */
async function plainPage(info: StackInfo, page: Page): Promise<void> {
  const require = createRequire(import.meta.url);
  await page.goto(info.livekitUrl);
  await page.addScriptTag({ content: readFileSync(require.resolve("livekit-client"), "utf8") });
  const e2eeWorker = readFileSync(
    join(dirname(require.resolve("livekit-client")), "livekit-client.e2ee.worker.js"),
    "utf8",
  );
  await page.evaluate((source) => {
    (window as unknown as { e2eeWorkerSource: string }).e2eeWorkerSource = source;
  }, e2eeWorker);
}

/** Joins the plain page's room: camera and microphone on, every remote track shown. */
function plainJoin(page: Page, url: string, jwt: string, encrypted: boolean): Promise<void> {
  return page.evaluate(
    async ({ url, jwt, encrypted }) => {
      const w = window as unknown as { LivekitClient: typeof LivekitClient; e2eeWorkerSource: string; room: unknown };
      const lk = w.LivekitClient;
      let room: LivekitClient.Room;
      if (encrypted) {
        const keyProvider = new lk.ExternalE2EEKeyProvider();
        const worker = new Worker(URL.createObjectURL(new Blob([w.e2eeWorkerSource], { type: "text/javascript" })));
        room = new lk.Room({ encryption: { keyProvider, worker } });
        // One key for everybody, the same bytes in both pages.
        await keyProvider.setKey(new TextEncoder().encode("connecta bench shared key 32 byt").buffer);
        await room.setE2EEEnabled(true);
      } else {
        room = new lk.Room();
      }
      const show = (track: LivekitClient.Track) => {
        const element = track.attach();
        element.setAttribute("playsinline", "");
        document.body.append(element);
      };
      room.on(lk.RoomEvent.TrackSubscribed, show);
      room.on(lk.RoomEvent.LocalTrackPublished, (publication) => {
        if (publication.track?.kind === lk.Track.Kind.Video) show(publication.track);
      });
      w.room = room;
      await room.connect(url, jwt);
      await room.localParticipant.setMicrophoneEnabled(true);
      await room.localParticipant.setCameraEnabled(true);
    },
    { url, jwt, encrypted },
  );
}

const plainLeave = (page: Page) =>
  page.evaluate(async () => {
    const room = (window as unknown as { room?: LivekitClient.Room }).room;
    for (const publication of room?.localParticipant.trackPublications.values() ?? [])
      publication.track?.mediaStreamTrack.stop();
    await room?.disconnect(true);
  });

// --- Logging in (as tests/support/client-flows.ts does, without vitest) ---------------------------

async function typeAndEnter(page: Page, fields: Record<string, string>): Promise<void> {
  for (const [selector, text] of Object.entries(fields)) await page.fill(selector, text);
  await page.press(Object.keys(fields).at(-1) as string, "Enter");
}

/** A first device's keys: a new passphrase, the recovery key confirmed as kept. */
async function newPassphrase(page: Page): Promise<void> {
  const passphrase = `Bench Schlüssel ${unique()} ${unique()}`;
  await page.locator("#passphrase-repeat").waitFor({ timeout: 60_000 });
  await typeAndEnter(page, { "#passphrase": passphrase, "#passphrase-repeat": passphrase });
  await page.locator("input[type=checkbox]").check({ timeout: 120_000 });
  await page.locator("button.button-primary:not([disabled])").click();
}

/** The counsellor's first login: the operator's password changed, keys set up; at the desk. */
async function counsellorFirstLogin(info: StackInfo, page: Page, user: TestUser): Promise<void> {
  await page.goto(`${info.clientUrl}/beratung/anmelden`, { waitUntil: "networkidle" });
  await typeAndEnter(page, { "#login-name": user.localpart, "#login-password": user.password });
  const password = `Bench ${unique()} ${unique()}`;
  await page.locator("#new-password").waitFor({ timeout: 60_000 });
  await typeAndEnter(page, { "#new-password": password, "#new-password-repeat": password });
  await newPassphrase(page);
  await page.waitForURL(`${info.clientUrl}/beratung`, { timeout: 120_000 });
}

/** The seeker's first login in a browser: keys set up; at their conversation. */
async function seekerFirstLogin(info: StackInfo, page: Page, user: { localpart: string; password: string }) {
  await page.goto(`${info.clientUrl}/anmelden`, { waitUntil: "networkidle" });
  await typeAndEnter(page, { "#login-name": user.localpart, "#login-password": user.password });
  await newPassphrase(page);
  await page.waitForURL(`${info.clientUrl}/gespraech`, { timeout: 120_000 });
}

/** Writes `text` in the conversation (Ctrl+Enter, once the composer can send). */
async function sendMessage(page: Page, text: string): Promise<void> {
  await page.locator("form.composer button[type=submit]:not([disabled])").waitFor({ timeout: 60_000 });
  await page.fill("#composer", text);
  await page.press("#composer", "ControlOrMeta+Enter");
}

// --- The run --------------------------------------------------------------------------------------

const builtAt = requireClientBuild();
const dataDir = benchDataDir("calls");
const people: Participant[] = [];
const { stack, cleanup } = benchStack(dataDir, {}, async () => {
  for (const person of people) {
    await person.browser.close().catch(() => undefined);
    await person.server.close().catch(() => undefined);
  }
});

type Kind = "app" | "plain" | "plainE2ee";
const KINDS: Kind[] = ["app", "plain", "plainE2ee"];
const LABEL: Record<Kind, string> = {
  app: "web app, E2EE on (MatrixRTC keys)",
  plain: "baseline: plain livekit-client, E2EE off",
  plainE2ee: "plain livekit-client, E2EE on (one shared key)",
};

interface Sample {
  kind: Kind;
  firstFrames: Record<string, number>;
  cost: Cost;
  /** Per participant: received fps and audio samples/s over the window, resolutions at its end. */
  media: Record<
    string,
    { fps: number; capturedFps: number; audio: number; msPerFrame: number; end: MediaStats; start: MediaStats }
  >;
}

try {
  const info = await stack.ready;
  const loadBefore = loadavg();
  const start = Date.now();
  const livekitPid = (() => {
    const config = join(dataDir, "livekit", "livekit.yaml");
    for (const pid of processes().keys()) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(config)) return pid;
      } catch {
        // ended meanwhile
      }
    }
    throw new Error("LiveKit's process not found");
  })();

  // The conversation, as tests/e2e/client-call.test.ts sets it up.
  log("seeding: counsellor and seeker log in, the counsellor takes the enquiry");
  for (const name of ["counsellor", "seeker", "plain A", "plain B"]) people.push(await participant(name));
  const [counsellorP, seekerP, plainA, plainB] = people as [Participant, Participant, Participant, Participant];
  const desk = counsellorP.page;
  const chat = seekerP.page;
  const agency = await seedIntakeAgency(info, 1);
  const counsellor = agency.counsellors[0] as TestUser;
  const seeker = await intakeSeeker(info, { topic: agency.topic, postcode: agency.postcode });
  await matrixRequest(info, "POST", "/_matrix/client/v3/logout", seeker, {});
  await counsellorFirstLogin(info, desk, counsellor);
  await seekerFirstLogin(info, chat, seeker);
  const enquiry = `Können wir telefonieren? ${unique()}`;
  await sendMessage(chat, enquiry);
  const item = desk.getByTestId("queue-item").filter({ hasText: enquiry });
  await item.waitFor({ timeout: 60_000 });
  await item.getByRole("button").click();
  await desk.waitForURL(/\/beratung\/gespraech\/\d+$/);
  await desk.getByTestId("message").filter({ hasText: enquiry }).waitFor({ timeout: 60_000 });

  const keys = livekitKeys(readFileSync(info.secretFiles.livekitKeys, "utf8"));
  const roomService = new RoomServiceClient(info.livekitUrl, keys.livekitApiKey, keys.livekitApiSecret);
  const wsUrl = info.livekitUrl.replace(/^http/, "ws");
  const token = (room: string, identity: string) => {
    const at = new AccessToken(keys.livekitApiKey, keys.livekitApiSecret, { identity, ttl: 600 });
    at.addGrant({ roomJoin: true, room, canSubscribe: true, canPublish: true });
    return at.toJwt();
  };
  const browsers = (list: Participant[]) => Object.fromEntries(list.map((p) => [p.name, p.pid]));
  const everyone = browsers(people);

  /** Settles, then measures the window: costs of everybody, media of `active`. */
  async function measure(kind: Kind, active: Participant[], firstFrames: Record<string, number>): Promise<Sample> {
    await sleep(SETTLE);
    const startStats = await Promise.all(active.map((p) => mediaStats(p.page)));
    const finish = startWindow(everyone, livekitPid);
    await sleep(WINDOW);
    const cost = finish();
    const endStats = await Promise.all(active.map((p) => mediaStats(p.page)));
    const media: Sample["media"] = {};
    active.forEach((p, i) => {
      const [a, b] = [startStats[i] as MediaStats, endStats[i] as MediaStats];
      const seconds = (b.at - a.at) / 1000;
      const capturedFps = (b.capturedFrames - a.capturedFrames) / seconds;
      media[p.name] = {
        fps: (b.framesDecoded - a.framesDecoded) / seconds,
        capturedFps,
        audio: (b.samples - a.samples) / seconds,
        // CPU ms per second (% of one core × 10) per frame the camera delivered.
        msPerFrame: ((cost.browsers[p.name]?.cpu ?? NaN) * 10) / capturedFps,
        start: a,
        end: b,
      };
    });
    const sample = { kind, firstFrames, cost, media };
    log(
      `${kind}: first frames ${JSON.stringify(firstFrames)}; ` +
        active
          .map((p) => {
            const m = media[p.name] as Sample["media"][string];
            const c = cost.browsers[p.name] as Cost["browsers"][string];
            return `${p.name} ${fixed(c.cpu)}% CPU (renderer ${fixed(c.renderer)}%), ${fixed(c.pss)} MB, recv ${m.end.received} ${fixed(m.fps, 1)} fps, ${fixed(m.msPerFrame, 1)} CPU ms per captured frame (${fixed(m.capturedFps, 1)} fps), captured ${m.end.captured}, sent [${m.end.sent}] (${m.end.limitation})`;
          })
          .join("; ") +
        `; LiveKit ${fixed(cost.livekit, 1)}%; machine ${fixed(cost.machine)}%`,
    );
    return sample;
  }

  /** The call's memberships in the room's state (user, device, expiry), as Synapse has them. */
  async function memberships(): Promise<string> {
    const session = await desk.evaluate(() => JSON.parse(sessionStorage.getItem("connecta.session") ?? "{}") as object);
    const state = await matrixRequest(
      info,
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(seeker.roomId)}/state`,
      session as { accessToken: string },
    );
    const events = (Array.isArray(state.body) ? state.body : []) as {
      type: string;
      state_key: string;
      content: object;
    }[];
    return JSON.stringify(
      events.filter((e) => e.type.includes("call.member")).map((e) => ({ key: e.state_key, content: e.content })),
    );
  }

  const leave = async () => {
    for (const page of [chat, desk]) {
      const button = page.getByRole("button", { name: "Anruf verlassen" });
      if ((await button.count()) > 0) await button.click();
    }
    await until("the counsellor's call ended", async () =>
      (await desk.getByTestId("call-status").innerText()).includes("Der Anruf ist beendet."),
    );
  };

  /** One call in the web app; null (and the reason in `failures`) if a side decoded nothing. */
  async function appRound(): Promise<Sample | null> {
    await Promise.all([desk.reload(), chat.reload()]);
    const startButton = desk.getByRole("button", { name: "Videoanruf starten" });
    await startButton.waitFor({ timeout: 90_000 });
    await chat.locator("form.composer button[type=submit]:not([disabled])").waitFor({ timeout: 90_000 });
    await Promise.all([watch(desk), watch(chat)]);
    const linesBefore = consoleLines.length;
    const missingBefore = { ...missingKeys };
    await startButton.click();
    await chat.getByRole("button", { name: JOIN }).click({ timeout: 90_000 });
    const decoding = await until(
      "both decode the other's video",
      async () => {
        const [d, c] = await Promise.all([marks(desk), marks(chat)]);
        return Boolean(d.firstFrame && c.firstFrame);
      },
      FIRST_FRAME_TIMEOUT,
    ).then(
      () => true,
      () => false,
    );
    const [d, c] = await Promise.all([marks(desk), marks(chat)]);
    const t0 = d["click:Videoanruf starten"] as number;
    const at = (m: Record<string, number>, name: string) => (m[name] ?? NaN) - t0;
    const firstFrames = {
      counsellorToken: at(d, "token"),
      counsellorConnecting: at(d, "peerConnection"),
      offered: at(c, "offered"),
      joined: at(c, `click:${JOIN}`),
      seekerToken: at(c, "token"),
      seekerConnecting: at(c, "peerConnection"),
      seekerBytes: at(c, "firstBytes"),
      seeker: at(c, "firstFrame"),
      counsellorBytes: at(d, "firstBytes"),
      counsellor: at(d, "firstFrame"),
    };
    if (!decoding) {
      const missing = Object.entries(missingKeys).map(([who, n]) => `${who} ${n - (missingBefore[who] ?? 0)}`);
      const failure =
        `no decoded frame within ${FIRST_FRAME_TIMEOUT / 1000} s: ${JSON.stringify(firstFrames)}; ` +
        `LiveKit "MissingKey" errors: ${missing.join(", ")}; memberships: ${await memberships()}; ` +
        `console: ${consoleLines.slice(linesBefore, linesBefore + 15).join(" | ")}`;
      log(failure);
      failures.push(failure);
      await leave();
      return null;
    }
    for (const page of [desk, chat]) {
      const encrypted = await page.getByTestId("call-remote").getAttribute("data-encrypted");
      if (encrypted !== "true") throw new Error(`the call is not shown as encrypted (${encrypted})`);
    }
    const sample = await measure("app", [counsellorP, seekerP], firstFrames);
    await leave();
    return sample;
  }

  async function plainRound(kind: Kind, round: number): Promise<Sample> {
    await Promise.all([plainPage(info, plainA.page), plainPage(info, plainB.page)]);
    const room = `bench-${kind}-${round}-${unique()}`;
    await roomService.createRoom({ name: room, emptyTimeout: 30 });
    const [jwtA, jwtB] = await Promise.all([token(room, "plain-a"), token(room, "plain-b")]);
    await Promise.all([watch(plainA.page), watch(plainB.page)]);
    const t0 = Date.now();
    const encrypted = kind === "plainE2ee";
    await Promise.all([plainJoin(plainA.page, wsUrl, jwtA, encrypted), plainJoin(plainB.page, wsUrl, jwtB, encrypted)]);
    await until("both plain pages decode the other's video", async () => {
      const [a, b] = await Promise.all([marks(plainA.page), marks(plainB.page)]);
      return Boolean(a.firstFrame && b.firstFrame);
    });
    const [a, b] = await Promise.all([marks(plainA.page), marks(plainB.page)]);
    const sample = await measure(kind, [plainA, plainB], {
      connectingA: (a.peerConnection ?? NaN) - t0,
      connectingB: (b.peerConnection ?? NaN) - t0,
      bytesA: (a.firstBytes ?? NaN) - t0,
      bytesB: (b.firstBytes ?? NaN) - t0,
      frameA: (a.firstFrame ?? NaN) - t0,
      frameB: (b.firstFrame ?? NaN) - t0,
    });
    await Promise.all([plainLeave(plainA.page), plainLeave(plainB.page)]);
    await roomService.deleteRoom(room).catch(() => undefined);
    return sample;
  }

  const samples: Sample[] = [];
  const failures: string[] = [];
  const quiet: Cost[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    log(`round ${round + 1} of ${ROUNDS}: quiet`);
    const finish = startWindow(everyone, livekitPid);
    await sleep(QUIET);
    quiet.push(finish());
    log(`quiet: LiveKit ${fixed(quiet.at(-1)?.livekit ?? NaN, 1)}%, machine ${fixed(quiet.at(-1)?.machine ?? NaN)}%`);
    for (let k = 0; k < KINDS.length; k++) {
      const kind = KINDS[(round + k) % KINDS.length] as Kind;
      log(`round ${round + 1}: ${kind}`);
      const sample = kind === "app" ? await appRound() : await plainRound(kind, round);
      if (sample) samples.push(sample);
    }
  }
  const loadAfter = loadavg();

  // --- Report ---
  const of = (kind: Kind) => samples.filter((s) => s.kind === kind);
  const app = of("app");
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ` +
      `Chromium ${counsellorP.browser.version()}; client built ${builtAt.toISOString()}; ` +
      `load average (1, 5, 15 min) ${loadBefore.map((l) => l.toFixed(1)).join(", ")} before, ` +
      `${loadAfter.map((l) => l.toFixed(1)).join(", ")} after; ${new Date(start).toISOString()}; ` +
      `${ROUNDS} rounds, window ${WINDOW / 1000} s, took ${((Date.now() - start) / 60_000).toFixed(1)} min`,
  );
  console.log("");
  console.log("| from the counsellor's click on „Videoanruf starten“ | samples | p50 ms | p95 ms |");
  console.log("|---|---|---|---|");
  const row = (label: string, values: number[]) =>
    console.log(`| ${label} | ${values.length} | ${fixed(median(values))} | ${fixed(p95(values))} |`);
  for (const [label, key] of [
    ["counsellor: call token received", "counsellorToken"],
    ["counsellor: connecting to LiveKit (first peer connection)", "counsellorConnecting"],
    ["seeker's page offers the call", "offered"],
    ["seeker clicks „Dem Anruf beitreten“ (the script, at once)", "joined"],
    ["seeker: call token received", "seekerToken"],
    ["seeker: connecting to LiveKit (first peer connection)", "seekerConnecting"],
    ["seeker: first remote video bytes", "seekerBytes"],
    ["**seeker: first decoded remote video frame**", "seeker"],
    ["counsellor: first remote video bytes", "counsellorBytes"],
    ["**counsellor: first decoded remote video frame**", "counsellor"],
  ] as const) {
    row(
      label,
      app.map((s) => s.firstFrames[key] ?? NaN),
    );
  }
  for (const kind of ["plain", "plainE2ee"] as const) {
    const values = (prefix: string) =>
      of(kind).flatMap((s) => [s.firstFrames[`${prefix}A`], s.firstFrames[`${prefix}B`]]);
    row(`${LABEL[kind]}, from both connecting at once: first peer connection`, values("connecting") as number[]);
    row(`… first remote video bytes`, values("bytes") as number[]);
    row(`… **first decoded remote video frame**`, values("frame") as number[]);
  }
  console.log("");
  console.log(
    `| per participant, ${WINDOW / 1000} s window (medians) | samples | CPU % of one core | of which renderer | PSS MB | camera fps | CPU ms per camera frame | received video (end of window) | received fps | largest layer sent | sender limited by | LiveKit CPU % | machine busy % |`,
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const kind of KINDS) {
    const rows = of(kind);
    const names = Object.keys(rows[0]?.media ?? {});
    const pick = (f: (s: Sample, name: string) => number) =>
      median(rows.flatMap((s) => names.map((name) => f(s, name))));
    const cpu = pick((s, n) => s.cost.browsers[n]?.cpu ?? NaN);
    const renderer = pick((s, n) => s.cost.browsers[n]?.renderer ?? NaN);
    const memory = pick((s, n) => s.cost.browsers[n]?.pss ?? NaN);
    const fps = pick((s, n) => s.media[n]?.fps ?? NaN);
    const capturedFps = pick((s, n) => s.media[n]?.capturedFps ?? NaN);
    const msPerFrame = pick((s, n) => s.media[n]?.msPerFrame ?? NaN);
    // How often each value was seen at the end of a window, e.g. "1280x720 ×3, 320x180 ×5".
    const seen = (f: (m: MediaStats) => string) => {
      const counts = new Map<string, number>();
      for (const value of rows.flatMap((s) => names.map((n) => f(s.media[n]?.end as MediaStats))))
        counts.set(value, (counts.get(value) ?? 0) + 1);
      return [...counts].map(([value, n]) => `${value} ×${n}`).join(", ");
    };
    // The largest layer sent ("f 1280x720@11" → "1280x720").
    const largest = (m: MediaStats) =>
      /(\d+x\d+)@/.exec(m.sent.split(", ").find((l) => l.startsWith("f ")) ?? m.sent)?.[1] ?? "–";
    console.log(
      `| ${LABEL[kind]} | ${rows.length * names.length} | ${fixed(cpu)} | ${fixed(renderer)} | ${fixed(memory)} | ` +
        `${fixed(capturedFps, 1)} | ${fixed(msPerFrame, 1)} | ${seen((m) => m.received)} | ${fixed(fps, 1)} | ${seen(largest)} | ${seen((m) => m.limitation)} | ` +
        `${fixed(median(rows.map((s) => s.cost.livekit)), 1)} | ${fixed(median(rows.map((s) => s.cost.machine)))} |`,
    );
  }
  const idle = (names: string[]) => median(quiet.flatMap((q) => names.map((n) => q.browsers[n]?.cpu ?? NaN)));
  const idleMemory = (names: string[]) => median(quiet.flatMap((q) => names.map((n) => q.browsers[n]?.pss ?? NaN)));
  console.log(
    `| quiet: nobody in a call (web app pages open; plain pages at LiveKit's origin) | ${quiet.length} | ` +
      `web app ${fixed(idle(["counsellor", "seeker"]), 1)}, plain ${fixed(idle(["plain A", "plain B"]), 1)} | | ` +
      `web app ${fixed(idleMemory(["counsellor", "seeker"]))}, plain ${fixed(idleMemory(["plain A", "plain B"]))} | | | | | | | ` +
      `${fixed(median(quiet.map((q) => q.livekit)), 1)} | ${fixed(median(quiet.map((q) => q.machine)))} |`,
  );
  console.log("");
  for (const kind of KINDS) {
    const rows = of(kind);
    const names = Object.keys(rows[0]?.media ?? {});
    const kinds = [
      ...new Set(rows.flatMap((s) => names.flatMap((n) => Object.keys(s.cost.browsers[n]?.byKind ?? {})))),
    ];
    const pick = (k: string) => median(rows.flatMap((s) => names.map((n) => s.cost.browsers[n]?.byKind[k] ?? 0)));
    console.log(
      `CPU by process kind, ${LABEL[kind]} (medians, % of one core): ${kinds.map((k) => `${k} ${fixed(pick(k), 1)}`).join(", ")}`,
    );
  }
  console.log("");
  console.log(
    `web app calls in which a side decoded no frame within ${FIRST_FRAME_TIMEOUT / 1000} s: ${failures.length} of ${ROUNDS}`,
  );
  for (const failure of failures) console.log(`- ${failure}`);
  console.log("");
  console.log("per sample:");
  for (const s of samples) console.log(JSON.stringify(s));
} catch (error) {
  console.error(error);
  console.error(consoleLines.slice(-40).join("\n"));
  process.exitCode = 1;
} finally {
  await cleanup();
}
process.exit();
