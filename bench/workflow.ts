/**
 * Workflow benchmarks on a fresh stack: queue listing with 100,000 stored enquiries, and claim
 * latency under a 50-way race across two appservice processes. Baselines in the same run: the
 * appservice's /healthz (HTTP and process overhead) and a bare Synapse kick (the Matrix call a
 * claim makes).
 *
 *   node bench/workflow.ts      (in the environment ops/connecta sets up)
 */
import { mkdtempSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { ROOT } from "../ops/stack/config.ts";
import { freePort, stopService } from "../ops/stack/processes.ts";
import { startAppservice } from "../ops/stack/stack.ts";
import { freshStackEnv, launchStack, removeStackData } from "../tests/support/global-setup.ts";
import { matrixRequest, registerUser, stackSecret } from "../tests/support/matrix.ts";
import {
  callApi,
  connectaDb,
  createAgency,
  createCounsellor,
  createTopic,
  openIdToken,
  openTestEnquiry,
} from "../tests/support/workflow.ts";

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
};
const row = (name: string, values: number[]) =>
  console.log(
    `| ${name} | ${values.length} | ${quantile(values, 0.5).toFixed(1)} | ${quantile(values, 0.95).toFixed(1)} |`,
  );

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const result = await fn();
  return [performance.now() - start, result];
}

const dataDir = mkdtempSync(join(ROOT, ".data", "bench-workflow-"));
const stack = launchStack(process.execPath, [join(ROOT, "ops", "stack", "cli.ts"), "start"], freshStackEnv(dataDir));
const info = await stack.ready;
const db = await connectaDb(info);
const bot = { accessToken: stackSecret(info, "asToken") };
try {
  // --- Queue listing with 100,000 enquiries -------------------------------------------------
  const topic = await createTopic(db);
  const agency = await createAgency(db, [topic]);
  const others = await Promise.all(Array.from({ length: 49 }, () => createAgency(db, [topic])));
  const counsellor = await createCounsellor(info, db, agency);
  const token = await openIdToken(info, counsellor);
  // 100,000 enquiries over 50 agencies: 10 % waiting, the rest active or closed history.
  await db.query(
    `INSERT INTO enquiries (intake_id, state, agency_id, topic_id, language, age_group, seeker_id, room_id,
                            waiting_since, closed_at)
     SELECT gen_random_uuid(), CASE WHEN i % 10 = 0 THEN 'waiting' ELSE 'closed' END,
            (ARRAY[$1::bigint] || $2::bigint[])[1 + i % 50], $3, 'de', 'unknown', '@s' || i || ':localhost',
            '!bench' || i || ':localhost', now() - (i || ' seconds')::interval,
            CASE WHEN i % 10 = 0 THEN NULL ELSE now() END
       FROM generate_series(1, 100000) AS i`,
    [agency, others, topic],
  );
  await db.query("ANALYZE enquiries");
  const queue: number[] = [];
  const health: number[] = [];
  for (let i = 0; i < 300; i++) {
    const [ms, res] = await timed(() => callApi(info.appserviceUrl, "GET", "/api/v1/queue", token));
    if (res.status !== 200 || (res.body.enquiries as unknown[]).length !== 100) throw new Error("queue failed");
    queue.push(ms);
    health.push((await timed(() => fetch(`${info.appserviceUrl}/healthz`).then((r) => r.text())))[0]);
  }

  // --- Claim under a 50-way race across two processes -----------------------------------------
  const port = await freePort(info.bindAddress);
  const second = await startAppservice(info, port, "appservice-bench");
  const urls = [info.appserviceUrl, `http://${info.bindAddress}:${port}`];
  const raceAgency = await createAgency(db, [topic]);
  const racers = await Promise.all(Array.from({ length: 25 }, () => createCounsellor(info, db, raceAgency)));
  const tokens = await Promise.all(racers.map((c) => openIdToken(info, c)));
  const winners: number[] = [];
  const losers: number[] = [];
  const kicks: number[] = [];
  for (let round = 0; round < 10; round++) {
    const seeker = await registerUser(info, "bench-seeker");
    const { enquiryId } = await openTestEnquiry(db, seeker, raceAgency, topic);
    await db.query("UPDATE enquiries SET state = 'waiting', waiting_since = now() WHERE id = $1", [enquiryId]);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        timed(() =>
          callApi(urls[i % 2] ?? "", "POST", `/api/v1/enquiries/${enquiryId}/claim`, tokens[i % 25] ?? "", {}),
        ),
      ),
    );
    for (const [ms, res] of results) (res.status === 200 ? winners : losers).push(ms);
    // Baseline: one bare kick through Synapse, as a claim's steps make several of.
    // Only the workflow's bot creates rooms (homeserver-config/connecta_rules.py).
    const room = await matrixRequest(info, "POST", "/_matrix/client/v3/createRoom", bot, {
      invite: [counsellor.userId],
    });
    kicks.push(
      (
        await timed(() =>
          matrixRequest(
            info,
            "POST",
            `/_matrix/client/v3/rooms/${encodeURIComponent(String(room.body.room_id))}/kick`,
            bot,
            {
              user_id: counsellor.userId,
            },
          ),
        )
      )[0],
    );
  }
  await stopService(second);

  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${new Date().toISOString()}`,
  );
  console.log("| measurement | samples | p50 ms | p95 ms |");
  console.log("|---|---|---|---|");
  row("queue listing, 100,000 enquiries stored (10,000 waiting over 50 agencies)", queue);
  row("baseline: appservice /healthz", health);
  row(
    "claim, the winning counsellor's requests (50-way race, 2 processes; answered once the other 24 are out)",
    winners,
  );
  row("claim, refused requests (409)", losers);
  row("baseline: one bare Synapse kick", kicks);
} finally {
  await db.end();
  await stack.stop();
  removeStackData({ dataDir, postgresDir: info.postgresDir });
}
