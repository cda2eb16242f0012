/**
 * The anonymous intake (see docs/intake.md): a proof-of-work challenge, the checks that end in a
 * single-use Synapse registration token, and the completion that opens the enquiry once the
 * seeker registered. The seeker's password never reaches us: their client registers directly
 * at Synapse with the token.
 */
import { createHash, randomBytes } from "node:crypto";
import type pg from "pg";
import { findAgency } from "../agencies/match.ts";
import type { FeatureDeps } from "../deps.ts";
import { pgError, SQLSTATE } from "../db/codes.ts";
import { withTransaction } from "../db/pool.ts";
import type { AgeGroup, Language } from "../domain.ts";
import { openEnquiry } from "../enquiries/open.ts";
import { faultPoint } from "../faults.ts";
import { enqueueStep } from "../steps/steps.ts";
import { MatrixError } from "../http/errors.ts";
import { HomeserverError } from "../matrix/homeserver.ts";
import { issueChallenge, readChallenge, type Challenge } from "./challenge.ts";
import { POW_ALGORITHM, isSolved } from "./pow.ts";
import { checkPseudonym } from "./pseudonym.ts";
import { hit, pruneRateLimits } from "./rate-limit.ts";
import type { IntakeSettings } from "./settings.ts";

/** Answer of GET /api/v1/intake/challenge. */
export interface ChallengeAnswer {
  challenge_id: string;
  difficulty: number;
  expires_at: string;
  algorithm: typeof POW_ALGORITHM;
}

/** What a seeker submits (validated for shape by the route). */
export interface IntakeInput {
  challengeId: string;
  nonce: string;
  pseudonym: string;
  topic: string;
  postcode: string | null;
  ageGroup: AgeGroup;
  language: Language;
}

/** Answer of POST /api/v1/intake. */
export interface IntakeAnswer {
  intake_id: string;
  registration_token: string;
  /** When the registration token expires at Synapse. */
  expires_at: string;
  /** The normalised pseudonym: the username to register. */
  username: string;
}

/** Answer of POST /api/v1/intake/{intakeId}/complete. */
export interface CompletionAnswer {
  enquiry_id: number;
  room_id: string;
}

/** Used challenges are kept this long after they expired, so a retried intake finds its challenge. */
const KEEP_USED_CHALLENGES_SECONDS = 60 * 60;
/** Rate-limit counters are kept this long (longer than any window). */
const KEEP_RATE_LIMITS_SECONDS = 24 * 60 * 60;

const challengeFailed = (message: string) => new MatrixError("CONNECTA_CHALLENGE_FAILED", message);
const inUse = () => new MatrixError("M_USER_IN_USE", "This pseudonym is taken; please choose another one");

/**
 * The intake id belonging to a challenge: derived, so a retry with the same challenge finds its
 * intake; one-way, so an intake id (it appears in URLs) reveals nothing about the challenge.
 * Formatted as a UUID (version 8, RFC 9562).
 */
export function intakeIdOf(challengeId: string): string {
  const h = createHash("sha256").update(`connecta-intake:${challengeId.toLowerCase()}`).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x80;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Issues a challenge: signed, stateless, no database row (see challenge.ts). */
export function createChallenge(key: Buffer, settings: IntakeSettings): ChallengeAnswer {
  const challenge = issueChallenge(key, settings.difficulty, settings.challengeTtlSeconds);
  return {
    challenge_id: challenge.text,
    difficulty: challenge.difficulty,
    expires_at: challenge.expiresAt.toISOString(),
    algorithm: POW_ALGORITHM,
  };
}

/** Deletes used challenges that expired longer ago than a retried intake may come. */
async function pruneUsedChallenges(db: pg.Pool): Promise<void> {
  await db.query("DELETE FROM used_challenges WHERE expires_at < now() - make_interval(secs => $1::int)", [
    KEEP_USED_CHALLENGES_SECONDS,
  ]);
}

/**
 * Records `challenge` as used. False when it was used already; a second request with the same
 * challenge waits here until the first one's transaction ends.
 */
async function markUsed(db: pg.PoolClient, challenge: Challenge): Promise<boolean> {
  const { rowCount } = await db.query(
    "INSERT INTO used_challenges (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
    [challenge.id, challenge.expiresAt],
  );
  return rowCount === 1;
}

/** True when `challenge` was used already. */
async function wasUsed(db: pg.Pool | pg.PoolClient, challenge: Challenge): Promise<boolean> {
  const { rowCount } = await db.query("SELECT 1 FROM used_challenges WHERE id = $1", [challenge.id]);
  return rowCount === 1;
}

/**
 * The challenge of an intake, when we issued it and the nonce solves it; checked before
 * anything else, as it costs one HMAC and one hash and no database.
 */
export function checkChallenge(key: Buffer, text: string, nonce: string): Challenge {
  const challenge = readChallenge(key, text);
  if (!challenge) throw challengeFailed("The challenge is unknown or was not issued by us; please fetch a new one");
  if (!isSolved(challenge.text, nonce, challenge.difficulty)) {
    throw challengeFailed("The nonce does not solve the challenge");
  }
  return challenge;
}

interface IntakeRow {
  pseudonym: string;
  registration_token: string;
  topic_id: string;
  agency_id: string;
  postcode: string | null;
  language: Language;
  age_group: AgeGroup;
  expires_at: Date;
  completed_at: Date | null;
}

/**
 * Checks an intake and, when it passes, reserves the pseudonym and mints the registration token.
 *
 * The proof of work is checked first (one HMAC, one hash, no database), so that only paid-for
 * work reaches the database and the global budget. Checks that only look at the input (pseudonym
 * rules, topic, agency) come next and leave the challenge unused, so a seeker can correct a typo
 * without solving again. A challenge used for the first time counts once against the global
 * budget (over it: 429, and the challenge stays unused). Synapse is asked whether it knows the
 * pseudonym before the transaction, and the token is minted at Synapse after it: no database
 * connection waits for Synapse, so a slow homeserver cannot starve the rest of the API. The
 * transaction records the challenge as used, also when the pseudonym turns out to be taken (each
 * probe for a taken pseudonym costs a solved challenge), and the intake that holds the pseudonym.
 * When minting fails (Synapse unreachable), both are undone, so the seeker can simply retry.
 *
 * A challenge that was used already answers with the intake it created when the same input is
 * presented again before the token expires: a client whose answer got lost retries safely. The
 * retry mints the token again (Synapse keeps the first), so its answer is true even while the
 * first request is still minting.
 */
export async function createIntake(
  deps: FeatureDeps,
  settings: IntakeSettings,
  key: Buffer,
  input: IntakeInput,
): Promise<IntakeAnswer> {
  const challenge = checkChallenge(key, input.challengeId, input.nonce);
  const checked = checkPseudonym(input.pseudonym);
  if (!checked.ok) throw new MatrixError("M_INVALID_USERNAME", checked.reason);
  const pseudonym = checked.pseudonym;
  const topic = await deps.pool.query("SELECT 1 FROM topics WHERE id = $1", [input.topic]);
  if (!topic.rowCount) throw new MatrixError("M_INVALID_PARAM", "topic: unknown topic");
  const agency = await findAgency(deps.pool, input.topic, input.postcode);
  if (!agency) throw new MatrixError("M_NOT_FOUND", "No agency takes enquiries on this topic for this postcode");
  await pruneRateLimits(deps.pool, KEEP_RATE_LIMITS_SECONDS);
  await pruneUsedChallenges(deps.pool);

  const intakeId = intakeIdOf(challenge.id);
  const expired = challenge.expiresAt.getTime() <= Date.now();
  // Only solved challenges count against the budget all seekers share, each once (a retry of
  // a used challenge does not). Counted in its own statement, not in the transaction below: a
  // counter row locked until that commit would queue every intake behind the one in front, each
  // holding a database connection the rest of the API needs. A crash after the commit and before
  // the token is minted leaves a used challenge with its intake: the client's retry mints it.
  let knownToSynapse = false;
  if (!expired && !(await wasUsed(deps.pool, challenge))) {
    const r = settings.rateLimits;
    await hit(deps.pool, "intake:global", r.intakeGlobal, r.windowSeconds);
    knownToSynapse = await synapseHasUser(deps, `@${pseudonym}:${deps.config.serverName}`);
  }
  const outcome = await withTransaction(deps.pool, async (db) => {
    // An expired, uncompleted intake frees its pseudonym; an account registered with its token
    // (the intake was never completed) and the token itself go too (retention/purge.ts).
    const { rows: gone } = await db.query<{ pseudonym: string; registration_token: string }>(
      "DELETE FROM intakes WHERE completed_at IS NULL AND expires_at < now() RETURNING pseudonym, registration_token",
    );
    for (const intake of gone) {
      await enqueueStep(db, null, {
        kind: "erase_user",
        payload: {
          user_id: `@${intake.pseudonym}:${deps.config.serverName}`,
          registration_token: intake.registration_token,
        },
      });
    }
    const firstUse = expired ? false : await markUsed(db, challenge);
    if (!firstUse) {
      if (expired && !(await wasUsed(db, challenge))) {
        throw challengeFailed("The challenge has expired; please fetch a new one");
      }
      return { answer: await sameIntake(db, settings, intakeId, pseudonym, input), retry: true };
    }
    await db.query("SAVEPOINT reserve");
    try {
      if (knownToSynapse) throw inUse();
      const row = { id: intakeId, pseudonym, agencyId: agency.agencyId };
      return { answer: await reserve(db, settings, row, input), retry: false };
    } catch (err) {
      if (!(err instanceof MatrixError && err.errcode === "M_USER_IN_USE")) throw err;
      // Keep the challenge used, refuse after the commit.
      await db.query("ROLLBACK TO SAVEPOINT reserve");
      return { refusal: err };
    }
  });
  if ("refusal" in outcome) throw outcome.refusal;
  try {
    await mintToken(deps, outcome.answer);
  } catch (err) {
    if (!outcome.retry) {
      // Left in place when this fails too: the intake expires, and a retry still completes it.
      await undoIntake(deps.pool, intakeId, challenge).catch((undo: unknown) =>
        deps.log.warn({ err: (undo as Error).message }, "undoing an intake failed"),
      );
    }
    throw err;
  }
  if (!outcome.retry) deps.metrics.intakes.inc({ stage: "started" });
  deps.log.info({ intake: intakeId }, outcome.retry ? "intake answered again (retry)" : "intake created");
  return outcome.answer;
}

/** The answer of an earlier request with the same challenge and input, or a refusal. */
async function sameIntake(
  db: pg.PoolClient,
  settings: IntakeSettings,
  intakeId: string,
  pseudonym: string,
  input: IntakeInput,
): Promise<IntakeAnswer> {
  const { rows } = await db.query<IntakeRow>(
    `SELECT pseudonym, registration_token, topic_id, postcode, language, age_group, expires_at, completed_at
       FROM intakes WHERE id = $1`,
    [intakeId],
  );
  const row = rows[0];
  const tokenExpiry = row ? new Date(row.expires_at.getTime() - settings.completionGraceSeconds * 1000) : null;
  const same =
    row &&
    tokenExpiry &&
    row.completed_at === null &&
    tokenExpiry.getTime() > Date.now() &&
    row.pseudonym === pseudonym &&
    row.topic_id === input.topic &&
    row.postcode === input.postcode &&
    row.language === input.language &&
    row.age_group === input.ageGroup;
  if (!same) throw challengeFailed("The challenge has already been used; please fetch a new one");
  return {
    intake_id: intakeId,
    registration_token: row.registration_token,
    expires_at: tokenExpiry.toISOString(),
    username: row.pseudonym,
  };
}

/** Reserves the pseudonym and chooses the registration token (minted at Synapse after the commit). */
async function reserve(
  db: pg.PoolClient,
  settings: IntakeSettings,
  row: { id: string; pseudonym: string; agencyId: number },
  input: IntakeInput,
): Promise<IntakeAnswer> {
  const taken = await db.query("SELECT 1 FROM intakes WHERE pseudonym = $1", [row.pseudonym]);
  if (taken.rowCount) throw inUse();

  // We choose the token, so the row exists (and holds the pseudonym) before Synapse knows it.
  const token = `${row.pseudonym}~${randomBytes(24).toString("base64url")}`; // Synapse registers only this name
  const tokenExpiry = new Date(Date.now() + settings.registrationTtlSeconds * 1000);
  const rowExpiry = new Date(tokenExpiry.getTime() + settings.completionGraceSeconds * 1000);
  try {
    await db.query(
      `INSERT INTO intakes (id, pseudonym, registration_token, topic_id, agency_id, postcode, language, age_group,
                            expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        row.id,
        row.pseudonym,
        token,
        input.topic,
        row.agencyId,
        input.postcode,
        input.language,
        input.ageGroup,
        rowExpiry,
      ],
    );
  } catch (err) {
    // Another intake took the pseudonym a moment ago.
    if (pgError(err)?.code === SQLSTATE.UNIQUE_VIOLATION) throw inUse();
    throw err;
  }
  return {
    intake_id: row.id,
    registration_token: token,
    expires_at: tokenExpiry.toISOString(),
    username: row.pseudonym,
  };
}

/**
 * Mints the answer's registration token at Synapse. A token Synapse has already counts as minted:
 * a retry of the same intake mints it too, and Synapse answers the second of two such calls with
 * 400 ("Token already exists") or, when they meet in its database, with 500; so after any
 * refusal, Synapse is asked whether it has the token.
 */
async function mintToken(deps: FeatureDeps, answer: IntakeAnswer): Promise<void> {
  const token = answer.registration_token;
  try {
    await deps.homeserver.request("POST", "/_synapse/admin/v1/registration_tokens/new", {
      token,
      uses_allowed: 1,
      expiry_time: Date.parse(answer.expires_at),
    });
  } catch (err) {
    const minted = await deps.homeserver
      .request("GET", `/_synapse/admin/v1/registration_tokens/${encodeURIComponent(token)}`)
      .then(
        () => true,
        () => false,
      );
    if (minted) return;
    deps.log.warn({ err: (err as Error).message.replace(token, "…") }, "minting a registration token failed");
    throw new MatrixError("M_UNAVAILABLE", "The homeserver is not reachable; please try again");
  }
}

/** Undoes an intake whose token could not be minted: its pseudonym is free and its challenge unused. */
async function undoIntake(db: pg.Pool, intakeId: string, challenge: Challenge): Promise<void> {
  await withTransaction(db, async (tx) => {
    await tx.query("DELETE FROM intakes WHERE id = $1 AND completed_at IS NULL", [intakeId]);
    await tx.query("DELETE FROM used_challenges WHERE id = $1", [challenge.id]);
  });
}

/** True when Synapse knows `userId` (also deactivated or in an application service namespace). */
async function synapseHasUser(deps: FeatureDeps, userId: string): Promise<boolean> {
  try {
    await deps.homeserver.request("GET", `/_synapse/admin/v2/users/${encodeURIComponent(userId)}`);
    return true;
  } catch (err) {
    if (err instanceof HomeserverError && err.status === 404) return false;
    deps.log.warn({ err: (err as Error).message }, "looking up a user at Synapse failed");
    throw new MatrixError("M_UNAVAILABLE", "The homeserver is not reachable; please try again");
  }
}

/**
 * Completes an intake for the seeker `userId` who registered with its token: opens the
 * enquiry and waits until its room exists. Idempotent: a retry answers with the same enquiry.
 */
export async function completeIntake(deps: FeatureDeps, intakeId: string, userId: string): Promise<CompletionAnswer> {
  const notFound = () => new MatrixError("M_NOT_FOUND", "No such intake for this user, or it has expired");
  const { enquiryId, retry } = await withTransaction(deps.pool, async (db) => {
    const { rows } = await db.query<IntakeRow & { id: string; expired: boolean }>(
      `SELECT id, pseudonym, topic_id, agency_id, language, age_group, completed_at, expires_at <= now() AS expired
         FROM intakes WHERE id = $1 FOR UPDATE`,
      [intakeId],
    );
    const intake = rows[0];
    // The pseudonym is the localpart the seeker registered with the intake's token.
    if (!intake || userId !== `@${intake.pseudonym}:${deps.config.serverName}`) throw notFound();
    if (intake.completed_at) {
      const done = await db.query<{ id: string }>("SELECT id FROM enquiries WHERE intake_id = $1", [intakeId]);
      if (!done.rows[0]) throw notFound();
      return { enquiryId: Number(done.rows[0].id), retry: true };
    }
    if (intake.expired) throw notFound();
    // The postcode only served to find the agency.
    await db.query("UPDATE intakes SET completed_at = now(), postcode = NULL WHERE id = $1", [intakeId]);
    const opened = await openEnquiry(db, {
      intakeId,
      seekerId: userId,
      agencyId: Number(intake.agency_id),
      topicId: intake.topic_id,
      language: intake.language,
      ageGroup: intake.age_group,
    });
    return { enquiryId: opened, retry: false };
  });
  // Counted once the enquiry is committed (a retry does not count again), room or not.
  if (!retry) deps.metrics.intakes.inc({ stage: "completed" });
  faultPoint("intake_committed", `enquiry=${enquiryId}`);
  try {
    await deps.steps.drain(enquiryId);
  } catch (err) {
    deps.log.warn({ enquiry: enquiryId, err: (err as Error).message }, "enquiry room not ready");
  }
  const { rows } = await deps.pool.query<{ room_id: string | null }>("SELECT room_id FROM enquiries WHERE id = $1", [
    enquiryId,
  ]);
  const roomId = rows[0]?.room_id;
  if (!roomId) throw new MatrixError("M_UNAVAILABLE", "The enquiry room is still being prepared; please retry");
  deps.log.info({ intake: intakeId, enquiry: enquiryId }, "intake completed");
  return { enquiry_id: enquiryId, room_id: roomId };
}
