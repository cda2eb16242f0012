/**
 * Anonymous intake routes: challenge, intake, completion. The flow and its reasons are in
 * docs/intake.md.
 */
import type { Request } from "express";
import { z } from "zod";
import type { FeatureDeps } from "../deps.ts";
import { coverage } from "../agencies/match.ts";
import { AGE_GROUPS, LANGUAGES } from "../domain.ts";
import { MatrixError } from "../http/errors.ts";
import type { Api } from "../http/api.ts";
import { clientAddress, trustedProxies, type ProxyCheck } from "./client-address.ts";
import { CHALLENGE_LENGTH, challengeKey } from "./challenge.ts";
import { completeIntake, createChallenge, createIntake } from "./intakes.ts";
import { NONCE_PATTERN, POW_ALGORITHM } from "./pow.ts";
import { addressKey, hit } from "./rate-limit.ts";
import { intakeSettings, type IntakeSettings } from "./settings.ts";

const TAG = "intake";

const Challenge = z
  .object({
    challenge_id: z
      .string()
      .describe(
        `Signed and opaque, ${CHALLENGE_LENGTH} characters of base64url; hashed as received, and sent back as received`,
      ),
    difficulty: z.int().describe("Leading zero bits SHA-256 of `${challenge_id}:${nonce}` must have"),
    expires_at: z.iso.datetime(),
    algorithm: z.literal(POW_ALGORITHM),
  })
  .meta({ id: "IntakeChallenge" });

const IntakeBody = z.strictObject({
  // Loose on purpose: anything we did not issue (an old UUID challenge, a forged one) is
  // CONNECTA_CHALLENGE_FAILED, on which the client fetches a new challenge.
  challenge_id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, "expected a challenge_id as the challenge answered it"),
  nonce: z.string().regex(NONCE_PATTERN, "expected 1 to 64 characters of A-Z a-z 0-9 _ -"),
  pseudonym: z.string().describe("3 to 30 of a-z 0-9 . _ -; not like an e-mail address or phone number"),
  topic: z.string().regex(/^[a-z0-9-]{1,40}$/, "expected a topic id"),
  postcode: z
    .string()
    .regex(/^[0-9]{5}$/, "expected five digits")
    .nullish()
    .describe("German postcode; absent when the seeker gives none"),
  age_group: z.enum(AGE_GROUPS),
  language: z.enum(LANGUAGES),
});

const Intake = z
  .object({
    intake_id: z.uuid(),
    registration_token: z.string().describe("Single-use Synapse registration token (m.login.registration_token)"),
    expires_at: z.iso.datetime().describe("Register at Synapse before this time"),
    username: z.string().describe("The normalised pseudonym: the username to register"),
  })
  .meta({ id: "Intake" });

const PublicTopic = z.object({ id: z.string(), name_de: z.string(), name_en: z.string() }).meta({ id: "PublicTopic" });

const TopicCoverage = z
  .object({
    coverage: z
      .enum(["local", "general", "none"])
      .describe(
        "local: an agency offering the topic covers the postcode; general: the fallback agency would take the " +
          "enquiry (no postcode given, or none covers it); none: no agency would take it",
      ),
  })
  .meta({ id: "TopicCoverage" });

const Completion = z.object({ enquiry_id: z.int(), room_id: z.string() }).meta({ id: "IntakeCompletion" });

/**
 * Counts a request against the per-address limit of `kind`. The address is the TCP peer, or
 * what a trusted proxy (CONNECTA_TRUSTED_PROXIES) forwards in X-Forwarded-For. Every request
 * counts here, failed ones too; a budget all clients share is spent by solved intakes only
 * (see createIntake), so that nobody can use it up without doing the work.
 */
async function limitPerAddress(
  deps: FeatureDeps,
  s: IntakeSettings,
  isTrustedProxy: ProxyCheck,
  kind: "challenge" | "intake",
  req: Request,
) {
  const r = s.rateLimits;
  const address = clientAddress(req.socket.remoteAddress, req.get("x-forwarded-for"), isTrustedProxy);
  const perAddress = kind === "challenge" ? r.challengePerAddress : r.intakePerAddress;
  await hit(deps.pool, `${kind}:addr:${addressKey(address)}`, perAddress, r.windowSeconds);
}

/**
 * Adds the intake routes; `given` settings default to {@link intakeSettings} of the
 * configuration. Both are read on first use, so that the routes can be described (OpenAPI)
 * without a configuration.
 */
export function intakeRoutes(api: Api, deps: FeatureDeps, given?: IntakeSettings): void {
  let ready: { key: Buffer; settings: IntakeSettings; isTrustedProxy: ProxyCheck } | undefined;
  const setup = () =>
    (ready ??= {
      key: challengeKey(deps.config.hsToken),
      settings: given ?? intakeSettings(deps.config),
      isTrustedProxy: trustedProxies(deps.config.trustedProxies),
    });
  api.add({
    method: "get",
    path: "/api/v1/topics",
    summary: "The topics a seeker can choose for an intake (those at least one agency offers)",
    tag: TAG,
    auth: "none",
    query: z.strictObject({}),
    response: z.object({ topics: z.array(PublicTopic) }),
    errors: [],
    handler: async () => {
      const { rows } = await deps.pool.query<z.infer<typeof PublicTopic>>(
        `SELECT t.id, t.name_de, t.name_en FROM topics t
         WHERE EXISTS (SELECT 1 FROM agency_topics at WHERE at.topic_id = t.id)
         ORDER BY t.name_de, t.id`,
      );
      return { topics: rows };
    },
  });

  api.add({
    method: "get",
    path: "/api/v1/topics/{topicId}/coverage",
    summary: "Whether an agency near the postcode, the fallback agency or nobody would take an enquiry on the topic",
    tag: TAG,
    auth: "none",
    params: z.object({ topicId: z.string().regex(/^[a-z0-9-]{1,40}$/, "expected a topic id") }),
    query: z.strictObject({
      postcode: z
        .string()
        .regex(/^[0-9]{5}$/, "expected five digits")
        .optional(),
    }),
    response: TopicCoverage,
    errors: ["M_NOT_FOUND"],
    handler: async ({ params, query }) => {
      const found = await coverage(deps.pool, params.topicId, query.postcode ?? null);
      if (found === null) throw new MatrixError("M_NOT_FOUND", `No topic with id ${params.topicId}`);
      return { coverage: found };
    },
  });

  api.add({
    method: "get",
    path: "/api/v1/intake/challenge",
    summary: "A proof-of-work challenge for one intake",
    tag: TAG,
    auth: "none",
    response: Challenge,
    errors: [],
    handler: async ({ req }) => {
      const { key, settings, isTrustedProxy } = setup();
      await limitPerAddress(deps, settings, isTrustedProxy, "challenge", req);
      return createChallenge(key, settings);
    },
  });

  api.add({
    method: "post",
    path: "/api/v1/intake",
    summary: "Checks an intake and answers with a single-use registration token for the pseudonym",
    tag: TAG,
    auth: "none",
    body: IntakeBody,
    response: Intake,
    errors: ["M_TOO_LARGE", "M_INVALID_USERNAME", "M_USER_IN_USE", "CONNECTA_CHALLENGE_FAILED", "M_NOT_FOUND"],
    handler: async ({ body, req }) => {
      const { key, settings, isTrustedProxy } = setup();
      await limitPerAddress(deps, settings, isTrustedProxy, "intake", req);
      return createIntake(deps, settings, key, {
        challengeId: body.challenge_id,
        nonce: body.nonce,
        pseudonym: body.pseudonym,
        topic: body.topic,
        postcode: body.postcode ?? null,
        ageGroup: body.age_group,
        language: body.language,
      });
    },
  });

  api.add({
    method: "post",
    path: "/api/v1/intake/{intakeId}/complete",
    summary: "Opens the enquiry of the freshly registered seeker and answers with its room",
    tag: TAG,
    auth: "user",
    params: z.object({ intakeId: z.uuid() }),
    response: Completion,
    errors: ["M_NOT_FOUND", "M_UNAVAILABLE"],
    handler: async ({ params, userId }) => completeIntake(deps, params.intakeId, userId ?? ""),
  });
}
