/**
 * How many counselling messages one Synapse process carries (docs/scaling.md uses it for
 * "messages per Synapse worker"), on a fresh stack:
 *
 * `pairs` conversations are set up as counselling leaves them: a seeker's enquiry room (as
 * tests/support/workflow.ts `openTestEnquiry` does), the seeker has written, a counsellor has
 * joined and claimed it. Then, for each load level (conversations writing at once), every one
 * of them runs for `seconds`: seeker and counsellor take turns, each message sent through the
 * client-server API and counted once the other side's long-polling /sync has returned it (one
 * message in flight per conversation, as in a chat). Messages are Megolm-shaped stand-ins of a
 * 200-character text.
 *
 * Measured per level: messages delivered per second, end-to-end latency (send request until the
 * other side's /sync has it), and the CPU seconds the Synapse process used meanwhile (from
 * /proc: Synapse is one Python process, so one busy core is all one process or worker can
 * give). Messages per Synapse CPU second is the capacity of one fully busy process. Baseline in
 * the same run: one conversation alone (no contention).
 *
 *   node bench/messages.ts [pairs=40] [seconds=30] [levels=1,10,40]
 *   (in the environment ops/connecta sets up)
 *
 * Synapse's message, join, login and registration limits are raised for the run
 * (CONNECTA_SYNAPSE_EXTRA_CONFIG): one address sends for every seeker and counsellor.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import type { StackInfo } from "../ops/stack/stack.ts";
import { matrixRequest, registerUser, type TestUser } from "../tests/support/matrix.ts";
import {
  callApi,
  connectaDb,
  createAgency,
  createCounsellor,
  createTopic,
  openIdToken,
  openTestEnquiry,
  seekerWrites,
} from "../tests/support/workflow.ts";
import { benchDataDir, raisedSynapseLimits, benchStack } from "./support.ts";

const pairs = Number(process.argv[2] ?? 40);
const seconds = Number(process.argv[3] ?? 30);
const levels = (process.argv[4] ?? "1,10,40").split(",").map(Number);
const enc = encodeURIComponent;

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
};

const dataDir = benchDataDir("messages");
const extra = raisedSynapseLimits(dataDir);
const { stack, cleanup } = benchStack(dataDir, { CONNECTA_SYNAPSE_EXTRA_CONFIG: extra }, () =>
  Promise.resolve(undefined),
);

/** The Synapse process of this stack: the one started with its homeserver.yaml. */
function synapsePid(): number {
  const config = join(dataDir, "synapse", "homeserver.yaml");
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (cmdline.includes("synapse.app.homeserver") && cmdline.includes(config)) return Number(entry);
    } catch {
      // The process ended meanwhile.
    }
  }
  throw new Error(`no Synapse process with ${config}`);
}

/** CPU seconds (user + system) process `pid` has used; Linux counts in ticks of 1/100 s. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A Megolm message of a 200-character text, as the server sees it. */
const megolm = (marker: string) => ({
  algorithm: "m.megolm.v1.aes-sha2",
  ciphertext: `${randomBytes(380).toString("base64").replace(/=+$/, "")}${marker}`,
  device_id: "ABCDEFGHIJ",
  sender_key: randomBytes(32).toString("base64").replace(/=+$/, ""),
  session_id: randomBytes(32).toString("base64").replace(/=+$/, ""),
});

/** A claimed conversation whose two sides take turns; `turn` returns the end-to-end ms. */
async function conversation(info: StackInfo, db: pg.Client, agencyId: number, topicId: string, counsellor: TestUser) {
  const seeker = await registerUser(info, "bench-seeker");
  const enquiry = await openTestEnquiry(db, seeker, agencyId, topicId);
  await seekerWrites(info, db, seeker, enquiry);
  const joined = await matrixRequest(info, "POST", `/_matrix/client/v3/join/${enc(enquiry.roomId)}`, counsellor, {});
  if (joined.status !== 200) throw new Error(`join: ${joined.status}`);
  const claimed = await callApi(
    info.appserviceUrl,
    "POST",
    `/api/v1/enquiries/${enquiry.enquiryId}/claim`,
    await openIdToken(info, counsellor),
    {},
  );
  if (claimed.status !== 200) throw new Error(`claim: ${claimed.status} ${JSON.stringify(claimed.body)}`);
  const filter = enc(
    JSON.stringify({
      room: { rooms: [enquiry.roomId], timeline: { limit: 50 }, state: { lazy_load_members: true } },
      presence: { types: [] },
      account_data: { types: [] },
    }),
  );
  const since = new Map<TestUser, string>();
  for (const user of [seeker, counsellor]) {
    const res = await matrixRequest(info, "GET", `/_matrix/client/v3/sync?timeout=0&filter=${filter}`, user);
    since.set(user, String(res.body.next_batch));
  }
  const receive = async (user: TestUser, marker: string) => {
    for (;;) {
      const res = await matrixRequest(
        info,
        "GET",
        `/_matrix/client/v3/sync?timeout=30000&since=${enc(since.get(user) ?? "")}&filter=${filter}`,
        user,
      );
      if (res.status !== 200) throw new Error(`sync: ${res.status}`);
      since.set(user, String(res.body.next_batch));
      const rooms = res.body.rooms as
        { join?: Record<string, { timeline?: { events?: { content?: { ciphertext?: string } }[] } }> } | undefined;
      const events = rooms?.join?.[enquiry.roomId]?.timeline?.events ?? [];
      if (events.some((e) => e.content?.ciphertext?.endsWith(marker))) return;
    }
  };
  let n = 0;
  return async (): Promise<number> => {
    const [from, to] = n++ % 2 === 0 ? [seeker, counsellor] : [counsellor, seeker];
    const marker = `-${randomUUID()}`;
    const start = performance.now();
    const res = await matrixRequest(
      info,
      "PUT",
      `/_matrix/client/v3/rooms/${enc(enquiry.roomId)}/send/m.room.encrypted/${randomUUID()}`,
      from,
      megolm(marker),
    );
    if (res.status !== 200) throw new Error(`send: ${res.status}`);
    await receive(to, marker);
    return performance.now() - start;
  };
}

const info = await stack.ready;
const progress = (what: string) => console.error(`${new Date().toISOString()} ${what}`);
progress("stack ready");
const db = await connectaDb(info);
const pid = synapsePid();

try {
  const topic = await createTopic(db);
  const agency = await createAgency(db, [topic]);
  // A counsellor has several conversations at once, as on a working day.
  const counsellors = await Promise.all(
    Array.from({ length: Math.ceil(pairs / 5) }, () => createCounsellor(info, db, agency)),
  );
  const turns: (() => Promise<number>)[] = [];
  for (let i = 0; i < pairs; i++) {
    turns.push(await conversation(info, db, agency, topic, counsellors[i % counsellors.length] as TestUser));
  }
  progress(`${pairs} conversations ready`);
  const rows: string[] = [];
  const load = loadavg()[0]?.toFixed(1);
  for (const level of levels) {
    const latencies: number[] = [];
    const cpuStart = cpuSeconds(pid);
    const start = performance.now();
    const end = start + seconds * 1000;
    await Promise.all(
      turns.slice(0, level).map(async (turn) => {
        while (performance.now() < end) latencies.push(await turn());
      }),
    );
    const wall = (performance.now() - start) / 1000;
    const cpu = cpuSeconds(pid) - cpuStart;
    const name = level === 1 ? "baseline: 1 conversation alone" : `${level} conversations at once`;
    rows.push(
      `| ${name} | ${latencies.length} | ${(latencies.length / wall).toFixed(1)} | ${quantile(latencies, 0.5).toFixed(0)} | ${quantile(latencies, 0.95).toFixed(0)} | ${(cpu / wall).toFixed(2)} | ${(latencies.length / cpu).toFixed(1)} |`,
    );
    progress(rows.at(-1) ?? "");
  }
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${new Date().toISOString()}; load average before ${load}, after ${loadavg()[0]?.toFixed(1)}`,
  );
  console.log(`${pairs} conversations, ${seconds} s per level`);
  console.log("");
  console.log(
    "| load | messages | messages/s | end to end p50 ms | p95 ms | Synapse CPU (cores) | messages per Synapse CPU second |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const row of rows) console.log(row);
} finally {
  await db.end();
  await cleanup();
}
