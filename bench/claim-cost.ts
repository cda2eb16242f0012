/**
 * What a claim costs now that it answers only once the room reflects it (the other counsellors
 * are out, so nobody reads along after "taken"): claim latency with 5, 25 and 100 counsellors per
 * agency, all of them joined to the waiting enquiry's room, as the counsellors' desk does.
 * Baseline in the same run, per round: the bot removing the same number of joined members from a
 * comparable room, one after the other, with nothing of ours in between (Synapse handles one
 * membership change per room at a time, so this is the floor).
 *
 *   node bench/claim-cost.ts [rounds=5]      (in the environment ops/connecta sets up)
 *
 * Synapse's join and login rate limits are raised for the run (CONNECTA_SYNAPSE_EXTRA_CONFIG):
 * one address creates and joins a hundred counsellors here.
 */
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
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
import { benchDataDir, benchStack } from "./support.ts";

const rounds = Number(process.argv[2] ?? 5);
const sizes = [5, 25, 100];
const enc = encodeURIComponent;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const p95 = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * 0.95))] ?? 0;

const dataDir = benchDataDir("claim-cost");
const extra = join(dataDir, "bench-synapse.yaml");
writeFileSync(
  extra,
  [
    "rc_joins: {local: {per_second: 1000, burst_count: 1000}}",
    "rc_joins_per_room: {per_second: 1000, burst_count: 1000}",
    "rc_login: {address: {per_second: 1000, burst_count: 1000}, account: {per_second: 1000, burst_count: 1000}}",
    "rc_registration: {per_second: 1000, burst_count: 1000}",
    "",
  ].join("\n"),
);
const { stack, cleanup } = benchStack(dataDir, { CONNECTA_SYNAPSE_EXTRA_CONFIG: extra }, () =>
  Promise.resolve(undefined),
);

/** Runs `fn` over `items`, `limit` at a time. */
async function each<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += limit) await Promise.all(items.slice(i, i + limit).map(fn));
}

async function joinAll(users: TestUser[], roomId: string): Promise<void> {
  await each(users, 8, async (u) => {
    const res = await matrixRequest(info, "POST", `/_matrix/client/v3/join/${enc(roomId)}`, u, {});
    if (res.status !== 200) throw new Error(`join: ${res.status} ${JSON.stringify(res.body)}`);
  });
}

const info = await stack.ready;
const db = await connectaDb(info);
const bot = { accessToken: stackSecret(info, "asToken") };
try {
  const topic = await createTopic(db);
  const results: { size: number; claim: number[]; baseline: number[] }[] = [];
  for (const size of sizes) {
    const agency = await createAgency(db, [topic]);
    const counsellors: TestUser[] = [];
    for (let i = 0; i < size; i++) counsellors.push(await createCounsellor(info, db, agency));
    const claimer = counsellors[0] as TestUser;
    const token = await openIdToken(info, claimer);
    const claim: number[] = [];
    const baseline: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const seeker = await registerUser(info, "bench-seeker");
      const enquiry = await openTestEnquiry(db, seeker, agency, topic);
      await seekerWrites(info, db, seeker, enquiry);
      await joinAll(counsellors, enquiry.roomId);
      const start = performance.now();
      const res = await callApi(info.appserviceUrl, "POST", `/api/v1/enquiries/${enquiry.enquiryId}/claim`, token, {});
      claim.push(performance.now() - start);
      if (res.status !== 200) throw new Error(`claim: ${res.status} ${JSON.stringify(res.body)}`);

      // Baseline: the bot's room with the same members, emptied by the bot alone.
      const room = await matrixRequest(info, "POST", "/_matrix/client/v3/createRoom", bot, {
        preset: "private_chat",
        invite: counsellors.map((c) => c.userId),
      });
      const roomId = String(room.body.room_id);
      await joinAll(counsellors, roomId);
      const kickStart = performance.now();
      for (const c of counsellors.slice(1)) {
        const kicked = await matrixRequest(info, "POST", `/_matrix/client/v3/rooms/${enc(roomId)}/kick`, bot, {
          user_id: c.userId,
          reason: randomUUID(),
        });
        if (kicked.status !== 200) throw new Error(`kick: ${kicked.status}`);
      }
      baseline.push(performance.now() - kickStart);
    }
    results.push({ size, claim, baseline });
  }

  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${new Date().toISOString()}`,
  );
  console.log(
    "| counsellors per agency | rounds | claim p50 ms | claim p95 ms | baseline: bare kicks p50 ms | per removed counsellor, claim / baseline ms |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const r of results) {
    console.log(
      `| ${r.size} | ${r.claim.length} | ${median(r.claim).toFixed(0)} | ${p95(r.claim).toFixed(0)} | ${median(r.baseline).toFixed(0)} | ${(median(r.claim) / (r.size - 1)).toFixed(0)} / ${(median(r.baseline) / (r.size - 1)).toFixed(0)} |`,
    );
  }
} finally {
  await db.end();
  await cleanup();
}
