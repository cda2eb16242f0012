/**
 * The counsellor self API against the real stack: GET /api/v1/me, POST /api/v1/me/password-changed,
 * PUT /api/v1/me/absence, GET /api/v1/agencies/{agencyId}/counsellors, and the counsellor's
 * absence in the seeker's GET /api/v1/enquiries. Seekers, other agencies, deactivated counsellors
 * and hostile input are refused with a Matrix error and change nothing.
 */
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, matrixRequest, registerUser, stackSecret, type TestUser } from "../support/matrix.ts";
import {
  callApi,
  connectaDb,
  createAgency,
  createCounsellor,
  createTopic,
  openIdToken,
  openTestEnquiry,
  seekerWrites,
  stepsDone,
} from "../support/workflow.ts";

const stack = inject("stack");
const operatorToken = stackSecret(stack, "operatorToken");
let db: pg.Client;

beforeAll(async () => {
  db = await connectaDb(stack);
});
afterAll(async () => {
  await db?.end();
});

/** Answers are checked with expect(); any keeps the assertions short. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above (the file's no-unsafe-* rules are off in eslint.config.js)
type Json = Record<string, any>;

const api = async (method: string, path: string, token: string | null, body?: unknown) =>
  await callApi(stack.appserviceUrl, method, path, token, body);

/** Sends `raw` as the request body text, as a hostile client might. */
async function rawApi(method: string, path: string, token: string, raw: string, type = "application/json") {
  const res = await fetch(`${stack.appserviceUrl}${path}`, {
    method,
    headers: { "content-type": type, authorization: `Bearer ${token}` },
    body: raw,
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Json };
}

/** Expects a refusal: the status, the errcode and an explanation. */
function refused(res: { status: number; body: Json }, status: number, errcode: string, what = "") {
  expect([res.status, res.body.errcode], `${what} ${JSON.stringify(res.body)}`).toEqual([status, errcode]);
  expect(typeof res.body.error, what).toBe("string");
  expect(res.body.error, what).not.toBe("");
}

/** The counsellor's row as stored. */
async function stored(userId: string) {
  const { rows } = await db.query<{ must_change_password: boolean; absent: boolean; absence_message: string | null }>(
    "SELECT must_change_password, absent, absence_message FROM counsellors WHERE user_id = $1",
    [userId],
  );
  return rows[0];
}

/** Deactivates a counsellor through the operator API (Matrix account included). */
async function deactivate(counsellor: TestUser): Promise<void> {
  const res = await api("POST", `/api/v1/admin/counsellors/${counsellor.localpart}/deactivate`, operatorToken);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** A fresh agency with a counsellor `a` (and their OpenID token), plus a seeker's token. */
async function setting() {
  const topic = await createTopic(db);
  const agency = await createAgency(db, [topic]);
  const a = await createCounsellor(stack, db, agency);
  const seeker = await registerUser(stack, "seeker");
  return {
    topic,
    agency,
    a,
    seeker,
    tokens: { a: await openIdToken(stack, a), seeker: await openIdToken(stack, seeker) },
  };
}

describe("GET /api/v1/me", () => {
  it("answers a counsellor's profile with every agency and role", async () => {
    const { agency, a, tokens } = await setting();
    const second = await createAgency(db, []);
    await db.query("INSERT INTO agency_memberships VALUES ($1, $2, 'team_lead')", [second, a.userId]);
    const names = await db.query<{ id: string; name: string }>(
      "SELECT id, name FROM agencies WHERE id = ANY($1::bigint[])",
      [[agency, second]],
    );
    const name = (id: number) => names.rows.find((r) => Number(r.id) === id)?.name;

    const me = await api("GET", "/api/v1/me", tokens.a);
    expect(me.status, JSON.stringify(me.body)).toBe(200);
    expect(me.body).toEqual({
      user_id: a.userId,
      role: "counsellor",
      display_name: a.localpart,
      language: "de",
      must_change_password: true,
      absence: { active: false, message: null },
      agencies: expect.arrayContaining([
        { agency_id: agency, name: name(agency), role: "counsellor" },
        { agency_id: second, name: name(second), role: "team_lead" },
      ]),
    });
    expect(me.body.agencies).toHaveLength(2);
  });

  it("answers anybody else as a seeker, with nothing but the user id", async () => {
    const { seeker, tokens } = await setting();
    const me = await api("GET", "/api/v1/me", tokens.seeker);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user_id: seeker.userId, role: "seeker" });
  });

  it("refuses callers without a valid OpenID token", async () => {
    refused(await api("GET", "/api/v1/me", null), 401, "M_MISSING_TOKEN");
    refused(await api("GET", "/api/v1/me", "not-a-token"), 401, "M_UNKNOWN_TOKEN");
    // A Matrix access token is not an OpenID token.
    const { a } = await setting();
    refused(await api("GET", "/api/v1/me", a.accessToken), 401, "M_UNKNOWN_TOKEN");
  });
});

describe("POST /api/v1/me/password-changed", () => {
  it("clears must_change_password after the counsellor changed the password at Synapse", async () => {
    const { a, tokens } = await setting();
    const newPassword = randomBytes(18).toString("base64url");
    const changed = await matrixRequest(stack, "POST", "/_matrix/client/v3/account/password", a, {
      new_password: newPassword,
      logout_devices: false,
      auth: { type: "m.login.password", identifier: { type: "m.id.user", user: a.userId }, password: a.password },
    });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);

    const res = await api("POST", "/api/v1/me/password-changed", tokens.a, {});
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ user_id: a.userId, role: "counsellor", must_change_password: false });
    expect((await api("GET", "/api/v1/me", tokens.a)).body.must_change_password).toBe(false);
    // A retry (the first answer lost) answers the same.
    expect((await api("POST", "/api/v1/me/password-changed", tokens.a, {})).body.must_change_password).toBe(false);
    expect((await stored(a.userId))?.must_change_password).toBe(false);
  });

  it("refuses seekers and malformed bodies, and changes nothing", async () => {
    const { a, tokens } = await setting();
    refused(await api("POST", "/api/v1/me/password-changed", tokens.seeker, {}), 403, "M_FORBIDDEN", "seeker");
    refused(await api("POST", "/api/v1/me/password-changed", null, {}), 401, "M_MISSING_TOKEN", "no token");
    refused(
      await api("POST", "/api/v1/me/password-changed", tokens.a, { must_change_password: false }),
      400,
      "M_BAD_JSON",
      "unknown field",
    );
    refused(await api("POST", "/api/v1/me/password-changed", tokens.a, []), 400, "M_BAD_JSON", "array");
    refused(await rawApi("POST", "/api/v1/me/password-changed", tokens.a, "{"), 400, "M_NOT_JSON", "broken JSON");
    refused(
      await rawApi("POST", "/api/v1/me/password-changed", tokens.a, "{}", "text/plain"),
      400,
      "M_NOT_JSON",
      "text/plain",
    );
    expect((await stored(a.userId))?.must_change_password).toBe(true);
  });
});

describe("PUT /api/v1/me/absence", () => {
  it("sets, shows and ends the caller's absence; the message is trimmed", async () => {
    const { a, tokens } = await setting();
    const set = await api("PUT", "/api/v1/me/absence", tokens.a, {
      active: true,
      message: "  Bis 3.12. im Urlaub.\nIn Notfällen: 0800 111 0 111  ",
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const message = "Bis 3.12. im Urlaub.\nIn Notfällen: 0800 111 0 111";
    expect(set.body).toEqual({ active: true, message });
    expect((await api("GET", "/api/v1/me", tokens.a)).body.absence).toEqual({ active: true, message });
    expect(await stored(a.userId)).toMatchObject({ absent: true, absence_message: message });

    // The longest message: 1000 characters (code points, as PostgreSQL counts them), one of them
    // outside the BMP.
    const longest = "ä".repeat(999) + "🙂";
    expect((await api("PUT", "/api/v1/me/absence", tokens.a, { active: true, message: ` ${longest} ` })).body).toEqual({
      active: true,
      message: longest,
    });

    // The whole absence is replaced: a draft may stay while not absent, or go.
    const back = await api("PUT", "/api/v1/me/absence", tokens.a, { active: false, message: "Nächstes Mal" });
    expect(back.body).toEqual({ active: false, message: "Nächstes Mal" });
    const cleared = await api("PUT", "/api/v1/me/absence", tokens.a, { active: false });
    expect(cleared.body).toEqual({ active: false, message: null });
    expect((await api("PUT", "/api/v1/me/absence", tokens.a, { active: false, message: null })).body).toEqual({
      active: false,
      message: null,
    });
    expect(await stored(a.userId)).toMatchObject({ absent: false, absence_message: null });
  });

  it("refuses hostile input with a clear error and keeps the stored absence", async () => {
    const { a, tokens } = await setting();
    const before = { active: true, message: "Krank bis Freitag" };
    expect((await api("PUT", "/api/v1/me/absence", tokens.a, before)).status).toBe(200);

    const bad: [string, unknown][] = [
      ["empty object", {}],
      ["active missing", { message: "x" }],
      ["absent without message", { active: true }],
      ["absent with null message", { active: true, message: null }],
      ["empty message", { active: true, message: "" }],
      ["blank message", { active: true, message: " \n\t " }],
      ["message too long", { active: true, message: "x".repeat(1001) }],
      ["too long in code points", { active: true, message: "🙂".repeat(1001) }],
      ["NUL character", { active: true, message: "a\u0000b" }],
      ["escape sequence", { active: true, message: "\u001b[31mrot" }],
      ["lone surrogate", { active: true, message: "a\ud800b" }],
      ["message not a string", { active: true, message: 42 }],
      ["message an object", { active: true, message: { de: "x" } }],
      ["active a string", { active: "true", message: "x" }],
      ["active null", { active: null, message: "x" }],
      ["active a number", { active: 1, message: "x" }],
      ["unknown field", { active: true, message: "x", user_id: "@someone:localhost" }],
      ["prototype pollution", JSON.parse('{"active": true, "message": "x", "__proto__": {"admin": true}}')],
      ["array", [{ active: true, message: "x" }]],
      ["empty message while not absent", { active: false, message: "" }],
    ];
    for (const [what, body] of bad) {
      refused(await api("PUT", "/api/v1/me/absence", tokens.a, body), 400, "M_BAD_JSON", what);
    }
    // An empty JSON body is read as {} (as by every route of the API): `active` is missing.
    refused(await api("PUT", "/api/v1/me/absence", tokens.a), 400, "M_BAD_JSON", "no body");
    refused(await rawApi("PUT", "/api/v1/me/absence", tokens.a, "null"), 400, "M_NOT_JSON", "null");
    refused(await rawApi("PUT", "/api/v1/me/absence", tokens.a, '"absent"'), 400, "M_NOT_JSON", "a string");
    refused(await rawApi("PUT", "/api/v1/me/absence", tokens.a, '{"active": tru'), 400, "M_NOT_JSON", "broken");
    refused(
      await rawApi(
        "PUT",
        "/api/v1/me/absence",
        tokens.a,
        JSON.stringify({ active: false, message: "x".repeat(70_000) }),
      ),
      413,
      "M_TOO_LARGE",
      "70 kB body",
    );
    refused(await api("PUT", "/api/v1/me/absence", tokens.seeker, { active: false }), 403, "M_FORBIDDEN", "seeker");

    expect((await api("GET", "/api/v1/me", tokens.a)).body.absence).toEqual(before);
    expect(await stored(a.userId)).toMatchObject({ absent: true, absence_message: before.message });
  });
});

describe("the counsellor's absence in the seeker's enquiries", () => {
  it("shows the assigned counsellor's absence notice to the seeker, and only theirs", async () => {
    const { topic, agency, a, seeker, tokens } = await setting();
    const colleague = await createCounsellor(stack, db, agency);
    const colleagueToken = await openIdToken(stack, colleague);
    const { enquiryId, roomId } = await openTestEnquiry(db, seeker, agency, topic);
    await seekerWrites(stack, db, seeker, { enquiryId, roomId });
    const seekersView = async () =>
      ((await api("GET", "/api/v1/enquiries", tokens.seeker)).body.enquiries as Json[]).find(
        (e) => e.enquiry_id === enquiryId,
      );

    // Waiting: nobody is assigned, so nobody's absence shows, not even an absent colleague's.
    expect((await api("PUT", "/api/v1/me/absence", colleagueToken, { active: true, message: "Weg" })).status).toBe(200);
    expect(await seekersView()).toMatchObject({ state: "waiting", counsellor_id: null, counsellor_absence: null });

    const claimed = await api("POST", `/api/v1/enquiries/${enquiryId}/claim`, tokens.a, {});
    expect(claimed.status, JSON.stringify(claimed.body)).toBe(200);
    expect(claimed.body).toMatchObject({ counsellor_id: a.userId, counsellor_absence: null });
    await eventually("the claim's steps", () => stepsDone(db, enquiryId));
    // The existing fields are all still there.
    expect(await seekersView()).toEqual({
      enquiry_id: enquiryId,
      room_id: roomId,
      state: "active",
      agency_id: agency,
      topic,
      counsellor_id: a.userId,
      counsellor_absence: null,
      // Added with retention: when the conversation will be deleted (docs/privacy.md).
      deletion_at: expect.any(String),
      // Added with case notes: the counsellor's alone, never the seeker's.
      notes_room_id: null,
      // Added with the workspace: the enquiry's context, as the counsellor's list shows it.
      agency_name: expect.any(String),
      language: expect.any(String),
      age_group: expect.any(String),
      pseudonym: expect.any(String),
      created_at: expect.any(String),
      // Added with the seeker's way: until when a closed conversation can be reopened.
      reopen_until: null,
      reopen_window_days: expect.any(Number),
    });

    const notice = "Ich bin bis Montag nicht da. Meine Kollegin antwortet Ihnen.";
    expect((await api("PUT", "/api/v1/me/absence", tokens.a, { active: true, message: notice })).status).toBe(200);
    expect((await seekersView())?.counsellor_absence).toEqual({ message: notice });
    // The counsellor's own list shows it too.
    const own = (await api("GET", "/api/v1/enquiries", tokens.a)).body.enquiries as Json[];
    expect(own.find((e) => e.enquiry_id === enquiryId)?.counsellor_absence).toEqual({ message: notice });

    // An absence set by an operator without a message still shows, with message null.
    await db.query("UPDATE counsellors SET absence_message = NULL WHERE user_id = $1", [a.userId]);
    expect((await seekersView())?.counsellor_absence).toEqual({ message: null });

    expect((await api("PUT", "/api/v1/me/absence", tokens.a, { active: false })).status).toBe(200);
    expect((await seekersView())?.counsellor_absence).toBeNull();
  });
});

describe("GET /api/v1/agencies/{agencyId}/counsellors", () => {
  it("lists the active colleagues of the caller's agency, without the caller", async () => {
    const { agency, a, tokens } = await setting();
    const b = await createCounsellor(stack, db, agency);
    const lead = await createCounsellor(stack, db, agency, "team_lead");
    const gone = await createCounsellor(stack, db, agency);
    const elsewhere = await createCounsellor(stack, db, await createAgency(db, []));
    expect(
      (await api("PUT", "/api/v1/me/absence", await openIdToken(stack, b), { active: true, message: "Weg" })).status,
    ).toBe(200);
    await deactivate(gone);

    const res = await api("GET", `/api/v1/agencies/${agency}/counsellors`, tokens.a);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const sorted = [
      { user_id: b.userId, display_name: b.localpart, role: "counsellor", absent: true },
      { user_id: lead.userId, display_name: lead.localpart, role: "team_lead", absent: false },
    ].sort((x, y) => (x.display_name < y.display_name ? -1 : 1));
    expect(res.body).toEqual({ counsellors: sorted });
    expect(JSON.stringify(res.body)).not.toContain(elsewhere.userId);
    expect(JSON.stringify(res.body)).not.toContain(gone.userId);

    // The team lead sees the caller too.
    const byLead = await api("GET", `/api/v1/agencies/${agency}/counsellors`, await openIdToken(stack, lead));
    expect((byLead.body.counsellors as Json[]).map((c) => c.user_id).sort()).toEqual([a.userId, b.userId].sort());
  });

  it("hides other agencies, refuses seekers and malformed ids", async () => {
    const { agency, tokens } = await setting();
    const other = await createAgency(db, []);
    await createCounsellor(stack, db, other);
    refused(await api("GET", `/api/v1/agencies/${other}/counsellors`, tokens.a), 404, "M_NOT_FOUND", "other agency");
    refused(
      await api("GET", "/api/v1/agencies/999999999999999/counsellors", tokens.a),
      404,
      "M_NOT_FOUND",
      "unknown agency",
    );
    refused(await api("GET", `/api/v1/agencies/${agency}/counsellors`, tokens.seeker), 403, "M_FORBIDDEN", "seeker");
    refused(await api("GET", `/api/v1/agencies/${agency}/counsellors`, null), 401, "M_MISSING_TOKEN", "no token");
    for (const id of [
      "0",
      "-1",
      "abc",
      "1.5",
      "1e3",
      "0x10",
      "01",
      "9999999999999999",
      "%20" + agency,
      "%00",
      "%E0%A4%A",
    ]) {
      refused(await api("GET", `/api/v1/agencies/${id}/counsellors`, tokens.a), 400, "M_INVALID_PARAM", id);
    }
  });
});

describe("a deactivated counsellor", () => {
  it("is refused by every route although Synapse still honours their OpenID token", async () => {
    const { agency, a, tokens } = await setting();
    await createCounsellor(stack, db, agency);
    expect((await api("GET", "/api/v1/me", tokens.a)).body.role).toBe("counsellor");
    await deactivate(a);
    const before = await stored(a.userId);
    // Synapse deactivated the account but still vouches for the OpenID token it gave out before.
    const userinfo = await fetch(
      `${stack.synapseUrl}/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(tokens.a)}`,
    );
    expect(userinfo.status).toBe(200);
    expect(((await userinfo.json()) as Json).sub).toBe(a.userId);

    refused(await api("GET", "/api/v1/me", tokens.a), 403, "M_FORBIDDEN", "me");
    refused(await api("POST", "/api/v1/me/password-changed", tokens.a, {}), 403, "M_FORBIDDEN", "password-changed");
    refused(
      await api("PUT", "/api/v1/me/absence", tokens.a, { active: true, message: "x" }),
      403,
      "M_FORBIDDEN",
      "absence",
    );
    refused(await api("GET", `/api/v1/agencies/${agency}/counsellors`, tokens.a), 403, "M_FORBIDDEN", "colleagues");
    expect(await stored(a.userId)).toEqual(before);
  });
});

describe("the OpenAPI document", () => {
  it("describes the counsellor self routes with the OpenID scheme", async () => {
    const doc = (await (await fetch(`${stack.appserviceUrl}/api/v1/openapi.json`)).json()) as Json;
    const operations: [string, string][] = [
      ["/api/v1/me", "get"],
      ["/api/v1/me/password-changed", "post"],
      ["/api/v1/me/absence", "put"],
      ["/api/v1/agencies/{agencyId}/counsellors", "get"],
    ];
    for (const [path, method] of operations) {
      const operation = doc.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation.security).toEqual([{ openid: [] }]);
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "403"]));
    }
    const summary = doc.paths["/api/v1/enquiries"].get.responses["200"].content["application/json"].schema;
    expect(JSON.stringify(summary)).toContain("counsellor_absence");
  });
});
