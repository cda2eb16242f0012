// The anonymous intake's logic (docs/intake.md), apart from its page so that it can be tested:
// the checks of both steps, the proof of work running while the seeker types, and the submit:
// a registration token from our API (kept while valid, so that a retry does not ask again),
// registration at the homeserver (the password goes there only), and completion with an
// OpenID token, which opens the enquiry. Failures are turned into field errors or a problem.
import { send, type Answer } from "../api/connecta.ts";
import type { Operations } from "../api/contract.gen.ts";
import { ApiProblem, NetworkError, registerWithToken, requestOpenIdToken } from "../api/http.ts";
import { newStoreKey, saveSession, type Session } from "../session/session.ts";
import { passwordProblem, type PasswordProblem } from "./passwords.ts";
import { solveInWorker, type Challenge, type PowJob } from "./pow.ts";
import { pseudonymProblem } from "./pseudonym.ts";

/** What the seeker enters, in the order of the page. */
export interface IntakeAnswers {
  topic: string;
  postcode: string;
  ageGroup: string;
  language: string;
  pseudonym: string;
  password: string;
  passwordRepeat: string;
}

/** A form field. */
export type Field = keyof IntakeAnswers;
/** Problems with fields: message keys under intake.errors. */
export type FieldErrors = Partial<Record<Field, string>>;
/** A problem that is no field's: message key under intake.errors and values. */
export interface Problem {
  key: string;
  values?: Record<string, number>;
}

/** Checks step 1: what the enquiry is about. */
export function checkAbout(a: IntakeAnswers): FieldErrors {
  const errors: FieldErrors = {};
  if (!a.topic) errors.topic = "topicMissing";
  if (a.postcode.trim() !== "" && !/^[0-9]{5}$/.test(a.postcode.trim())) errors.postcode = "postcodeInvalid";
  if (!a.ageGroup) errors.ageGroup = "ageMissing";
  if (!a.language) errors.language = "languageMissing";
  return errors;
}

/** The message key under intake.errors for each reason a password is refused (passwords.ts). */
const PASSWORD_ERRORS: Record<PasswordProblem, string> = {
  repeated: "passwordRepeated",
  personal: "passwordPersonal",
  listed: "passwordCommon",
  disguised: "passwordDisguised",
};

/** Checks step 2: pseudonym and password. */
export function checkAccount(a: IntakeAnswers, commonPasswords: ReadonlySet<string>): FieldErrors {
  const errors: FieldErrors = {};
  const pseudonymIssue = pseudonymProblem(a.pseudonym);
  if (pseudonymIssue) errors.pseudonym = pseudonymIssue;
  const weak = passwordProblem(a.password, commonPasswords, [a.pseudonym]);
  if (a.password.length < 10) errors.password = "passwordShort";
  else if (weak) errors.password = PASSWORD_ERRORS[weak];
  if (!errors.password && a.passwordRepeat !== a.password) errors.passwordRepeat = "passwordMismatch";
  return errors;
}

/** Explains a failed submit: field errors or a problem. */
export function explain(err: unknown): { fieldErrors: FieldErrors; problem: Problem | null } {
  const only = (problem: Problem) => ({ fieldErrors: {}, problem });
  if (err instanceof NetworkError) return only({ key: "unavailable" });
  if (!(err instanceof ApiProblem)) return only({ key: "generic" });
  const { status, body, retryAfter } = err.answer;
  const errcode = typeof body.errcode === "string" ? body.errcode : "";
  const field = (fieldErrors: FieldErrors) => ({ fieldErrors, problem: null });
  if (errcode === "M_USER_IN_USE") return field({ pseudonym: "pseudonymTaken" });
  if (errcode === "M_INVALID_USERNAME") return field({ pseudonym: "pseudonymRefused" });
  if (errcode === "M_WEAK_PASSWORD" || errcode === "M_PASSWORD_TOO_SHORT") return field({ password: "passwordWeak" });
  if (errcode === "M_NOT_FOUND") return only({ key: "noAgency" });
  if (status === 429 || errcode === "M_LIMIT_EXCEEDED") {
    return only({ key: "tooMany", values: { minutes: Math.max(1, Math.ceil((retryAfter ?? 600) / 60)) } });
  }
  if (status >= 500 || errcode === "M_UNAVAILABLE") return only({ key: "unavailable" });
  return only({ key: "generic" });
}

/** What the flow talks to; the defaults are the real ones, tests give fakes. */
export interface IntakeDeps {
  homeserverUrl: string;
  send: typeof send;
  register: typeof registerWithToken;
  openIdToken: typeof requestOpenIdToken;
  solve: (challenge: Challenge, onProgress: (progress: number) => void) => PowJob;
  saveSession: (session: Session) => void;
  now: () => number;
}

type IntakeBody = Operations["POST /api/v1/intake"]["body"];

/** The registration token of an intake, kept for a retry with the same answers. */
interface Issued {
  key: string;
  id: string;
  username: string;
  token: string;
  expiresAt: number;
}

/** A challenge being solved. */
interface Pow {
  challenge: Challenge;
  job: PowJob;
  nonce: Promise<string>;
}

/** One seeker's intake, from the first challenge to the opened enquiry. */
export class IntakeFlow {
  readonly #deps: IntakeDeps;
  readonly #onProgress: (progress: number) => void;
  #pow: Pow | null = null;
  /** A challenge on its way (startPow), which a submit waits for rather than asking again. */
  #starting: Promise<void> | null = null;
  #issued: Issued | null = null;
  #session: Session | null = null;

  /** @param onProgress - the proof of work's progress, 0 to 1 */
  constructor(homeserverUrl: string, onProgress: (progress: number) => void, deps: Partial<IntakeDeps> = {}) {
    this.#deps = {
      homeserverUrl,
      send,
      register: registerWithToken,
      openIdToken: requestOpenIdToken,
      solve: solveInWorker,
      saveSession,
      now: Date.now,
      ...deps,
    };
    this.#onProgress = onProgress;
  }

  /** Fetches a new challenge and starts solving it. */
  async startPow(): Promise<void> {
    const started = this.#fetchChallenge();
    this.#starting = started;
    try {
      await started;
    } finally {
      if (this.#starting === started) this.#starting = null;
    }
  }

  async #fetchChallenge(): Promise<void> {
    this.cancel();
    this.#onProgress(0);
    const res = await this.#deps.send("GET /api/v1/intake/challenge", {});
    if (res.status !== 200) throw new ApiProblem(res);
    const challenge = res.body as Answer<"GET /api/v1/intake/challenge">;
    const job = this.#deps.solve(challenge, this.#onProgress);
    this.#pow = { challenge, job, nonce: job.nonce };
  }

  /** Starts a new proof of work; a failure shows when the seeker submits, which tries again. */
  restartPow(): void {
    this.startPow().catch(() => (this.#pow = null));
  }

  /** Stops the proof of work (the page is left). */
  cancel(): void {
    this.#pow?.job.cancel();
    this.#pow = null;
  }

  /**
   * Registers the seeker and opens their enquiry; answers checked with {@link checkAbout} and
   * {@link checkAccount} first. May be called again after a failure: what is done stays done.
   *
   * @throws ApiProblem or NetworkError (see {@link explain})
   */
  async submit(answers: IntakeAnswers): Promise<void> {
    const issued = await this.#issue(answers);
    if (this.#session === null || this.#session.pseudonym !== issued.username) {
      this.#session = await this.#register(issued, answers.password);
    }
    await this.#complete(issued, this.#session);
  }

  /** A solved challenge that is still valid for a minute; starts a new one when needed. */
  async #solvedChallenge(): Promise<{ challengeId: string; nonce: string }> {
    await this.#starting?.catch(() => {});
    if (this.#pow === null || Date.parse(this.#pow.challenge.expires_at) < this.#deps.now() + 60_000) {
      await this.startPow();
    }
    const current = this.#pow as Pow;
    return { challengeId: current.challenge.challenge_id, nonce: await current.nonce };
  }

  /** Asks for a registration token (or reuses the one of an earlier try with the same answers). */
  async #issue(a: IntakeAnswers): Promise<Issued> {
    const body = {
      pseudonym: a.pseudonym,
      topic: a.topic,
      ...(a.postcode.trim() ? { postcode: a.postcode.trim() } : {}),
      age_group: a.ageGroup as IntakeBody["age_group"],
      language: a.language as IntakeBody["language"],
    };
    const key = JSON.stringify(body);
    if (this.#issued?.key === key && this.#issued.expiresAt > this.#deps.now() + 60_000) return this.#issued;
    for (let attempt = 0; ; attempt++) {
      const { challengeId, nonce } = await this.#solvedChallenge();
      const res = await this.#deps.send("POST /api/v1/intake", { body: { challenge_id: challengeId, nonce, ...body } });
      if (res.status === 200) {
        // The challenge is spent: solve a new one in case this attempt goes wrong later.
        this.restartPow();
        const answer = res.body as Answer<"POST /api/v1/intake">;
        this.#issued = {
          key,
          id: answer.intake_id,
          username: answer.username,
          token: answer.registration_token,
          expiresAt: Date.parse(answer.expires_at),
        };
        return this.#issued;
      }
      // A spent or expired challenge (pseudonym taken, a replay): the next try needs a new one.
      const errcode = res.body.errcode;
      if (errcode === "M_USER_IN_USE" || errcode === "CONNECTA_CHALLENGE_FAILED") this.restartPow();
      if (errcode !== "CONNECTA_CHALLENGE_FAILED" || attempt > 0) throw new ApiProblem(res);
    }
  }

  /** Registers at the homeserver with the token; the password goes there only. */
  async #register(issued: Issued, password: string): Promise<Session> {
    const { homeserverUrl } = this.#deps;
    const res = await this.#deps.register(homeserverUrl, issued.username, password, issued.token);
    if (res.status !== 200) {
      // A refused registration may have spent the token: ask for a new one next time.
      if (res.status !== 429) this.#issued = null;
      throw new ApiProblem(res);
    }
    const registered: Session = {
      role: "seeker",
      storeKey: newStoreKey(),
      homeserverUrl,
      userId: String(res.body.user_id),
      accessToken: String(res.body.access_token),
      deviceId: String(res.body.device_id),
      pseudonym: issued.username,
    };
    this.#deps.saveSession(registered);
    return registered;
  }

  /** Proves who the seeker is with an OpenID token and opens the enquiry. */
  async #complete(issued: Issued, registered: Session): Promise<void> {
    const openId = await this.#deps.openIdToken(registered.homeserverUrl, registered.userId, registered.accessToken);
    if (openId.status !== 200) throw new ApiProblem(openId);
    const res = await this.#deps.send(
      "POST /api/v1/intake/{intakeId}/complete",
      { params: { intakeId: issued.id } },
      String(openId.body.access_token),
    );
    if (res.status !== 200) throw new ApiProblem(res);
    const opened = res.body as Answer<"POST /api/v1/intake/{intakeId}/complete">;
    this.#deps.saveSession({ ...registered, enquiryId: opened.enquiry_id, roomId: opened.room_id });
  }
}
