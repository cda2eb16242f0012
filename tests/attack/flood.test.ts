/**
 * Attack suite: floods and bots (issue 16, "Flood and bot brake"). Bounded floods from one
 * address and from many addresses and pseudonyms on the intake, the token check of every
 * authenticated route, claims (the application service), logins and messages (Synapse) get 429
 * `M_LIMIT_EXCEEDED` with `Retry-After` and `retry_after_ms`, while a seeker and a counsellor who
 * do not flood keep working: every budget belongs to one address or one account, so a flooder
 * spends only their own (docs/threat-model.md, "Floods"; case ids A-FLOOD-nn listed there).
 *
 * Addresses are simulated the way the deployment sees them. The application service believes
 * `X-Forwarded-For` only from its trusted proxy, the web client's forwarder, whose address this
 * test process shares (the stack's bind address): requests from here with the header are the
 * forwarder's. Requests from other loopback addresses (`127.x.y.z`, a socket of their own) are
 * other clients, at the forwarder, at Synapse (which believes no header in this stack) and at the
 * application service, which must ignore their header.
 *
 * The application service's budgets are counted with small values on a replica of its own (the
 * same database and Synapse; the shipped budgets would need thousands of requests, and the stack
 * raises those per address, as all its clients share one), and once with the shipped budget per
 * account through the forwarder (A-FLOOD-07). Synapse's limits are those of the test stack: as
 * shipped, but for logins per address, which the harness needs raised (A-FLOOD-12).
 */
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../appservice/src/config/config.ts";
import { ROOT } from "../../ops/stack/config.ts";
import { freePort, stopService, type Service } from "../../ops/stack/processes.ts";
import { appserviceEnv, startAppservice } from "../../ops/stack/stack.ts";
import { matrixRequest, registerUser, type TestUser } from "../support/matrix.ts";
import {
  freshPseudonym,
  freshRateWindow,
  intakeBody,
  seedIntakeAgency,
  solveChallenge,
  type IntakeAgency,
} from "../support/seeker.ts";
import {
  connectaDb,
  createAgency,
  createTopic,
  openIdToken,
  openTestEnquiry,
  workflowScene,
} from "../support/workflow.ts";
import { enc, expectRefusal, send, type Answer } from "./support.ts";

const stack = inject("stack");
/** The budgets of the replica: small, so that a flood past them stays a few dozen requests. */
const BUDGET = { intake: 10, tokenChecks: 10, actionsPerAccount: 10, actionsPerAddress: 30 };
let db: pg.Client;
let replica: Service;
let replicaUrl: string;
let agency: IntakeAgency;

beforeAll(async () => {
  db = await connectaDb(stack);
  agency = await seedIntakeAgency(stack, 0);
  const port = await freePort(stack.bindAddress);
  replica = await startAppservice(stack, port, "appservice-flood", {
    CONNECTA_INTAKE_RATE_LIMIT_PER_ADDRESS: String(BUDGET.intake),
    CONNECTA_TOKEN_CHECKS_PER_ADDRESS: String(BUDGET.tokenChecks),
    CONNECTA_ENQUIRY_ACTIONS_PER_ACCOUNT: String(BUDGET.actionsPerAccount),
    CONNECTA_ENQUIRY_ACTIONS_PER_ADDRESS: String(BUDGET.actionsPerAddress),
  });
  replicaUrl = `http://${stack.bindAddress}:${port}`;
});
afterAll(async () => {
  await db?.end();
  if (replica) await stopService(replica);
});

/**
 * Client addresses as the forwarder reports them, new in each run (the counters live in the
 * stack's database for ten minutes): `10.<run>.<group>.<i>`.
 */
const run = randomInt(0, 256);
const forwarded = (group: number, i = 1) => `10.${run}.${group}.${i}`;
/** A loopback address of its own: a client with its own socket. */
const loopback = () => `127.${randomInt(2, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

/** A request to the replica from the client at `address`, as the forwarder passes it on. */
function viaForwarder(address: string, method: string, path: string, token: string | null, body?: unknown) {
  return send(
    replicaUrl,
    method,
    path,
    {
      "content-type": "application/json",
      "x-forwarded-for": address,
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body === undefined ? undefined : JSON.stringify(body),
  );
}

/** A JSON request to `baseUrl` from its own socket at `localAddress`. */
function fromSocket(
  localAddress: string,
  baseUrl: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  return send(
    baseUrl,
    method,
    path,
    { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...headers },
    body === undefined ? undefined : JSON.stringify(body),
    localAddress,
  );
}

/** Runs `task` `count` times, `parallel` at a time, and returns the answers in the order sent. */
async function flood(count: number, parallel: number, task: (i: number) => Promise<Answer>): Promise<Answer[]> {
  const answers: Answer[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = next++; i < count; i = next++) answers[i] = await task(i);
    }),
  );
  return answers;
}

/**
 * The refusal of a flood: 429 `M_LIMIT_EXCEEDED` with `retry_after_ms` (at most `maxMs`) and
 * `Retry-After`, the same time in whole seconds. The application service's answers are never
 * cached and wait at least a second; Synapse's need not say so, and say 0 when the next request
 * is due (its limits refill continuously).
 */
function expectBrake(answer: Answer, what: string, maxMs: number, from: "appservice" | "synapse" = "appservice") {
  if (from === "appservice") expectRefusal(answer, 429, "M_LIMIT_EXCEEDED", what);
  else
    expect([answer.status, answer.body.errcode], `${what} ${answer.text.slice(0, 300)}`).toEqual([
      429,
      "M_LIMIT_EXCEEDED",
    ]);
  const retryMs = answer.body.retry_after_ms;
  expect(typeof retryMs, what).toBe("number");
  expect(retryMs as number, what).toBeGreaterThanOrEqual(from === "appservice" ? 1000 : 0);
  expect(retryMs as number, what).toBeLessThanOrEqual(maxMs);
  expect(answer.headers["retry-after"], what).toBe(String(Math.ceil((retryMs as number) / 1000)));
}

/**
 * A flood against a budget of `budget` requests: exactly `budget` answers are the route's own
 * (checked by `served`), the others the brake. Concurrent requests are counted in the order they
 * reach the database, not the order sent, so only the numbers are asserted.
 */
function expectBudget(answers: Answer[], budget: number, served: (a: Answer) => void, what: string): void {
  const braked = answers.filter((a) => a.status === 429);
  expect(answers.length - braked.length, `${what}: answers that were not braked`).toBe(budget);
  for (const answer of answers.filter((a) => a.status !== 429)) served(answer);
  for (const answer of braked) expectBrake(answer, what, WINDOW_MS);
}

// Each case fills budgets of a ten-minute window: it starts with a minute of the window left at least.
beforeEach(() => freshRateWindow(60), 70_000);

/** The application service's window: ten minutes. */
const WINDOW_MS = 10 * 60 * 1000;

/** An intake with a challenge nobody solved: counted, then refused (CONNECTA_CHALLENGE_FAILED). */
const unsolvedIntake = () =>
  intakeBody(
    { challengeId: randomBytes(16).toString("base64url"), nonce: "1" },
    { topic: agency.topic, postcode: agency.postcode, pseudonym: freshPseudonym() },
  );

/** A seeker at `address` who fetches a challenge, solves it and sends the intake. */
async function honestIntake(address: string): Promise<Answer> {
  const challenge = await viaForwarder(address, "GET", "/api/v1/intake/challenge", null);
  expect(challenge.status, challenge.text).toBe(200);
  const challengeId = String(challenge.body.challenge_id);
  const nonce = await solveChallenge(challengeId, Number(challenge.body.difficulty));
  const body = intakeBody(
    { challengeId, nonce },
    { topic: agency.topic, postcode: agency.postcode, pseudonym: freshPseudonym() },
  );
  return viaForwarder(address, "POST", "/api/v1/intake", null, body);
}

/** A token that looks like an OpenID token and is nobody's. */
const forgedToken = () => randomBytes(24).toString("base64url");

/** A claim on an enquiry id nobody has: counted, then refused (404). */
const NO_ENQUIRY = 2_000_000_000;
const claimPath = (enquiryId: number) => `/api/v1/enquiries/${enquiryId}/claim`;

describe("the intake", () => {
  it("A-FLOOD-01: a flood of challenges and intakes from one address answers 429 with Retry-After, also with a forged X-Forwarded-For per request; a seeker elsewhere completes an intake", async () => {
    const flooder = forwarded(1);
    const challenges = await flood(BUDGET.intake + 5, 4, () =>
      viaForwarder(flooder, "GET", "/api/v1/intake/challenge", null),
    );
    expectBudget(challenges, BUDGET.intake, (a) => expect(a.status).toBe(200), "challenges");

    // Many pseudonyms, one address: every intake counts, failed ones too.
    const intakes = await flood(BUDGET.intake + 5, 4, () =>
      viaForwarder(flooder, "POST", "/api/v1/intake", null, unsolvedIntake()),
    );
    expectBudget(intakes, BUDGET.intake, (a) => expectRefusal(a, 400, "CONNECTA_CHALLENGE_FAILED"), "intakes");

    // A client that is no trusted proxy names a new address in every request: it stays one client.
    const socket = loopback();
    const forged = await flood(BUDGET.intake + 3, 4, (i) =>
      fromSocket(socket, replicaUrl, "GET", "/api/v1/intake/challenge", null, undefined, {
        "x-forwarded-for": forwarded(2, i + 1),
      }),
    );
    expectBudget(forged, BUDGET.intake, (a) => expect(a.status).toBe(200), "forged X-Forwarded-For");

    const seeker = await honestIntake(forwarded(3));
    expect(seeker.status, seeker.text).toBe(200);
    expect(typeof seeker.body.registration_token).toBe("string");
  });

  it("A-FLOOD-02: many addresses with many pseudonyms each spend only their own intake budget; a seeker at another address completes an intake", async () => {
    const addresses = Array.from({ length: 12 }, (_, i) => forwarded(4, i + 1));
    const answers = await flood(addresses.length * (BUDGET.intake + 1), 8, (i) =>
      viaForwarder(addresses[i % addresses.length] as string, "POST", "/api/v1/intake", null, unsolvedIntake()),
    );
    for (const [n, address] of addresses.entries()) {
      const own = answers.filter((_, i) => i % addresses.length === n);
      expectBudget(own, BUDGET.intake, (a) => expectRefusal(a, 400, "CONNECTA_CHALLENGE_FAILED"), address);
    }
    const seeker = await honestIntake(forwarded(5));
    expect(seeker.status, seeker.text).toBe(200);
  });
});

describe("the token check of authenticated routes", () => {
  it("A-FLOOD-03: forged tokens from one address answer 429 once its budget of token checks is spent, before Synapse is asked: a valid new token from there is refused too, a token checked before still works, a counsellor elsewhere signs in", async () => {
    const scene = await workflowScene(stack, db, { counsellors: 2, written: false });
    const [known, elsewhere] = scene.counsellors as [TestUser, TestUser];
    const checked = await openIdToken(stack, known);
    expect((await viaForwarder(forwarded(6, 1), "GET", "/api/v1/enquiries", checked)).status).toBe(200);

    // The same forged token again and again is asked about once a minute: it spends no budget.
    const repeated = forgedToken();
    const again = await flood(BUDGET.tokenChecks * 2, 4, () =>
      viaForwarder(forwarded(6, 4), "GET", "/api/v1/enquiries", repeated),
    );
    for (const answer of again) expectRefusal(answer, 401, "M_UNKNOWN_TOKEN", "the same forged token");

    const flooder = forwarded(6, 2);
    const answers = await flood(BUDGET.tokenChecks + 5, 4, () =>
      viaForwarder(flooder, "GET", "/api/v1/enquiries", forgedToken()),
    );
    expectBudget(answers, BUDGET.tokenChecks, (a) => expectRefusal(a, 401, "M_UNKNOWN_TOKEN"), "forged tokens");

    // Synapse would vouch for this token; it is not asked.
    const fresh = await viaForwarder(flooder, "GET", "/api/v1/enquiries", await openIdToken(stack, known));
    expectBrake(fresh, "a valid token not checked before", WINDOW_MS);
    // A token checked within the minute costs no call, and works from the flooded address.
    expect((await viaForwarder(flooder, "GET", "/api/v1/enquiries", checked)).status).toBe(200);
    const other = await viaForwarder(forwarded(6, 3), "GET", "/api/v1/queue", await openIdToken(stack, elsewhere));
    expect(other.status, other.text).toBe(200);
  });

  it("A-FLOOD-04: forged tokens from many addresses, also on the call-token route, each spend their own address's budget; a seeker at another address signs in", async () => {
    const addresses = Array.from({ length: 6 }, (_, i) => forwarded(7, i + 1));
    const answers = await flood(addresses.length * (BUDGET.tokenChecks + 1), 6, (i) =>
      viaForwarder(addresses[i % addresses.length] as string, "GET", "/api/v1/enquiries", forgedToken()),
    );
    for (const [n, address] of addresses.entries()) {
      const own = answers.filter((_, i) => i % addresses.length === n);
      expectBudget(own, BUDGET.tokenChecks, (a) => expectRefusal(a, 401, "M_UNKNOWN_TOKEN"), address);
    }
    // The call-token route checks its OpenID token at Synapse too, in the same budget.
    const callToken = await viaForwarder(addresses[0] as string, "POST", "/api/v1/rtc/get_token", null, {
      room_id: `!${randomBytes(8).toString("hex")}`,
      slot_id: "m.call#ROOM",
      openid_token: { access_token: forgedToken(), matrix_server_name: stack.serverName, expires_in: 3600 },
      member: { id: "member", claimed_user_id: `@x:${stack.serverName}`, claimed_device_id: "DEVICE" },
    });
    expectBrake(callToken, "call token", WINDOW_MS);

    const seeker = await registerUser(stack, "seeker");
    const mine = await viaForwarder(forwarded(8), "GET", "/api/v1/enquiries", await openIdToken(stack, seeker));
    expect(mine.status, mine.text).toBe(200);
  });
});

describe("claims", () => {
  it("A-FLOOD-05: a counsellor's claims from many addresses answer 429 after the account's budget; a colleague claims the waiting enquiry", async () => {
    const scene = await workflowScene(stack, db, { counsellors: 2 });
    const [flooder, colleague] = scene.counsellors as [TestUser, TestUser];
    const token = await openIdToken(stack, flooder);
    const answers = await flood(BUDGET.actionsPerAccount + 5, 4, (i) =>
      viaForwarder(forwarded(9, (i % 5) + 1), "POST", claimPath(NO_ENQUIRY), token, {}),
    );
    expectBudget(answers, BUDGET.actionsPerAccount, (a) => expectRefusal(a, 404, "M_NOT_FOUND"), "claims");
    // The flooder's own claim of the waiting enquiry is braked as well; the colleague's is not.
    expectBrake(await viaForwarder(forwarded(9, 6), "POST", claimPath(scene.enquiryId), token, {}), "claim", WINDOW_MS);
    const claimed = await viaForwarder(
      forwarded(9, 1),
      "POST",
      claimPath(scene.enquiryId),
      await openIdToken(stack, colleague),
      {},
    );
    expect(claimed.status, claimed.text).toBe(200);
  });

  it("A-FLOOD-06: many accounts at one address answer 429 after the address's budget, each within its own; a counsellor at another address claims", async () => {
    const scene = await workflowScene(stack, db, { counsellors: 5 });
    const accounts = scene.counsellors.slice(0, 4);
    const [honest] = scene.counsellors.slice(4) as [TestUser];
    const tokens = await Promise.all(accounts.map((c) => openIdToken(stack, c)));
    const perAccount = Math.ceil((BUDGET.actionsPerAddress + 3) / accounts.length);
    expect(perAccount).toBeLessThanOrEqual(BUDGET.actionsPerAccount);
    const flooder = forwarded(10, 1);
    const answers = await flood(perAccount * accounts.length, 4, (i) =>
      viaForwarder(flooder, "POST", claimPath(NO_ENQUIRY), tokens[i % tokens.length] as string, {}),
    );
    expectBudget(answers, BUDGET.actionsPerAddress, (a) => expectRefusal(a, 404, "M_NOT_FOUND"), "claims");
    const claimed = await viaForwarder(
      forwarded(10, 2),
      "POST",
      claimPath(scene.enquiryId),
      await openIdToken(stack, honest),
      {},
    );
    expect(claimed.status, claimed.text).toBe(200);
  });

  it("A-FLOOD-07: with the shipped budgets, through the web client's forwarder, a counsellor's claims answer 429 with Retry-After after the account's budget; a colleague claims", async () => {
    const shipped = loadConfig(appserviceEnv(stack, 1)).enquiryActionsPerAccount;
    expect(shipped).toBeLessThanOrEqual(200);
    const scene = await workflowScene(stack, db, { counsellors: 2 });
    const [flooder, colleague] = scene.counsellors as [TestUser, TestUser];
    const token = await openIdToken(stack, flooder);
    const socket = loopback();
    const answers = await flood(shipped + 3, 4, () =>
      fromSocket(socket, stack.clientUrl, "POST", claimPath(NO_ENQUIRY), token, {}),
    );
    expectBudget(answers, shipped, (a) => expectRefusal(a, 404, "M_NOT_FOUND"), "claims through the forwarder");
    const claimed = await fromSocket(
      socket,
      stack.clientUrl,
      "POST",
      claimPath(scene.enquiryId),
      await openIdToken(stack, colleague),
      {},
    );
    expect(claimed.status, claimed.text).toBe(200);
  });
});

describe("logins at Synapse", () => {
  const login = (localAddress: string, user: string, password: string) =>
    fromSocket(localAddress, stack.synapseUrl, "POST", "/_matrix/client/v3/login", null, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user },
      password,
    });

  it("A-FLOOD-08: a login flood from one address answers 429 M_LIMIT_EXCEEDED with Retry-After; a counsellor logs in from another address", async () => {
    const counsellor = await registerUser(stack, "counsellor");
    const socket = loopback();
    // Another name in each request: only the address's limit applies, not an account's.
    const answers = await flood(150, 8, () => login(socket, `nobody-${randomUUID()}`, "wrong password"));
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length, "no login was refused").toBeGreaterThan(0);
    for (const answer of answers.filter((a) => a.status !== 429)) {
      expect([answer.status, answer.body.errcode]).toEqual([403, "M_FORBIDDEN"]);
    }
    for (const answer of refused) expectBrake(answer, "login", 60_000, "synapse");

    const honest = await login(loopback(), counsellor.localpart, counsellor.password);
    expect(honest.status, honest.text).toBe(200);
  });

  it("A-FLOOD-09: password guesses on one account from many addresses answer 429 after five, whatever the address; others log in, and the account's sessions keep working", async () => {
    const [victim, other] = [await registerUser(stack, "counsellor"), await registerUser(stack, "counsellor")];
    // rc_login.failed_attempts as shipped: a burst of 5, then one more every 10 seconds. Each
    // guess from an address of its own.
    for (let i = 0; i < 5; i++) {
      const guess = await login(loopback(), victim.localpart, `guess ${i}`);
      expect([guess.status, guess.body.errcode]).toEqual([403, "M_FORBIDDEN"]);
    }
    // The known residual (docs/threat-model.md, "Floods and bots"): now the account's own
    // password is refused too, as is every further guess; its sessions are not touched.
    expectBrake(await login(loopback(), victim.localpart, victim.password), "the right password", 60_000, "synapse");
    const guesses = await flood(6, 3, (i) => login(loopback(), victim.localpart, `guess ${5 + i}`));
    for (const answer of guesses) expectBrake(answer, "guess", 60_000, "synapse");
    const whoami = await matrixRequest(stack, "GET", "/_matrix/client/v3/account/whoami", victim);
    expect(whoami.status).toBe(200);
    const otherLogin = await login(loopback(), other.localpart, other.password);
    expect(otherLogin.status, otherLogin.text).toBe(200);
  });
});

describe("messages at Synapse", () => {
  /** A seeker in their own enquiry room. */
  async function seekerInRoom(agencyId: number, topic: string) {
    const seeker = await registerUser(stack, "seeker");
    const { roomId, enquiryId } = await openTestEnquiry(db, seeker, agencyId, topic);
    const joined = await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(roomId)}`, seeker, {});
    expect(joined.status).toBe(200);
    return { seeker, roomId, enquiryId };
  }
  /** One encrypted message (a ciphertext stand-in: the server cannot tell) from `localAddress`. */
  const write = (localAddress: string, who: { seeker: TestUser; roomId: string }) =>
    fromSocket(
      localAddress,
      stack.synapseUrl,
      "PUT",
      `/_matrix/client/v3/rooms/${enc(who.roomId)}/send/m.room.encrypted/${randomUUID()}`,
      who.seeker.accessToken,
      { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "AwgAEn" },
    );

  it("A-FLOOD-10: a seeker's message flood answers 429 M_LIMIT_EXCEEDED with Retry-After; another seeker writes and a counsellor claims meanwhile", async () => {
    const scene = await workflowScene(stack, db, { counsellors: 1 });
    const flooder = { seeker: scene.seeker, roomId: scene.roomId };
    const other = await seekerInRoom(scene.agencyId, scene.topic);
    const socket = loopback();
    const answers = await flood(60, 6, () => write(socket, flooder));
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length, "no message was refused").toBeGreaterThan(0);
    expect(answers.filter((a) => a.status !== 429).map((a) => a.status)).toEqual(
      Array(answers.length - refused.length).fill(200),
    );
    for (const answer of refused) expectBrake(answer, "message", 60_000, "synapse");

    const written = await write(socket, other);
    expect(written.status, written.text).toBe(200);
    const [counsellor] = scene.counsellors as [TestUser];
    const claimed = await viaForwarder(
      forwarded(11),
      "POST",
      claimPath(scene.enquiryId),
      await openIdToken(stack, counsellor),
      {},
    );
    expect(claimed.status, claimed.text).toBe(200);
  });

  it("A-FLOOD-11: pseudonyms flooding together from many addresses each stop at their own budget; a seeker who did not flood writes", async () => {
    const topic = await createTopic(db);
    const agencyId = await createAgency(db, [topic]);
    const seekers: { seeker: TestUser; roomId: string }[] = [];
    for (let i = 0; i < 4; i++) seekers.push(await seekerInRoom(agencyId, topic));
    const [quiet, ...flooders] = seekers as [(typeof seekers)[number], ...typeof seekers];
    // More than a burst of 20 each, sent faster than 2 a second each.
    const answers = await flood(flooders.length * 60, 15, (i) =>
      write(loopback(), flooders[i % flooders.length] as (typeof seekers)[number]),
    );
    for (const [n, flooder] of flooders.entries()) {
      const own = answers.filter((_, i) => i % flooders.length === n);
      const refused = own.filter((a) => a.status === 429);
      expect(refused.length, `${flooder.seeker.userId} was never refused`).toBeGreaterThan(0);
      for (const answer of refused) expectBrake(answer, "message", 60_000, "synapse");
    }
    const written = await write(loopback(), quiet);
    expect(written.status, written.text).toBe(200);
  });
});

describe("Synapse's configuration", () => {
  /** `per_second` and `burst_count` of a block of homeserver.yaml at `indent`, after `heading`. */
  function rate(yaml: string, heading: RegExp): { perSecond: number; burst: number } {
    const match = new RegExp(`${heading.source}\\n\\s+per_second: ([0-9.]+)\\n\\s+burst_count: ([0-9]+)`, "m").exec(
      yaml,
    );
    expect(match, String(heading)).not.toBeNull();
    return { perSecond: Number(match?.[1]), burst: Number(match?.[2]) };
  }

  it("A-FLOOD-12: ships the limits per address and per account on, no higher than a person needs; the test stack raises only those per address that its one address needs", () => {
    const shipped = readFileSync(join(ROOT, "homeserver-config", "homeserver.yaml"), "utf8");
    // Values a flooder feels within seconds, a person never: at most 2 per second, bursts of 20.
    for (const heading of [
      /^rc_message:/,
      /^rc_registration:/,
      /^rc_login:\n\s+address:/,
      /^rc_login:(?:\n.*){3}\n\s+account:/,
      /^rc_login:(?:\n.*){6}\n\s+failed_attempts:/,
    ]) {
      const { perSecond, burst } = rate(shipped, heading);
      expect(perSecond, String(heading)).toBeGreaterThan(0);
      expect(perSecond, String(heading)).toBeLessThanOrEqual(2);
      expect(burst, String(heading)).toBeLessThanOrEqual(20);
    }
    // Synapse sees the client's own address (no header believed without the front door), so
    // its per-address limits are per client.
    expect(shipped).toMatch(/^\s+x_forwarded: false$/m);
    // The test stack's own settings (tests/support/global-setup.ts): rc_login only, and in it
    // the account and failed-attempt limits as shipped.
    const extra = join(stack.dataDir, "e2e-synapse.yaml");
    expect(existsSync(extra), extra).toBe(true);
    const raised = readFileSync(extra, "utf8");
    expect(raised.match(/^[a-z_]+:/gm)).toEqual(["rc_login:"]);
    expect(raised).toContain("account: {per_second: 0.2, burst_count: 5}");
    expect(raised).toContain("failed_attempts: {per_second: 0.1, burst_count: 5}");

    // The application service's budgets (per 10 minutes) as shipped, and as the stack runs them:
    // the same but for the per-address budgets of the authenticated API (ops/stack/stack.ts).
    const stackEnv = appserviceEnv(stack, 1);
    const perAddress = ["CONNECTA_TOKEN_CHECKS_PER_ADDRESS", "CONNECTA_ENQUIRY_ACTIONS_PER_ADDRESS"];
    const asShipped = loadConfig(Object.fromEntries(Object.entries(stackEnv).filter(([k]) => !perAddress.includes(k))));
    expect(asShipped.intakeRateLimitPerAddress).toBeLessThanOrEqual(100);
    expect(asShipped.tokenChecksPerAddress).toBeLessThanOrEqual(1000);
    expect(asShipped.enquiryActionsPerAccount).toBeLessThanOrEqual(120);
    expect(asShipped.enquiryActionsPerAddress).toBeLessThanOrEqual(1200);
    const asRun = loadConfig(stackEnv);
    expect(asRun).toEqual({
      ...asShipped,
      tokenChecksPerAddress: asRun.tokenChecksPerAddress,
      enquiryActionsPerAddress: asRun.enquiryActionsPerAddress,
    });
  });
});
