/**
 * Text from outside at the edge of our API: control characters and lone surrogates in bodies,
 * path parameters and query strings are refused with a Matrix error before they reach a handler
 * or SQL (where U+0000 used to be a 500), and no answer of the API may be cached.
 */
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { registerUser, stackSecret, type TestUser } from "../support/matrix.ts";
import {
  callApi,
  connectaDb,
  createAgency,
  createCounsellor,
  createTopic,
  enquiryState,
  openIdToken,
  openTestEnquiry,
  seekerWrites,
  unique,
} from "../support/workflow.ts";

const stack = inject("stack");
let db: pg.Client;
beforeAll(async () => {
  db = await connectaDb(stack);
});
afterAll(async () => {
  await db?.end();
});

/** A request with a raw body, so that JSON escapes such as `\ud800` arrive as written. */
async function raw(method: string, path: string, token: string | null, body?: string) {
  const res = await fetch(`${stack.appserviceUrl}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body }),
  });
  const json = (await res.json().catch(() => ({}))) as { errcode?: string; error?: string };
  return { status: res.status, cacheControl: res.headers.get("cache-control"), ...json };
}

describe("text from outside at the API", () => {
  let counsellor: TestUser;
  let token: string;
  let enquiryId: number;

  beforeAll(async () => {
    const topic = await createTopic(db);
    const agency = await createAgency(db, [topic]);
    counsellor = await createCounsellor(stack, db, agency);
    await createCounsellor(stack, db, agency);
    const seeker = await registerUser(stack, "seeker");
    const enquiry = await openTestEnquiry(db, seeker, agency, topic);
    await seekerWrites(stack, db, seeker, enquiry);
    enquiryId = enquiry.enquiryId;
    token = await openIdToken(stack, counsellor);
    const claimed = await callApi(stack.appserviceUrl, "POST", `/api/v1/enquiries/${enquiryId}/claim`, token, {});
    expect(claimed.status, JSON.stringify(claimed.body)).toBe(200);
  });

  it("refuses a handover to a counsellor id with U+0000 or a lone surrogate with 400", async () => {
    const path = `/api/v1/enquiries/${enquiryId}/handover`;
    for (const id of [
      `@x:${stack.serverName}\\u0000`,
      `@x\\u0000:${stack.serverName}`,
      `@x:${stack.serverName}\\ud800`,
    ]) {
      const res = await raw("POST", path, token, `{"counsellor_id": "${id}"}`);
      expect([res.status, res.errcode], id).toEqual([400, "M_BAD_JSON"]);
      expect(res.error, id).toMatch(/^counsellor_id: must (not contain control characters|be valid Unicode)/);
    }
    // Nothing happened to the enquiry.
    expect(await enquiryState(db, enquiryId)).toEqual({ state: "active", counsellor_id: counsellor.userId });
  });

  it("refuses control characters and lone surrogates anywhere in a body, and allows line breaks in free text", async () => {
    const absence = (message: string) =>
      raw("PUT", "/api/v1/me/absence", token, `{"active": true, "message": "${message}"}`);
    for (const message of ["Bis Montag\\u0000", "weg\\u001b[31m", "\\udc00 zurück", "\\u0085"]) {
      expect((await absence(message)).errcode, message).toBe("M_BAD_JSON");
    }
    expect((await absence("Bis Montag.\\nDanach wieder da.\\r\\n\\tIhre Beraterin")).status).toBe(200);
    expect((await absence("Grüße 👋 \\ud83d\\udc4b")).status).toBe(200);
    expect((await raw("PUT", "/api/v1/me/absence", token, '{"active": false}')).status).toBe(200);

    // The operator API too: a lone surrogate used to be stored silently as U+FFFD.
    const operator = stackSecret(stack, "operatorToken");
    const topic = await raw(
      "POST",
      "/api/v1/admin/topics",
      operator,
      `{"id": "t-${unique()}", "name_de": "Sucht\\ud800", "name_en": "Addiction"}`,
    );
    expect([topic.status, topic.errcode, topic.error]).toEqual([
      400,
      "M_BAD_JSON",
      "name_de: must be valid Unicode (it holds a lone surrogate)",
    ]);
    // Keys count as well.
    const key = await raw("POST", `/api/v1/enquiries/${enquiryId}/close`, token, '{"\\u0000": 1}');
    expect([key.status, key.errcode]).toEqual([400, "M_BAD_JSON"]);
    expect((await enquiryState(db, enquiryId))?.state).toBe("active");
  });

  it("refuses control characters in path parameters and query strings with M_INVALID_PARAM", async () => {
    for (const path of [
      "/api/v1/enquiries/1%00/claim",
      "/api/v1/intake/%00/complete",
      "/api/v1/agencies/1%0A/counsellors",
      "/api/v1/queue?limit=1%00",
      "/api/v1/queue?agency_id=%C2%85",
    ]) {
      const post = path.includes("claim") || path.includes("complete");
      const res = post ? await raw("POST", path, token, "{}") : await raw("GET", path, token);
      expect([res.status, res.errcode], path).toEqual([400, "M_INVALID_PARAM"]);
      expect(res.error, path).toMatch(/must not contain control characters/);
    }
  });

  it("marks every answer of the API as not to be stored, errors included", async () => {
    const answers = [
      await raw("GET", "/api/v1/topics", null),
      await raw("GET", "/api/v1/enquiries", token),
      await raw("GET", "/api/v1/enquiries", null),
      await raw("GET", "/api/v1/me", "forged"),
      await raw("GET", "/api/v1/no-such-route", null),
      await raw("GET", "/api/v1/openapi.json", null),
      await raw("POST", `/api/v1/enquiries/${enquiryId}/handover`, token, '{"counsellor_id": "\\u0000"}'),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 401, 401, 404, 200, 400]);
    expect(answers.map((a) => a.cacheControl)).toEqual(Array(answers.length).fill("no-store"));
  });
});
