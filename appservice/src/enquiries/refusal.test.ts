import { describe, expect, it } from "vitest";
import { MatrixError } from "../http/errors.ts";
import { refusalError, refuse, type Refusal } from "./refusal.ts";

describe("the HTTP API's answer to a refusal", () => {
  it.each<[Refusal, string, number, string]>([
    [{ reason: "not_a_counsellor" }, "M_FORBIDDEN", 403, "Only counsellors may do this"],
    [{ reason: "deactivated" }, "M_FORBIDDEN", 403, "This counsellor account is deactivated"],
    [{ reason: "no_such_enquiry" }, "M_NOT_FOUND", 404, "No such enquiry"],
    [{ reason: "already_taken" }, "CONNECTA_ALREADY_TAKEN", 409, "Another counsellor has already taken this enquiry"],
    [
      { reason: "wrong_state", state: "closed", wanted: "waiting" },
      "CONNECTA_WRONG_STATE",
      409,
      "The enquiry is closed, not waiting",
    ],
    [
      { reason: "wrong_state", state: "archived", wanted: "reopenable" },
      "CONNECTA_WRONG_STATE",
      409,
      "This enquiry can no longer be reopened",
    ],
    [
      { reason: "not_assigned", action: "handover" },
      "M_FORBIDDEN",
      403,
      "Only the assigned counsellor or a team lead can hand over",
    ],
    [
      { reason: "not_a_colleague", userId: "@x:s" },
      "M_INVALID_PARAM",
      400,
      "The new counsellor is not a counsellor of this agency",
    ],
    [
      { reason: "still_assigned", userId: "@a:s", count: 2 },
      "CONNECTA_IN_USE",
      409,
      "@a:s still has 2 active enquiries in this agency; hand them over first",
    ],
    [{ reason: "rooms_pending" }, "M_UNAVAILABLE", 503, "please repeat the request"],
  ])("answers %o with its code and status", (r, errcode, status, message) => {
    const answer = refusalError(refuse(r));
    expect(answer).toBeInstanceOf(MatrixError);
    expect([answer?.errcode, answer?.status]).toEqual([errcode, status]);
    expect(answer?.message).toContain(message);
  });

  it("leaves every other error to the error middleware", () => {
    expect(refusalError(new Error("boom"))).toBeNull();
    expect(refusalError(new MatrixError("M_NOT_FOUND", "x"))).toBeNull();
  });
});
