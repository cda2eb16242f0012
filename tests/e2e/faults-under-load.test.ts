/**
 * Fault injection under load (issue 16): while seekers go through the intake, counsellors claim
 * and hand over and both sides write end-to-end encrypted messages (Rust-crypto clients that
 * retry as real clients do, tests/support/faults-load.ts), the application service, Synapse,
 * PostgreSQL and LiveKit are each killed with SIGKILL at a random moment, one after another, and
 * started again on the same data. Afterwards nothing may be lost, doubled or stuck: every intake
 * that was answered has one enquiry and one room; every claimed enquiry one counsellor, whom its
 * room reflects; the handover is complete; every message is in its room once and decryptable by
 * the other side; no workflow step is left undone and no transaction undelivered to the service.
 *
 * The moments come from a seed, printed at the start; CONNECTA_FAULT_SEED=<seed> replays the same
 * schedule (the load's own timing still varies from run to run). CONNECTA_FAULT_SEEKERS sets the
 * number of seekers (CI: 3).
 *
 * Runs on a stack of its own (own data folder and ports, started in this process so that single
 * services can be killed and restarted): the e2e files run two at a time on the shared stack,
 * which a killed Synapse or PostgreSQL would break for the others.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type * as sdk from "matrix-js-sdk";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStackConfig, ROOT } from "../../ops/stack/config.ts";
import { adminConnection } from "../../ops/stack/postgres.ts";
import { stablePortsEnv } from "../../ops/stack/processes.ts";
import {
  killService,
  restartService,
  startStack,
  type ServiceName,
  type Stack,
  type StackInfo,
} from "../../ops/stack/stack.ts";
import { decryptRoomHistory } from "../support/crypto-identity.ts";
import {
  apiAsUser,
  faultClient,
  faultStats,
  intakeUnderFaults,
  joinUnderFaults,
  ok,
  retrying,
  seededRandom,
  sendUnderFaults,
  sleep,
  type FaultSeeker,
} from "../support/faults-load.ts";
import { freshStackEnv, removeStackData } from "../support/global-setup.ts";
import { retriable } from "../support/seeker.ts";
import { eventually, matrixRequest, registerUser, roomMembers, stackSecret, type TestUser } from "../support/matrix.ts";
import { ROOM_SLOT } from "../../appservice/src/rtc/identity.ts";
import { callApi, createAgency, createTopic, openIdToken } from "../support/workflow.ts";

const seed = Number(process.env.CONNECTA_FAULT_SEED || Math.floor(Math.random() * 2 ** 31));
const SEEKERS = Number(process.env.CONNECTA_FAULT_SEEKERS || 3);
const random = seededRandom(seed);
/** Rounds of messages a conversation writes at most while the faults go on (one a second). */
const MAX_ROUNDS = 40;
/** A whole number of milliseconds in [min, max), from the seed. */
const between = (min: number, max: number) => Math.floor(min + random() * (max - min));

const dataDir = mkdtempSync(join(ROOT, ".data", "faults-"));
let stack: Stack | undefined;
let info: StackInfo;
let db: pg.Client;
const clients: sdk.MatrixClient[] = [];

beforeAll(async () => {
  console.log(`faults-under-load: seed ${seed} (replay with CONNECTA_FAULT_SEED=${seed})`);
  // Fixed ports below the ephemeral range: a restarted service answers where it did before,
  // and no other process takes its port while it is down.
  const ports = await stablePortsEnv("127.0.0.1");
  // The test stack's login limit per address (tests/support/global-setup.ts).
  const extraConfig = join(dataDir, "e2e-synapse.yaml");
  writeFileSync(
    extraConfig,
    "rc_login:\n  address: {per_second: 2, burst_count: 50}\n  account: {per_second: 0.2, burst_count: 5}\n" +
      "  failed_attempts: {per_second: 0.1, burst_count: 5}\n" +
      // The load writes faster than people type (a message a second per client).
      "rc_message: {per_second: 5, burst_count: 50}\n",
  );
  const config = loadStackConfig({
    ...freshStackEnv(dataDir),
    ...ports,
    CONNECTA_SYNAPSE_EXTRA_CONFIG: extraConfig,
  });
  stack = await startStack(config);
  info = stack.info;
  db = await connectaDb();
}, 300_000);

afterAll(async () => {
  clients.forEach((c) => c.stopClient());
  await db?.end().catch(() => {});
  await stack?.stop();
  if (stack && !loadStackConfig().keepTestData) removeStackData(stack.info);
});

/** A superuser connection to the application service's database. */
async function connectaDb(): Promise<pg.Client> {
  if (!stack) throw new Error("no stack");
  const client = new pg.Client(adminConnection(stack.config, stack.secrets, "connecta"));
  // An error after a query (the connection lost) would otherwise end the test process.
  client.on("error", () => {});
  await client.connect();
  return client;
}

async function client(user: TestUser): Promise<sdk.MatrixClient> {
  const c = await faultClient(info, user);
  clients.push(c);
  return c;
}

/**
 * The fault schedule: each service in turn, after a pause drawn from the seed, is killed with
 * SIGKILL, stays down for a moment drawn from the seed, and is started again on the same data.
 */
async function injectFaults(log: string[]): Promise<void> {
  if (!stack) throw new Error("no stack");
  const order: ServiceName[] = ["appservice", "synapse", "postgres", "livekit"];
  for (const name of order) {
    const wait = between(2_000, 12_000);
    const down = between(0, 3_000);
    await sleep(wait);
    await killService(stack, name);
    log.push(`${name}: killed after ${wait} ms, down ${down} ms`);
    console.log(`faults-under-load: killed ${name} (after ${wait} ms), restarting after ${down} ms`);
    await sleep(down);
    await restartService(stack, name);
    console.log(`faults-under-load: ${name} is back`);
  }
}

/** Rooms the bot is in that are marked as the room of `enquiryId`. */
async function roomsMarkedFor(enquiryId: number): Promise<string[]> {
  const bot = { accessToken: stackSecret(info, "asToken") };
  const joined = await matrixRequest(info, "GET", "/_matrix/client/v3/joined_rooms", bot);
  const marked: string[] = [];
  for (const roomId of joined.body.joined_rooms as string[]) {
    const marker = await matrixRequest(
      info,
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/de.connecta.enquiry/`,
      bot,
    );
    if (marker.body.enquiry_id === enquiryId) marked.push(roomId);
  }
  return marked;
}

/** One conversation of the load, and what the test checks of it afterwards. */
interface Conversation {
  seeker: FaultSeeker;
  seekerClient: sdk.MatrixClient;
  /** Who each sent text was meant for, by text. */
  sent: Map<string, { from: TestUser; to: TestUser; toClient: sdk.MatrixClient }>;
  /** The counsellor whose claim was answered with 200. */
  claimedBy: TestUser;
  /** The counsellor of the conversation at the end (after the handover, if any). */
  counsellor: TestUser;
  handedOverTo: TestUser | null;
}

describe(`faults under load (CONNECTA_FAULT_SEED=${seed})`, () => {
  it("loses, doubles and leaves stuck nothing when each service is killed at a random moment", async () => {
    const topic = await createTopic(db, "Faults");
    const postcode = "10115";
    const agencyId = await createAgency(db, [topic], [[postcode, postcode]]);
    const counsellors = await Promise.all(
      [1, 2, 3].map(async () => {
        const user = await registerUser(info, "fault-counsellor");
        await db.query("INSERT INTO counsellors (user_id, display_name) VALUES ($1, $2)", [
          user.userId,
          user.localpart,
        ]);
        await db.query("INSERT INTO agency_memberships VALUES ($1, $2, 'counsellor')", [agencyId, user.userId]);
        return user;
      }),
    );
    const counsellorClients = new Map<string, sdk.MatrixClient>();
    for (const c of counsellors) counsellorClients.set(c.userId, await client(c));
    const clientOf = (u: TestUser) => counsellorClients.get(u.userId) as sdk.MatrixClient;

    // Each seeker's plan, drawn from the seed before anything runs: when they arrive, which two
    // counsellors race for their enquiry; the first seeker's conversation is handed over.
    const plans = Array.from({ length: SEEKERS }, (_, i) => {
      const first = Math.floor(random() * counsellors.length);
      const second = (first + 1 + Math.floor(random() * (counsellors.length - 1))) % counsellors.length;
      return {
        arrivesAfter: i * between(1_000, 6_000),
        racers: [counsellors[first], counsellors[second]] as [TestUser, TestUser],
        handover: i === 0,
      };
    });

    // The test's own connection would die with PostgreSQL: it is closed during the faults.
    await db.end();
    let faultsDone = false;
    const faultLog: string[] = [];
    const faults = injectFaults(faultLog).finally(() => (faultsDone = true));
    const text = (who: string, n: number) => `fault-${seed}-${who}-${n}-${Math.random().toString(36).slice(2, 10)}`;

    const conversation = async (plan: (typeof plans)[number], index: number): Promise<Conversation> => {
      await sleep(plan.arrivesAfter);
      const seeker = await intakeUnderFaults(info, { topic, postcode });
      const seekerClient = await client(seeker);
      await joinUnderFaults(seekerClient, seeker.roomId);
      const sent: Conversation["sent"] = new Map();
      const say = async (from: TestUser, fromClient: sdk.MatrixClient, to: TestUser, toClient: sdk.MatrixClient) => {
        const body = text(`${index}-${from.localpart}`, sent.size);
        await sendUnderFaults(fromClient, seeker.roomId, body, [to.userId]);
        sent.set(body, { from, to, toClient });
      };

      // The first message puts the enquiry in the queue; two counsellors race for it.
      const firstText = text(`${index}-first`, 0);
      // It is for every counsellor of the agency (all are invited until one claims it).
      await sendUnderFaults(
        seekerClient,
        seeker.roomId,
        firstText,
        counsellors.map((c) => c.userId),
      );
      // For a failure's log: whom the seeker's client knew in the room when it wrote.
      const members = seekerClient.getRoom(seeker.roomId)?.getMembers() ?? [];
      console.log(
        `first message ${firstText} sent; members: ${members.map((m) => `${m.userId}=${m.membership}`).join(", ")}`,
      );
      await retrying(`enquiry ${seeker.enquiryId} in the queue`, async () => {
        const queue = ok(await apiAsUser(info, plan.racers[0], "GET", "/api/v1/queue"), "queue");
        const ids = (queue.enquiries as { enquiry_id: number }[]).map((e) => e.enquiry_id);
        return ids.includes(seeker.enquiryId) ? true : undefined;
      });
      const claims = await Promise.all(
        plan.racers.map((c) => apiAsUser(info, c, "POST", `/api/v1/enquiries/${seeker.enquiryId}/claim`, {})),
      );
      const winners = plan.racers.filter((_, i) => claims[i]?.status === 200);
      expect(winners, `claims of enquiry ${seeker.enquiryId}: ${JSON.stringify(claims)}`).toHaveLength(1);
      for (const res of claims.filter((r) => r.status !== 200)) expect(res.body.errcode).toBe("CONNECTA_ALREADY_TAKEN");
      const claimedBy = winners[0] as TestUser;
      sent.set(firstText, { from: seeker, to: claimedBy, toClient: clientOf(claimedBy) });

      let counsellor = claimedBy;
      /** The counsellor joins; the seeker's client, which encrypts for the members it knows of, sees it. */
      const counsellorJoins = async () => {
        await joinUnderFaults(clientOf(counsellor), seeker.roomId);
        await retrying("the seeker sees the counsellor join", async () =>
          seekerClient.getRoom(seeker.roomId)?.getMember(counsellor.userId)?.membership === "join" ? true : undefined,
        );
      };
      /** `rounds` exchanges, and more until the last service is back when `whileFaults`. */
      const talk = async (rounds: number, whileFaults: boolean) => {
        const cClient = clientOf(counsellor);
        for (let n = 0; n < rounds || (whileFaults && !faultsDone && n < MAX_ROUNDS); n++) {
          await say(seeker, seekerClient, counsellor, cClient);
          await say(counsellor, cClient, seeker, seekerClient);
          await sleep(1_000);
        }
      };

      // A call token for the counsellor in the room (LiveKit makes the call's room).
      const callToken = (user: TestUser) =>
        retrying("a call token", async () => {
          const openid = {
            access_token: await openIdToken(info, user),
            token_type: "Bearer",
            matrix_server_name: info.serverName,
            expires_in: 3600,
          };
          const res = await callApi(info.appserviceUrl, "POST", "/api/v1/rtc/get_token", null, {
            room_id: seeker.roomId,
            slot_id: ROOM_SLOT,
            openid_token: openid,
            member: { id: `m-${index}`, claimed_user_id: user.userId, claimed_device_id: user.deviceId },
          });
          return res.status === 401 || retriable(res.status) ? undefined : res;
        });
      await counsellorJoins();
      ok(await callToken(counsellor), "call token");

      let handedOverTo: TestUser | null = null;
      if (plan.handover) {
        await talk(1, false);
        const next = counsellors.find((c) => c.userId !== counsellor.userId) as TestUser;
        const res = await apiAsUser(info, counsellor, "POST", `/api/v1/enquiries/${seeker.enquiryId}/handover`, {
          counsellor_id: next.userId,
        });
        expect(ok(res, "handover").counsellor_id).toBe(next.userId);
        const previous = counsellor;
        counsellor = handedOverTo = next;
        await retrying("the seeker sees the previous counsellor leave", async () =>
          seekerClient.getRoom(seeker.roomId)?.getMember(previous.userId)?.membership === "leave" ? true : undefined,
        );
        await counsellorJoins();
      }
      await talk(2, true);
      // After the faults: a call can still be started.
      await faults;
      ok(await callToken(counsellor), "call token after the faults");
      return { seeker, seekerClient, sent, claimedBy, counsellor, handedOverTo };
    };

    const conversations = await Promise.all(plans.map(conversation));
    await faults;
    db = await connectaDb();
    console.log(`faults-under-load: seed ${seed}; ${faultLog.join("; ")}; load: ${JSON.stringify(faultStats)}`);
    // Positive control: the load met a dead service (a request without answer, a message resent).
    expect(faultStats.retried + faultStats.resent).toBeGreaterThan(0);

    // --- Nothing stuck ---------------------------------------------------------------------------
    // Every workflow step is done (the worker retries failed ones with a backoff of at most 60 s)…
    await eventually(
      "every workflow step done",
      async () => {
        const { rows } = await db.query(
          "SELECT id, kind, enquiry_id, last_error FROM matrix_steps WHERE done_at IS NULL",
        );
        if (rows.length) throw new Error(`pending steps: ${JSON.stringify(rows)}`);
        return true;
      },
      180_000,
    );
    // …and every transaction Synapse holds for the application service has reached it. (Synapse
    // can keep the row of a transaction the service took: when its database dies between the
    // service's 200 and the row's deletion, nothing retries or deletes it until the service is
    // next marked down; a resend would be recorded as a duplicate.)
    if (!stack) throw new Error("no stack");
    const synapseDb = new pg.Client(adminConnection(stack.config, stack.secrets, "synapse"));
    await synapseDb.connect();
    try {
      await eventually(
        "every appservice transaction delivered",
        async () => {
          const held = await synapseDb.query<{ txn_id: string }>("SELECT txn_id::text FROM application_services_txns");
          const taken = await db.query<{ txn_id: string }>(
            "SELECT txn_id FROM appservice_transactions WHERE txn_id = ANY($1)",
            [held.rows.map((r) => r.txn_id)],
          );
          const missing = held.rows.filter((r) => !taken.rows.some((t) => t.txn_id === r.txn_id));
          if (missing.length) throw new Error(`held, not received: ${JSON.stringify(missing)}`);
          return true;
        },
        180_000,
      );
    } finally {
      await synapseDb.end();
    }

    // --- Intakes: one enquiry and one room each, and no other ---------------------------------
    const enquiries = await db.query<{ id: string; intake_id: string; room_id: string }>(
      "SELECT id, intake_id, room_id FROM enquiries WHERE agency_id = $1 ORDER BY id",
      [agencyId],
    );
    expect(enquiries.rows.map((r) => [Number(r.id), r.intake_id, r.room_id]).sort()).toEqual(
      conversations.map((c) => [c.seeker.enquiryId, c.seeker.intakeId, c.seeker.roomId]).sort(),
    );
    for (const c of conversations) expect(await roomsMarkedFor(c.seeker.enquiryId)).toEqual([c.seeker.roomId]);

    // --- Claims and the handover ------------------------------------------------------------------
    const bot = { accessToken: stackSecret(info, "asToken") };
    for (const c of conversations) {
      const id = c.seeker.enquiryId;
      const row = await db.query("SELECT state, counsellor_id FROM enquiries WHERE id = $1", [id]);
      expect(row.rows[0]).toEqual({ state: "active", counsellor_id: c.counsellor.userId });
      const assignments = await db.query(
        "SELECT counsellor_id, kind, ended_at IS NULL AS current FROM assignments WHERE enquiry_id = $1 ORDER BY id",
        [id],
      );
      expect(assignments.rows).toEqual([
        { counsellor_id: c.claimedBy.userId, kind: "claim", current: !c.handedOverTo },
        ...(c.handedOverTo ? [{ counsellor_id: c.handedOverTo.userId, kind: "handover", current: true }] : []),
      ]);
      expect(await roomMembers(info, c.seeker.roomId, bot)).toEqual(
        [info.botUserId, c.seeker.userId, c.counsellor.userId].sort(),
      );
    }
    expect(conversations.filter((c) => c.handedOverTo)).toHaveLength(1);

    // --- Messages: each in its room once, and the other side decrypts it -------------------------
    for (const c of conversations) {
      const seen = await eventually(
        `the seeker's client decrypts the whole of room ${c.seeker.roomId}`,
        async () => {
          const view = await decryptRoomHistory(info, c.seeker, c.seeker.roomId, c.seekerClient);
          return view.every((e) => e.body !== null) ? view : null;
        },
        120_000,
      );
      const bodies = seen.map((e) => e.body ?? "");
      expect(
        bodies.filter((b) => !c.sent.has(b)),
        "messages nobody sent",
      ).toEqual([]);
      for (const body of c.sent.keys())
        expect(
          bodies.filter((b) => b === body),
          body,
        ).toHaveLength(1);
      for (const [body, { from, to, toClient }] of c.sent) {
        const event = seen.find((e) => e.body === body);
        expect(event?.sender).toBe(from.userId);
        await eventually(
          `${to.userId} decrypts ${body}`,
          async () => {
            const theirs = await decryptRoomHistory(info, c.seeker, c.seeker.roomId, toClient);
            const mine = theirs.find((e) => e.eventId === event?.eventId);
            if (mine?.body !== body) throw new Error(`${mine?.failure} session ${mine?.sessionId}`);
            return true;
          },
          120_000,
        );
      }
    }
  }, 900_000);
});
