/**
 * Load (issue 16): `pairs` seeker–counsellor pairs at once on a fresh stack, every client a
 * matrix-js-sdk client with Rust crypto in this Node.js process, exchanging `messages` messages
 * per pair (seeker and counsellor take turns, one in flight per pair), set up and checked by
 * tests/support/load.ts (the same code as the reduced run in CI, tests/e2e/load.test.ts):
 *
 * 1. baseline: the pairs in plain encrypted rooms made directly on Synapse (token registration,
 *    the bot's room), no application service in the way;
 * 2. Connecta: each seeker through the real intake (proof of work solved beforehand), the first
 *    enquiry, the queue, the counsellor's claim, all through the API.
 *
 * Measured per run: rooms made per second with all pairs at once (intakes per second for
 * Connecta), message latency (send → decrypted at the other side) p50/p95/p99, and CPU seconds
 * and peak memory of Synapse, the application service, PostgreSQL (all its processes) and this
 * driver, from /proc, sampled every second. Memory is the resident set of Synapse, the
 * application service and the driver, and the proportional set (PSS) summed over PostgreSQL's
 * processes (their shared buffers would otherwise count once per process). Nothing may be lost,
 * duplicated or undecryptable: checked live and in each room's history afterwards.
 *
 * Synapse's message, join, login and registration limits are raised for the run
 * (CONNECTA_SYNAPSE_EXTRA_CONFIG): one address (127.0.0.1) speaks for every seeker and
 * counsellor. The intake's per-address limit is not raised: each seeker sends its own address
 * (tests/support/load.ts).
 *
 *   node bench/load.ts [pairs=200] [messages per pair=20] [parallel setup=20]
 *   (in the environment ops/connecta sets up)
 */
import { readdirSync, readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import type * as sdk from "matrix-js-sdk";
import { logger as sdkLogger } from "matrix-js-sdk/lib/logger.js";
import {
  barePairs,
  connectaPairs,
  exchange,
  verifyHistory,
  type ExchangeResult,
  type HistoryCheck,
  type PairsSetup,
} from "../tests/support/load.ts";
import { benchDataDir, raisedSynapseLimits, benchStack } from "./support.ts";

const PAIRS = Number(process.argv[2] ?? 200);
const MESSAGES = Number(process.argv[3] ?? 20);
const PARALLEL = Number(process.argv[4] ?? 20);

/** Nearest-rank quantile. */
const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
};

// The SDK's global logger, used where no client logger is passed (e.g. MatrixRTCSession, which
// logs to stdout): errors only, as in bench/client-crypto.ts. Its child loggers copy its factory.
{
  type Factory = (method: string, level: number, name: string) => (...msg: unknown[]) => void;
  const root = sdkLogger as unknown as { methodFactory: Factory; rebuild: () => void };
  const original = root.methodFactory;
  root.methodFactory = (method, level, name) => (method === "error" ? original(method, level, name) : () => {});
  root.rebuild();
}

const dataDir = benchDataDir("load");
const extra = raisedSynapseLimits(dataDir, ["rc_registration_token_validity"]);
const clients: sdk.MatrixClient[] = [];
const stopClients = () => {
  clients.splice(0).forEach((c) => c.stopClient());
  return Promise.resolve();
};
const { stack, cleanup } = benchStack(dataDir, { CONNECTA_SYNAPSE_EXTRA_CONFIG: extra }, stopClients);

// --- Processes -------------------------------------------------------------------------------------

/** Fields of /proc/<pid>/stat after the command name (field 3 onwards), or null once it ended. */
function stat(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** Every process's parent. */
function parents(): Map<number, number> {
  const all = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const fields = stat(Number(name));
    if (fields) all.set(Number(name), Number(fields[1]));
  }
  return all;
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
};

/** Synapse, the application service and PostgreSQL's postmaster: children of the stack's CLI process. */
function stackProcesses(cliPid: number) {
  const children = [...parents()].filter(([, ppid]) => ppid === cliPid).map(([pid]) => pid);
  const find = (what: string, test: (args: string[]) => boolean) => {
    const pid = children.find((p) => test(cmdline(p)));
    if (pid === undefined) throw new Error(`no ${what} process under the stack (pid ${cliPid})`);
    return pid;
  };
  return {
    synapse: find("Synapse", (a) => a.includes("synapse.app.homeserver")),
    appservice: find("application service", (a) => a.some((x) => x.endsWith(join("appservice", "src", "main.ts")))),
    postgres: find("PostgreSQL", (a) => /(^|\/)postgres$/.test(a[0] ?? "")),
  };
}

/** CPU seconds (user + system) of a process; with `reaped`, also of its ended, waited-for children. */
function cpuSeconds(pid: number, reaped = false): number {
  const f = stat(pid);
  if (!f) return 0;
  const ticks = Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0);
  return ticks / 100;
}

/** A value in kB from /proc/<pid>/<file> (`VmRSS` of status, `Pss` of smaps_rollup), in MB. */
function memoryMb(pid: number, file: "status" | "smaps_rollup", key: string): number {
  try {
    const text = readFileSync(`/proc/${pid}/${file}`, "utf8");
    return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

type Component = "synapse" | "appservice" | "postgres" | "driver";
const COMPONENTS: Component[] = ["synapse", "appservice", "postgres", "driver"];
type Usage = Record<Component, number>;

/** CPU seconds used so far and memory now, per component. */
function usage(pids: ReturnType<typeof stackProcesses>): { cpu: Usage; memory: Usage } {
  const all = parents();
  const pgChildren = [...all].filter(([, ppid]) => ppid === pids.postgres).map(([pid]) => pid);
  const driver = process.cpuUsage();
  return {
    cpu: {
      synapse: cpuSeconds(pids.synapse),
      appservice: cpuSeconds(pids.appservice),
      // Backends that ended count in the postmaster's reaped children's time.
      postgres: cpuSeconds(pids.postgres, true) + pgChildren.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
      driver: (driver.user + driver.system) / 1e6,
    },
    memory: {
      synapse: memoryMb(pids.synapse, "status", "VmRSS"),
      appservice: memoryMb(pids.appservice, "status", "VmRSS"),
      postgres: [pids.postgres, ...pgChildren].reduce((sum, pid) => sum + memoryMb(pid, "smaps_rollup", "Pss"), 0),
      driver: process.memoryUsage().rss / 2 ** 20,
    },
  };
}

/** Measures from now: `end()` returns the CPU seconds used since and the peak memory seen. */
function measure(pids: ReturnType<typeof stackProcesses>) {
  const first = usage(pids);
  const peak = { ...first.memory };
  const sample = () => {
    const now = usage(pids).memory;
    for (const c of COMPONENTS) peak[c] = Math.max(peak[c], now[c]);
  };
  const timer = setInterval(sample, 1000);
  return () => {
    clearInterval(timer);
    sample();
    const last = usage(pids).cpu;
    const cpu = Object.fromEntries(COMPONENTS.map((c) => [c, last[c] - first.cpu[c]])) as Usage;
    return { cpu, peak };
  };
}

// --- The run ---------------------------------------------------------------------------------------

interface Run {
  setup: PairsSetup;
  result: ExchangeResult;
  history: HistoryCheck;
  /** Setup (with the timed room phase) and exchange. */
  setupUsage: { cpu: Usage; peak: Usage };
  exchangeUsage: { cpu: Usage; peak: Usage };
}

const progress = (what: string) => console.error(`${new Date().toISOString()} ${what}`);

async function run(
  name: string,
  pids: ReturnType<typeof stackProcesses>,
  make: () => Promise<PairsSetup>,
): Promise<Run> {
  progress(`${name}: setting up ${PAIRS} pairs`);
  const setupEnd = measure(pids);
  const setup = await make();
  const setupUsage = setupEnd();
  progress(`${name}: exchanging ${MESSAGES} messages in each of ${PAIRS} pairs`);
  const exchangeEnd = measure(pids);
  const result = await exchange(setup.pairs, MESSAGES);
  const exchangeUsage = exchangeEnd();
  progress(
    `${name}: ${result.latencies.length} of ${result.sent} delivered in ${result.seconds.toFixed(0)} s, p50 ${quantile(result.latencies, 0.5).toFixed(0)} ms; checking the history`,
  );
  const history = await verifyHistory(info, setup.pairs);
  await stopClients();
  // Each run's numbers as soon as it ends: a later run that fails does not take them along.
  const cpu = COMPONENTS.map((c) => `${c} ${exchangeUsage.cpu[c].toFixed(0)}`).join(", ");
  progress(
    `${name}: p50/p95/p99 ${[0.5, 0.95, 0.99].map((q) => quantile(result.latencies, q).toFixed(0)).join("/")} ms; ` +
      `history ${history.events} events, ${history.duplicated.length} duplicated, ${history.undecryptable.length} undecryptable, ${history.missing.length} missing; ` +
      `exchange CPU s: ${cpu}`,
  );
  return { setup, result, history, setupUsage, exchangeUsage };
}

const info = await stack.ready;
progress("stack ready");
const pids = stackProcesses(stack.child.pid ?? 0);
const loadBefore = loadavg()[0]?.toFixed(1);
const started = new Date();

try {
  const options = { parallel: PARALLEL, progress, clients };
  const bare = await run("baseline", pids, () => barePairs(info, PAIRS, options));
  const connecta = await run("Connecta", pids, () => connectaPairs(info, PAIRS, options));
  const loadAfter = loadavg()[0]?.toFixed(1);

  const fmt = (v: number, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
  const both = (f: (r: Run) => string) => `${f(connecta)} | ${f(bare)}`;
  const rows: [string, (r: Run) => string][] = [
    ["pairs set up (queued / claimed)", (r) => `${r.setup.pairs.length} (${r.setup.queued} / ${r.setup.claimed})`],
    ["intake or completion requests retried (5xx, 429)", (r) => String(r.setup.retried.length)],
    [
      "rooms per second, all pairs at once (Connecta: intakes)",
      (r) => fmt(r.setup.pairs.length / r.setup.roomSeconds, 1),
    ],
    ["messages delivered / sent", (r) => `${r.result.latencies.length} / ${r.result.sent}`],
    ["lost / duplicated live", (r) => `${r.result.lost.length} / ${r.result.duplicated.length}`],
    [
      "in the history: events / duplicated / undecryptable / missing",
      (r) =>
        `${r.history.events} / ${r.history.duplicated.length} / ${r.history.undecryptable.length} / ${r.history.missing.length}`,
    ],
    ["decrypted only after a late key", (r) => String(r.result.lateKeys)],
    ["messages per second", (r) => fmt(r.result.latencies.length / r.result.seconds, 1)],
    ["message latency p50 ms", (r) => fmt(quantile(r.result.latencies, 0.5))],
    ["p95 ms", (r) => fmt(quantile(r.result.latencies, 0.95))],
    ["p99 ms", (r) => fmt(quantile(r.result.latencies, 0.99))],
    ["exchange wall time s", (r) => fmt(r.result.seconds)],
    ...COMPONENTS.map((c): [string, (r: Run) => string] => [
      `CPU s ${c}: setup / exchange`,
      (r) => `${fmt(r.setupUsage.cpu[c])} / ${fmt(r.exchangeUsage.cpu[c])}`,
    ]),
    ...COMPONENTS.map((c): [string, (r: Run) => string] => [
      `peak memory MB ${c}`,
      (r) => fmt(Math.max(r.setupUsage.peak[c], r.exchangeUsage.peak[c])),
    ]),
  ];
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${started.toISOString()} to ${new Date().toISOString()}; load average before ${loadBefore}, after ${loadAfter}`,
  );
  console.log(`${PAIRS} pairs, ${MESSAGES} messages per pair, setup ${PARALLEL} pairs at a time`);
  console.log("");
  console.log("| measurement | Connecta | baseline: bare encrypted rooms |");
  console.log("|---|---|---|");
  for (const [label, f] of rows) console.log(`| ${label} | ${both(f)} |`);
  for (const r of [connecta, bare]) {
    const lines = [...r.setup.retried, ...r.result.lost, ...r.history.undecryptable, ...r.history.missing];
    for (const line of lines.slice(0, 10)) {
      console.error(`problem: ${line}`);
    }
  }
} finally {
  // The application service's errors, if any, before the stack's data (and logs) are removed.
  const errors = readFileSync(join(dataDir, "logs", "appservice.log"), "utf8")
    .split("\n")
    .filter((line) => /"level":(50|60)/.test(line));
  for (const line of errors.slice(0, 5)) console.error(`appservice: ${line.slice(0, 600)}`);
  if (errors.length > 5) console.error(`appservice: ${errors.length - 5} more errors`);
  await cleanup();
}
