import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, matrixRequest, registerUser, roomMembers, stackSecret, type TestUser } from "../support/matrix.ts";
import { callApi, connectaDb, enquiryState, openIdToken, stepsDone, workflowScene } from "../support/workflow.ts";

const stack = inject("stack");
const enc = encodeURIComponent;
const bot = { accessToken: stackSecret(stack, "asToken") };
let db: pg.Client;

beforeAll(async () => {
  db = await connectaDb(stack);
});
afterAll(async () => {
  await db?.end();
});

/** An active enquiry of a fresh agency: counsellor A took it; B is a colleague, L a team lead. */
async function activeEnquiry() {
  const { enquiryId, roomId, seeker, counsellors, leads } = await workflowScene(stack, db, {
    counsellors: 2,
    teamLeads: 1,
  });
  const [a, b] = counsellors as [TestUser, TestUser];
  const lead = leads[0] as TestUser;
  const tokens = {
    a: await openIdToken(stack, a),
    b: await openIdToken(stack, b),
    lead: await openIdToken(stack, lead),
    seeker: await openIdToken(stack, seeker),
  };
  expect(
    (await callApi(stack.appserviceUrl, "POST", `/api/v1/enquiries/${enquiryId}/claim`, tokens.a, {})).status,
  ).toBe(200);
  await eventually("the claim's steps", () => stepsDone(db, enquiryId));
  return { enquiryId, roomId, seeker, a, b, lead, tokens };
}

const api = (method: string, path: string, token: string, body?: unknown) =>
  callApi(stack.appserviceUrl, method, path, token, body);

describe("the enquiry lifecycle", () => {
  it("closes the enquiry when the seeker leaves the room", async () => {
    const { enquiryId, roomId, seeker } = await activeEnquiry();
    expect(
      (await matrixRequest(stack, "POST", `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, seeker, {})).status,
    ).toBe(200);
    await eventually("closed", async () => (await enquiryState(db, enquiryId))?.state === "closed");
    const current = await db.query("SELECT 1 FROM assignments WHERE enquiry_id = $1 AND ended_at IS NULL", [enquiryId]);
    expect(current.rowCount).toBe(0);
  });

  it("lets the seeker reopen a closed enquiry, back to its counsellor, and nobody else", async () => {
    const { enquiryId, roomId, seeker, a, tokens } = await activeEnquiry();
    const closed = await api("POST", `/api/v1/enquiries/${enquiryId}/close`, tokens.a, {});
    expect(closed.body.state).toBe("closed");
    // Only the seeker reopens: not the counsellor, not another seeker.
    expect((await api("POST", `/api/v1/enquiries/${enquiryId}/reopen`, tokens.a, {})).status).toBe(404);
    const stranger = await openIdToken(stack, await registerUser(stack, "seeker"));
    expect((await api("POST", `/api/v1/enquiries/${enquiryId}/reopen`, stranger, {})).body.errcode).toBe("M_NOT_FOUND");

    const reopened = await api("POST", `/api/v1/enquiries/${enquiryId}/reopen`, tokens.seeker, {});
    expect(reopened.status).toBe(200);
    expect(reopened.body).toMatchObject({ state: "active", counsellor_id: a.userId });
    // A retried reopen changes nothing.
    expect((await api("POST", `/api/v1/enquiries/${enquiryId}/reopen`, tokens.seeker, {})).body.state).toBe("active");
    await eventually("the room is writable again", () => stepsDone(db, enquiryId));
    const sent = await matrixRequest(
      stack,
      "PUT",
      `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.encrypted/2`,
      seeker,
      {
        algorithm: "m.megolm.v1.aes-sha2",
        ciphertext: "AwgAEn",
      },
    );
    expect(sent.status).toBe(200);
  });

  it("refuses to reopen after the reopening window, when the enquiry is archived", async () => {
    const { enquiryId, tokens } = await activeEnquiry();
    await api("POST", `/api/v1/enquiries/${enquiryId}/close`, tokens.a, {});
    await db.query("UPDATE enquiries SET state = 'archived' WHERE id = $1", [enquiryId]);
    const late = await api("POST", `/api/v1/enquiries/${enquiryId}/reopen`, tokens.seeker, {});
    expect(late.status).toBe(409);
    expect(late.body.errcode).toBe("CONNECTA_WRONG_STATE");
  });

  it("lets a team lead hand over another counsellor's enquiry, but not a plain colleague", async () => {
    const { enquiryId, roomId, seeker, b, tokens } = await activeEnquiry();
    const colleague = await api("POST", `/api/v1/enquiries/${enquiryId}/handover`, tokens.b, {
      counsellor_id: b.userId,
    });
    // Handing it to oneself is no shortcut: B is not assigned and no team lead.
    expect(colleague.status).toBe(403);
    expect(colleague.body.errcode).toBe("M_FORBIDDEN");
    const byLead = await api("POST", `/api/v1/enquiries/${enquiryId}/handover`, tokens.lead, {
      counsellor_id: b.userId,
    });
    expect(byLead.status).toBe(200);
    expect(byLead.body.counsellor_id).toBe(b.userId);
    await eventually("the handover's steps", () => stepsDone(db, enquiryId));
    expect(await roomMembers(stack, roomId, bot)).toEqual([stack.botUserId, b.userId, seeker.userId].sort());
  });

  it("takes back an invite the assigned counsellor gives to someone outside the agency", async () => {
    const { roomId, seeker, a } = await activeEnquiry();
    const outsider = await registerUser(stack, "outsider");
    expect((await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(roomId)}`, a, {})).status).toBe(200);
    const invite = await matrixRequest(stack, "POST", `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, a, {
      user_id: outsider.userId,
    });
    expect(invite.status).toBe(200);
    await eventually(
      "the invite is taken back",
      async () => !(await roomMembers(stack, roomId, bot)).includes(outsider.userId),
      30_000,
    );
    expect(await roomMembers(stack, roomId, bot)).toEqual([stack.botUserId, a.userId, seeker.userId].sort());
  });
});
