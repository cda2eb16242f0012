import { describe, expect, it } from "vitest";
import type { JsonAnswer } from "../api/http.ts";
import { ApiProblem, NetworkError } from "../api/http.ts";
import type { Session } from "../session/session.ts";
import { checkAbout, checkAccount, explain, IntakeFlow, type IntakeAnswers, type IntakeDeps } from "./flow.ts";

const ok = (body: Record<string, unknown>): JsonAnswer => ({ status: 200, body, retryAfter: null });
const refused = (status: number, errcode: string, retryAfter: number | null = null): JsonAnswer => ({
  status,
  body: { errcode, error: "..." },
  retryAfter,
});

const answers: IntakeAnswers = {
  topic: "sucht",
  postcode: " 10115 ",
  ageGroup: "18_26",
  language: "de",
  pseudonym: "sonnenblume",
  password: "a long and odd passphrase",
  passwordRepeat: "a long and odd passphrase",
};

/**
 * A flow against a scripted API and homeserver: `intake` and `register` answer in turn (the
 * last one repeats); records every call.
 */
function scripted(script: { intake?: JsonAnswer[]; register?: JsonAnswer[]; complete?: JsonAnswer[] } = {}) {
  const calls: string[] = [];
  const saved: Session[] = [];
  let challenges = 0;
  let intakes = 0;
  let registrations = 0;
  let completions = 0;
  const next = (list: JsonAnswer[] | undefined, i: number, fallback: JsonAnswer) =>
    list?.[Math.min(i, list.length - 1)] ?? fallback;
  const deps: Partial<IntakeDeps> = {
    now: () => Date.parse("2026-12-01T12:00:00Z"),
    send: (async (operation: string, request: { body?: Record<string, unknown>; params?: object }, token?: string) => {
      calls.push(`${operation}${token ? ` with ${token}` : ""}`);
      if (operation === "GET /api/v1/intake/challenge") {
        challenges++;
        return ok({ challenge_id: `c${challenges}`, difficulty: 1, expires_at: "2026-12-01T12:10:00Z" });
      }
      if (operation === "POST /api/v1/intake") {
        calls.push(`  challenge ${String(request.body?.challenge_id)}, postcode ${String(request.body?.postcode)}`);
        return next(script.intake, intakes++, {
          status: 200,
          body: {
            intake_id: `i${intakes}`,
            username: "sonnenblume",
            registration_token: `t${intakes}`,
            expires_at: "2026-12-01T12:15:00Z",
          },
          retryAfter: null,
        });
      }
      return next(script.complete, completions++, ok({ enquiry_id: 7, room_id: "!room:x" }));
    }) as IntakeDeps["send"],
    register: async (_url, username, password, token) => {
      calls.push(`register ${username} with ${token}`);
      expect(password).toBe(answers.password);
      return next(script.register, registrations++, ok({ user_id: "@s:x", access_token: "at", device_id: "D" }));
    },
    openIdToken: async () => ok({ access_token: "openid" }),
    solve: (challenge) => ({ nonce: Promise.resolve(`n-${challenge.challenge_id}`), cancel: () => {} }),
    saveSession: (session) => void saved.push(session),
  };
  return { flow: new IntakeFlow("http://127.0.0.1:8008", () => {}, deps), calls, saved };
}

describe("the intake's checks", () => {
  it("asks for what is missing in step 1 and refuses a postcode of another form", () => {
    expect(checkAbout({ ...answers, topic: "", ageGroup: "", postcode: "1011" })).toEqual({
      topic: "topicMissing",
      ageGroup: "ageMissing",
      postcode: "postcodeInvalid",
    });
    expect(checkAbout(answers)).toEqual({});
  });

  it("refuses short, common and unrepeated passwords in step 2", () => {
    const common = new Set(["passwort1234", "passwort"]);
    expect(checkAccount({ ...answers, password: "kurz" }, common)).toEqual({ password: "passwordShort" });
    expect(checkAccount({ ...answers, password: "passwort1234" }, common)).toEqual({ password: "passwordCommon" });
    expect(checkAccount({ ...answers, password: "P4sswort!!!!" }, common)).toEqual({ password: "passwordDisguised" });
    expect(checkAccount({ ...answers, password: "xxxxxxxxxxxx" }, common)).toEqual({ password: "passwordRepeated" });
    expect(checkAccount({ ...answers, password: `${answers.pseudonym}-geheim` }, common)).toEqual({
      password: "passwordPersonal",
    });
    expect(checkAccount({ ...answers, passwordRepeat: "other" }, common)).toEqual({
      passwordRepeat: "passwordMismatch",
    });
    expect(checkAccount(answers, common)).toEqual({});
  });

  it("explains refusals as field errors or problems", () => {
    const of = (answer: JsonAnswer) => explain(new ApiProblem(answer));
    expect(of(refused(400, "M_USER_IN_USE")).fieldErrors).toEqual({ pseudonym: "pseudonymTaken" });
    expect(of(refused(400, "M_INVALID_USERNAME")).fieldErrors).toEqual({ pseudonym: "pseudonymRefused" });
    expect(of(refused(400, "M_WEAK_PASSWORD")).fieldErrors).toEqual({ password: "passwordWeak" });
    expect(of(refused(404, "M_NOT_FOUND")).problem).toEqual({ key: "noAgency" });
    expect(of(refused(429, "M_LIMIT_EXCEEDED", 90)).problem).toEqual({ key: "tooMany", values: { minutes: 2 } });
    expect(of(refused(503, "M_UNAVAILABLE")).problem).toEqual({ key: "unavailable" });
    expect(explain(new NetworkError("offline")).problem).toEqual({ key: "unavailable" });
    expect(explain(new Error("?")).problem).toEqual({ key: "generic" });
  });
});

describe("the intake's submit", () => {
  it("registers with the token and opens the enquiry with an OpenID token", async () => {
    const { flow, calls, saved } = scripted();
    await flow.startPow();
    await flow.submit(answers);
    expect(calls).toEqual([
      "GET /api/v1/intake/challenge",
      "POST /api/v1/intake",
      "  challenge c1, postcode 10115",
      "GET /api/v1/intake/challenge",
      "register sonnenblume with t1",
      "POST /api/v1/intake/{intakeId}/complete with openid",
    ]);
    expect(saved.at(-1)).toMatchObject({ userId: "@s:x", pseudonym: "sonnenblume", enquiryId: 7, roomId: "!room:x" });
  });

  it("keeps the token for a retry after the homeserver's rate limit", async () => {
    const { flow, calls } = scripted({
      register: [refused(429, "M_LIMIT_EXCEEDED", 5), ok({ user_id: "@s:x", access_token: "at", device_id: "D" })],
    });
    await expect(flow.submit(answers)).rejects.toBeInstanceOf(ApiProblem);
    await flow.submit(answers);
    expect(calls.filter((c) => c === "POST /api/v1/intake")).toHaveLength(1);
    expect(calls.filter((c) => c.startsWith("register"))).toEqual([
      "register sonnenblume with t1",
      "register sonnenblume with t1",
    ]);
  });

  it("asks for a new token after any other refused registration, which may have spent it", async () => {
    const { flow, calls } = scripted({
      register: [refused(401, "M_FORBIDDEN"), ok({ user_id: "@s:x", access_token: "at", device_id: "D" })],
    });
    await expect(flow.submit(answers)).rejects.toBeInstanceOf(ApiProblem);
    await flow.submit(answers);
    expect(calls.filter((c) => c.startsWith("register"))).toEqual([
      "register sonnenblume with t1",
      "register sonnenblume with t2",
    ]);
  });

  it("solves a new challenge once when the first is refused, and gives up after the second", async () => {
    const { flow, calls } = scripted({ intake: [refused(403, "CONNECTA_CHALLENGE_FAILED")] });
    await flow.startPow();
    await expect(flow.submit(answers)).rejects.toBeInstanceOf(ApiProblem);
    expect(calls.filter((c) => c.startsWith("  challenge"))).toEqual([
      "  challenge c1, postcode 10115",
      "  challenge c2, postcode 10115",
    ]);
  });

  it("does not register twice when only the completion failed", async () => {
    const { flow, calls, saved } = scripted({
      complete: [refused(503, "M_UNAVAILABLE"), ok({ enquiry_id: 7, room_id: "!r:x" })],
    });
    await expect(flow.submit(answers)).rejects.toBeInstanceOf(ApiProblem);
    await flow.submit(answers);
    expect(saved.at(-1)).toMatchObject({ enquiryId: 7, roomId: "!r:x" });
    expect(calls.filter((c) => c.startsWith("register"))).toHaveLength(1);
    expect(calls.filter((c) => c.startsWith("POST /api/v1/intake/{intakeId}/complete"))).toHaveLength(2);
  });
});
