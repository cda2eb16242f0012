/**
 * How much the databases grow per conversation (docs/scaling.md uses it for "database size per
 * 1,000 conversations"), on a fresh stack:
 *
 * In each batch, a new agency with 3 counsellors gets `conversations` conversations, 4 seeded at
 * a time. One conversation is what a counselling conversation leaves behind on the server: a
 * seeker (a Matrix account) whose enquiry room the step worker creates (enquiry row and
 * create-room step, as tests/support/workflow.ts `openTestEnquiry` does; the intake's own row
 * is not included), the seeker joins and writes, a counsellor joins and claims (the other two
 * leave the room), then seeker and counsellor take turns until `messages` messages are in the
 * room, and the counsellor closes it. Messages are Megolm-shaped stand-ins of the size of a
 * 200-character text (380 bytes of ciphertext, about 510 base64 characters, with sender key,
 * session id and device id of real lengths): the server stores them as it would real ones.
 * Attachments are not included (they are files in Synapse's media store, not rows).
 *
 * Measured: `pg_database_size` of `synapse` and `connecta` before the first batch (the
 * baseline: a fresh stack) and after each batch, once every Matrix step of the batch is done.
 * Reported: each batch's growth per 1,000 conversations, their median, and the Synapse tables
 * that grew most over the run.
 *
 *   node bench/db-size.ts [conversations per batch=40] [batches=5] [messages=40]
 *   (in the environment ops/connecta sets up)
 *
 * Synapse's message, join, login and registration limits are raised for the run
 * (CONNECTA_SYNAPSE_EXTRA_CONFIG): one address seeds thousands of messages.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { cpus, totalmem } from "node:os";
import pg from "pg";
import type { StackInfo } from "../ops/stack/stack.ts";
import { eventually, matrixRequest, registerUser, stackSecret, type TestUser } from "../tests/support/matrix.ts";
import {
  callApi,
  connectaDb,
  createAgency,
  createCounsellor,
  createTopic,
  openIdToken,
  openTestEnquiry,
  seekerWrites,
  stepsDone,
} from "../tests/support/workflow.ts";
import { benchDataDir, raisedSynapseLimits, benchStack } from "./support.ts";

const conversations = Number(process.argv[2] ?? 40);
const batches = Number(process.argv[3] ?? 5);
const messages = Number(process.argv[4] ?? 40);
const SEEDERS = 4;
const enc = encodeURIComponent;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

const dataDir = benchDataDir("db-size");
const extra = raisedSynapseLimits(dataDir);
const { stack, cleanup } = benchStack(dataDir, { CONNECTA_SYNAPSE_EXTRA_CONFIG: extra }, () =>
  Promise.resolve(undefined),
);

/** A Megolm message of a 200-character text, as the server sees it (it cannot tell it from a real one). */
const megolm = () => ({
  algorithm: "m.megolm.v1.aes-sha2",
  ciphertext: randomBytes(380).toString("base64").replace(/=+$/, ""),
  device_id: "ABCDEFGHIJ",
  sender_key: randomBytes(32).toString("base64").replace(/=+$/, ""),
  session_id: randomBytes(32).toString("base64").replace(/=+$/, ""),
});

async function send(info: StackInfo, user: TestUser, roomId: string): Promise<void> {
  const res = await matrixRequest(
    info,
    "PUT",
    `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.encrypted/${randomUUID()}`,
    user,
    megolm(),
  );
  if (res.status !== 200) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`);
}

/** One conversation from the enquiry to its close; returns the enquiry id. */
async function conversation(
  info: StackInfo,
  db: pg.Client,
  agencyId: number,
  topicId: string,
  counsellor: TestUser,
  counsellorToken: string,
): Promise<number> {
  const seeker = await registerUser(info, "bench-seeker");
  const enquiry = await openTestEnquiry(db, seeker, agencyId, topicId);
  await seekerWrites(info, db, seeker, enquiry);
  const joined = await matrixRequest(info, "POST", `/_matrix/client/v3/join/${enc(enquiry.roomId)}`, counsellor, {});
  if (joined.status !== 200) throw new Error(`join: ${joined.status} ${JSON.stringify(joined.body)}`);
  const path = `/api/v1/enquiries/${enquiry.enquiryId}`;
  const claimed = await callApi(info.appserviceUrl, "POST", `${path}/claim`, counsellorToken, {});
  if (claimed.status !== 200) throw new Error(`claim: ${claimed.status} ${JSON.stringify(claimed.body)}`);
  // seekerWrites sent the first message.
  for (let i = 1; i < messages; i++) await send(info, i % 2 === 0 ? seeker : counsellor, enquiry.roomId);
  const closed = await callApi(info.appserviceUrl, "POST", `${path}/close`, counsellorToken, {});
  if (closed.status !== 200) throw new Error(`close: ${closed.status} ${JSON.stringify(closed.body)}`);
  return enquiry.enquiryId;
}

/** Bytes of the two databases. */
async function sizes(db: pg.Client): Promise<{ synapse: number; connecta: number }> {
  const { rows } = await db.query<{ synapse: string; connecta: string }>(
    "SELECT pg_database_size('synapse') AS synapse, pg_database_size('connecta') AS connecta",
  );
  return { synapse: Number(rows[0]?.synapse), connecta: Number(rows[0]?.connecta) };
}

/** Bytes of each Synapse table (with its indexes and TOAST), through a connection to `synapse`. */
async function synapseTables(synapse: pg.Client): Promise<Map<string, number>> {
  const { rows } = await synapse.query<{ name: string; bytes: string }>(
    `SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname = 'public'`,
  );
  return new Map(rows.map((r) => [r.name, Number(r.bytes)]));
}

const info = await stack.ready;
const progress = (what: string) => console.error(`${new Date().toISOString()} ${what}`);
progress("stack ready");
const db = await connectaDb(info);
// connectaDb's superuser, on Synapse's database (read only: the sizes of its tables).
const synapse = new pg.Client({
  host: info.bindAddress,
  port: info.pgPort,
  user: "connecta_admin",
  password: stackSecret(info, "pgAdminPassword"),
  database: "synapse",
});
const seeders = await Promise.all(Array.from({ length: SEEDERS }, () => connectaDb(info)));

try {
  await synapse.connect();
  const baseline = await sizes(db);
  const tablesBefore = await synapseTables(synapse);
  const growth = { synapse: [] as number[], connecta: [] as number[] };
  let previous = baseline;
  for (let batch = 0; batch < batches; batch++) {
    const topic = await createTopic(db);
    const agency = await createAgency(db, [topic]);
    const counsellors = await Promise.all([0, 1, 2].map(() => createCounsellor(info, db, agency)));
    const counsellor = counsellors[0] as TestUser;
    const token = await openIdToken(info, counsellor);
    const ids: number[] = [];
    for (let i = 0; i < conversations; i += SEEDERS) {
      const n = Math.min(SEEDERS, conversations - i);
      ids.push(
        ...(await Promise.all(
          Array.from({ length: n }, (_, k) => conversation(info, seeders[k] ?? db, agency, topic, counsellor, token)),
        )),
      );
    }
    await eventually(
      "every step of the batch done",
      async () => {
        for (const id of ids) if (!(await stepsDone(db, id))) return false;
        return true;
      },
      120_000,
    );
    const now = await sizes(db);
    growth.synapse.push(((now.synapse - previous.synapse) / conversations) * 1000);
    growth.connecta.push(((now.connecta - previous.connecta) / conversations) * 1000);
    progress(
      `batch ${batch + 1}: synapse ${mib(now.synapse)} MiB, connecta ${mib(now.connecta)} MiB (+${mib(growth.synapse.at(-1) ?? 0)} / +${mib(growth.connecta.at(-1) ?? 0)} MiB per 1,000)`,
    );
    previous = now;
  }
  const tablesAfter = await synapseTables(synapse);
  const grown = [...tablesAfter]
    .map(([name, bytes]) => [name, bytes - (tablesBefore.get(name) ?? 0)] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8);

  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${new Date().toISOString()}`,
  );
  console.log(`${batches} batches × ${conversations} conversations × ${messages} messages`);
  console.log("");
  console.log(
    "| database | baseline: fresh stack MiB | after the run MiB | per 1,000 conversations MiB (median) | each batch MiB |",
  );
  console.log("|---|---|---|---|---|");
  for (const name of ["synapse", "connecta"] as const) {
    console.log(
      `| ${name} | ${mib(baseline[name])} | ${mib(previous[name])} | ${mib(median(growth[name]))} | ${growth[name].map(mib).join(", ")} |`,
    );
  }
  console.log("");
  console.log(`| Synapse table | growth over ${batches * conversations} conversations MiB |`);
  console.log("|---|---|");
  for (const [name, bytes] of grown) console.log(`| ${name} | ${mib(bytes)} |`);
} finally {
  await Promise.all([db, synapse, ...seeders].map((c) => c.end().catch(() => undefined)));
  await cleanup();
}
