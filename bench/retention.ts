/**
 * What retention costs (appservice/src/retention/, docs/privacy.md), on a fresh stack:
 *
 * (a) purge throughput: N conversations, each with M messages (ciphertext stand-ins sent by the
 *     seeker through the client-server API, as tests/support/workflow.ts `seekerWrites` does)
 *     and one uploaded file reported through `POST /api/v1/enquiries/{id}/media`, claimed,
 *     closed, then archived and closed a day ago under an agency policy of `archived_days` 0 (as
 *     tests/e2e/retention.test.ts does). Timed: from the operator's sweep request until every
 *     one of them is gone from our database (the last purge step, after Synapse purged the room
 *     and the files and erased the seeker).
 * (b) message latency while that purge runs: a seeker and a counsellor of another agency in one
 *     claimed conversation take turns writing; each sample is end to end, from the send request
 *     until the other side's long-polling /sync returns the event (the send request's own
 *     round-trip is reported too). Baseline in the same run, just before the sweep: the same pair
 *     with no sweep running.
 *
 *   node bench/retention.ts [conversations=20] [runs=3] [messages=50]
 *   (in the environment ops/connecta sets up)
 *
 * Synapse's message, join, login, registration and upload limits are raised for the run
 * (CONNECTA_SYNAPSE_EXTRA_CONFIG): one address seeds hundreds of messages a second.
 */
import { randomUUID } from "node:crypto";
import { cpus, totalmem } from "node:os";
import type pg from "pg";
import type { StackInfo } from "../ops/stack/stack.ts";
import { matrixRequest, registerUser, stackSecret, type TestUser } from "../tests/support/matrix.ts";
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

const conversations = Number(process.argv[2] ?? 20);
const runs = Number(process.argv[3] ?? 3);
const messages = Number(process.argv[4] ?? 50);
const BASELINE_SAMPLES = 100;
const enc = encodeURIComponent;

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
};
const median = (values: number[]) => quantile(values, 0.5);

const dataDir = benchDataDir("retention");
const extra = raisedSynapseLimits(dataDir, ["rc_media_create"]);
const { stack, cleanup } = benchStack(dataDir, { CONNECTA_SYNAPSE_EXTRA_CONFIG: extra }, () =>
  Promise.resolve(undefined),
);

/** Runs `fn` over `items`, `limit` at a time. */
async function each<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += limit) await Promise.all(items.slice(i, i + limit).map(fn));
}

/** A Megolm-shaped stand-in: the server cannot tell it from a real message. */
const stanza = (marker: string) => ({
  algorithm: "m.megolm.v1.aes-sha2",
  ciphertext: `AwgAEn${marker}`,
  device_id: "BENCH",
  sender_key: "bench",
  session_id: "bench",
});

async function send(info: StackInfo, user: TestUser, roomId: string, marker: string): Promise<void> {
  const res = await matrixRequest(
    info,
    "PUT",
    `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.encrypted/${randomUUID()}`,
    user,
    stanza(marker),
  );
  if (res.status !== 200) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`);
}

async function upload(info: StackInfo, user: TestUser): Promise<string> {
  const res = await fetch(`${info.synapseUrl}/_matrix/media/v3/upload?filename=file.bin`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.accessToken}`, "content-type": "application/octet-stream" },
    body: new Uint8Array(16 * 1024),
  });
  if (res.status !== 200) throw new Error(`upload: ${res.status}`);
  return String(((await res.json()) as { content_uri: string }).content_uri);
}

/**
 * One conversation ready for purging (but not yet due): the seeker wrote `messages` messages and
 * reported a file, a counsellor claimed it and closed it. Returns the enquiry id.
 */
async function seedConversation(
  info: StackInfo,
  db: pg.Client,
  agencyId: number,
  topicId: string,
  counsellorToken: string,
): Promise<number> {
  const seeker = await registerUser(info, "bench-seeker");
  const enquiry = await openTestEnquiry(db, seeker, agencyId, topicId);
  await seekerWrites(info, db, seeker, enquiry);
  for (let i = 1; i < messages; i++) await send(info, seeker, enquiry.roomId, String(i));
  const path = `/api/v1/enquiries/${enquiry.enquiryId}`;
  const seekerToken = await openIdToken(info, seeker);
  const mediaId = await upload(info, seeker);
  for (const [method, sub, token, body] of [
    ["POST", "/media", seekerToken, { media_id: mediaId }],
    ["POST", "/claim", counsellorToken, {}],
    ["POST", "/close", counsellorToken, {}],
  ] as const) {
    const res = await callApi(info.appserviceUrl, method, `${path}${sub}`, token, body);
    if (res.status !== 200) throw new Error(`${sub}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return enquiry.enquiryId;
}

/**
 * A seeker and a counsellor in one claimed conversation, each with a /sync position in it. `turn`
 * sends one message from one side and waits until the other side's /sync has it.
 */
async function chattingPair(info: StackInfo, db: pg.Client) {
  const topic = await createTopic(db);
  const agency = await createAgency(db, [topic]);
  const counsellor = await createCounsellor(info, db, agency);
  const seeker = await registerUser(info, "bench-pair");
  const enquiry = await openTestEnquiry(db, seeker, agency, topic);
  await seekerWrites(info, db, seeker, enquiry);
  // The counsellor was invited with the room; the desk joins before claiming.
  const joined = await matrixRequest(info, "POST", `/_matrix/client/v3/join/${enc(enquiry.roomId)}`, counsellor, {});
  if (joined.status !== 200) throw new Error(`join: ${joined.status} ${JSON.stringify(joined.body)}`);
  const claimed = await callApi(
    info.appserviceUrl,
    "POST",
    `/api/v1/enquiries/${enquiry.enquiryId}/claim`,
    await openIdToken(info, counsellor),
    {},
  );
  if (claimed.status !== 200) throw new Error(`claim: ${claimed.status}`);
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
  /** Long-polls `user`'s /sync until an event carrying `marker` arrives in the room. */
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
  return {
    /** One message: returns [end to end ms, send request ms]. */
    turn: async (): Promise<[number, number]> => {
      const [from, to] = n++ % 2 === 0 ? [seeker, counsellor] : [counsellor, seeker];
      const marker = `-${randomUUID()}`;
      const start = performance.now();
      await send(info, from, enquiry.roomId, marker);
      const sent = performance.now();
      await receive(to, marker);
      return [performance.now() - start, sent - start];
    },
  };
}

const info = await stack.ready;
const progress = (what: string) => console.error(`${new Date().toISOString()} ${what}`);
progress("stack ready");
const db = await connectaDb(info);
// Four conversations are seeded at a time, each on its own connection.
const seeders = await Promise.all(Array.from({ length: 4 }, () => connectaDb(info)));
const operator = stackSecret(info, "operatorToken");
const adminApi = async (method: string, path: string, body?: unknown) => {
  const res = await callApi(info.appserviceUrl, method, `/api/v1/admin${path}`, operator, body);
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
};

try {
  const pair = await chattingPair(info, db);
  progress("pair ready");
  const purgeMs: number[] = [];
  const seedMs: number[] = [];
  const baseline = { e2e: [] as number[], send: [] as number[] };
  const during = { e2e: [] as number[], send: [] as number[] };
  for (let run = 0; run < runs; run++) {
    // A fresh agency per run: the sweep finds exactly this run's conversations.
    const topic = await createTopic(db);
    const agency = await createAgency(db, [topic]);
    const counsellor = await createCounsellor(info, db, agency);
    const counsellorToken = await openIdToken(info, counsellor);
    const seedStart = performance.now();
    const ids: number[] = [];
    await each(
      Array.from({ length: conversations }, (_, i) => i),
      seeders.length,
      async (i) =>
        ids.push(await seedConversation(info, seeders[i % seeders.length] ?? db, agency, topic, counsellorToken)),
    );
    seedMs.push(performance.now() - seedStart);
    progress(`run ${run + 1}: seeded`);
    await adminApi("PUT", `/retention/agencies/${agency}`, {
      archived_days: 0,
      unfinished_hours: 48,
      inactive_days: 180,
    });
    await db.query("UPDATE enquiries SET state = 'archived', closed_at = now() - interval '1 day' WHERE id = ANY($1)", [
      ids,
    ]);
    const dry = (await adminApi("POST", "/retention/sweep", { dry_run: true })) as { enquiries: unknown[] };
    if (dry.enquiries.length !== conversations) {
      throw new Error(`the dry run lists ${dry.enquiries.length} conversations, expected ${conversations}`);
    }

    for (let i = 0; i < BASELINE_SAMPLES; i++) {
      const [e2e, sent] = await pair.turn();
      baseline.e2e.push(e2e);
      baseline.send.push(sent);
    }

    progress(`run ${run + 1}: baseline measured`);
    const start = performance.now();
    const swept = (await adminApi("POST", "/retention/sweep", { dry_run: false })) as { enquiries: unknown[] };
    if (swept.enquiries.length !== conversations) throw new Error(`swept ${swept.enquiries.length}`);
    let left = conversations;
    const watcher = (async () => {
      while (left > 0) {
        const { rows } = await db.query<{ n: string }>("SELECT count(*) AS n FROM enquiries WHERE id = ANY($1)", [ids]);
        left = Number(rows[0]?.n);
        if (left > 0) await new Promise((r) => setTimeout(r, 100));
      }
      return performance.now() - start;
    })();
    while (left > 0) {
      const [e2e, sent] = await pair.turn();
      // Only samples sent while purges were still running count.
      if (left > 0) {
        during.e2e.push(e2e);
        during.send.push(sent);
      }
    }
    purgeMs.push(await watcher);
    console.error(
      `run ${run + 1}: seeded ${conversations} in ${((seedMs.at(-1) ?? 0) / 1000).toFixed(1)} s; purged in ${((purgeMs.at(-1) ?? 0) / 1000).toFixed(1)} s`,
    );
  }

  const purgeMedian = median(purgeMs);
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${new Date().toISOString()}`,
  );
  console.log(`conversations per run: ${conversations} × ${messages} messages + 1 file; runs: ${runs}`);
  console.log("");
  console.log("| purge | runs | wall time s (median) | all runs s | conversations per minute (median) |");
  console.log("|---|---|---|---|---|");
  console.log(
    `| ${conversations} conversations | ${purgeMs.length} | ${(purgeMedian / 1000).toFixed(1)} | ${purgeMs.map((m) => (m / 1000).toFixed(1)).join(", ")} | ${((conversations * 60_000) / purgeMedian).toFixed(0)} |`,
  );
  console.log("");
  console.log(
    "| message latency | samples | end to end p50 ms | end to end p95 ms | send request p50 ms | send p95 ms |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const [name, s] of [
    ["baseline: no sweep", baseline],
    ["while the purge runs", during],
  ] as const) {
    console.log(
      `| ${name} | ${s.e2e.length} | ${median(s.e2e).toFixed(0)} | ${quantile(s.e2e, 0.95).toFixed(0)} | ${median(s.send).toFixed(0)} | ${quantile(s.send, 0.95).toFixed(0)} |`,
    );
  }
  console.log(`(seeding ${conversations} conversations took ${(median(seedMs) / 1000).toFixed(1)} s, median)`);
} finally {
  await Promise.all([db, ...seeders].map((c) => c.end()));
  await cleanup();
}
