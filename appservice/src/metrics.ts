/**
 * Prometheus metrics of this process, served at GET /metrics. One registry per process so
 * tests can create several apps.
 */
import { Counter, Registry, collectDefaultMetrics } from "prom-client";

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
}

/** Creates the registry with default Node.js process metrics. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "connecta_appservice_" });
  return {
    registry,
    transactions: new Counter({
      name: "connecta_appservice_transactions_total",
      help: "Transactions received from the homeserver, by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    eventsProcessed: new Counter({
      name: "connecta_appservice_events_processed_total",
      help: "Events processed (each at most once), by kind",
      labelNames: ["kind"],
      registers: [registry],
    }),
    eventsSkipped: new Counter({
      name: "connecta_appservice_events_skipped_total",
      help: "Events that could not be handled and were skipped (see the table skipped_events), by kind",
      labelNames: ["kind"],
      registers: [registry],
    }),
    auditWebhook: new Counter({
      name: "connecta_appservice_audit_webhook_total",
      help: "Deliveries of high and critical security events to the webhook, by outcome (delivered, retried, failed)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
  };
}
