/**
 * A seeker's IP address is kept only where docs/privacy.md ("Client addresses") says, and for
 * no longer than it says: a seeker goes through intake (through the web client's forwarder),
 * registration, a second login, a sync and a few messages, all from an address of their own;
 * then every text column of both databases and every log file of the stack is searched for it.
 */
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import pg from "pg";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { ROOT } from "../../ops/stack/config.ts";
import { eventually, stackSecret } from "../support/matrix.ts";
import { freshPseudonym, intakeBody, seedIntakeAgency, solveChallenge, type IntakeAgency } from "../support/seeker.ts";

const stack = inject("stack");
const enc = encodeURIComponent;

/**
 * The seeker's address: somewhere in 127/8 (Linux routes all of it to loopback), chosen per run,
 * so that nothing else of the stack or of other test files uses it.
 */
const seekerAddress = `127.${randomInt(100, 250)}.${randomInt(1, 250)}.${randomInt(2, 250)}`;
/** The address as a whole word: not part of a longer address or number. */
const addressPattern = new RegExp(`(?<![\\d.])${seekerAddress.replace(/\./g, "\\.")}(?![\\d])`);

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** A JSON request from the seeker's address (fetch cannot choose the source address). */
function fromSeeker(method: string, url: string, token: string | null, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  // The forwarder refuses cross-site writes; a browser sends its page's origin.
  if (url.startsWith(stack.clientUrl)) headers.origin = new URL(stack.clientUrl).origin;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, localAddress: seekerAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let json: Record<string, unknown>;
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = { raw: text };
        }
        resolve({ status: res.statusCode ?? 0, body: json });
      });
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const synapse = (method: string, path: string, token: string | null, body?: unknown) =>
  fromSeeker(method, `${stack.synapseUrl}${path}`, token, body);
const api = (method: string, path: string, token: string | null, body?: unknown) =>
  fromSeeker(method, `${stack.clientUrl}${path}`, token, body);

function ok(answer: Answer, what: string): Record<string, unknown> {
  if (answer.status !== 200) throw new Error(`${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** A superuser connection to one of the stack's databases. */
async function database(name: "synapse" | "connecta"): Promise<pg.Client> {
  const client = new pg.Client({
    host: stack.bindAddress,
    port: stack.pgPort,
    user: "connecta_admin",
    password: stackSecret(stack, "pgAdminPassword"),
    database: name,
  });
  await client.connect();
  return client;
}

/** SQLSTATE of a table that does not exist (any more). */
const UNDEFINED_TABLE = "42P01";

/** Every `table.column` of `name` whose text holds `needle`, with the number of such rows. */
async function columnsHolding(name: "synapse" | "connecta", needle: string): Promise<Record<string, number>> {
  const db = await database(name);
  try {
    const { rows: columns } = await db.query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
         JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
          AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'inet', 'bytea')`,
    );
    const found: Record<string, number> = {};
    for (const { table_name: table, column_name: column, data_type: dataType } of columns) {
      const col = db.escapeIdentifier(column);
      // bytea as text would be hex: its bytes are searched for the needle's instead.
      const condition =
        dataType === "bytea" ? `position(convert_to($1, 'UTF8') in ${col}) > 0` : `strpos(${col}::text, $1) > 0`;
      let rows: { n: string }[];
      try {
        ({ rows } = await db.query<{ n: string }>(
          `SELECT count(*) AS n FROM ${db.escapeIdentifier(table)} WHERE ${condition}`,
          [needle],
        ));
      } catch (err) {
        // Synapse's background updates create and drop temporary tables while we look.
        if ((err as { code?: string }).code === UNDEFINED_TABLE) continue;
        throw err;
      }
      const n = Number(rows[0]?.n ?? 0);
      if (n > 0) found[`${table}.${column}`] = n;
    }
    return found;
  } finally {
    await db.end();
  }
}

/** A place docs/privacy.md names in its table of client addresses. */
interface DocumentedPlace {
  database: "synapse" | "connecta";
  column: string;
  /** `key: value` settings of homeserver.yaml the row names as its limit. */
  settings: [key: string, value: string][];
}

/** The rows of the table under "## Client addresses" in docs/privacy.md. */
function documentedPlaces(): DocumentedPlace[] {
  const doc = readFileSync(join(ROOT, "docs", "privacy.md"), "utf8");
  const section = /^## Client addresses\n([\s\S]*?)(?=^## )/m.exec(doc)?.[1];
  if (!section) throw new Error('docs/privacy.md has no section "## Client addresses"');
  const places: DocumentedPlace[] = [];
  for (const line of section.split("\n")) {
    const place = /^\|\s*(Synapse|Connecta)\s+`([a-z_]+\.[a-z_]+)`/.exec(line);
    if (!place) continue;
    const settings = [...line.matchAll(/`([a-z_]+): ([0-9]+[smhdwy]?)`/g)].map((m) => [m[1], m[2]] as [string, string]);
    places.push({
      database: place[1] === "Synapse" ? "synapse" : "connecta",
      column: place[2] as string,
      settings,
    });
  }
  return places;
}

/** The value of a top-level key of the homeserver.yaml Synapse runs with (and the test's extra file). */
function synapseSetting(key: string): string | null {
  const files = [join(stack.dataDir, "synapse", "homeserver.yaml"), join(stack.dataDir, "e2e-synapse.yaml")];
  let value: string | null = null;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    // Later files override earlier ones, as Synapse reads them.
    const match = new RegExp(`^${key}:\\s*(\\S+)\\s*$`, "m").exec(text);
    if (match) value = match[1] as string;
  }
  return value;
}

let agency: IntakeAgency;
let userId: string;
let firstDevice: string;
let secondDevice: string;

/** The seeker's journey, every request from {@link seekerAddress}. */
async function journey(): Promise<void> {
  agency = await seedIntakeAgency(stack, 1);

  // Intake, through the web client's forwarder as a browser does (the forwarder passes the
  // address on to the application service in X-Forwarded-For).
  const challenge = ok(await api("GET", "/api/v1/intake/challenge", null), "challenge");
  const challengeId = String(challenge.challenge_id);
  const nonce = await solveChallenge(challengeId, Number(challenge.difficulty));
  const intake = ok(
    await api(
      "POST",
      "/api/v1/intake",
      null,
      intakeBody(
        { challengeId, nonce },
        { topic: agency.topic, postcode: agency.postcode, pseudonym: freshPseudonym() },
      ),
    ),
    "intake",
  );

  // Registration at Synapse with the intake's token (user-interactive auth, three requests).
  const password = randomBytes(18).toString("base64url");
  const register = (auth?: Record<string, unknown>) =>
    synapse("POST", "/_matrix/client/v3/register", null, {
      username: intake.username,
      password,
      initial_device_display_name: "Connecta test",
      ...(auth ? { auth } : {}),
    });
  const start = await register();
  const session = start.body.session;
  await register({ type: "m.login.registration_token", token: intake.registration_token, session });
  const registered = ok(await register({ type: "m.login.dummy", session }), "registration");
  userId = String(registered.user_id);
  firstDevice = String(registered.device_id);
  const firstToken = String(registered.access_token);
  const openId = ok(
    await synapse("POST", `/_matrix/client/v3/user/${enc(userId)}/openid/request_token`, firstToken, {}),
    "openid token",
  );
  const completed = ok(
    await api("POST", `/api/v1/intake/${String(intake.intake_id)}/complete`, String(openId.access_token), {}),
    "completion",
  );
  const room = enc(String(completed.room_id));

  // A later visit: login (a second device), sync, join, messages (ciphertext stand-ins), logout.
  const login = ok(
    await synapse("POST", "/_matrix/client/v3/login", null, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: intake.username },
      password,
    }),
    "login",
  );
  secondDevice = String(login.device_id);
  const token = String(login.access_token);
  ok(await synapse("GET", "/_matrix/client/v3/sync?timeout=0", token), "sync");
  ok(await synapse("POST", `/_matrix/client/v3/join/${room}`, token, {}), "join");
  for (let i = 0; i < 3; i++) {
    ok(
      await synapse("PUT", `/_matrix/client/v3/rooms/${room}/send/m.room.encrypted/${randomUUID()}`, token, {
        algorithm: "m.megolm.v1.aes-sha2",
        ciphertext: "AwgAEn",
      }),
      "send",
    );
  }
  // Synapse writes addresses in batches every 5 s: wait until this device's is in the database.
  await eventually("the second device's last address in Synapse's database", async () => {
    const db = await database("synapse");
    try {
      const { rows } = await db.query("SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2 AND ip = $3", [
        userId,
        secondDevice,
        seekerAddress,
      ]);
      return rows.length > 0 ? true : null;
    } finally {
      await db.end();
    }
  });
  ok(await synapse("POST", "/_matrix/client/v3/logout", token, {}), "logout");

  // An unknown alias: Synapse logs the refusal, so once this line is in the log, every line of
  // the requests before it is too.
  const mark = `#privacy-mark-${randomBytes(6).toString("hex")}:${stack.serverName}`;
  await synapse("GET", `/_matrix/client/v3/directory/room/${enc(mark)}`, firstToken);
  await eventually("the marker in Synapse's log", () =>
    readFileSync(join(stack.dataDir, "logs", "synapse.log"), "utf8").includes(mark) ? true : null,
  );
}

// Source addresses other than the bind address reach it only on loopback (127/8).
describe.runIf(stack.bindAddress === "127.0.0.1")("a seeker's IP address", () => {
  beforeAll(journey, 240_000);

  it("is stored only in the places docs/privacy.md lists", async () => {
    const documented = documentedPlaces();
    expect(documented.length, "rows of the table in docs/privacy.md").toBeGreaterThan(0);
    for (const name of ["synapse", "connecta"] as const) {
      const found = Object.keys(await columnsHolding(name, seekerAddress)).sort();
      const allowed = documented.filter((p) => p.database === name).map((p) => p.column);
      expect(
        found.filter((column) => !allowed.includes(column)),
        `columns of the ${name} database holding the address but missing from docs/privacy.md`,
      ).toEqual([]);
    }
    // The places Synapse certainly uses after this journey are really there (the scan works).
    const synapseFound = await columnsHolding("synapse", seekerAddress);
    expect(Object.keys(synapseFound)).toEqual(
      expect.arrayContaining(["user_ips.ip", "devices.ip", "ui_auth_sessions_ips.ip"]),
    );
  });

  it("is kept in Synapse for the time docs/privacy.md gives", () => {
    const settings = documentedPlaces().flatMap((p) => p.settings);
    expect(settings.map(([key]) => key)).toContain("user_ips_max_age");
    for (const [key, value] of settings) {
      expect(synapseSetting(key), `${key} in the homeserver.yaml Synapse runs with`).toBe(value);
    }
  });

  it("leaves a device's address only as long as the device exists", async () => {
    const db = await database("synapse");
    try {
      const { rows } = await db.query<{ device_id: string }>(
        "SELECT device_id FROM devices WHERE user_id = $1 AND ip = $2 ORDER BY device_id",
        [userId, seekerAddress],
      );
      // The logged-out device is gone with its address; the first one (never logged out) stays.
      expect(rows.map((r) => r.device_id)).toEqual([firstDevice]);
      expect(rows.map((r) => r.device_id)).not.toContain(secondDevice);
    } finally {
      await db.end();
    }
  });

  it("is in no log file of the stack", () => {
    const dir = join(stack.dataDir, "logs");
    const files = readdirSync(dir).filter((f) => f.endsWith(".log"));
    expect(files).toContain("synapse.log");
    const withAddress = files.flatMap((file) =>
      readFileSync(join(dir, file), "utf8")
        .split("\n")
        .filter((line) => addressPattern.test(line))
        .map((line) => `${file}: ${line}`),
    );
    expect(withAddress).toEqual([]);
  });
});
