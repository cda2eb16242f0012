/**
 * The metrics an operator watches (docs/monitoring.md) show the right values after the action
 * they count: intakes, the queue per agency, the duration of claims and handovers, and the
 * outbox of steps, on a real PostgreSQL with the fake homeserver.
 */
import { randomBytes } from "node:crypto";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refusalOf, workflowHarness } from "../test/harness.ts";
import { scraped } from "../test/scrape.ts";
import type { Config } from "./config/config.ts";
import type { FeatureDeps } from "./deps.ts";
import { timedWorkflow } from "./enquiries/workflow.ts";
import { issueChallenge } from "./intake/challenge.ts";
import { completeIntake, createIntake } from "./intake/intakes.ts";
import { solve } from "./intake/pow.ts";
import { DEFAULT_INTAKE_SETTINGS } from "./intake/settings.ts";
import { HomeserverError, type Homeserver } from "./matrix/homeserver.ts";
import { createMetrics, type Metrics } from "./metrics.ts";

let h: Awaited<ReturnType<typeof workflowHarness>>;
let metrics: Metrics;
beforeAll(async () => {
  // Long enough for a claim on a loaded machine, short enough for the test of a slow homeserver.
  h = await workflowHarness({ stepsWaitMs: 3_000 });
  metrics = createMetrics({ pool: h.pool, log: pino({ level: "silent" }) });
});
afterAll(async () => {
  await h?.drop();
});

describe("the queue gauges", () => {
  it("give each agency's queue length and how long its oldest enquiry has waited", async () => {
    const first = await h.enquiry({ counsellors: 1 });
    // A second enquiry of the same agency, waiting for two hours.
    const second = await h.enquiry({ counsellors: 1 });
    await h.pool.query(
      "UPDATE enquiries SET agency_id = $1, waiting_since = now() - interval '2 hours' WHERE id = $2",
      [first.agencyId, second.enquiryId],
    );
    const agency = String(first.agencyId);
    expect(await scraped(metrics.registry, "connecta_appservice_queue_length", { agency })).toBe(2);
    const oldest = await scraped(metrics.registry, "connecta_appservice_queue_oldest_waiting_seconds", { agency });
    expect(oldest).toBeGreaterThanOrEqual(7200);
    expect(oldest).toBeLessThan(7260);
    // The other agency's queue is empty now, and says so.
    expect(
      await scraped(metrics.registry, "connecta_appservice_queue_length", { agency: String(second.agencyId) }),
    ).toBe(0);
    expect(
      await scraped(metrics.registry, "connecta_appservice_queue_oldest_waiting_seconds", {
        agency: String(second.agencyId),
      }),
    ).toBe(0);
  });

  it("drop a claimed enquiry from the queue", async () => {
    const e = await h.enquiry({ counsellors: 1 });
    const agency = String(e.agencyId);
    expect(await scraped(metrics.registry, "connecta_appservice_queue_length", { agency })).toBe(1);
    await h.workflow.claim(e.counsellors[0] ?? "", e.enquiryId);
    expect(await scraped(metrics.registry, "connecta_appservice_queue_length", { agency })).toBe(0);
  });
});

describe("the workflow's durations", () => {
  it("record each claim and handover by outcome, refusals apart", async () => {
    const workflow = timedWorkflow(h.workflow, metrics);
    const e = await h.enquiry({ counsellors: 2 });
    const [a, b] = e.counsellors as [string, string];
    await workflow.claim(a, e.enquiryId);
    expect(await refusalOf(workflow.claim(b, e.enquiryId))).toBe("already_taken");
    await workflow.handover(a, e.enquiryId, b);
    const count = (action: string, outcome: string) =>
      scraped(metrics.registry, "connecta_appservice_workflow_duration_seconds_count", { action, outcome });
    expect(await count("claim", "done")).toBe(1);
    expect(await count("claim", "refused")).toBe(1);
    expect(await count("handover", "done")).toBe(1);
    // Every observation fell in the last bucket at the latest (30 s).
    expect(
      await scraped(metrics.registry, "connecta_appservice_workflow_duration_seconds_bucket", {
        action: "claim",
        le: "30",
      }),
    ).toBe(1);
  });

  it("say `pending` when the room was not ready in time", async () => {
    const workflow = timedWorkflow(h.workflow, metrics);
    const e = await h.enquiry({ counsellors: 1 });
    h.hs.down = true;
    try {
      expect(await refusalOf(workflow.claim(e.counsellors[0] ?? "", e.enquiryId))).toBe("rooms_pending");
    } finally {
      h.hs.down = false;
    }
    expect(
      await scraped(metrics.registry, "connecta_appservice_workflow_duration_seconds_count", {
        action: "claim",
        outcome: "pending",
      }),
    ).toBe(1);
  });
});

describe("the step gauges", () => {
  it("count pending and failing steps and give the age of the oldest", async () => {
    // Steps the earlier tests left (the harness has no background worker) are of no interest here.
    await h.pool.query("DELETE FROM matrix_steps WHERE done_at IS NULL");
    expect(await scraped(metrics.registry, "connecta_appservice_steps_pending")).toBe(0);
    expect(await scraped(metrics.registry, "connecta_appservice_steps_oldest_pending_seconds")).toBe(0);
    await h.pool.query(
      `INSERT INTO matrix_steps (enquiry_id, kind, payload, attempts, last_error, run_after, created_at)
       VALUES (NULL, 'erase_user', '{"user_id": "@gone:test"}', 5, 'homeserver down', now() + interval '1 hour',
               now() - interval '20 minutes'),
              (NULL, 'erase_user', '{"user_id": "@new:test"}', 1, 'homeserver down', now() + interval '1 hour', now())`,
    );
    expect(await scraped(metrics.registry, "connecta_appservice_steps_pending")).toBe(2);
    // Only the one that failed more than 3 attempts counts as failing.
    expect(await scraped(metrics.registry, "connecta_appservice_steps_failing")).toBe(1);
    const oldest = await scraped(metrics.registry, "connecta_appservice_steps_oldest_pending_seconds");
    expect(oldest).toBeGreaterThanOrEqual(1200);
    expect(oldest).toBeLessThan(1260);
  });

  it("are left out, and the failure counted, when the database cannot be reached", async () => {
    const broken = createMetrics({
      pool: { query: () => Promise.reject(new Error("connection refused")) } as unknown as typeof h.pool,
    });
    const text = await broken.registry.metrics();
    // No reassuring 0 nor a stale number: NaN (prom-client writes "Nan", which Prometheus reads
    // as NaN), and no series by agency at all.
    expect(text).toMatch(/^connecta_appservice_steps_pending NaN$/im);
    expect(text).not.toMatch(/^connecta_appservice_queue_length\{/m);
    // The failure is counted once per group, and shows from the next scrape on.
    const next = await broken.registry.metrics();
    expect(next).toMatch(/^connecta_appservice_metrics_collect_failures_total\{group="steps"\} 1$/m);
    expect(next).toMatch(/^connecta_appservice_metrics_collect_failures_total\{group="queue"\} 1$/m);
  });
});

describe("the intake counter", () => {
  it("counts an intake started and completed once each, retries not again", async () => {
    const { agencyId, topic } = await h.agency();
    await h.pool.query("INSERT INTO agency_postcode_ranges VALUES ($1, '10000', '10999')", [agencyId]);
    // The two admin calls an intake makes: is the pseudonym free at Synapse, mint a token.
    const homeserver = {
      request: (method: string) =>
        method === "GET"
          ? Promise.reject(new HomeserverError(404, "M_NOT_FOUND", "User not found"))
          : Promise.resolve({}),
    };
    const deps: FeatureDeps = {
      // Only serverName and hsToken are read by the intake; the rest of the config stays unset.
      config: { serverName: "test", hsToken: "hs" } as unknown as Config,
      pool: h.pool,
      // createIntake uses the admin API only; completeIntake's steps run on the harness' worker.
      homeserver: homeserver as unknown as Homeserver,
      metrics,
      log: pino({ level: "silent" }),
      steps: h.steps,
    };
    const key = randomBytes(32);
    const settings = { ...DEFAULT_INTAKE_SETTINGS, difficulty: 1 };
    const challenge = issueChallenge(key, 1, 600);
    // Letters only: a pseudonym with many digits looks like a phone number and is refused.
    const pseudonym = `m${randomBytes(4)
      .toString("hex")
      .replace(/[0-9]/g, (d) => "ghijklmnop"[Number(d)] ?? "x")}`;
    const input = {
      challengeId: challenge.text,
      nonce: solve(challenge.text, 1),
      pseudonym,
      topic,
      postcode: "10115",
      ageGroup: "unknown" as const,
      language: "de" as const,
    };
    const intake = await createIntake(deps, settings, key, input);
    await createIntake(deps, settings, key, input); // a retry answers the same
    expect(await scraped(metrics.registry, "connecta_appservice_intakes_total", { stage: "started" })).toBe(1);
    const userId = `@${pseudonym}:test`;
    await completeIntake(deps, intake.intake_id, userId);
    await completeIntake(deps, intake.intake_id, userId);
    expect(await scraped(metrics.registry, "connecta_appservice_intakes_total", { stage: "completed" })).toBe(1);
  });
});
