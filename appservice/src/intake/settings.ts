/**
 * Every number of the anonymous intake in one place: proof-of-work difficulty, how long each
 * step stays valid, and the rate limits. See docs/intake.md for the reasoning.
 */
import type { Config } from "../config/config.ts";

/**
 * Rate limits of the intake: fixed windows, counted in `rate_limit_counters` (all replicas).
 * Challenges cost us nothing (they are signed, not stored), so they have no global limit.
 */
export interface IntakeRateLimits {
  /** Length of one counting window. */
  windowSeconds: number;
  /** Challenges one client address may fetch per window. */
  challengePerAddress: number;
  /** Intakes one client address may submit per window (also failed ones). */
  intakePerAddress: number;
  /** Intakes with a solved, unused challenge all clients together may submit per window. */
  intakeGlobal: number;
}

/** Settings of the intake routes. */
export interface IntakeSettings {
  /** Leading zero bits the proof of work needs (1..32). */
  difficulty: number;
  /** How long a challenge may be solved and presented. */
  challengeTtlSeconds: number;
  /** How long the registration token is valid at Synapse (the `expires_at` of the intake answer). */
  registrationTtlSeconds: number;
  /**
   * Extra time after the token expired in which the freshly registered seeker may still complete
   * the intake (a registration at the last second must not leave an account without enquiry).
   * After it, an uncompleted intake is deleted and its pseudonym is free again.
   */
  completionGraceSeconds: number;
  rateLimits: IntakeRateLimits;
}

/** The defaults. */
export const DEFAULT_INTAKE_SETTINGS: IntakeSettings = {
  // ~262 000 SHA-256 hashes on average: well under a second in Node.js, a few seconds with
  // WebCrypto on a slow phone; costly enough that mass intakes need real computing power.
  difficulty: 18,
  challengeTtlSeconds: 10 * 60,
  registrationTtlSeconds: 15 * 60,
  completionGraceSeconds: 5 * 60,
  rateLimits: {
    windowSeconds: 10 * 60,
    // Per address generous: seekers on mobile networks share addresses (carrier-grade NAT), a
    // person needs one to three tries, and the test suite runs many intakes from 127.0.0.1.
    // The proof of work, not this limit, is what makes mass intakes expensive.
    challengePerAddress: 100,
    intakePerAddress: 100,
    // Global: 1 intake per second on average across all replicas, far above any real
    // counselling load; caps a distributed flood of solved challenges (Synapse's own per-address
    // registration limit, rc_registration, comes on top). Only solved challenges count, each
    // once, so nobody can spend it without doing the work.
    intakeGlobal: 600,
  },
};

/** The intake settings of a process: the defaults, with difficulty and per-address limits from the configuration. */
export function intakeSettings(config: Config): IntakeSettings {
  const perAddress = config.intakeRateLimitPerAddress;
  return {
    ...DEFAULT_INTAKE_SETTINGS,
    difficulty: config.intakeDifficulty,
    rateLimits: {
      ...DEFAULT_INTAKE_SETTINGS.rateLimits,
      challengePerAddress: perAddress,
      intakePerAddress: perAddress,
    },
  };
}
