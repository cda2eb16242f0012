/**
 * Prometheus metrics of this process, served at GET /metrics. One registry per process so
 * tests can create several apps. What each metric means and which alerts watch it:
 * docs/monitoring.md; the alert rules: ops/monitoring/alerts.yml.
 *
 * Counters and histograms are updated where their event happens. Gauges that need the database
 * (queue, steps) are computed when Prometheus scrapes, each group with one small query on an
 * index; a scrape that cannot reach the database leaves them out (no stale numbers) and counts
 * the failure.
 */
import type pg from "pg";
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** The metrics of one application service process. */
export interface Metrics {
  registry: Registry;
  /** Transactions received from Synapse, by outcome (processed, duplicate). */
  transactions: Counter<"outcome">;
  /** Events handed to our handlers, by kind (timeline, ephemeral). */
  eventsProcessed: Counter<"kind">;
  /** Events we could not handle and skipped (recorded in `skipped_events`), by kind. */
  eventsSkipped: Counter<"kind">;
  /** Deliveries to the audit webhook, by outcome (delivered, retried, failed: given up). */
  auditWebhook: Counter<"outcome">;
  /** Intakes by stage: `started` (a registration token was minted), `completed` (enquiry opened). */
  intakes: Counter<"stage">;
  /**
   * Duration of workflow calls (claim, handover, close, reopen) including the wait for their
   * room, by action and outcome (done, pending: the room was not ready in time, refused, failed).
   */
  workflowDuration: Histogram<"action" | "outcome">;
  /** Seconds between an event's `origin_server_ts` and the moment we processed it. */
  transactionLag: Histogram;
  /** Error answers of the HTTP API (and of the transaction endpoint), by errcode and status. */
  apiErrors: Counter<"errcode" | "status">;
  /** Purges scheduled by the retention sweep, by reason (archived, unfinished, inactive, intake). */
  retentionPurges: Counter<"reason">;
  /** Retention sweeps, by outcome (ran, skipped: another replica was sweeping, failed). */
  retentionSweeps: Counter<"outcome">;
  /** Scrapes whose database gauges could not be computed, by group (queue, steps). */
  collectFailures: Counter<"group">;
}

/** Where the database gauges come from; without a pool (unit tests) they are not registered. */
export interface MetricsOptions {
  pool?: pg.Pool;
  log?: Logger;
}

/** Latency buckets (seconds) of workflow calls: a claim waits up to 10 s for its room. */
const WORKFLOW_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30];
/** Lag buckets (seconds): normally well under a second; minutes mean Synapse is backing off. */
const LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** Creates the registry with default Node.js process metrics. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "connecta_appservice_" });
  const registers = [registry];
  const metrics: Metrics = {
    registry,
    transactions: new Counter({
      name: "connecta_appservice_transactions_total",
      help: "Transactions received from the homeserver, by outcome",
      labelNames: ["outcome"],
      registers,
    }),
    eventsProcessed: new Counter({
      name: "connecta_appservice_events_processed_total",
      help: "Events processed (each at most once), by kind",
      labelNames: ["kind"],
      registers,
    }),
    eventsSkipped: new Counter({
      name: "connecta_appservice_events_skipped_total",
      help: "Events that could not be handled and were skipped (see the table skipped_events), by kind",
      labelNames: ["kind"],
      registers,
    }),
    auditWebhook: new Counter({
      name: "connecta_appservice_audit_webhook_total",
      help: "Deliveries of high and critical security events to the webhook, by outcome (delivered, retried, failed)",
      labelNames: ["outcome"],
      registers,
    }),
    intakes: new Counter({
      name: "connecta_appservice_intakes_total",
      help: "Intakes by stage: started (registration token minted), completed (enquiry opened)",
      labelNames: ["stage"],
      registers,
    }),
    workflowDuration: new Histogram({
      name: "connecta_appservice_workflow_duration_seconds",
      help: "Duration of workflow calls (claim, handover, close, reopen) including the wait for their room, by action and outcome",
      labelNames: ["action", "outcome"],
      buckets: WORKFLOW_BUCKETS,
      registers,
    }),
    transactionLag: new Histogram({
      name: "connecta_appservice_transaction_lag_seconds",
      help: "Seconds between a timeline event's origin_server_ts and its processing here",
      buckets: LAG_BUCKETS,
      registers,
    }),
    apiErrors: new Counter({
      name: "connecta_appservice_api_errors_total",
      help: "Error answers of the API and the transaction endpoint, by errcode and HTTP status",
      labelNames: ["errcode", "status"],
      registers,
    }),
    retentionPurges: new Counter({
      name: "connecta_appservice_retention_purges_total",
      help: "Purges scheduled by the retention sweep, by reason (archived, unfinished, inactive, intake)",
      labelNames: ["reason"],
      registers,
    }),
    retentionSweeps: new Counter({
      name: "connecta_appservice_retention_sweeps_total",
      help: "Retention sweeps, by outcome (ran, skipped: another replica was sweeping, failed)",
      labelNames: ["outcome"],
      registers,
    }),
    collectFailures: new Counter({
      name: "connecta_appservice_metrics_collect_failures_total",
      help: "Scrapes whose database gauges (queue, steps) could not be computed, by group",
      labelNames: ["group"],
      registers,
    }),
  };
  if (options.pool) databaseGauges(metrics, options.pool, options.log);
  return metrics;
}

/**
 * Runs `query` once for the gauges of a group: a scrape collects them concurrently, and they
 * share the promise of the first one while it runs.
 */
function shared<T>(query: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  return () =>
    (running ??= query().finally(() => {
      running = null;
    }));
}

/** One agency's queue. */
interface QueueRow {
  agency_id: string;
  waiting: number;
  oldest_seconds: number;
}

/** The pending steps of the outbox. */
interface StepsRow {
  pending: number;
  failing: number;
  oldest_seconds: number;
}

/** Registers the gauges computed from the database when scraped. */
function databaseGauges(metrics: Metrics, pool: pg.Pool, log: Logger | undefined): void {
  const registers = [metrics.registry];
  /**
   * Sets `gauge` from the group's query. When that fails, a gauge by agency is left without
   * series and one without labels says NaN (never a stale or a reassuring 0), and the failure
   * is counted (and logged) by the group's `primary` gauge, once per scrape.
   */
  const fill = async <T>(
    group: { name: string; primary: boolean; labelled: boolean },
    gauge: Gauge<string>,
    read: () => Promise<T>,
    set: (row: T) => void,
  ) => {
    gauge.reset();
    let result: T;
    try {
      result = await read();
    } catch (err) {
      if (group.primary) {
        metrics.collectFailures.inc({ group: group.name });
        log?.warn({ err: (err as Error).message, group: group.name }, "metrics: database gauges not computed");
      }
      if (!group.labelled) gauge.set(NaN);
      return;
    }
    set(result);
  };

  // Every agency, those with an empty queue too (0), on the queue's index.
  const queue = shared(async () => {
    const { rows } = await pool.query<QueueRow>(
      `SELECT a.id AS agency_id, count(e.id)::int AS waiting,
              coalesce(extract(epoch FROM now() - min(e.waiting_since)), 0)::float8 AS oldest_seconds
         FROM agencies a LEFT JOIN enquiries e ON e.agency_id = a.id AND e.state = 'waiting'
        GROUP BY a.id`,
    );
    return rows;
  });
  new Gauge({
    name: "connecta_appservice_queue_length",
    help: "Enquiries waiting in the queue of each agency",
    labelNames: ["agency"],
    registers,
    async collect() {
      await fill({ name: "queue", primary: true, labelled: true }, this, queue, (rows) => {
        for (const r of rows) this.set({ agency: r.agency_id }, r.waiting);
      });
    },
  });
  new Gauge({
    name: "connecta_appservice_queue_oldest_waiting_seconds",
    help: "How long the longest-waiting enquiry of each agency has waited (0 when none waits)",
    labelNames: ["agency"],
    registers,
    async collect() {
      await fill({ name: "queue", primary: false, labelled: true }, this, queue, (rows) => {
        for (const r of rows) this.set({ agency: r.agency_id }, r.oldest_seconds);
      });
    },
  });

  // Pending steps only, on the partial index matrix_steps_pending.
  const steps = shared(async () => {
    const { rows } = await pool.query<StepsRow>(
      `SELECT count(*)::int AS pending,
              (count(*) FILTER (WHERE last_error IS NOT NULL AND attempts > 3))::int AS failing,
              coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_seconds
         FROM matrix_steps WHERE done_at IS NULL`,
    );
    const row = rows[0];
    if (!row) throw new Error("no row");
    return row;
  });
  new Gauge({
    name: "connecta_appservice_steps_pending",
    help: "Matrix steps (outbox) not done yet",
    registers,
    async collect() {
      await fill({ name: "steps", primary: true, labelled: false }, this, steps, (r) => this.set(r.pending));
    },
  });
  new Gauge({
    name: "connecta_appservice_steps_failing",
    help: "Pending Matrix steps that failed more than 3 attempts (last_error set)",
    registers,
    async collect() {
      await fill({ name: "steps", primary: false, labelled: false }, this, steps, (r) => this.set(r.failing));
    },
  });
  new Gauge({
    name: "connecta_appservice_steps_oldest_pending_seconds",
    help: "Age of the oldest pending Matrix step (0 when none is pending)",
    registers,
    async collect() {
      await fill({ name: "steps", primary: false, labelled: false }, this, steps, (r) => this.set(r.oldest_seconds));
    },
  });
}
