/**
 * The intake's transaction against a slow or failing homeserver, on a real PostgreSQL: no
 * database connection waits for Synapse, and a token Synapse could not mint leaves nothing
 * behind. Synapse's own answers (a user it knows, a token it has already) are proven against
 * Synapse in tests/e2e/intake.test.ts; here a scripted admin API stands in for them.
 */
import { randomBytes } from "node:crypto";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeHomeserver } from "../../test/fake-homeserver.ts";
import { workflowHarness } from "../../test/harness.ts";
import type { Config } from "../config/config.ts";
import type { FeatureDeps } from "../deps.ts";
import { MatrixError } from "../http/errors.ts";
import { HomeserverError } from "../matrix/homeserver.ts";
import { createMetrics } from "../metrics.ts";
import pg from "pg";
import { challengeKey, issueChallenge, readChallenge } from "./challenge.ts";
import { createIntake, intakeIdOf, type IntakeInput } from "./intakes.ts";
import { solve } from "./pow.ts";
import { DEFAULT_INTAKE_SETTINGS } from "./settings.ts";

/** The admin API calls of the intake: a user lookup (nobody is known) and minting tokens. */
class AdminApi extends FakeHomeserver {
  readonly minted = new Set<string>();
  /** While true, each call waits until the test lets it go (`waiting`). */
  paused = false;
  readonly waiting: (() => void)[] = [];
  /** `true`: minting fails (Synapse down); `race`: it fails, but the token was stored by another call. */
  failMint: boolean | "race" = false;

  override async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    if (this.paused) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (path.startsWith("/_synapse/admin/v2/users/")) throw new HomeserverError(404, "M_NOT_FOUND", "User not found");
    if (method === "POST" && path === "/_synapse/admin/v1/registration_tokens/new") {
      const token = (body as { token: string }).token;
      if (this.failMint) {
        // Two mints of one token meeting in Synapse's database: one is stored, the other gets 500.
        if (this.failMint === "race") this.minted.add(token);
        throw new HomeserverError(500, "M_UNKNOWN", "Internal server error");
      }
      // Synapse's answer to a token it has (synapse/rest/admin/registration_tokens.py).
      if (this.minted.has(token)) throw new HomeserverError(400, "M_INVALID_PARAM", `Token already exists: ${token}`);
      this.minted.add(token);
      return {} as T;
    }
    if (method === "GET" && path.startsWith("/_synapse/admin/v1/registration_tokens/")) {
      const token = decodeURIComponent(path.slice("/_synapse/admin/v1/registration_tokens/".length));
      if (this.minted.has(token)) return { token } as T;
      throw new HomeserverError(404, "M_NOT_FOUND", "No such registration token");
    }
    throw new Error(`unexpected ${method} ${path}`);
  }
}

let h: Awaited<ReturnType<typeof workflowHarness>>;
let hs: AdminApi;
let deps: FeatureDeps;
let topic: string;
const key = challengeKey("test-hs-token");
const settings = { ...DEFAULT_INTAKE_SETTINGS, difficulty: 1 };

beforeAll(async () => {
  h = await workflowHarness();
  hs = new AdminApi();
  deps = {
    config: { serverName: "test" } as Config,
    // A pool of its own: only the intake's connections are counted.
    pool: new pg.Pool(h.pool.options),
    homeserver: hs,
    metrics: createMetrics(),
    log: pino({ level: "silent" }),
    steps: h.steps,
  };
  const agency = await h.agency();
  topic = agency.topic;
  // The fallback agency takes seekers without a postcode.
  await h.pool.query("UPDATE agencies SET is_fallback = true WHERE id = $1", [agency.agencyId]);
});
afterAll(async () => {
  await deps?.pool.end();
  await h?.drop();
});

let n = 0;
/** A seeker's input with a freshly solved challenge. */
function input(): IntakeInput {
  const challenge = issueChallenge(key, 1, 600);
  return {
    challengeId: challenge.text,
    nonce: solve(challenge.text, 1),
    pseudonym: `seeker-${randomBytes(4).toString("hex").replace(/\d/g, "")}-${"abcdefgh"[n++ % 8]}`,
    topic,
    postcode: null,
    ageGroup: "unknown",
    language: "de",
  };
}

/** Connections of the intake's pool in use right now. */
const inUse = (): number => deps.pool.totalCount - deps.pool.idleCount;
const used = async (seeker: IntakeInput): Promise<boolean> => {
  const challenge = readChallenge(key, seeker.challengeId);
  return (await h.pool.query("SELECT 1 FROM used_challenges WHERE id = $1", [challenge?.id])).rowCount === 1;
};
const intakes = async (seeker: IntakeInput): Promise<number> =>
  (await h.pool.query("SELECT 1 FROM intakes WHERE pseudonym = $1", [seeker.pseudonym])).rowCount ?? 0;

describe("an intake", () => {
  it("holds no database connection while Synapse answers, and answers once the token is minted", async () => {
    const seeker = input();
    hs.paused = true;
    const answer = createIntake(deps, settings, key, seeker);
    // First the lookup of the pseudonym at Synapse, before the transaction.
    await expect.poll(() => hs.waiting.length).toBe(1);
    expect(inUse()).toBe(0);
    expect(await intakes(seeker)).toBe(0);
    hs.waiting.shift()?.();
    // Then minting, after the commit: the pseudonym is held, no connection waits.
    await expect.poll(() => hs.waiting.length).toBe(1);
    expect(inUse()).toBe(0);
    expect(await intakes(seeker)).toBe(1);
    hs.paused = false;
    hs.waiting.shift()?.();
    const done = await answer;
    expect(done.username).toBe(seeker.pseudonym);
    expect(hs.minted.has(done.registration_token)).toBe(true);
  });

  it("leaves nothing behind when Synapse cannot mint the token: the same request then succeeds", async () => {
    const seeker = input();
    hs.failMint = true;
    const refused = await createIntake(deps, settings, key, seeker).catch((err: unknown) => err);
    hs.failMint = false;
    expect(refused).toBeInstanceOf(MatrixError);
    expect((refused as MatrixError).errcode).toBe("M_UNAVAILABLE");
    expect(await intakes(seeker)).toBe(0);
    expect(await used(seeker)).toBe(false);
    const done = await createIntake(deps, settings, key, seeker);
    expect(hs.minted.has(done.registration_token)).toBe(true);
    expect(await intakes(seeker)).toBe(1);
    expect(await used(seeker)).toBe(true);
  });

  it("counts a token Synapse stored meanwhile as minted (two mints of one token meeting at Synapse)", async () => {
    const seeker = input();
    hs.failMint = "race";
    const done = await createIntake(deps, settings, key, seeker);
    hs.failMint = false;
    expect(hs.minted.has(done.registration_token)).toBe(true);
    expect(await intakes(seeker)).toBe(1);
  });

  it("answers retries, also concurrent ones, with the same intake and one token at Synapse", async () => {
    const seeker = input();
    const [a, b] = await Promise.all([
      createIntake(deps, settings, key, seeker),
      createIntake(deps, settings, key, seeker),
    ]);
    expect(b).toEqual(a);
    expect(await createIntake(deps, settings, key, seeker)).toEqual(a);
    expect(a.intake_id).toBe(intakeIdOf(readChallenge(key, seeker.challengeId)?.id ?? ""));
    expect(hs.minted.has(a.registration_token)).toBe(true);
    expect(await intakes(seeker)).toBe(1);
  });

  it("mints again on a retry whose first answer got lost while Synapse was down", async () => {
    // The first request's mint failed after a concurrent retry found the intake: the retry's
    // own mint makes its answer true.
    const seeker = input();
    const first = await createIntake(deps, settings, key, seeker);
    hs.minted.delete(first.registration_token);
    expect(await createIntake(deps, settings, key, seeker)).toEqual(first);
    expect(hs.minted.has(first.registration_token)).toBe(true);
  });
});
