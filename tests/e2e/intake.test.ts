import { randomInt, randomUUID } from "node:crypto";
import { once } from "node:events";
import { request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { FeatureDeps } from "../../appservice/src/deps.ts";
import { createAuthenticator } from "../../appservice/src/auth/authenticate.ts";
import { loadConfig } from "../../appservice/src/config/config.ts";
import { createPool } from "../../appservice/src/db/pool.ts";
import { stepRunners } from "../../appservice/src/step-runners.ts";
import { Api } from "../../appservice/src/http/api.ts";
import { errorHandler, MatrixError } from "../../appservice/src/http/errors.ts";
import { intakeRoutes } from "../../appservice/src/intake/routes.ts";
import { challengeKey, issueChallenge } from "../../appservice/src/intake/challenge.ts";
import { hit } from "../../appservice/src/intake/rate-limit.ts";
import { DEFAULT_INTAKE_SETTINGS } from "../../appservice/src/intake/settings.ts";
import { createHomeserver } from "../../appservice/src/matrix/homeserver.ts";
import { createMetrics } from "../../appservice/src/metrics.ts";
import { StepWorker } from "../../appservice/src/steps/steps.ts";
import { appserviceEnv } from "../../ops/stack/stack.ts";
import { matrixRequest, registerUser, stackSecret, type TestUser } from "../support/matrix.ts";
import {
  callIntakeApi,
  freshPseudonym,
  freshRateWindow,
  intakeBody,
  intakeSeeker,
  registerNamed,
  registerWithToken,
  seedIntakeAgency,
  solveChallenge,
  solvedChallenge,
  type IntakeAgency,
  type Seeker,
} from "../support/seeker.ts";
import { connectaDb, openIdToken } from "../support/workflow.ts";

const stack = inject("stack");
const enc = encodeURIComponent;
let agency: IntakeAgency;
let seeker: Seeker;
let admin: TestUser;

beforeAll(async () => {
  agency = await seedIntakeAgency(stack, 2);
  admin = await registerUser(stack, "intake-admin", true);
  seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode, ageGroup: "under_18" });
});

interface StateEvent {
  type: string;
  state_key: string;
  sender: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- contents are checked with expect(); any keeps that short
  content: Record<string, any>;
}

/** Full state of a room, read with the server admin API. */
async function roomState(roomId: string): Promise<StateEvent[]> {
  const res = await matrixRequest(stack, "GET", `/_synapse/admin/v1/rooms/${enc(roomId)}/state`, admin);
  expect(res.status).toBe(200);
  return res.body.state as StateEvent[];
}

async function sql<R extends Record<string, unknown>>(text: string, values: unknown[] = []): Promise<R[]> {
  const db = await connectaDb(stack);
  try {
    return (await db.query<R>(text, values)).rows;
  } finally {
    await db.end();
  }
}

/** Starts an intake (challenge and POST) and returns its answer. */
async function startIntake(pseudonym = freshPseudonym()) {
  const challenge = await solvedChallenge(stack);
  const body = intakeBody(challenge, { topic: agency.topic, postcode: agency.postcode, pseudonym });
  const res = await callIntakeApi(stack, "POST", "/api/v1/intake", body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { challenge, body, answer: res.body };
}

describe("the anonymous intake", () => {
  it("takes a seeker from the challenge to an encrypted, invite-only enquiry room", async () => {
    expect(seeker.userId).toBe(`@${seeker.pseudonym}:${stack.serverName}`);
    const state = await roomState(seeker.roomId);
    const event = (type: string) => state.find((e) => e.type === type && e.state_key === "")?.content ?? {};
    expect(event("m.room.encryption")).toMatchObject({ algorithm: "m.megolm.v1.aes-sha2" });
    expect(event("m.room.join_rules")).toMatchObject({ join_rule: "invite" });
    expect(event("m.room.history_visibility")).toMatchObject({ history_visibility: "shared" });
    expect(event("de.connecta.enquiry")).toEqual({ enquiry_id: seeker.enquiryId, agency_id: agency.agencyId });

    const membership = Object.fromEntries(
      state.filter((e) => e.type === "m.room.member").map((e) => [e.state_key, e.content.membership]),
    );
    expect(membership).toEqual({
      [stack.botUserId]: "join",
      [seeker.userId]: "invite",
      ...Object.fromEntries(agency.counsellors.map((c) => [c.userId, "invite"])),
    });
    // The bot created the room: in room version 12 its creator outranks every power level (it
    // is not listed in `users`, it has more than 100); in older versions it has 100.
    const create = state.find((e) => e.type === "m.room.create");
    const power = event("m.room.power_levels");
    expect(create?.sender).toBe(stack.botUserId);
    if (create?.content.room_version === "12") expect(power.users).toEqual({});
    else expect(power.users).toEqual({ [stack.botUserId]: 100 });
    expect(power).toMatchObject({ users_default: 0, state_default: 100, kick: 100, ban: 100, invite: 50 });

    const [enquiry] = await sql(
      "SELECT state, seeker_id, agency_id, room_id, age_group, language FROM enquiries WHERE id = $1",
      [seeker.enquiryId],
    );
    expect(enquiry).toEqual({
      state: "created",
      seeker_id: seeker.userId,
      agency_id: String(agency.agencyId),
      room_id: seeker.roomId,
      age_group: "under_18",
      language: "de",
    });
    const [intake] = await sql("SELECT pseudonym, postcode, completed_at FROM intakes WHERE id = $1", [
      seeker.intakeId,
    ]);
    // The postcode is gone once it found the agency.
    expect(intake).toMatchObject({ pseudonym: seeker.pseudonym, postcode: null });
    expect(intake?.completed_at).toBeInstanceOf(Date);
  });

  it("lets the seeker write but not invite, kick or change the room's state", async () => {
    const join = await matrixRequest(stack, "POST", `/_matrix/client/v3/rooms/${enc(seeker.roomId)}/join`, seeker, {});
    expect(join.status).toBe(200);
    const room = `/_matrix/client/v3/rooms/${enc(seeker.roomId)}`;
    const counsellor = agency.counsellors[0]?.userId;
    const refused: [string, string, unknown][] = [
      ["POST", `${room}/invite`, { user_id: admin.userId }],
      ["POST", `${room}/kick`, { user_id: counsellor, reason: "x" }],
      ["POST", `${room}/ban`, { user_id: counsellor, reason: "x" }],
      ["PUT", `${room}/state/m.room.name/`, { name: "mine" }],
      ["PUT", `${room}/state/m.room.topic/`, { topic: "mine" }],
      ["PUT", `${room}/state/m.room.join_rules/`, { join_rule: "public" }],
      ["PUT", `${room}/state/m.room.history_visibility/`, { history_visibility: "world_readable" }],
      ["PUT", `${room}/state/m.room.power_levels/`, { users: { [seeker.userId]: 100 } }],
      ["PUT", `${room}/state/de.connecta.enquiry/`, { enquiry_id: 1 }],
    ];
    for (const [method, path, body] of refused) {
      const res = await matrixRequest(stack, method, path, seeker, body);
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    const sent = await matrixRequest(stack, "PUT", `${room}/send/m.room.encrypted/t${Date.now()}`, seeker, {
      algorithm: "m.megolm.v1.aes-sha2",
      ciphertext: "not really",
      sender_key: "x",
      session_id: "y",
      device_id: seeker.deviceId,
    });
    expect(sent.status).toBe(200);
  });

  it("completes idempotently: a retry answers with the same enquiry and room", async () => {
    const token = await openIdToken(stack, seeker);
    const again = await callIntakeApi(stack, "POST", `/api/v1/intake/${seeker.intakeId}/complete`, {}, token);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ enquiry_id: seeker.enquiryId, room_id: seeker.roomId });
    const [count] = await sql<{ n: string }>("SELECT count(*) AS n FROM enquiries WHERE seeker_id = $1", [
      seeker.userId,
    ]);
    expect(count?.n).toBe("1");
  });

  it("refuses completion by anyone but the registered pseudonym, and without a valid token", async () => {
    const path = `/api/v1/intake/${seeker.intakeId}/complete`;
    const other = await callIntakeApi(stack, "POST", path, {}, await openIdToken(stack, admin));
    expect(other.status).toBe(404);
    expect(other.body.errcode).toBe("M_NOT_FOUND");
    const missing = await callIntakeApi(stack, "POST", path, {});
    expect([missing.status, missing.body.errcode]).toEqual([401, "M_MISSING_TOKEN"]);
    const forged = await callIntakeApi(stack, "POST", path, {}, "forged-openid-token");
    expect([forged.status, forged.body.errcode]).toEqual([401, "M_UNKNOWN_TOKEN"]);
    const token = await openIdToken(stack, seeker);
    const unknown = await callIntakeApi(stack, "POST", `/api/v1/intake/${randomUUID()}/complete`, {}, token);
    expect([unknown.status, unknown.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    const malformed = await callIntakeApi(stack, "POST", "/api/v1/intake/not-a-uuid/complete", {}, token);
    expect([malformed.status, malformed.body.errcode]).toEqual([400, "M_INVALID_PARAM"]);
  });

  it("mints a token Synapse takes once only", async () => {
    const res = await registerWithToken(
      stack,
      freshPseudonym("again"),
      "a-long-password-1234",
      seeker.registrationToken,
    );
    expect(res.status).toBe(401);
    expect(res.body.access_token).toBeUndefined();
    const forged = await registerWithToken(stack, freshPseudonym("forged"), "a-long-password-1234", "forged-token");
    expect(forged.status).toBe(401);
  });

  it("refuses a replayed challenge once its intake is completed", async () => {
    const { challenge, body, answer } = await startIntake();
    const password = "password-only-synapse-sees";
    const registered = await registerWithToken(
      stack,
      String(answer.username),
      password,
      String(answer.registration_token),
    );
    expect(registered.status, JSON.stringify(registered.body)).toBe(200);
    const user = { userId: String(registered.body.user_id), accessToken: String(registered.body.access_token) };
    const done = await callIntakeApi(
      stack,
      "POST",
      `/api/v1/intake/${String(answer.intake_id)}/complete`,
      {},
      await openIdToken(stack, user),
    );
    expect(done.status, JSON.stringify(done.body)).toBe(200);

    const replay = await callIntakeApi(stack, "POST", "/api/v1/intake", body);
    expect([replay.status, replay.body.errcode]).toEqual([400, "CONNECTA_CHALLENGE_FAILED"]);
    const other = intakeBody(challenge, {
      topic: agency.topic,
      postcode: agency.postcode,
      pseudonym: freshPseudonym(),
    });
    const replayOther = await callIntakeApi(stack, "POST", "/api/v1/intake", other);
    expect([replayOther.status, replayOther.body.errcode]).toEqual([400, "CONNECTA_CHALLENGE_FAILED"]);
  });

  it("answers a retried intake (same challenge, same input) with the same intake, also concurrently", async () => {
    const challenge = await solvedChallenge(stack);
    const body = intakeBody(challenge, { topic: agency.topic, postcode: agency.postcode, pseudonym: freshPseudonym() });
    const [a, b] = await Promise.all([
      callIntakeApi(stack, "POST", "/api/v1/intake", body),
      callIntakeApi(stack, "POST", "/api/v1/intake", body),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.body).toEqual(a.body);
    const retry = await callIntakeApi(stack, "POST", "/api/v1/intake", body);
    expect(retry.body).toEqual(a.body);
    expect(a.body.username).toBe(body.pseudonym);
    // The same challenge with other input is a replay.
    const changed = await callIntakeApi(stack, "POST", "/api/v1/intake", { ...body, age_group: "65_plus" });
    expect([changed.status, changed.body.errcode]).toEqual([400, "CONNECTA_CHALLENGE_FAILED"]);
    const [count] = await sql<{ n: string }>("SELECT count(*) AS n FROM intakes WHERE pseudonym = $1", [
      body.pseudonym,
    ]);
    expect(count?.n).toBe("1");
  });

  it("keeps pseudonyms unique (ours and Synapse's, in any case) and frees them when an intake expires", async () => {
    const pending = await startIntake();
    const pseudonym = String(pending.body.pseudonym);

    // Taken by a pending intake, also when typed in upper case; the challenge is then used.
    const challenge = await solvedChallenge(stack);
    const upper = intakeBody(challenge, {
      topic: agency.topic,
      postcode: agency.postcode,
      pseudonym: pseudonym.toUpperCase(),
    });
    const taken = await callIntakeApi(stack, "POST", "/api/v1/intake", upper);
    expect([taken.status, taken.body.errcode]).toEqual([400, "M_USER_IN_USE"]);
    const sameChallenge = await callIntakeApi(stack, "POST", "/api/v1/intake", {
      ...upper,
      pseudonym: freshPseudonym(),
    });
    expect(sameChallenge.body.errcode).toBe("CONNECTA_CHALLENGE_FAILED");

    // Taken by a completed intake, and by a Synapse user we never saw.
    const synapseUser = await registerNamed(stack, freshPseudonym("elsewhere"));
    for (const name of [seeker.pseudonym, synapseUser.localpart]) {
      const body = intakeBody(await solvedChallenge(stack), {
        topic: agency.topic,
        postcode: agency.postcode,
        pseudonym: name,
      });
      const res = await callIntakeApi(stack, "POST", "/api/v1/intake", body);
      expect([res.status, res.body.errcode], name).toEqual([400, "M_USER_IN_USE"]);
    }

    // Once the pending intake has expired, its pseudonym is free again.
    await sql("UPDATE intakes SET expires_at = now() - interval '1 second' WHERE pseudonym = $1", [pseudonym]);
    const freed = await startIntake(pseudonym);
    expect(freed.answer.username).toBe(pseudonym);
    expect(freed.answer.intake_id).not.toBe(pending.answer.intake_id);
  });

  it("never sees the seeker's password: the intake refuses a password field", async () => {
    const challenge = await solvedChallenge(stack);
    const body = intakeBody(challenge, { topic: agency.topic, postcode: agency.postcode, pseudonym: freshPseudonym() });
    const res = await callIntakeApi(stack, "POST", "/api/v1/intake", { ...body, password: "my-secret-password" });
    expect([res.status, res.body.errcode]).toEqual([400, "M_BAD_JSON"]);
    expect(String(res.body.error)).toMatch(/password/);
  });

  it("answers malformed and hostile input with a 4xx and a clear errcode", async () => {
    const challenge = await solvedChallenge(stack);
    const good = intakeBody(challenge, { topic: agency.topic, postcode: agency.postcode, pseudonym: freshPseudonym() });
    // Signed with the stack's own key, so only its expiry is wrong.
    const expiredId = issueChallenge(challengeKey(stackSecret(stack, "hsToken")), 1, -60).text;
    const expiredNonce = await solveChallenge(expiredId, 1);
    const without = (key: string) => Object.fromEntries(Object.entries(good).filter(([k]) => k !== key));
    const cases: [string, unknown, number, string][] = [
      ["a body over 64 KiB", { ...good, pseudonym: "a".repeat(70 * 1024) }, 413, "M_TOO_LARGE"],
      ["a body that is not JSON", "{pseudonym: anna", 400, "M_NOT_JSON"],
      ["a JSON string", '"anna"', 400, "M_NOT_JSON"],
      ["a JSON array", [good], 400, "M_BAD_JSON"],
      ["no challenge_id", without("challenge_id"), 400, "M_BAD_JSON"],
      ["no nonce", without("nonce"), 400, "M_BAD_JSON"],
      ["no pseudonym", without("pseudonym"), 400, "M_BAD_JSON"],
      ["no topic", without("topic"), 400, "M_BAD_JSON"],
      ["no age_group", without("age_group"), 400, "M_BAD_JSON"],
      ["a pseudonym that is a number", { ...good, pseudonym: 12345 }, 400, "M_BAD_JSON"],
      ["a pseudonym that is null", { ...good, pseudonym: null }, 400, "M_BAD_JSON"],
      ["a pseudonym that is an object", { ...good, pseudonym: { $ne: "" } }, 400, "M_BAD_JSON"],
      ["an unknown age group", { ...good, age_group: "99" }, 400, "M_BAD_JSON"],
      ["an unknown language", { ...good, language: "fr" }, 400, "M_BAD_JSON"],
      ["a postcode of four digits", { ...good, postcode: "1234" }, 400, "M_BAD_JSON"],
      ["a postcode with SQL", { ...good, postcode: "12345' OR '1'='1" }, 400, "M_BAD_JSON"],
      ["a topic with SQL", { ...good, topic: "x'; DROP TABLE topics;--" }, 400, "M_BAD_JSON"],
      ["an unknown topic", { ...good, topic: "no-such-topic-here" }, 400, "M_INVALID_PARAM"],
      ["an extra field", { ...good, admin: true }, 400, "M_BAD_JSON"],
      [
        "a prototype key",
        JSON.parse(`{"__proto__": {"admin": true}, ${JSON.stringify(good).slice(1)}`),
        400,
        "M_BAD_JSON",
      ],
      ["a challenge_id with SQL", { ...good, challenge_id: "1 OR 1=1" }, 400, "M_BAD_JSON"],
      ["a nonce with unicode", { ...good, nonce: "１２３" }, 400, "M_BAD_JSON"],
      ["an unknown challenge (a UUID)", { ...good, challenge_id: randomUUID() }, 400, "CONNECTA_CHALLENGE_FAILED"],
      ["an unsolved challenge", { ...good, nonce: `${good.nonce}x` }, 400, "CONNECTA_CHALLENGE_FAILED"],
      [
        "an expired challenge",
        { ...good, challenge_id: expiredId, nonce: expiredNonce },
        400,
        "CONNECTA_CHALLENGE_FAILED",
      ],
      ["a pseudonym with Cyrillic look-alikes", { ...good, pseudonym: "аdmin" }, 400, "M_INVALID_USERNAME"],
      ["a pseudonym with a zero-width space", { ...good, pseudonym: "an\u200bna" }, 400, "M_INVALID_USERNAME"],
      [
        "a pseudonym with a right-to-left override",
        { ...good, pseudonym: "anna\u202efdp.exe" },
        400,
        "M_INVALID_USERNAME",
      ],
      ["a pseudonym with the Kelvin sign", { ...good, pseudonym: "\u212aater" }, 400, "M_INVALID_USERNAME"],
      ["an e-mail address as pseudonym", { ...good, pseudonym: "anna@example.org" }, 400, "M_INVALID_USERNAME"],
      ["an e-mail-like pseudonym", { ...good, pseudonym: "anna.schmidt.gmx" }, 400, "M_INVALID_USERNAME"],
      ["a phone number as pseudonym", { ...good, pseudonym: "anna-0176-1234567" }, 400, "M_INVALID_USERNAME"],
      ["a script as pseudonym", { ...good, pseudonym: "<script>alert(1)</script>" }, 400, "M_INVALID_USERNAME"],
      ["SQL as pseudonym", { ...good, pseudonym: "x' OR '1'='1" }, 400, "M_INVALID_USERNAME"],
      ["a reserved pseudonym", { ...good, pseudonym: "Beratung" }, 400, "M_INVALID_USERNAME"],
      ["the service's namespace", { ...good, pseudonym: "connecta-bot" }, 400, "M_INVALID_USERNAME"],
      ["a pseudonym too long", { ...good, pseudonym: "a".repeat(31) }, 400, "M_INVALID_USERNAME"],
      [
        "a pseudonym with a Matrix server part",
        { ...good, pseudonym: `@anna:${stack.serverName}` },
        400,
        "M_INVALID_USERNAME",
      ],
    ];
    expect(cases.length).toBeGreaterThanOrEqual(25);
    for (const [what, body, status, errcode] of cases) {
      const res = await callIntakeApi(stack, "POST", "/api/v1/intake", body);
      expect([res.status, res.body.errcode], what).toEqual([status, errcode]);
      expect(String(res.body.error), what).not.toBe("");
    }
    const wrongType = await fetch(`${stack.appserviceUrl}/api/v1/intake`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify(good),
    });
    expect([wrongType.status, ((await wrongType.json()) as { errcode: string }).errcode]).toEqual([400, "M_NOT_JSON"]);
    // None of these used the challenge: the good body still goes through.
    const res = await callIntakeApi(stack, "POST", "/api/v1/intake", good);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });

  it("describes its routes in the OpenAPI document", async () => {
    const res = await callIntakeApi(stack, "GET", "/api/v1/openapi.json");
    const paths = res.body.paths as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths["/api/v1/intake/challenge"] ?? {})).toEqual(["get"]);
    expect(Object.keys(paths["/api/v1/intake"] ?? {})).toEqual(["post"]);
    expect(Object.keys(paths["/api/v1/intake/{intakeId}/complete"] ?? {})).toEqual(["post"]);
  });
});

describe("the intake under a flood", () => {
  /**
   * A request of the client at `address`: the stack's appservice trusts X-Forwarded-For from
   * the stack's bind address (its web client forwards the browser's address), and this test
   * process calls from there, as the web client would.
   */
  async function from(address: string, method: string, path: string, body?: unknown) {
    const res = await fetch(`${stack.appserviceUrl}${path}`, {
      method,
      headers: { "content-type": "application/json", "x-forwarded-for": address },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** Runs `task` `count` times, `parallel` at a time; returns the statuses. */
  async function flood(count: number, parallel: number, task: (i: number) => Promise<{ status: number }>) {
    const statuses: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        for (let i = next++; i < count; i = next++) statuses.push((await task(i)).status);
      }),
    );
    return statuses;
  }

  /** Addresses of a benchmarking network (RFC 2544), new for each run of the test. */
  const run = randomInt(0, 250);
  const address = (group: number, i: number) => `198.${18 + group}.${run}.${i + 1}`;

  /** A seeker at a fresh address: fetches a challenge, solves it and sends the intake. */
  async function seekerAt(addr: string) {
    const challenge = await from(addr, "GET", "/api/v1/intake/challenge");
    expect(challenge.status, JSON.stringify(challenge.body)).toBe(200);
    const challengeId = String(challenge.body.challenge_id);
    const nonce = await solveChallenge(challengeId, Number(challenge.body.difficulty));
    const body = intakeBody(
      { challengeId, nonce },
      { topic: agency.topic, postcode: agency.postcode, pseudonym: freshPseudonym() },
    );
    return { body, answer: await from(addr, "POST", "/api/v1/intake", body) };
  }

  it("does not stop a seeker who solves their challenge, whatever unsolved intakes and challenge requests came before", async () => {
    await freshRateWindow(90);
    // More challenge requests than the old global budget (3000) and more unsolved intakes than
    // the intake budget (600), from 40 and 8 addresses, each within its own per-address limit.
    // Well-formed challenge ids (UUIDs, as challenges used to be) that nobody solved.
    const unsolved = () =>
      intakeBody(
        { challengeId: randomUUID(), nonce: "1" },
        { topic: agency.topic, postcode: agency.postcode, pseudonym: freshPseudonym() },
      );
    const intakes = await flood(8 * 80, 8, (i) => from(address(1, i % 8), "POST", "/api/v1/intake", unsolved()));
    expect(new Set(intakes)).toEqual(new Set([400]));
    const challenges = await flood(40 * 80, 16, (i) => from(address(0, i % 40), "GET", "/api/v1/intake/challenge"));
    expect(new Set(challenges)).toEqual(new Set([200]));

    const { answer } = await seekerAt(address(2, 0));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    // Per address, the limit still holds: 80 challenges came from this address, 20 more may.
    for (let i = 0; i < 20; i++)
      expect((await from(address(0, 0), "GET", "/api/v1/intake/challenge")).status).toBe(200);
    const refused = await from(address(0, 0), "GET", "/api/v1/intake/challenge");
    expect([refused.status, refused.body.errcode]).toEqual([429, "M_LIMIT_EXCEEDED"]);
  });

  it("hands out challenges that cost no row until used, and takes a used one never again", async () => {
    /** Whether the challenge `text` has a row: its id is its first 12 bytes. */
    const stored = async (text: string) => {
      const id = Buffer.from(text, "base64url").subarray(0, 12).toString("hex");
      return (await sql("SELECT 1 FROM used_challenges WHERE id = $1", [id])).length === 1;
    };
    for (let i = 0; i < 5; i++) {
      const fetched = await from(address(3, 0), "GET", "/api/v1/intake/challenge");
      expect(await stored(String(fetched.body.challenge_id))).toBe(false);
    }
    const { body, answer } = await seekerAt(address(3, 1));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(await stored(body.challenge_id)).toBe(true);
    for (const other of [
      { ...body, pseudonym: freshPseudonym() },
      { ...body, language: "en" },
    ]) {
      const again = await from(address(3, 2), "POST", "/api/v1/intake", other);
      expect([again.status, again.body.errcode]).toEqual([400, "CONNECTA_CHALLENGE_FAILED"]);
    }
    // The same request again is a retry: the same answer, no second intake.
    expect((await from(address(3, 1), "POST", "/api/v1/intake", body)).body).toEqual(answer.body);
    expect(await sql("SELECT 1 FROM intakes WHERE pseudonym = $1", [body.pseudonym])).toHaveLength(1);
  });

  it("refuses a forged, tampered or expired challenge with CONNECTA_CHALLENGE_FAILED", async () => {
    const key = challengeKey(stackSecret(stack, "hsToken"));
    const real = await from(address(4, 0), "GET", "/api/v1/intake/challenge");
    const text = String(real.body.challenge_id);
    // The difficulty byte (after the 12-byte id) lowered to 1 bit: easy to solve, but the
    // signature no longer matches.
    const bytes = Buffer.from(text, "base64url");
    bytes[12] = 1;
    const easier = bytes.toString("base64url");
    const cases: [string, string][] = [
      ["forged with another key", issueChallenge(challengeKey("an-attackers-guess-of-the-key"), 1, 600).text],
      ["tampered: an easier difficulty", easier],
      ["expired", issueChallenge(key, 1, -1).text],
    ];
    for (const [what, challengeId] of cases) {
      const nonce = await solveChallenge(challengeId, 1);
      const body = intakeBody(
        { challengeId, nonce },
        { topic: agency.topic, postcode: agency.postcode, pseudonym: freshPseudonym() },
      );
      const res = await from(address(4, 1), "POST", "/api/v1/intake", body);
      expect([res.status, res.body.errcode], what).toEqual([400, "CONNECTA_CHALLENGE_FAILED"]);
    }
    // Signed with the right key and still valid, the same kind of challenge goes through.
    const valid = issueChallenge(key, 1, 600).text;
    const body = intakeBody(
      { challengeId: valid, nonce: await solveChallenge(valid, 1) },
      { topic: agency.topic, postcode: agency.postcode, pseudonym: freshPseudonym() },
    );
    expect((await from(address(4, 1), "POST", "/api/v1/intake", body)).status).toBe(200);
  });
});

describe("the intake's rate limits", () => {
  let server: Server;
  let port: number;
  let deps: FeatureDeps;
  const limits = { ...DEFAULT_INTAKE_SETTINGS.rateLimits, challengePerAddress: 3, intakePerAddress: 2 };

  // An intake API of its own with small limits, on the stack's database and Synapse.
  beforeAll(async () => {
    const config = loadConfig(appserviceEnv(stack, 1));
    const pool = createPool(config.databaseUrl, config.databasePassword);
    const log = pino({ level: "silent" });
    const homeserver = createHomeserver(config.homeserverUrl, config.asToken, stack.botUserId);
    deps = {
      config,
      pool,
      homeserver,
      metrics: createMetrics(),
      log,
      steps: new StepWorker(pool, stepRunners(homeserver, config.serverName, config.livekit), log),
    };
    const api = new Api(createAuthenticator(config.homeserverUrl, config.operatorToken));
    intakeRoutes(api, deps, { ...DEFAULT_INTAKE_SETTINGS, rateLimits: limits });
    const app = express();
    app.use("/api", express.json({ limit: "64kb" }));
    app.use(api.router);
    app.use(errorHandler(log));
    server = app.listen(0, stack.bindAddress);
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server?.close();
    await deps?.pool.end();
  });

  /** A request from `localAddress` (another loopback address: a client of its own). */
  function from(localAddress: string, method: string, path: string, headers: Record<string, string> = {}, body = "") {
    return new Promise<{ status: number; retryAfter: string | undefined; body: Record<string, unknown> }>(
      (resolve, reject) => {
        const req = request(
          {
            host: stack.bindAddress,
            port,
            method,
            path,
            localAddress,
            headers: { "content-type": "application/json", ...headers },
          },
          (res) => {
            let text = "";
            res.on("data", (chunk: Buffer) => (text += chunk.toString()));
            res.on("end", () =>
              resolve({
                status: res.statusCode ?? 0,
                retryAfter: res.headers["retry-after"],
                body: JSON.parse(text) as Record<string, unknown>,
              }),
            );
          },
        );
        req.on("error", reject);
        req.end(body);
      },
    );
  }

  const someLoopback = () => `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

  it("refuses the request after the per-address limit with 429, Retry-After and retry_after_ms", async () => {
    await freshRateWindow(30);
    const client = someLoopback();
    for (let i = 0; i < limits.challengePerAddress; i++) {
      // X-Forwarded-For is not trusted: a new value each time does not make a new client.
      const res = await from(client, "GET", "/api/v1/intake/challenge", { "x-forwarded-for": someLoopback() });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const refused = await from(client, "GET", "/api/v1/intake/challenge", { "x-forwarded-for": someLoopback() });
    expect([refused.status, refused.body.errcode]).toEqual([429, "M_LIMIT_EXCEEDED"]);
    const retryMs = Number(refused.body.retry_after_ms);
    expect(retryMs).toBeGreaterThan(0);
    expect(retryMs).toBeLessThanOrEqual(limits.windowSeconds * 1000);
    expect(Number(refused.retryAfter)).toBe(Math.ceil(retryMs / 1000));
    // Another address is another client.
    expect((await from(someLoopback(), "GET", "/api/v1/intake/challenge")).status).toBe(200);
  });

  it("counts intakes on their own, failed ones too", async () => {
    await freshRateWindow(30);
    const client = someLoopback();
    const body = JSON.stringify({
      ...intakeBody({ challengeId: randomUUID(), nonce: "1" }, { topic: agency.topic, pseudonym: "admin" }),
    });
    for (let i = 0; i < limits.intakePerAddress; i++) {
      expect((await from(client, "POST", "/api/v1/intake", {}, body)).body.errcode).toBe("CONNECTA_CHALLENGE_FAILED");
    }
    const refused = await from(client, "POST", "/api/v1/intake", {}, body);
    expect([refused.status, refused.body.errcode]).toEqual([429, "M_LIMIT_EXCEEDED"]);
    // The challenge limit of the same address is untouched.
    expect((await from(client, "GET", "/api/v1/intake/challenge")).status).toBe(200);
  });

  it("counts in fixed windows shared through the database", async () => {
    const bucket = `test:${randomUUID()}`;
    await hit(deps.pool, bucket, 2, 3600);
    await hit(deps.pool, bucket, 2, 3600);
    const refused = await hit(deps.pool, bucket, 2, 3600).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(MatrixError);
    expect((refused as MatrixError).errcode).toBe("M_LIMIT_EXCEEDED");
    const [row] = await sql<{ hits: number; aligned: boolean }>(
      `SELECT hits, extract(epoch FROM window_start)::bigint % 3600 = 0 AS aligned
         FROM rate_limit_counters WHERE bucket = $1`,
      [bucket],
    );
    expect(row).toEqual({ hits: 3, aligned: true });
  });
});
