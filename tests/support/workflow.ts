/**
 * Test helpers for the counselling workflow: agencies, topics and counsellors written straight
 * into the appservice's database (the operator API has its own tests), OpenID tokens, and calls
 * to the appservice API.
 */
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import type { StackInfo } from "../../ops/stack/stack.ts";
import { eventually, matrixRequest, registerUser, stackSecret, type TestUser } from "./matrix.ts";

/** A superuser connection to the appservice's database `connecta`. */
export async function connectaDb(stack: StackInfo): Promise<pg.Client> {
  const client = new pg.Client({
    host: stack.bindAddress,
    port: stack.pgPort,
    user: "connecta_admin",
    password: stackSecret(stack, "pgAdminPassword"),
    database: "connecta",
  });
  await client.connect();
  return client;
}

/** A unique suffix for names shared across test files. */
export const unique = () => randomBytes(4).toString("hex");

/** Creates a topic and returns its id. */
export async function createTopic(db: pg.Client, name = "Test"): Promise<string> {
  const id = `t-${unique()}`;
  await db.query("INSERT INTO topics (id, name_de, name_en) VALUES ($1, $2, $2)", [id, name]);
  return id;
}

/** Creates an agency offering `topics` for postcodes in `ranges`; returns its id. */
export async function createAgency(db: pg.Client, topics: string[], ranges: [string, string][] = []): Promise<number> {
  const { rows } = await db.query<{ id: string }>("INSERT INTO agencies (name) VALUES ($1) RETURNING id", [
    `Agency ${unique()}`,
  ]);
  const id = Number(rows[0]?.id);
  for (const topic of topics) await db.query("INSERT INTO agency_topics VALUES ($1, $2)", [id, topic]);
  for (const [first, last] of ranges) {
    await db.query("INSERT INTO agency_postcode_ranges VALUES ($1, $2, $3)", [id, first, last]);
  }
  return id;
}

/** Registers a Matrix user and makes them a counsellor of `agencyId`. */
export async function createCounsellor(
  stack: StackInfo,
  db: pg.Client,
  agencyId: number,
  role: "counsellor" | "team_lead" = "counsellor",
): Promise<TestUser> {
  const user = await registerUser(stack, "counsellor");
  await db.query("INSERT INTO counsellors (user_id, display_name) VALUES ($1, $2)", [user.userId, user.localpart]);
  await db.query("INSERT INTO agency_memberships VALUES ($1, $2, $3)", [agencyId, user.userId, role]);
  return user;
}

/** A Matrix OpenID token of `user`, as the web client gets it for our API. */
export async function openIdToken(stack: StackInfo, user: Pick<TestUser, "userId" | "accessToken">): Promise<string> {
  const res = await matrixRequest(
    stack,
    "POST",
    `/_matrix/client/v3/user/${encodeURIComponent(user.userId)}/openid/request_token`,
    user,
    {},
  );
  if (res.status !== 200) throw new Error(`openid token: ${res.status}`);
  return String(res.body.access_token);
}

/** Calls the appservice API; `token` is an OpenID or operator token. */
export async function callApi(
  baseUrl: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

/**
 * Opens an enquiry for `seeker` the way a completed intake does (enquiry row and create-room
 * step), waits until the stack's step worker has created its room, and returns both ids.
 */
export async function openTestEnquiry(
  db: pg.Client,
  seeker: TestUser,
  agencyId: number,
  topicId: string,
): Promise<{ enquiryId: number; roomId: string }> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO enquiries (intake_id, agency_id, topic_id, language, age_group, seeker_id)
     VALUES ($1, $2, $3, 'de', 'unknown', $4) RETURNING id`,
    [randomUUID(), agencyId, topicId, seeker.userId],
  );
  const enquiryId = Number(rows[0]?.id);
  await db.query("INSERT INTO matrix_steps (enquiry_id, kind) VALUES ($1, 'create_room')", [enquiryId]);
  const roomId = await eventually("the enquiry room", async () => {
    const r = await db.query<{ room_id: string | null }>("SELECT room_id FROM enquiries WHERE id = $1", [enquiryId]);
    return r.rows[0]?.room_id ?? null;
  });
  return { enquiryId, roomId };
}

/** The enquiry's state and counsellor, as the database has them. */
export async function enquiryState(
  db: pg.Client,
  enquiryId: number,
): Promise<{ state: string; counsellor_id: string | null } | undefined> {
  const { rows } = await db.query<{ state: string; counsellor_id: string | null }>(
    "SELECT state, counsellor_id FROM enquiries WHERE id = $1",
    [enquiryId],
  );
  return rows[0];
}

/** True when every Matrix step of the enquiry is done. */
export async function stepsDone(db: pg.Client, enquiryId: number): Promise<boolean> {
  const { rowCount } = await db.query("SELECT 1 FROM matrix_steps WHERE enquiry_id = $1 AND done_at IS NULL", [
    enquiryId,
  ]);
  return rowCount === 0;
}

/**
 * The seeker joins their enquiry room and writes (a ciphertext stand-in: the server cannot tell),
 * then waits until the enquiry is in the queue.
 */
export async function seekerWrites(
  stack: StackInfo,
  db: pg.Client,
  seeker: TestUser,
  enquiry: { enquiryId: number; roomId: string },
): Promise<void> {
  const room = encodeURIComponent(enquiry.roomId);
  const joined = await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${room}`, seeker, {});
  if (joined.status !== 200) throw new Error(`join: ${joined.status}`);
  const sent = await matrixRequest(
    stack,
    "PUT",
    `/_matrix/client/v3/rooms/${room}/send/m.room.encrypted/${randomUUID()}`,
    seeker,
    {
      algorithm: "m.megolm.v1.aes-sha2",
      ciphertext: "AwgAEn",
    },
  );
  if (sent.status !== 200) throw new Error(`send: ${sent.status}`);
  await eventually("the enquiry waits", async () => (await enquiryState(db, enquiry.enquiryId))?.state === "waiting");
}

/**
 * The scene most workflow tests start from, set up in one call (as hookshot's
 * spec/util/e2e-test.ts sets up its test environment): a fresh topic and agency, its counsellors
 * and team leads, a seeker and their enquiry with its room. Unless `written` is false, the
 * seeker has joined and written, so the enquiry waits in the queue.
 */
export async function workflowScene(
  stack: StackInfo,
  db: pg.Client,
  options: { counsellors?: number; teamLeads?: number; written?: boolean } = {},
) {
  const topic = await createTopic(db);
  const agencyId = await createAgency(db, [topic]);
  const make = (n: number, role: "counsellor" | "team_lead") =>
    Promise.all(Array.from({ length: n }, () => createCounsellor(stack, db, agencyId, role)));
  const counsellors = await make(options.counsellors ?? 1, "counsellor");
  const leads = await make(options.teamLeads ?? 0, "team_lead");
  const seeker = await registerUser(stack, "seeker");
  const enquiry = await openTestEnquiry(db, seeker, agencyId, topic);
  if (options.written ?? true) await seekerWrites(stack, db, seeker, enquiry);
  return { ...enquiry, topic, agencyId, counsellors, leads, seeker };
}
