/**
 * Test helpers for the anonymous intake: an advice seeker goes through it exactly as the web
 * client will (challenge solved with SHA-256, intake, registration directly at Synapse with the
 * single-use token, completion with an OpenID token), plus a small SQL helper that writes a topic,
 * an agency and its counsellors straight into the appservice's database.
 */
import { createHash, randomBytes, randomInt } from "node:crypto";
import type { StackInfo } from "../../ops/stack/stack.ts";
import { DEFAULT_INTAKE_SETTINGS } from "../../appservice/src/intake/settings.ts";
import { createUser, matrixRequest, registerUser, type TestUser } from "./matrix.ts";
import { connectaDb, openIdToken } from "./workflow.ts";

/** A seeker after a completed intake: a Matrix user with an enquiry room. */
export interface Seeker extends TestUser {
  /** The normalised pseudonym (= localpart). */
  pseudonym: string;
  intakeId: string;
  /** The registration token the seeker spent (tests check it cannot be spent again). */
  registrationToken: string;
  enquiryId: number;
  roomId: string;
}

/** What an intake asks for; `pseudonym` defaults to a fresh random one. */
export interface IntakeOptions {
  topic: string;
  postcode?: string | null;
  ageGroup?: string;
  language?: string;
  pseudonym?: string;
}

/** An answer of the appservice API. */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/**
 * Calls the appservice API with a JSON body (or a raw string), an optional bearer token and
 * optional extra headers.
 */
export async function callIntakeApi(
  stack: StackInfo,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
  headers: Record<string, string> = {},
): Promise<ApiAnswer> {
  const res = await fetch(`${stack.appserviceUrl}${path}`, {
    method,
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { raw: text };
  }
  return { status: res.status, headers: res.headers, body: json };
}

/**
 * A pseudonym nobody has used: `prefix-z` and nine random consonants (no digits, which are
 * limited; no vowels, so no reserved stem such as "team" or "admin" turns up by chance; the "z"
 * keeps the part from starting like a reserved word or a mail provider).
 */
export function freshPseudonym(prefix = "seeker"): string {
  const consonants = "bcdfghjklmnpqrstvwxz";
  const letters = Array.from({ length: 9 }, () => consonants[randomInt(consonants.length)]).join("");
  return `${prefix}-z${letters}`;
}

/** Leading zero bits of a digest. */
function zeroBits(digest: Buffer): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte !== 0) return bits + Math.clz32(byte) - 24;
    bits += 8;
  }
  return bits;
}

/**
 * Solves a proof-of-work challenge as the client does: a decimal counter as nonce. Yields to the
 * event loop now and then, as the web client's worker does, so that the test process notices
 * pooled connections the server closed meanwhile (keep-alive) instead of writing into them.
 */
export async function solveChallenge(challengeId: string, difficulty: number): Promise<string> {
  for (let n = 0; ; n++) {
    if (zeroBits(createHash("sha256").update(`${challengeId}:${n}`).digest()) >= difficulty) return String(n);
    if (n % 10_000 === 9_999) await new Promise((r) => setImmediate(r));
  }
}

/**
 * Fetches a challenge and solves it; returns the id and the nonce. `headers` are sent with the
 * request (X-Forwarded-For: a client address, which the stack's appservice trusts from its web
 * client's address, 127.0.0.1, where the tests call from).
 */
export async function solvedChallenge(
  stack: StackInfo,
  headers: Record<string, string> = {},
): Promise<{ challengeId: string; nonce: string }> {
  const res = await callIntakeApi(stack, "GET", "/api/v1/intake/challenge", undefined, undefined, headers);
  if (res.status !== 200) throw new Error(`challenge: ${res.status} ${JSON.stringify(res.body)}`);
  const challengeId = String(res.body.challenge_id);
  return { challengeId, nonce: await solveChallenge(challengeId, Number(res.body.difficulty)) };
}

/** The body of POST /api/v1/intake for a solved challenge. */
export function intakeBody(
  challenge: { challengeId: string; nonce: string },
  o: IntakeOptions & { pseudonym: string },
) {
  return {
    challenge_id: challenge.challengeId,
    nonce: challenge.nonce,
    pseudonym: o.pseudonym,
    topic: o.topic,
    ...(o.postcode ? { postcode: o.postcode } : {}),
    age_group: o.ageGroup ?? "18_26",
    language: o.language ?? "de",
  };
}

/**
 * Registers `username` at Synapse with a registration token through user-interactive auth
 * (m.login.registration_token, then m.login.dummy), as the web client does. Waits and retries
 * when Synapse's per-address registration limit (rc_registration) answers 429.
 */
export async function registerWithToken(
  stack: StackInfo,
  username: string,
  password: string,
  token: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const register = async (auth?: Record<string, unknown>) => {
    for (;;) {
      const res = await matrixRequest(stack, "POST", "/_matrix/client/v3/register", null, {
        username,
        password,
        initial_device_display_name: "Connecta test",
        ...(auth ? { auth } : {}),
      });
      if (res.status !== 429) return res;
      await new Promise((r) => setTimeout(r, Number(res.body.retry_after_ms ?? 1000) + 100));
    }
  };
  const start = await register();
  if (start.status !== 401) return start;
  const session = start.body.session;
  let res = await register({ type: "m.login.registration_token", token, session });
  const completed = (res.body.completed as string[] | undefined) ?? [];
  if (res.status === 401 && completed.includes("m.login.registration_token")) {
    res = await register({ type: "m.login.dummy", session });
  }
  return res;
}

/**
 * Creates a Synapse user with exactly this localpart through the admin API (bypassing the
 * intake): a name that is taken at Synapse but unknown to the appservice.
 */
export async function registerNamed(stack: StackInfo, localpart: string): Promise<TestUser> {
  return createUser(stack, localpart);
}

/** An answer a client retries: no answer, a server error, a rate limit, or a service not ready. */
export const retriable = (status: number) => status >= 500 || status === 429;

type Answer = { status: number; body: Record<string, unknown> };
/** A request that got no answer (the connection was lost), as an answer with status 0. */
const lost = (err: unknown): Answer => ({ status: 0, body: { error: String(err) } });

/**
 * Sends `request` until it is answered with neither 5xx nor 429 nor a lost connection, at most 12
 * times in about 90 s; each retry is reported to `onRetry`.
 */
async function retried(
  what: string,
  request: () => Promise<Answer>,
  onRetry: (message: string) => void,
): Promise<Answer> {
  for (let attempt = 1; ; attempt++) {
    const res = await request().catch(lost);
    if ((res.status !== 0 && !retriable(res.status)) || attempt === 12) return res;
    onRetry(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, Number(res.body.retry_after_ms ?? Math.min(2000 * attempt, 10_000))));
  }
}

/**
 * Goes through the whole intake as the web client will and returns the seeker with their room.
 * `via.challenge` is one solved beforehand (else one is fetched and solved now); `via.headers`
 * go with every request to the appservice (see {@link solvedChallenge}).
 */
export async function intakeSeeker(
  stack: StackInfo,
  options: IntakeOptions,
  via: {
    challenge?: { challengeId: string; nonce: string };
    headers?: Record<string, string>;
    /** Given: an intake or completion that failed (no answer, 5xx or 429) is sent again (up to 12 times, about 90 s), as when the seeker presses again; each retry is reported here. */
    onRetry?: (message: string) => void;
  } = {},
): Promise<Seeker> {
  const pseudonym = options.pseudonym ?? freshPseudonym();
  const headers = via.headers ?? {};
  const challenge = via.challenge ?? (await solvedChallenge(stack, headers));
  const send = () =>
    callIntakeApi(
      stack,
      "POST",
      "/api/v1/intake",
      intakeBody(challenge, { ...options, pseudonym }),
      undefined,
      headers,
    );
  // The intake and its completion are idempotent: sent again, they answer the same.
  const intake = via.onRetry ? await retried("intake", send, via.onRetry) : await send();
  if (intake.status !== 200) throw new Error(`intake: ${intake.status} ${JSON.stringify(intake.body)}`);
  const username = String(intake.body.username);
  const intakeId = String(intake.body.intake_id);
  const registrationToken = String(intake.body.registration_token);
  // The password goes to Synapse only.
  const password = randomBytes(18).toString("base64url");
  const registered = await registerWithToken(stack, username, password, registrationToken);
  if (registered.status !== 200) {
    throw new Error(`registration: ${registered.status} ${JSON.stringify(registered.body)}`);
  }
  const user: TestUser = {
    userId: String(registered.body.user_id),
    localpart: username,
    password,
    accessToken: String(registered.body.access_token),
    deviceId: String(registered.body.device_id),
  };
  const openId = await openIdToken(stack, user);
  const complete = () => callIntakeApi(stack, "POST", `/api/v1/intake/${intakeId}/complete`, {}, openId, headers);
  const completed = via.onRetry ? await retried("completion", complete, via.onRetry) : await complete();
  if (completed.status !== 200) throw new Error(`completion: ${completed.status} ${JSON.stringify(completed.body)}`);
  return {
    ...user,
    pseudonym: username,
    intakeId,
    registrationToken,
    enquiryId: Number(completed.body.enquiry_id),
    roomId: String(completed.body.room_id),
  };
}

/** A topic with its own agency and counsellors, for intakes with `postcode`. */
export interface IntakeAgency {
  topic: string;
  agencyId: number;
  /** A postcode only this agency covers for this topic. */
  postcode: string;
  counsellors: TestUser[];
}

/**
 * Writes a fresh topic and an agency offering it for one postcode range, with `counsellors`
 * registered Matrix users as its counsellors.
 */
export async function seedIntakeAgency(stack: StackInfo, counsellors = 2): Promise<IntakeAgency> {
  const db = await connectaDb(stack);
  try {
    const suffix = randomBytes(4).toString("hex");
    const topic = `intake-${suffix}`;
    await db.query("INSERT INTO topics (id, name_de, name_en) VALUES ($1, $2, $3)", [
      topic,
      `Testthema ${suffix}`,
      `Test topic ${suffix}`,
    ]);
    const { rows } = await db.query<{ id: string }>("INSERT INTO agencies (name) VALUES ($1) RETURNING id", [
      `Intake test agency ${suffix}`,
    ]);
    const agencyId = Number(rows[0]?.id);
    await db.query("INSERT INTO agency_topics (agency_id, topic_id) VALUES ($1, $2)", [agencyId, topic]);
    const postcode = String(randomInt(10_000, 99_999));
    await db.query(
      "INSERT INTO agency_postcode_ranges (agency_id, first_postcode, last_postcode) VALUES ($1, $2, $2)",
      [agencyId, postcode],
    );
    const users: TestUser[] = [];
    for (let i = 0; i < counsellors; i++) {
      const user = await registerUser(stack, "intake-counsellor");
      await db.query("INSERT INTO counsellors (user_id, display_name) VALUES ($1, $2)", [user.userId, user.localpart]);
      await db.query("INSERT INTO agency_memberships (agency_id, counsellor_id) VALUES ($1, $2)", [
        agencyId,
        user.userId,
      ]);
      users.push(user);
    }
    return { topic, agencyId, postcode, counsellors: users };
  } finally {
    await db.end();
  }
}

/**
 * Waits, when the application service's rate-limit window (fixed, ten minutes, aligned to the
 * epoch: appservice/src/intake/rate-limit.ts) ends within `seconds`, until the next one has
 * begun: a test that fills a budget must not see it renewed halfway.
 */
export async function freshRateWindow(seconds: number): Promise<void> {
  const windowMs = DEFAULT_INTAKE_SETTINGS.rateLimits.windowSeconds * 1000;
  const left = windowMs - (Date.now() % windowMs);
  if (left < seconds * 1000) await new Promise((resolve) => setTimeout(resolve, left + 1000));
}
