import { readFileSync } from "node:fs";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort, stopService, type Service } from "../../ops/stack/processes.ts";
import { startAppservice } from "../../ops/stack/stack.ts";
import { eventually, matrixRequest, type TestUser, roomMembers, stackSecret } from "../support/matrix.ts";
import {
  callIntakeApi,
  freshPseudonym,
  intakeBody,
  registerWithToken,
  seedIntakeAgency,
  solvedChallenge,
} from "../support/seeker.ts";
import { callApi, connectaDb, openIdToken, stepsDone, workflowScene } from "../support/workflow.ts";

const stack = inject("stack");
const enc = encodeURIComponent;
let db: pg.Client;
const started: Service[] = [];

beforeAll(async () => {
  db = await connectaDb(stack);
});
afterAll(async () => {
  await Promise.all(started.map((s) => stopService(s)));
  await db?.end();
});

/** An extra appservice process that kills itself with SIGKILL at `faultPoint`. */
async function doomedAppservice(faultPoint: string) {
  const port = await freePort(stack.bindAddress);
  const service = await startAppservice(stack, port, `appservice-crash-${faultPoint.replace(":", "-")}`, {
    CONNECTA_FAULT_KILL_AT: faultPoint,
  });
  started.push(service);
  return { service, url: `http://${stack.bindAddress}:${port}` };
}

/**
 * Where `service` killed itself (appservice/src/faults.ts writes it to its log first), e.g.
 * `claim_committed enquiry=12`: proof that it died on this test's enquiry, at this test's point.
 */
async function diedAt(service: Service): Promise<string> {
  expect(await service.exited).toBe("SIGKILL");
  const lines = readFileSync(service.logFile, "utf8").match(/^CONNECTA_FAULT .*$/gm) ?? [];
  expect(lines, "the fault point's last words").toHaveLength(1);
  return String(lines[0]).replace("CONNECTA_FAULT ", "");
}

/** A waiting enquiry of a fresh agency with three counsellors. */
async function waitingEnquiry() {
  const { enquiryId, roomId, seeker, counsellors } = await workflowScene(stack, db, { counsellors: 3 });
  const [a, b, c] = counsellors as [TestUser, TestUser, TestUser];
  return { enquiryId, roomId, seeker, a, b, c };
}

/** Rooms of the bot marked as the room of `enquiryId` (looked up with the application service's token). */
async function roomsMarkedFor(enquiryId: number): Promise<string[]> {
  const bot = { accessToken: stackSecret(stack, "asToken") };
  const joined = await matrixRequest(stack, "GET", "/_matrix/client/v3/joined_rooms", bot);
  const marked: string[] = [];
  for (const roomId of joined.body.joined_rooms as string[]) {
    const marker = await matrixRequest(
      stack,
      "GET",
      `/_matrix/client/v3/rooms/${enc(roomId)}/state/de.connecta.enquiry/`,
      bot,
    );
    if (marker.body.enquiry_id === enquiryId) marked.push(roomId);
  }
  return marked;
}

describe("a crash in the middle of a workflow action", () => {
  it("leaves an intake complete after the restart, with one room that matches the database", async () => {
    const agency = await seedIntakeAgency(stack, 2);
    const pseudonym = freshPseudonym();
    const intake = await callIntakeApi(
      stack,
      "POST",
      "/api/v1/intake",
      intakeBody(await solvedChallenge(stack), { topic: agency.topic, postcode: agency.postcode, pseudonym }),
    );
    expect(intake.status).toBe(200);
    const password = `pw-${pseudonym}-long-enough`;
    const registered = await registerWithToken(stack, pseudonym, password, String(intake.body.registration_token));
    const seeker: TestUser = {
      userId: String(registered.body.user_id),
      localpart: pseudonym,
      password,
      accessToken: String(registered.body.access_token),
      deviceId: String(registered.body.device_id),
    };
    const token = await openIdToken(stack, seeker);
    const complete = `/api/v1/intake/${String(intake.body.intake_id)}/complete`;

    // The process dies after Synapse created the room, before the room was recorded.
    const doomed = await doomedAppservice("step:create_room");
    await expect(callApi(doomed.url, "POST", complete, token, {})).rejects.toThrow();
    const died = await diedAt(doomed.service);

    // The seeker's client retries; the surviving replica finds the room instead of making another.
    const retried = await eventually(
      "the retried completion",
      async () => {
        const res = await callApi(stack.appserviceUrl, "POST", complete, token, {});
        return res.status === 200 ? res.body : null;
      },
      60_000,
    );
    const enquiryId = Number(retried.enquiry_id);
    expect(died).toBe(`step:create_room enquiry=${enquiryId}`);
    expect(await roomsMarkedFor(enquiryId)).toEqual([retried.room_id]);
    const bot = { accessToken: stackSecret(stack, "asToken") };
    expect(await roomMembers(stack, String(retried.room_id), bot)).toEqual(
      [stack.botUserId, seeker.userId, ...agency.counsellors.map((c) => c.userId)].sort(),
    );
    const rows = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM enquiries WHERE intake_id = $1", [
      intake.body.intake_id,
    ]);
    expect(rows.rows[0]?.n).toBe(1);
    expect(await stepsDone(db, enquiryId)).toBe(true);
  });

  it("leaves a claim complete after the restart, with the room matching the database", async () => {
    const { enquiryId, roomId, seeker, a } = await waitingEnquiry();
    const doomed = await doomedAppservice("step:power_levels");
    const token = await openIdToken(stack, a);
    // The process dies after the first of the claim's Matrix steps, before recording it (the
    // claim itself may have been answered already: steps run after the decision is committed).
    await callApi(doomed.url, "POST", `/api/v1/enquiries/${enquiryId}/claim`, token, {}).catch(() => null);
    expect(await diedAt(doomed.service)).toBe(`step:power_levels enquiry=${enquiryId}`);

    // The surviving replica finishes the remaining steps.
    await eventually("the claim's steps are done", () => stepsDone(db, enquiryId), 60_000);
    expect(await roomMembers(stack, roomId, seeker)).toEqual([stack.botUserId, a.userId, seeker.userId].sort());
    const row = await db.query("SELECT state, counsellor_id FROM enquiries WHERE id = $1", [enquiryId]);
    expect(row.rows[0]).toEqual({ state: "active", counsellor_id: a.userId });

    // The counsellor's client retries the request whose answer it never got: no harm.
    const retried = await callApi(stack.appserviceUrl, "POST", `/api/v1/enquiries/${enquiryId}/claim`, token, {});
    expect(retried.status).toBe(200);
    expect(retried.body.counsellor_id).toBe(a.userId);
    const assignments = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM assignments WHERE enquiry_id = $1",
      [enquiryId],
    );
    expect(assignments.rows[0]?.n).toBe(1);
  });

  it("leaves a handover complete after the restart, with the room matching the database", async () => {
    const { enquiryId, roomId, seeker, a, b } = await waitingEnquiry();
    const tokenA = await openIdToken(stack, a);
    expect(
      (await callApi(stack.appserviceUrl, "POST", `/api/v1/enquiries/${enquiryId}/claim`, tokenA, {})).status,
    ).toBe(200);
    await eventually("the claim's steps are done", () => stepsDone(db, enquiryId), 60_000);

    const doomed = await doomedAppservice("handover_committed");
    await expect(
      callApi(doomed.url, "POST", `/api/v1/enquiries/${enquiryId}/handover`, tokenA, { counsellor_id: b.userId }),
    ).rejects.toThrow();
    expect(await diedAt(doomed.service)).toBe(`handover_committed enquiry=${enquiryId}`);

    await eventually("the handover's steps are done", () => stepsDone(db, enquiryId), 60_000);
    expect(await roomMembers(stack, roomId, seeker)).toEqual([stack.botUserId, b.userId, seeker.userId].sort());
    const assignments = await db.query(
      "SELECT counsellor_id, kind, ended_at IS NULL AS current FROM assignments WHERE enquiry_id = $1 ORDER BY id",
      [enquiryId],
    );
    expect(assignments.rows).toEqual([
      { counsellor_id: a.userId, kind: "claim", current: false },
      { counsellor_id: b.userId, kind: "handover", current: true },
    ]);
    const retried = await callApi(stack.appserviceUrl, "POST", `/api/v1/enquiries/${enquiryId}/handover`, tokenA, {
      counsellor_id: b.userId,
    });
    expect(retried.status).toBe(200);
    expect(retried.body.counsellor_id).toBe(b.userId);
  });

  it("leaves a claim that was committed but not carried out complete after the restart", async () => {
    const { enquiryId, roomId, seeker, a } = await waitingEnquiry();
    const doomed = await doomedAppservice("claim_committed");
    const token = await openIdToken(stack, a);
    // The decision is committed, none of its Matrix steps has run, no answer was sent.
    await expect(callApi(doomed.url, "POST", `/api/v1/enquiries/${enquiryId}/claim`, token, {})).rejects.toThrow();
    expect(await diedAt(doomed.service)).toBe(`claim_committed enquiry=${enquiryId}`);

    // The surviving replica's worker carries the steps out; the client's retry changes nothing.
    await eventually("the claim's steps are done", () => stepsDone(db, enquiryId), 60_000);
    expect(await roomMembers(stack, roomId, seeker)).toEqual([stack.botUserId, a.userId, seeker.userId].sort());
    const retried = await callApi(stack.appserviceUrl, "POST", `/api/v1/enquiries/${enquiryId}/claim`, token, {});
    expect([retried.status, retried.body.counsellor_id]).toEqual([200, a.userId]);
    const assignments = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM assignments WHERE enquiry_id = $1",
      [enquiryId],
    );
    expect(assignments.rows[0]?.n).toBe(1);
  });

  it("leaves an intake that was committed but whose room was not made complete after the restart", async () => {
    const agency = await seedIntakeAgency(stack, 1);
    const pseudonym = freshPseudonym();
    const intake = await callIntakeApi(
      stack,
      "POST",
      "/api/v1/intake",
      intakeBody(await solvedChallenge(stack), { topic: agency.topic, postcode: agency.postcode, pseudonym }),
    );
    expect(intake.status).toBe(200);
    const password = `pw-${pseudonym}-long-enough`;
    const registered = await registerWithToken(stack, pseudonym, password, String(intake.body.registration_token));
    const seeker = { userId: String(registered.body.user_id), accessToken: String(registered.body.access_token) };
    const token = await openIdToken(stack, seeker);
    const complete = `/api/v1/intake/${String(intake.body.intake_id)}/complete`;

    const doomed = await doomedAppservice("intake_committed");
    await expect(callApi(doomed.url, "POST", complete, token, {})).rejects.toThrow();
    const died = await diedAt(doomed.service);

    const retried = await eventually(
      "the retried completion",
      async () => {
        const res = await callApi(stack.appserviceUrl, "POST", complete, token, {});
        return res.status === 200 ? res.body : null;
      },
      60_000,
    );
    const enquiryId = Number(retried.enquiry_id);
    expect(died).toBe(`intake_committed enquiry=${enquiryId}`);
    expect(await roomsMarkedFor(enquiryId)).toEqual([retried.room_id]);
    const rows = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM enquiries WHERE intake_id = $1", [
      intake.body.intake_id,
    ]);
    expect(rows.rows[0]?.n).toBe(1);
    await eventually("the intake's steps are done", () => stepsDone(db, enquiryId), 60_000);
  });
});
