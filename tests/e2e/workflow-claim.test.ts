import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort, stopService, type Service } from "../../ops/stack/processes.ts";
import { startAppservice } from "../../ops/stack/stack.ts";
import { eventually, matrixRequest, registerUser, roomMembers } from "../support/matrix.ts";
import {
  callApi,
  connectaDb,
  createAgency,
  createCounsellor,
  createTopic,
  openIdToken,
  openTestEnquiry,
  seekerWrites,
} from "../support/workflow.ts";

const stack = inject("stack");
let db: pg.Client;
let second: Service;
let secondUrl: string;

beforeAll(async () => {
  db = await connectaDb(stack);
  const port = await freePort(stack.bindAddress);
  second = await startAppservice(stack, port, "appservice-claim-race");
  secondUrl = `http://${stack.bindAddress}:${port}`;
});
afterAll(async () => {
  await db?.end();
  if (second) await stopService(second);
});

const enc = encodeURIComponent;

describe("the queue and claiming", () => {
  it("shows an enquiry in its agency's queue once the seeker has written, and only there", async () => {
    const topic = await createTopic(db);
    const [agency, otherAgency] = [await createAgency(db, [topic]), await createAgency(db, [topic])];
    const counsellor = await createCounsellor(stack, db, agency);
    const outsider = await createCounsellor(stack, db, otherAgency);
    const seeker = await registerUser(stack, "seeker");
    const { enquiryId, roomId } = await openTestEnquiry(db, seeker, agency, topic);
    const token = await openIdToken(stack, counsellor);
    const queueIds = async (t: string) =>
      ((await callApi(stack.appserviceUrl, "GET", "/api/v1/queue", t)).body.enquiries as { enquiry_id: number }[]).map(
        (e) => e.enquiry_id,
      );

    expect(await queueIds(token)).not.toContain(enquiryId);
    await seekerWrites(stack, db, seeker, { enquiryId, roomId });
    await eventually("the enquiry in the queue", async () => (await queueIds(token)).includes(enquiryId));
    const item = (
      (await callApi(stack.appserviceUrl, "GET", "/api/v1/queue", token)).body.enquiries as Record<string, unknown>[]
    ).find((e) => e.enquiry_id === enquiryId);
    expect(item).toMatchObject({ room_id: roomId, topic, language: "de", age_group: "unknown" });
    expect(typeof item?.waiting_seconds).toBe("number");

    // Another agency's counsellor neither sees nor takes it.
    const outsiderToken = await openIdToken(stack, outsider);
    expect(await queueIds(outsiderToken)).not.toContain(enquiryId);
    const stolen = await callApi(
      stack.appserviceUrl,
      "POST",
      `/api/v1/enquiries/${enquiryId}/claim`,
      outsiderToken,
      {},
    );
    expect(stolen.status).toBe(404);
    expect(stolen.body.errcode).toBe("M_NOT_FOUND");
  });

  it("lets exactly one of 50 concurrent claims across two appservice processes win", async () => {
    const topic = await createTopic(db);
    const agency = await createAgency(db, [topic]);
    const counsellors = await Promise.all(Array.from({ length: 25 }, () => createCounsellor(stack, db, agency)));
    const tokens = await Promise.all(counsellors.map((c) => openIdToken(stack, c)));
    const seeker = await registerUser(stack, "seeker");
    const { enquiryId, roomId } = await openTestEnquiry(db, seeker, agency, topic);
    await seekerWrites(stack, db, seeker, { enquiryId, roomId });

    const attempts = Array.from({ length: 50 }, (_, i) => ({
      counsellor: i % 25,
      url: i % 2 ? secondUrl : stack.appserviceUrl,
    }));
    const results = await Promise.all(
      attempts.map(async (a) => ({
        ...a,
        res: await callApi(a.url, "POST", `/api/v1/enquiries/${enquiryId}/claim`, tokens[a.counsellor] ?? "", {}),
      })),
    );
    const winners = new Set(results.filter((r) => r.res.status === 200).map((r) => r.counsellor));
    expect(winners.size).toBe(1);
    const [winner] = [...winners];
    // Every answer is the winner's (both of the winner's requests: a repeated claim by whoever
    // holds it is answered like the first) or a refusal saying so; nothing else, no 5xx.
    for (const r of results) {
      const answer = [r.res.status, r.res.body.errcode ?? r.res.body.counsellor_id];
      if (r.counsellor === winner) expect(answer).toEqual([200, counsellors[winner]?.userId]);
      else expect(answer).toEqual([409, "CONNECTA_ALREADY_TAKEN"]);
    }
    const assignments = await db.query("SELECT counsellor_id FROM assignments WHERE enquiry_id = $1", [enquiryId]);
    expect(assignments.rows).toEqual([{ counsellor_id: counsellors[winner ?? 0]?.userId }]);

    // The room ends with the seeker and the winner only (and the bot).
    await eventually(
      "the others are removed from the room",
      async () =>
        JSON.stringify(await roomMembers(stack, roomId, seeker)) ===
        JSON.stringify([stack.botUserId, counsellors[winner ?? 0]?.userId, seeker.userId].sort()),
      60_000,
    );
  });
});

describe("authorization", () => {
  it("refuses calls without or with a forged OpenID token", async () => {
    const missing = await callApi(stack.appserviceUrl, "GET", "/api/v1/queue", null);
    expect(missing.status).toBe(401);
    expect(missing.body.errcode).toBe("M_MISSING_TOKEN");
    const forged = await callApi(stack.appserviceUrl, "GET", "/api/v1/queue", "forged-token");
    expect(forged.status).toBe(401);
    expect(forged.body.errcode).toBe("M_UNKNOWN_TOKEN");
  });

  it("keeps seekers out of counsellor endpoints, other rooms and the room's rules", async () => {
    const topic = await createTopic(db);
    const agency = await createAgency(db, [topic]);
    const counsellor = await createCounsellor(stack, db, agency);
    const [seeker, otherSeeker] = await Promise.all([registerUser(stack, "seeker"), registerUser(stack, "seeker")]);
    const { enquiryId, roomId } = await openTestEnquiry(db, seeker, agency, topic);
    const seekerToken = await openIdToken(stack, seeker);

    const queue = await callApi(stack.appserviceUrl, "GET", "/api/v1/queue", seekerToken);
    expect(queue.status).toBe(403);
    expect(queue.body.errcode).toBe("M_FORBIDDEN");
    const claim = await callApi(stack.appserviceUrl, "POST", `/api/v1/enquiries/${enquiryId}/claim`, seekerToken, {});
    expect(claim.status).toBe(403);

    await seekerWrites(stack, db, seeker, { enquiryId, roomId });
    // Synapse enforces the room's power levels against the seeker.
    const invite = await matrixRequest(stack, "POST", `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, seeker, {
      user_id: otherSeeker.userId,
    });
    expect(invite.status).toBe(403);
    const kick = await matrixRequest(stack, "POST", `/_matrix/client/v3/rooms/${enc(roomId)}/kick`, seeker, {
      user_id: counsellor.userId,
    });
    expect(kick.status).toBe(403);
    for (const type of ["m.room.name", "m.room.power_levels", "m.room.history_visibility", "m.room.join_rules"]) {
      const state = await matrixRequest(
        stack,
        "PUT",
        `/_matrix/client/v3/rooms/${enc(roomId)}/state/${type}/`,
        seeker,
        {
          name: "x",
        },
      );
      expect(state.status, type).toBe(403);
    }
    // Another seeker can neither join nor read the room.
    const join = await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(roomId)}`, otherSeeker, {});
    expect(join.status).toBe(403);
    const read = await matrixRequest(
      stack,
      "GET",
      `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b`,
      otherSeeker,
    );
    expect(read.status).toBe(403);
    // A seeker sees their own enquiry, not another's.
    const mine = await callApi(stack.appserviceUrl, "GET", "/api/v1/enquiries", seekerToken);
    expect((mine.body.enquiries as { enquiry_id: number }[]).map((e) => e.enquiry_id)).toEqual([enquiryId]);
    const theirs = await callApi(
      stack.appserviceUrl,
      "GET",
      "/api/v1/enquiries",
      await openIdToken(stack, otherSeeker),
    );
    expect(theirs.body.enquiries).toEqual([]);
  });
});
