import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort, stopService, type Service } from "../../ops/stack/processes.ts";
import { startAppservice } from "../../ops/stack/stack.ts";
import { eventually, matrixRequest, registerUser, type TestUser, roomMembers } from "../support/matrix.ts";
import {
  callApi,
  connectaDb,
  createAgency,
  createCounsellor,
  createTopic,
  openIdToken,
  openTestEnquiry,
} from "../support/workflow.ts";

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

async function stepsDone(enquiryId: number): Promise<boolean> {
  const { rowCount } = await db.query("SELECT 1 FROM matrix_steps WHERE enquiry_id = $1 AND done_at IS NULL", [
    enquiryId,
  ]);
  return rowCount === 0;
}

/** A waiting enquiry of a fresh agency with three counsellors. */
async function waitingEnquiry() {
  const topic = await createTopic(db);
  const agency = await createAgency(db, [topic]);
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => createCounsellor(stack, db, agency)));
  const seeker = await registerUser(stack, "seeker");
  const { enquiryId, roomId } = await openTestEnquiry(db, seeker, agency, topic);
  await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(roomId)}`, seeker, {});
  await matrixRequest(stack, "PUT", `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.encrypted/1`, seeker, {
    algorithm: "m.megolm.v1.aes-sha2",
    ciphertext: "AwgAEn",
  });
  await eventually("waiting", async () => {
    const r = await db.query<{ state: string }>("SELECT state FROM enquiries WHERE id = $1", [enquiryId]);
    return r.rows[0]?.state === "waiting";
  });
  return { enquiryId, roomId, seeker, a: a as TestUser, b: b as TestUser, c: c as TestUser };
}

describe("a crash in the middle of a workflow action", () => {
  it("leaves a claim complete after the restart, with the room matching the database", async () => {
    const { enquiryId, roomId, seeker, a } = await waitingEnquiry();
    const doomed = await doomedAppservice("step:power_levels");
    const token = await openIdToken(stack, a);
    // The process dies after the first of the claim's Matrix steps, before recording it (the
    // claim itself may have been answered already: steps run after the decision is committed).
    await callApi(doomed.url, "POST", `/api/v1/enquiries/${enquiryId}/claim`, token, {}).catch(() => null);
    expect(await doomed.service.exited).toBe("SIGKILL");

    // The surviving replica finishes the remaining steps.
    await eventually("the claim's steps are done", () => stepsDone(enquiryId), 60_000);
    expect(await roomMembers(stack, roomId, seeker)).toEqual([stack.botUserId, a.userId, seeker.userId].sort());
    const row = await db.query("SELECT state, counsellor_id FROM enquiries WHERE id = $1", [enquiryId]);
    expect(row.rows[0]).toEqual({ state: "active", counsellor_id: a.userId });

    // The counsellor's client retries the request whose answer it never got: no harm.
    const retried = await callApi(stack.appserviceUrl, "POST", `/api/v1/enquiries/${enquiryId}/claim`, token, {});
    expect(retried.status).toBe(200);
    expect(retried.body.counsellor_id).toBe(a.userId);
    const assignments = await db.query("SELECT count(*)::int AS n FROM assignments WHERE enquiry_id = $1", [enquiryId]);
    expect(assignments.rows[0]?.n).toBe(1);
  });

  it("leaves a handover complete after the restart, with the room matching the database", async () => {
    const { enquiryId, roomId, seeker, a, b } = await waitingEnquiry();
    const tokenA = await openIdToken(stack, a);
    expect(
      (await callApi(stack.appserviceUrl, "POST", `/api/v1/enquiries/${enquiryId}/claim`, tokenA, {})).status,
    ).toBe(200);
    await eventually("the claim's steps are done", () => stepsDone(enquiryId), 60_000);

    const doomed = await doomedAppservice("handover_committed");
    await expect(
      callApi(doomed.url, "POST", `/api/v1/enquiries/${enquiryId}/handover`, tokenA, { counsellor_id: b.userId }),
    ).rejects.toThrow();
    expect(await doomed.service.exited).toBe("SIGKILL");

    await eventually("the handover's steps are done", () => stepsDone(enquiryId), 60_000);
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
});
