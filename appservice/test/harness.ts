/**
 * The database tests' harness: a database of the test file's own, cloned from the migrated
 * template (global-setup.ts), the real workflow, steps and event handlers on it, and the fake
 * homeserver in place of Synapse. Agencies, counsellors and enquiries are written straight into
 * the database, as the end-to-end tests do (tests/support/workflow.ts).
 */
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import pino from "pino";
import { inject } from "vitest";
import { withTransaction } from "../src/db/pool.ts";
import { handleEnquiryEvent } from "../src/enquiries/events.ts";
import { openEnquiry } from "../src/enquiries/open.ts";
import { stepRunners } from "../src/step-runners.ts";
import { createWorkflow, type Workflow } from "../src/enquiries/workflow.ts";
import { StepWorker } from "../src/steps/steps.ts";
import { processTransaction, type MatrixEvent } from "../src/transactions/transactions.ts";
import { FakeHomeserver } from "./fake-homeserver.ts";

/** A database of the calling test file's own; `drop` removes it. */
export async function testDatabase(): Promise<{ pool: pg.Pool; drop(): Promise<void> }> {
  const cluster = inject("cluster");
  const name = `test_${randomBytes(6).toString("hex")}`;
  const asAdmin = async (sql: string) => {
    const admin = new pg.Client({
      host: cluster.host,
      port: cluster.port,
      user: "connecta_admin",
      password: cluster.adminPassword,
      database: "postgres",
    });
    await admin.connect();
    await admin.query(sql).finally(() => admin.end());
  };
  await asAdmin(`CREATE DATABASE ${name} TEMPLATE ${cluster.template} OWNER connecta`);
  const pool = new pg.Pool({
    host: cluster.host,
    port: cluster.port,
    user: "connecta",
    password: cluster.appPassword,
    database: name,
    max: 10,
  });
  return {
    pool,
    async drop() {
      await pool.end();
      // pg's pool resolves end() while its last connections are still closing; dropping WITH
      // (FORCE) then would terminate them, and the error they emit would reach nobody. Wait for
      // them to go (55006: the database is still in use), and force only as a last resort.
      for (let attempt = 0; ; attempt++) {
        try {
          await asAdmin(`DROP DATABASE ${name}${attempt < 50 ? "" : " WITH (FORCE)"}`);
          return;
        } catch (err) {
          if ((err as { code?: string }).code !== "55006" || attempt >= 50) throw err;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
  };
}

/** A Matrix user id no other test uses. */
export const userId = (who: string) => `@${who}-${randomBytes(3).toString("hex")}:test`;

/** The workflow on a database of its own, with the fake homeserver. */
export async function workflowHarness(options: { reopenWindowDays?: number; stepsWaitMs?: number } = {}) {
  const db = await testDatabase();
  const { pool } = db;
  const hs = new FakeHomeserver();
  const log = pino({ level: "silent" });
  const steps = new StepWorker(pool, stepRunners(hs, "test", null), log);
  const workflow: Workflow = createWorkflow({
    pool,
    steps,
    log,
    reopenWindowDays: options.reopenWindowDays ?? 30,
    ...(options.stepsWaitMs === undefined ? {} : { stepsWaitMs: options.stepsWaitMs }),
  });

  /** Synapse pushes `event` to us, as one transaction. */
  const push = async (event: MatrixEvent) => {
    const handle = (e: MatrixEvent, client: pg.PoolClient) =>
      handleEnquiryEvent(e, client, { botUserId: hs.botUserId });
    const result = await processTransaction(
      pool,
      randomUUID(),
      [{ event_id: `$${randomUUID()}`, ...event }],
      [],
      handle,
    );
    if (result.skipped.length) throw new Error(`event skipped: ${result.skipped[0]?.reason}`);
  };

  /** Adds a counsellor to the database (and to `agencyId`, with `role`). */
  const counsellor = async (
    agencyId: number,
    options: { role?: "counsellor" | "team_lead"; absent?: boolean; name?: string } = {},
  ) => {
    const id = userId(options.name ?? "counsellor");
    await pool.query("INSERT INTO counsellors (user_id, display_name, absent) VALUES ($1, $1, $2)", [
      id,
      options.absent ?? false,
    ]);
    await pool.query("INSERT INTO agency_memberships VALUES ($1, $2, $3)", [
      agencyId,
      id,
      options.role ?? "counsellor",
    ]);
    return id;
  };

  /** An agency with a topic. */
  const agency = async () => {
    const topic = `t-${randomBytes(4).toString("hex")}`;
    await pool.query("INSERT INTO topics (id, name_de, name_en) VALUES ($1, 'Test', 'Test')", [topic]);
    const { rows } = await pool.query<{ id: string }>("INSERT INTO agencies (name) VALUES ($1) RETURNING id", [
      `Agency ${topic}`,
    ]);
    await pool.query("INSERT INTO agency_topics VALUES ($1, $2)", [rows[0]?.id, topic]);
    return { agencyId: Number(rows[0]?.id), topic };
  };

  /**
   * An enquiry of a fresh agency with `counsellors` present counsellors (and `absent` absent ones
   * and a team lead): opened as an intake opens it, its room made by the steps; unless `written`
   * is false, the seeker joined and wrote, so that it waits in the queue.
   */
  const enquiry = async (options: { counsellors?: number; absent?: number; written?: boolean } = {}) => {
    const { agencyId, topic } = await agency();
    const present: string[] = [];
    for (let i = 0; i < (options.counsellors ?? 2); i++) present.push(await counsellor(agencyId));
    const absent: string[] = [];
    for (let i = 0; i < (options.absent ?? 0); i++) absent.push(await counsellor(agencyId, { absent: true }));
    const lead = await counsellor(agencyId, { role: "team_lead", absent: true, name: "lead" });
    const seeker = userId("seeker");
    const enquiryId = await withTransaction(pool, (client) =>
      openEnquiry(client, {
        intakeId: randomUUID(),
        seekerId: seeker,
        agencyId,
        topicId: topic,
        language: "de",
        ageGroup: "unknown",
      }),
    );
    await steps.drain(enquiryId, 5_000);
    const roomId = await roomOf(enquiryId);
    if (options.written ?? true) {
      hs.join(roomId, seeker);
      await push({ type: "m.room.encrypted", room_id: roomId, sender: seeker, content: {} });
    }
    return { enquiryId, roomId, agencyId, topic, seeker, counsellors: present, absent, lead };
  };

  /** The enquiry's room id. */
  const roomOf = async (enquiryId: number) => {
    const { rows } = await pool.query<{ room_id: string | null }>("SELECT room_id FROM enquiries WHERE id = $1", [
      enquiryId,
    ]);
    const roomId = rows[0]?.room_id;
    if (!roomId) throw new Error(`enquiry ${enquiryId} has no room`);
    return roomId;
  };

  /** The enquiry's case-notes room, null while it has none. */
  const notesRoomOf = async (enquiryId: number) => {
    const { rows } = await pool.query<{ notes_room_id: string | null }>(
      "SELECT notes_room_id FROM enquiries WHERE id = $1",
      [enquiryId],
    );
    return rows[0]?.notes_room_id ?? null;
  };

  /** The enquiry's row as far as the tests look at it. */
  const row = async (enquiryId: number) =>
    (
      await pool.query<{ state: string; counsellor_id: string | null }>(
        "SELECT state, counsellor_id FROM enquiries WHERE id = $1",
        [enquiryId],
      )
    ).rows[0];

  return { ...db, hs, steps, workflow, push, agency, counsellor, enquiry, row, notesRoomOf };
}

/** What a workflow call was refused with: the refusal's reason, or the error if it was none. */
export async function refusalOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    const refusal = (err as { refusal?: { reason?: string } }).refusal;
    if (refusal?.reason) return refusal.reason;
    throw err;
  }
  throw new Error("the call was not refused");
}
