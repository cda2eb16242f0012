import { describe, expect, it } from "vitest";
import type { JsonAnswer } from "./http.ts";
import { UNAVAILABLE_WAITS_MS, requestOf, retryUnavailable } from "./connecta.ts";

const answer = (status: number, errcode?: string, retryAfter: number | null = null): JsonAnswer => ({
  status,
  body: errcode ? { errcode, error: "..." } : {},
  retryAfter,
});

/** A request that answers `answers` in turn, and the waits it was given. */
function script(...answers: JsonAnswer[]) {
  let calls = 0;
  const waits: number[] = [];
  return {
    request: async () => answers[Math.min(calls++, answers.length - 1)] as JsonAnswer,
    wait: async (ms: number) => void waits.push(ms),
    calls: () => calls,
    waits,
  };
}

describe("retryUnavailable", () => {
  it("repeats a 503 M_UNAVAILABLE after a short wait and answers what the repetition got", async () => {
    const s = script(answer(503, "M_UNAVAILABLE"), answer(200));
    expect((await retryUnavailable(s.request, s.wait)).status).toBe(200);
    expect(s.calls()).toBe(2);
    expect(s.waits).toEqual([UNAVAILABLE_WAITS_MS[0]]);
  });

  it("gives up after two repetitions and answers the last 503", async () => {
    const s = script(answer(503, "M_UNAVAILABLE"));
    const res = await retryUnavailable(s.request, s.wait);
    expect([res.status, res.body.errcode]).toEqual([503, "M_UNAVAILABLE"]);
    expect(s.calls()).toBe(3);
    expect(s.waits).toEqual([...UNAVAILABLE_WAITS_MS]);
  });

  it("honours a short Retry-After, but not a long one", async () => {
    const s = script(answer(503, "M_UNAVAILABLE", 2), answer(503, "M_UNAVAILABLE", 60), answer(200));
    await retryUnavailable(s.request, s.wait);
    expect(s.waits).toEqual([2000, UNAVAILABLE_WAITS_MS[1]]);
  });

  it("does not repeat other answers, not even other 503s", async () => {
    for (const other of [answer(200), answer(409, "CONNECTA_ALREADY_TAKEN"), answer(503, "M_UNKNOWN"), answer(500)]) {
      const s = script(other, answer(200));
      expect(await retryUnavailable(s.request, s.wait)).toBe(other);
      expect(s.calls()).toBe(1);
    }
  });
});

describe("requestOf", () => {
  it("fills path parameters encoded, adds the query and an empty body for POST", () => {
    expect(
      requestOf("POST /api/v1/enquiries/{enquiryId}/handover", {
        params: { enquiryId: 7 },
        body: { counsellor_id: "@a:b" },
      }),
    ).toEqual({ method: "POST", url: "/api/v1/enquiries/7/handover", body: { counsellor_id: "@a:b" } });
    expect(requestOf("POST /api/v1/enquiries/{enquiryId}/claim", { params: { enquiryId: 7 } }).body).toEqual({});
    expect(requestOf("GET /api/v1/agencies/{agencyId}/counsellors", { params: { agencyId: "a/b" } }).url).toBe(
      "/api/v1/agencies/a%2Fb/counsellors",
    );
  });

  it("sends no body with GET and leaves out query values that are not given", () => {
    expect(requestOf("GET /api/v1/queue", { query: { limit: 5, agency_id: undefined } })).toEqual({
      method: "GET",
      url: "/api/v1/queue?limit=5",
      body: undefined,
    });
    expect(requestOf("GET /api/v1/enquiries", undefined).url).toBe("/api/v1/enquiries");
  });
});
