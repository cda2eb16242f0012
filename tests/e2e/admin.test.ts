/**
 * The operator's admin API and CLI against the real stack: topics, agencies, counsellors (real
 * Matrix accounts at Synapse), queue inspection, agency matching, and refused input.
 * Other test files share the database, so every name here carries a random suffix.
 */
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { findAgency } from "../../appservice/src/agencies/match.ts";
import { ROOT } from "../../ops/stack/config.ts";
import { eventually, matrixRequest, registerUser, stackSecret } from "../support/matrix.ts";
import { connectaDb, workflowScene } from "../support/workflow.ts";

const stack = inject("stack");
const operatorToken = stackSecret(stack, "operatorToken");
const tokenFile = stack.secretFiles.operatorToken;
const CLI = join(ROOT, "appservice", "src", "cli", "admin.ts");

const suffix = () => randomBytes(4).toString("hex");

const db = new pg.Pool({
  host: stack.bindAddress,
  port: stack.pgPort,
  user: "connecta",
  password: stackSecret(stack, "pgAppservicePassword"),
  database: "connecta",
  max: 2,
});
afterAll(async () => {
  await db.end();
});

/** Answers are checked with expect(); any keeps the assertions short. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above (the file's no-unsafe-* rules are off in eslint.config.js)
type Json = Record<string, any>;

/** Calls the admin API; `raw` is sent as the body text instead of JSON. */
async function admin(
  method: string,
  path: string,
  body?: unknown,
  opts: { token?: string | null; raw?: string } = {},
): Promise<{ status: number; body: Json }> {
  const token = opts.token === undefined ? operatorToken : opts.token;
  const res = await fetch(`${stack.appserviceUrl}/api/v1/admin${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    ...(opts.raw !== undefined ? { body: opts.raw } : body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Json };
}

/** Like {@link admin} but expects a 200 and returns the body. */
async function ok(method: string, path: string, body?: unknown): Promise<Json> {
  const res = await admin(method, path, body);
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body;
}

async function newTopic(): Promise<string> {
  const id = `t-${suffix()}`;
  await ok("POST", "/topics", { id, name_de: `Thema ${id}`, name_en: `Topic ${id}` });
  return id;
}

async function newAgency(fields: Json = {}): Promise<Json> {
  return ok("POST", "/agencies", { name: `Agency ${suffix()}`, ...fields });
}

/** The fallback agency: the existing one, or one created here (other files may race us). */
async function fallbackAgency(): Promise<number> {
  const find = async () => ((await ok("GET", "/agencies")).agencies as Json[]).find((a) => a.is_fallback);
  const existing = await find();
  if (existing) return existing.id;
  const created = await admin("POST", "/agencies", { name: `Fallback ${suffix()}`, is_fallback: true });
  if (created.status === 200) return created.body.id;
  const again = await find();
  if (!again) throw new Error(`no fallback agency: ${JSON.stringify(created.body)}`);
  return again.id;
}

/** Logs in at Synapse with a password; returns status and body. */
function login(localpart: string, password: string) {
  return matrixRequest(stack, "POST", "/_matrix/client/v3/login", null, {
    type: "m.login.password",
    identifier: { type: "m.id.user", user: localpart },
    password,
  });
}

/** Synapse's admin view of a user, through the stack's Synapse operator account. */
async function synapseUser(userId: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${stack.synapseUrl}/_synapse/admin/v2/users/${encodeURIComponent(userId)}`, {
    headers: { authorization: `Bearer ${stackSecret(stack, "synapseOperatorToken")}` },
  });
  return { status: res.status, body: (await res.json()) as Json };
}

/** Runs the CLI as a child process against the test stack. */
function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args, "--url", stack.appserviceUrl, "--token-file", tokenFile],
      { env: { ...process.env, CONNECTA_ADMIN_URL: "" }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe("operator authentication", () => {
  it("refuses a missing operator token with 401 and a wrong one with 403", async () => {
    for (const [method, path] of [
      ["GET", "/topics"],
      ["POST", "/agencies"],
      ["GET", "/counsellors"],
      ["POST", "/counsellors/someone/deactivate"],
      ["GET", "/queue"],
    ] as const) {
      const body = method === "GET" ? undefined : {};
      const missing = await admin(method, path, body, { token: null });
      expect(missing.status, `${method} ${path}`).toBe(401);
      expect(missing.body.errcode).toBe("M_MISSING_TOKEN");
      const wrong = await admin(method, path, body, { token: "not-the-operator-token" });
      expect(wrong.status, `${method} ${path}`).toBe(403);
      expect(wrong.body.errcode).toBe("M_FORBIDDEN");
    }
  });

  it("documents every admin route in the OpenAPI document with the operator scheme", async () => {
    const doc = (await (await fetch(`${stack.appserviceUrl}/api/v1/openapi.json`)).json()) as Json;
    const paths = Object.keys(doc.paths).filter((p) => p.startsWith("/api/v1/admin/"));
    expect(paths).toEqual(
      expect.arrayContaining([
        "/api/v1/admin/topics",
        "/api/v1/admin/agencies/{agencyId}",
        "/api/v1/admin/counsellors/{localpart}/deactivate",
        "/api/v1/admin/queue",
      ]),
    );
    for (const path of paths) {
      for (const operation of Object.values(doc.paths[path] as Json)) {
        expect(operation.security, path).toEqual([{ operator: [] }]);
      }
    }
  });
});

describe("topics", () => {
  it("creates, lists and renames a topic", async () => {
    const id = `t-${suffix()}`;
    const created = await ok("POST", "/topics", { id, name_de: "Sucht", name_en: "Addiction" });
    expect(created).toMatchObject({ id, name_de: "Sucht", name_en: "Addiction", agency_count: 0 });
    const { topics } = await ok("GET", "/topics");
    expect(topics).toContainEqual(expect.objectContaining({ id, name_en: "Addiction" }));
    const renamed = await ok("PATCH", `/topics/${id}`, { name_en: "Addictions" });
    expect(renamed).toMatchObject({ id, name_de: "Sucht", name_en: "Addictions" });
    expect((await admin("PATCH", `/topics/t-${suffix()}`, { name_de: "x" })).body.errcode).toBe("M_NOT_FOUND");
  });
});

describe("agencies", () => {
  it("creates, lists, shows, updates and deletes an agency", async () => {
    const [t1, t2] = [await newTopic(), await newTopic()];
    const name = `Beratungsstelle ${suffix()}`;
    const created = await ok("POST", "/agencies", {
      name,
      languages: ["de", "en"],
      topics: [t1],
      postcode_ranges: [
        { first: "20095", last: "20095" },
        { first: "10000", last: "14999" },
      ],
    });
    expect(created).toMatchObject({
      name,
      languages: ["de", "en"],
      is_fallback: false,
      topics: [t1],
      postcode_ranges: [
        { first: "10000", last: "14999" },
        { first: "20095", last: "20095" },
      ],
      counsellor_count: 0,
    });
    const id = created.id as number;
    expect((await ok("GET", "/agencies")).agencies).toContainEqual(expect.objectContaining({ id, name }));
    expect(await ok("GET", `/agencies/${id}`)).toEqual(created);

    const updated = await ok("PATCH", `/agencies/${id}`, {
      languages: ["en"],
      topics: [t1, t2],
      postcode_ranges: [{ first: "50000", last: "50999" }],
    });
    expect(updated).toMatchObject({
      id,
      name,
      languages: ["en"],
      topics: [t1, t2].sort(),
      postcode_ranges: [{ first: "50000", last: "50999" }],
    });
    expect((await ok("GET", "/topics")).topics).toContainEqual(expect.objectContaining({ id: t2, agency_count: 1 }));

    expect(await ok("DELETE", `/agencies/${id}`)).toEqual({ deleted: id });
    expect((await admin("GET", `/agencies/${id}`)).body.errcode).toBe("M_NOT_FOUND");
    expect((await admin("DELETE", `/agencies/${id}`)).body.errcode).toBe("M_NOT_FOUND");
  });

  it("keeps an agency with enquiries (409 CONNECTA_IN_USE) and allows one fallback only", async () => {
    const topic = await newTopic();
    const agency = await newAgency({ topics: [topic] });
    await db.query(
      `INSERT INTO enquiries (intake_id, agency_id, topic_id, language, age_group) VALUES ($1, $2, $3, 'de', 'unknown')`,
      [randomUUID(), agency.id, topic],
    );
    const refused = await admin("DELETE", `/agencies/${agency.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.errcode).toBe("CONNECTA_IN_USE");
    expect((await admin("GET", `/agencies/${agency.id}`)).status).toBe(200);

    await fallbackAgency();
    const second = await admin("POST", "/agencies", { name: `Fallback ${suffix()}`, is_fallback: true });
    expect(second.status).toBe(409);
    expect(second.body.errcode).toBe("CONNECTA_ALREADY_EXISTS");
    const flagged = await admin("PATCH", `/agencies/${agency.id}`, { is_fallback: true });
    expect(flagged.body.errcode).toBe("CONNECTA_ALREADY_EXISTS");
  });
});

describe("counsellors", () => {
  it("creates a counsellor whose initial password logs in at Synapse, once", async () => {
    const agency = await newAgency();
    const other = await newAgency();
    const localpart = `berater-${suffix()}`;
    const body = {
      localpart,
      display_name: "Anna Müller",
      language: "en",
      memberships: [
        { agency_id: agency.id, role: "team_lead" },
        { agency_id: other.id, role: "counsellor" },
      ],
    };
    const created = await ok("POST", "/counsellors", body);
    expect(created.created).toBe(true);
    expect(created.initial_password).toMatch(/^[a-z2-9]{5}(-[a-z2-9]{5}){3}$/);
    expect(created.counsellor).toMatchObject({
      user_id: `@${localpart}:${stack.serverName}`,
      localpart,
      display_name: "Anna Müller",
      language: "en",
      must_change_password: true,
      deactivated_at: null,
      memberships: [
        { agency_id: agency.id, agency_name: agency.name, role: "team_lead" },
        { agency_id: other.id, agency_name: other.name, role: "counsellor" },
      ],
    });

    const session = await login(localpart, created.initial_password);
    expect(session.status, JSON.stringify(session.body)).toBe(200);
    expect(session.body.user_id).toBe(created.counsellor.user_id);
    expect((await synapseUser(created.counsellor.user_id)).body).toMatchObject({
      displayname: "Anna Müller",
      admin: false,
    });
    // The control room (for counsellors working in Element) waits as an invite.
    const sync = await matrixRequest(stack, "GET", "/_matrix/client/v3/sync?timeout=0", {
      accessToken: String(session.body.access_token),
    });
    expect(Object.keys((sync.body.rooms as { invite?: object } | undefined)?.invite ?? {}).length).toBe(1);

    // A retry of the same request (its answer lost): no second password, nothing changed.
    const retry = await ok("POST", "/counsellors", body);
    expect(retry.created).toBe(false);
    expect(retry.initial_password).toBeUndefined();
    expect(retry.counsellor).toEqual(created.counsellor);
    // The same localpart with other details is a different person.
    const clash = await admin("POST", "/counsellors", { ...body, display_name: "Someone Else" });
    expect(clash.status).toBe(400);
    expect(clash.body.errcode).toBe("M_USER_IN_USE");

    const listed = await ok("GET", `/counsellors?agency=${agency.id}`);
    expect(listed.counsellors).toEqual([created.counsellor]);
    expect((await ok("GET", `/agencies/${agency.id}`)).counsellor_count).toBe(1);
  });

  it("refuses an existing Matrix user with M_USER_IN_USE and leaves the account alone", async () => {
    const seeker = await registerUser(stack, "seeker");
    const res = await admin("POST", "/counsellors", { localpart: seeker.localpart, display_name: "Taken" });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe("M_USER_IN_USE");
    expect((await synapseUser(seeker.userId)).body.displayname).not.toBe("Taken");
    expect((await login(seeker.localpart, seeker.password)).status).toBe(200);
  });

  it("completes a creation interrupted after the account was made", async () => {
    const localpart = `halb-${suffix()}`;
    const userId = `@${localpart}:${stack.serverName}`;
    // An earlier attempt: its marker committed, the account created, then a crash.
    await db.query("INSERT INTO counsellor_account_creations (user_id) VALUES ($1)", [userId]);
    const made = await fetch(`${stack.synapseUrl}/_synapse/admin/v2/users/${encodeURIComponent(userId)}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${stackSecret(stack, "synapseOperatorToken")}` },
      body: "{}",
    });
    expect(made.status).toBe(201);

    const done = await ok("POST", "/counsellors", { localpart, display_name: "Halb Fertig" });
    expect(done.created).toBe(true);
    expect((await login(localpart, done.initial_password)).status).toBe(200);
    const markers = await db.query("SELECT 1 FROM counsellor_account_creations WHERE user_id = $1", [userId]);
    expect(markers.rowCount).toBe(0);
  });

  it("does not take over an account older than a leftover marker", async () => {
    const seeker = await registerUser(stack, "older");
    await new Promise((r) => setTimeout(r, 1100)); // creation times are in whole seconds
    await db.query("INSERT INTO counsellor_account_creations (user_id) VALUES ($1)", [seeker.userId]);
    const res = await admin("POST", "/counsellors", { localpart: seeker.localpart, display_name: "Takeover" });
    expect(res.body.errcode).toBe("M_USER_IN_USE");
    const markers = await db.query("SELECT 1 FROM counsellor_account_creations WHERE user_id = $1", [seeker.userId]);
    expect(markers.rowCount).toBe(0);
  });

  it("updates, resets the password of and deactivates a counsellor", async () => {
    const agency = await newAgency();
    const localpart = `team-${suffix()}`;
    const created = await ok("POST", "/counsellors", {
      localpart,
      display_name: "Bert",
      memberships: [{ agency_id: agency.id }],
    });
    const userId = created.counsellor.user_id as string;

    const updated = await ok("PATCH", `/counsellors/${localpart}`, {
      display_name: "Bert Krause",
      language: "en",
      absent: true,
      absence_message: "Bis Montag im Urlaub.\nVertretung: Team Nord.",
      memberships: [{ agency_id: agency.id, role: "team_lead" }],
    });
    expect(updated).toMatchObject({
      display_name: "Bert Krause",
      language: "en",
      absent: true,
      absence_message: "Bis Montag im Urlaub.\nVertretung: Team Nord.",
      memberships: [{ agency_id: agency.id, role: "team_lead" }],
    });
    expect((await synapseUser(userId)).body.displayname).toBe("Bert Krause");
    const cleared = await ok("PATCH", `/counsellors/${localpart}`, { absent: false, absence_message: null });
    expect(cleared).toMatchObject({ absent: false, absence_message: null, display_name: "Bert Krause" });

    const reset = await ok("POST", `/counsellors/${localpart}/password`);
    expect(reset.initial_password).not.toBe(created.initial_password);
    expect(reset.counsellor.must_change_password).toBe(true);
    expect((await login(localpart, reset.initial_password)).status).toBe(200);

    // An active enquiry keeps a counsellor from being deactivated.
    const topic = await newTopic();
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO enquiries (intake_id, agency_id, topic_id, language, age_group, state, counsellor_id, waiting_since)
       VALUES ($1, $2, $3, 'de', 'unknown', 'active', $4, now()) RETURNING id`,
      [randomUUID(), agency.id, topic, userId],
    );
    const busy = await admin("POST", `/counsellors/${localpart}/deactivate`);
    expect(busy.status).toBe(409);
    expect(busy.body.errcode).toBe("CONNECTA_IN_USE");
    await db.query("UPDATE enquiries SET state = 'closed', closed_at = now() WHERE id = $1", [rows[0]?.id]);

    const deactivated = await ok("POST", `/counsellors/${localpart}/deactivate`);
    expect(deactivated.deactivated_at).not.toBeNull();
    expect(deactivated.memberships).toEqual([]);
    expect((await synapseUser(userId)).body.deactivated).toBe(true);
    expect((await login(localpart, reset.initial_password)).status).toBe(403);
    // Repeating it is harmless; changing or re-creating is refused.
    expect((await admin("POST", `/counsellors/${localpart}/deactivate`)).status).toBe(200);
    expect((await admin("PATCH", `/counsellors/${localpart}`, { absent: true })).body.errcode).toBe(
      "CONNECTA_WRONG_STATE",
    );
    expect((await admin("POST", "/counsellors", { localpart, display_name: "Bert" })).body.errcode).toBe(
      "M_USER_IN_USE",
    );
    expect((await ok("GET", `/agencies/${agency.id}`)).counsellor_count).toBe(0);

    // Each change is in the security event log, by the operator, naming the counsellor and no
    // content; the refused attempts left nothing there.
    const { entries } = await ok("GET", "/audit?limit=1000");
    const mine = (entries as Json[]).filter((e) => e.target === userId).reverse();
    expect(mine.map((e) => [e.action, e.class])).toEqual([
      ["admin.counsellor_created", "medium"],
      ["admin.counsellor_changed", "low"],
      ["admin.role_changed", "high"],
      ["admin.counsellor_changed", "low"],
      ["admin.password_reset", "high"],
      ["admin.counsellor_deactivated", "medium"],
      ["admin.counsellor_deactivated", "medium"],
    ]);
    expect(mine.every((e) => e.actor === "operator" && e.client_address === null)).toBe(true);
    expect(JSON.stringify(mine)).not.toContain("Urlaub");
    expect(await ok("GET", "/audit/verify")).toMatchObject({ ok: true, problem: null });
  });
});

describe("queue inspection", () => {
  it("counts enquiries per state and reports waiting times, without seeker data", async () => {
    const topic = await newTopic();
    const agency = await newAgency({ topics: [topic] });
    const insert = (state: string, waitingMinutes: number | null) =>
      db.query(
        `INSERT INTO enquiries (intake_id, agency_id, topic_id, language, age_group, state, waiting_since, seeker_id)
         VALUES ($1, $2, $3, 'en', 'unknown', $4, now() - make_interval(mins => $5), '@seeker-x:localhost')`,
        [randomUUID(), agency.id, topic, state, waitingMinutes],
      );
    await insert("waiting", 10);
    await insert("waiting", 5);
    await insert("created", null);
    await insert("closed", 60);

    const queue = await ok("GET", `/queue?agency=${agency.id}`);
    expect(queue.agencies).toHaveLength(1);
    expect(queue.agencies[0]).toMatchObject({
      agency_id: agency.id,
      counts: { created: 1, waiting: 2, active: 0, closed: 1, archived: 0 },
    });
    expect(queue.agencies[0].longest_wait_seconds).toBeGreaterThanOrEqual(600);
    expect(queue.agencies[0].longest_wait_seconds).toBeLessThan(700);
    expect(queue.agencies[0].average_wait_seconds).toBeGreaterThanOrEqual(450);
    expect(queue.enquiries.map((e: Json) => e.state)).toEqual(["waiting", "waiting"]);
    expect(queue.enquiries[0].waiting_seconds).toBeGreaterThan(queue.enquiries[1].waiting_seconds);
    expect(JSON.stringify(queue)).not.toContain("seeker");

    const closed = await ok("GET", `/queue?agency=${agency.id}&state=closed`);
    expect(closed.enquiries).toHaveLength(1);
    expect(closed.enquiries[0].waiting_seconds).toBeNull();
    expect((await admin("GET", "/queue?agency=999999999")).body.errcode).toBe("M_NOT_FOUND");
  });
});

describe("findAgency", () => {
  let topic: string;
  let wide: number;
  let narrow: number;
  let tieFirst: number;
  let fallback: number;

  beforeAll(async () => {
    topic = await newTopic();
    const otherTopic = await newTopic();
    wide = (await newAgency({ topics: [topic], postcode_ranges: [{ first: "10000", last: "19999" }] })).id;
    narrow = (await newAgency({ topics: [topic], postcode_ranges: [{ first: "12000", last: "12099" }] })).id;
    // Narrower still, but for another topic: must not win.
    await newAgency({ topics: [otherTopic], postcode_ranges: [{ first: "12050", last: "12050" }] });
    tieFirst = (await newAgency({ topics: [topic], postcode_ranges: [{ first: "13000", last: "13099" }] })).id;
    await newAgency({ topics: [topic], postcode_ranges: [{ first: "13000", last: "13099" }] });
    fallback = await fallbackAgency();
  });

  it("picks the agency whose range contains the postcode", async () => {
    expect(await findAgency(db, topic, "15000")).toEqual({ agencyId: wide });
    expect(await findAgency(db, topic, "10000")).toEqual({ agencyId: wide });
    expect(await findAgency(db, topic, "19999")).toEqual({ agencyId: wide });
  });

  it("prefers the narrowest range offering the topic, then the lowest id", async () => {
    expect(await findAgency(db, topic, "12050")).toEqual({ agencyId: narrow });
    expect(await findAgency(db, topic, "12099")).toEqual({ agencyId: narrow });
    expect(await findAgency(db, topic, "13050")).toEqual({ agencyId: tieFirst });
  });

  it("falls back to the fallback agency outside every range or without a postcode", async () => {
    expect(await findAgency(db, topic, "99999")).toEqual({ agencyId: fallback });
    expect(await findAgency(db, topic, "09999")).toEqual({ agencyId: fallback });
    expect(await findAgency(db, topic, null)).toEqual({ agencyId: fallback });
  });

  it("matches nothing for an unknown topic and refuses a malformed postcode", async () => {
    expect(await findAgency(db, `unknown-${suffix()}`, "12050")).toBeNull();
    expect(await findAgency(db, `unknown-${suffix()}`, null)).toBeNull();
    await expect(findAgency(db, topic, "1205")).rejects.toThrow(RangeError);
  });
});

describe("refused input", () => {
  let topic: string;
  let agency: Json;

  beforeAll(async () => {
    topic = await newTopic();
    agency = await newAgency({ topics: [topic] });
  });

  it("answers hostile and malformed requests with a 4xx Matrix error and changes nothing", async () => {
    const agenciesBefore = (await ok("GET", "/agencies")).agencies.length;
    const name = () => `Agency ${suffix()}`;
    const cases: [string, string, string, unknown, number, string, string?][] = [
      ["wrong type", "POST", "/topics", { id: `t-${suffix()}`, name_de: 42, name_en: "x" }, 400, "M_BAD_JSON"],
      [
        "unknown key",
        "POST",
        "/topics",
        { id: `t-${suffix()}`, name_de: "a", name_en: "b", admin: true },
        400,
        "M_BAD_JSON",
      ],
      ["prototype key", "POST", "/agencies", JSON.parse(`{"name":"${name()}","__proto__":{"x":1}}`), 400, "M_BAD_JSON"],
      [
        "oversize name",
        "POST",
        "/topics",
        { id: `t-${suffix()}`, name_de: "x".repeat(101), name_en: "b" },
        400,
        "M_BAD_JSON",
      ],
      ["oversize body", "POST", "/agencies", { name: "x".repeat(70_000) }, 413, "M_TOO_LARGE"],
      ["blank name", "POST", "/agencies", { name: "   " }, 400, "M_BAD_JSON"],
      ["control characters", "POST", "/agencies", { name: "a\u0000b" }, 400, "M_BAD_JSON"],
      [
        "SQL in topic id",
        "POST",
        "/topics",
        { id: "x'; DROP TABLE topics;--", name_de: "a", name_en: "b" },
        400,
        "M_BAD_JSON",
      ],
      ["SQL in path", "GET", "/agencies/1%20OR%201=1", undefined, 400, "M_INVALID_PARAM"],
      [
        "SQL in localpart",
        "POST",
        "/counsellors",
        { localpart: "a' OR '1'='1", display_name: "x" },
        400,
        "M_INVALID_USERNAME",
      ],
      ["SQL in query", "GET", "/counsellors?agency=1;DELETE", undefined, 400, "M_INVALID_PARAM"],
      [
        "short postcode",
        "POST",
        "/agencies",
        { name: name(), postcode_ranges: [{ first: "1234", last: "12345" }] },
        400,
        "M_BAD_JSON",
      ],
      [
        "letters in postcode",
        "POST",
        "/agencies",
        { name: name(), postcode_ranges: [{ first: "1234a", last: "12345" }] },
        400,
        "M_BAD_JSON",
      ],
      [
        "reversed range",
        "POST",
        "/agencies",
        { name: name(), postcode_ranges: [{ first: "20000", last: "10000" }] },
        400,
        "M_BAD_JSON",
      ],
      [
        "overlapping ranges",
        "POST",
        "/agencies",
        {
          name: name(),
          postcode_ranges: [
            { first: "10000", last: "10500" },
            { first: "10400", last: "10600" },
          ],
        },
        400,
        "M_BAD_JSON",
      ],
      ["unknown language", "POST", "/agencies", { name: name(), languages: ["fr"] }, 400, "M_BAD_JSON"],
      ["unknown topic", "POST", "/agencies", { name: name(), topics: [`t-${suffix()}`] }, 400, "M_INVALID_PARAM"],
      [
        "duplicate topic id",
        "POST",
        "/topics",
        { id: topic, name_de: "a", name_en: "b" },
        409,
        "CONNECTA_ALREADY_EXISTS",
      ],
      ["duplicate agency name", "POST", "/agencies", { name: agency.name }, 409, "CONNECTA_ALREADY_EXISTS"],
      [
        "reserved namespace",
        "POST",
        "/counsellors",
        { localpart: `connecta-${suffix()}`, display_name: "x" },
        400,
        "M_INVALID_USERNAME",
      ],
      [
        "the bot itself",
        "POST",
        "/counsellors",
        { localpart: "connecta-bot", display_name: "x" },
        400,
        "M_INVALID_USERNAME",
      ],
      [
        "digits-only localpart",
        "POST",
        "/counsellors",
        { localpart: "12345", display_name: "x" },
        400,
        "M_INVALID_USERNAME",
      ],
      [
        "upper-case localpart",
        "POST",
        "/counsellors",
        { localpart: "Anna", display_name: "x" },
        400,
        "M_INVALID_USERNAME",
      ],
      [
        "agency id as string",
        "POST",
        "/counsellors",
        { localpart: `c-${suffix()}`, display_name: "x", memberships: [{ agency_id: "1" }] },
        400,
        "M_BAD_JSON",
      ],
      [
        "unknown agency",
        "POST",
        "/counsellors",
        { localpart: `c-${suffix()}`, display_name: "x", memberships: [{ agency_id: 999999999 }] },
        400,
        "M_INVALID_PARAM",
      ],
      [
        "unknown role",
        "POST",
        "/counsellors",
        { localpart: `c-${suffix()}`, display_name: "x", memberships: [{ agency_id: agency.id, role: "admin" }] },
        400,
        "M_BAD_JSON",
      ],
      ["empty update", "PATCH", `/agencies/${agency.id}`, {}, 400, "M_BAD_JSON"],
      ["unknown query key", "GET", "/topics?debug=1", undefined, 400, "M_INVALID_PARAM"],
      ["repeated query key", "GET", "/queue?agency=1&agency=2", undefined, 400, "M_INVALID_PARAM"],
      ["array body", "POST", "/topics", [], 400, "M_BAD_JSON"],
      ["not JSON", "POST", "/agencies", undefined, 400, "M_NOT_JSON", "{name:"],
      ["unknown counsellor", "PATCH", `/counsellors/nobody-${suffix()}`, { absent: true }, 404, "M_NOT_FOUND"],
    ];
    for (const [what, method, path, body, status, errcode, raw] of cases) {
      const res = await admin(method, path, body, raw === undefined ? {} : { raw });
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.body.errcode, what).toBe(errcode);
      expect(typeof res.body.error, what).toBe("string");
    }
    expect((await ok("GET", "/agencies")).agencies.length).toBe(agenciesBefore);
    expect((await ok("GET", "/topics")).topics).toContainEqual(expect.objectContaining({ id: topic }));
  });
});

describe("the admin CLI", () => {
  it("adds and lists topics, agencies and counsellors, and reports errors in one line", async () => {
    const topic = `cli-${suffix()}`;
    const added = await cli("topic", "add", topic, "--de", "Schulden", "--en", "Debt");
    expect(added, added.stderr).toMatchObject({ code: 0 });
    expect(added.stdout).toContain(`topic ${topic} added`);
    const topics = await cli("topic", "list");
    expect(topics.stdout).toMatch(new RegExp(`^${topic}\\s+Schulden\\s+Debt\\s+0$`, "m"));

    const agencyName = `CLI Agency ${suffix()}`;
    const agency = await cli(
      "agency",
      "add",
      "--name",
      agencyName,
      "--languages",
      "de,en",
      "--topics",
      topic,
      "--postcodes",
      "40000-40999,41061",
    );
    expect(agency, agency.stderr).toMatchObject({ code: 0 });
    const agencyId = /^added agency (\d+): /.exec(agency.stdout)?.[1];
    expect(agencyId).toBeDefined();
    expect(agency.stdout).toContain("postcodes:   40000-40999,41061");
    const agencies = await cli("agency", "list");
    expect(agencies.stdout).toContain(agencyName);
    const json = await cli("agency", "show", String(agencyId), "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ name: agencyName, topics: [topic] });

    const localpart = `cli-${suffix()}`;
    const counsellor = await cli(
      "counsellor",
      "add",
      localpart,
      "--name",
      "Clara CLI",
      "--agencies",
      `${agencyId}:team_lead`,
    );
    expect(counsellor, counsellor.stderr).toMatchObject({ code: 0 });
    expect(counsellor.stdout).toMatch(/^Initial password: [a-z2-9]{5}(-[a-z2-9]{5}){3}$/m);
    const counsellors = await cli("counsellor", "list", "--agency", String(agencyId));
    expect(counsellors.stdout).toMatch(
      new RegExp(`^${localpart}\\s+Clara CLI\\s+de\\s+${agencyId}:team_lead\\s+0\\s+`, "m"),
    );
    const queue = await cli("queue", "--agency", String(agencyId));
    expect(queue.stdout).toContain(agencyName);
    expect(queue.stdout).toContain("no waiting enquiries");

    const duplicate = await cli("topic", "add", topic, "--de", "a", "--en", "b");
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr.trim().split("\n")).toHaveLength(1);
    expect(duplicate.stderr).toContain("CONNECTA_ALREADY_EXISTS");
    const wrong = await cli("agency", "add", "--name", "x", "--postcodes", "4000");
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^connecta-admin: --postcodes: "4000" is not a postcode/);
    const audit = await cli("audit", "list", "--class", "high");
    expect(audit, audit.stderr).toMatchObject({ code: 0 });
    expect(audit.stdout).toMatch(
      new RegExp(`^\\d+\\s+\\S+\\s+high\\s+admin\\.role_changed\\s+operator\\s+@${localpart}:`, "m"),
    );
    const verified = await cli("audit", "verify");
    expect(verified, verified.stderr).toMatchObject({ code: 0 });
    expect(verified.stdout).toMatch(/^OK: \d+ entries, chain intact$/m);
    const unknown = await cli("agency", "frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "agency frobnicate"');
  });

  it("sets retention periods, sweeps, exports and erases a seeker, and reports errors in one line", async () => {
    const superuser = await connectaDb(stack);
    try {
      const oneLine = (r: { code: number; stderr: string }, code: number, text: string) => {
        expect(r.code, r.stderr).toBe(code);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(r.stderr).toMatch(/^connecta-admin: /);
        expect(r.stderr).toContain(text);
      };
      // Two conversations of agencies whose archived conversations go at once; a is swept, b erased.
      const a = await workflowScene(stack, superuser);
      const b = await workflowScene(stack, superuser);
      const period = ["--archived-days", "0", "--unfinished-hours", "48", "--inactive-days", "180"];
      for (const agency of [a.agencyId, b.agencyId]) {
        const set = await cli("retention", "set", "--agency", String(agency), ...period);
        expect(set, set.stderr).toMatchObject({ code: 0 });
        expect(set.stdout).toMatch(new RegExp(`^${agency}\\s+0\\s+48\\s+180$`, "m"));
      }
      const shown = await cli("retention", "show");
      expect(shown.stdout).toMatch(new RegExp(`^${a.agencyId}\\s+0\\s+48\\s+180$`, "m"));
      const json = JSON.parse((await cli("retention", "show", "--json")).stdout) as Json;
      // Setting the defaults to what they are changes nothing for the other test files.
      const d = json.defaults;
      const defaults = await cli(
        "retention",
        "set",
        "--archived-days",
        String(d.archived_days),
        "--unfinished-hours",
        String(d.unfinished_hours),
        "--inactive-days",
        String(d.inactive_days),
      );
      expect(defaults, defaults.stderr).toMatchObject({ code: 0 });
      expect(defaults.stdout).toMatch(
        new RegExp(`^defaults\\s+${d.archived_days}\\s+${d.unfinished_hours}\\s+${d.inactive_days}$`, "m"),
      );

      const exported = await cli("user", "export", a.seeker.userId);
      expect(exported, exported.stderr).toMatchObject({ code: 0 });
      expect(JSON.parse(exported.stdout)).toMatchObject({
        user_id: a.seeker.userId,
        enquiries: [{ enquiry_id: a.enquiryId, room_id: a.roomId, state: "waiting" }],
      });

      await superuser.query(
        "UPDATE enquiries SET state = 'archived', closed_at = now() - interval '1 day' WHERE id = $1",
        [a.enquiryId],
      );
      const due = new RegExp(`^${a.enquiryId}\\s+archived\\s+${a.roomId.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m");
      const dry = await cli("retention", "sweep", "--dry-run");
      expect(dry, dry.stderr).toMatchObject({ code: 0 });
      expect(dry.stdout).toMatch(/^would purge \d+ conversation\(s\):$/m);
      expect(dry.stdout).toMatch(due);
      expect(dry.stdout).toContain("dry run: nothing was changed");
      const swept = await cli("retention", "sweep");
      expect(swept, swept.stderr).toMatchObject({ code: 0 });
      expect(swept.stdout).toMatch(due);
      const enquiryGone = (id: number) =>
        eventually(
          `enquiry ${id} purged`,
          async () => (await superuser.query("SELECT 1 FROM enquiries WHERE id = $1", [id])).rowCount === 0,
          90_000,
        );
      await enquiryGone(a.enquiryId);

      oneLine(await cli("user", "erase", b.seeker.userId), 1, "add --yes");
      expect((await superuser.query("SELECT 1 FROM purges WHERE enquiry_id = $1", [b.enquiryId])).rowCount).toBe(0);
      const erased = await cli("user", "erase", b.seeker.userId, "--yes");
      expect(erased, erased.stderr).toMatchObject({ code: 0 });
      expect(erased.stdout).toContain(`erasing ${b.seeker.userId}: 1 conversation(s) are being deleted`);
      await enquiryGone(b.enquiryId);
      expect(JSON.parse((await cli("user", "export", b.seeker.userId)).stdout)).toMatchObject({ enquiries: [] });

      const reset = await cli("retention", "reset", "--agency", String(a.agencyId));
      expect(reset, reset.stderr).toMatchObject({ code: 0 });
      expect(reset.stdout).not.toMatch(new RegExp(`^${a.agencyId}\\s`, "m"));
      oneLine(await cli("retention", "reset", "--agency", String(a.agencyId)), 1, "M_NOT_FOUND");
      oneLine(
        await cli("retention", "set", "--agency", "999999999", ...period),
        1,
        "M_NOT_FOUND: No agency with id 999999999",
      );
      oneLine(
        await cli("retention", "set", ...period.slice(0, 4), "--inactive-days", "soon"),
        2,
        "--inactive-days: expected a whole number",
      );
      oneLine(await cli("retention", "set", ...period.slice(0, 4)), 2, "--inactive-days is required");
      oneLine(await cli("user", "export", b.counsellors[0]?.userId ?? ""), 1, "M_FORBIDDEN");
      oneLine(await cli("user", "export", "not-a-user-id"), 1, "M_INVALID_PARAM");
    } finally {
      await superuser.end();
    }
  });
});
