/**
 * Entry point of the Connecta application service process.
 */
import { once } from "node:events";
import pino from "pino";
import { createApp } from "./app.ts";
import { RefusalLog } from "./audit/refusals.ts";
import { AuditWebhook } from "./audit/webhook.ts";
import { ConfigError, loadConfig, type Config } from "./config/config.ts";
import { migrate } from "./db/migrate.ts";
import { createPool } from "./db/pool.ts";
import { APPSERVICE_ID, createHomeserver } from "./matrix/homeserver.ts";
import { stepRunners } from "./step-runners.ts";
import { handleEnquiryEvent } from "./enquiries/events.ts";
import { handleControlEvent } from "./control/events.ts";
import { ControlWorker } from "./control/worker.ts";
import { createWorkflow, timedWorkflow } from "./enquiries/workflow.ts";
import { faultsArmed } from "./faults.ts";
import { createMetrics } from "./metrics.ts";
import { countSweep, sweep } from "./retention/sweeper.ts";
import { StepWorker } from "./steps/steps.ts";

let config: Config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`connecta-appservice: configuration error: ${err.message}\n`);
  process.exit(78); // EX_CONFIG
}

const log = pino({
  level: config.logLevel,
  base: { service: "connecta-appservice" },
  redact: ["req.headers.authorization"],
});

const pool = createPool(config.databaseUrl, config.databasePassword);
pool.on("error", (err) => log.warn({ err: err.message }, "idle database connection failed"));

try {
  const applied = await migrate(pool);
  if (applied.length) log.info({ applied }, "database migrated");
} catch (err) {
  log.fatal({ err: (err as Error).message }, "database migration failed");
  await pool.end();
  process.exit(1);
}

const homeserver = createHomeserver(
  config.homeserverUrl,
  config.asToken,
  `@${config.botLocalpart}:${config.serverName}`,
);
const steps = new StepWorker(pool, stepRunners(homeserver, config.serverName, config.livekit), log);
const metrics = createMetrics({ pool, log });
const deps = { config, pool, homeserver, metrics, log, steps };
// The one workflow of this process: the API and the control rooms both run it.
const workflow = timedWorkflow(
  createWorkflow({ pool, steps, log, reopenWindowDays: config.reopenWindowDays }),
  metrics,
);
// Refused tokens and callers, collapsed per minute into the security event log.
const refusals = new RefusalLog(pool, log);
refusals.start();
// High and critical security events, told to the operator's webhook if there is one.
const webhook = config.auditWebhookUrl ? new AuditWebhook(pool, config.auditWebhookUrl, deps) : null;
const app = createApp({
  ...deps,
  workflow,
  refusals,
  handle: async (event, db) => {
    await handleEnquiryEvent(event, db, { botUserId: homeserver.botUserId });
    await handleControlEvent(event, db);
  },
});
// Answers the commands counsellors write in their control rooms.
const control = new ControlWorker(deps, workflow);

const server = app.listen(config.port, config.bindAddress);
await once(server, "listening");
log.info({ address: config.bindAddress, port: config.port }, "listening");
// Finishes steps left by a crash, then keeps doing new ones.
// A process with armed faults (crash tests) only serves requests, so that it dies exactly where
// the test aims and not in another test's background work.
if (!faultsArmed()) {
  steps.start();
  control.start();
  webhook?.start();
}
/**
 * Asks Synapse to send the transactions it holds for us now (Matrix 1.7 appservice ping), at
 * start and then twice a minute. Synapse retries a transaction we did not accept (this process
 * was down, or answered 500 while PostgreSQL was) with a backoff that doubles up to 8.5 minutes,
 * during which no event reaches us (synapse/appservice/scheduler.py); a ping ends the wait.
 */
const ping = () =>
  homeserver
    .request("POST", `/_matrix/client/v1/appservice/${APPSERVICE_ID}/ping`, {})
    .catch((err: Error) => log.debug({ err: err.message }, "ping"));
void ping();
const pingTimer = setInterval(() => void ping(), 30_000);
/** Archives enquiries whose reopening window has passed, once a minute (any replica may). */
const archive = () =>
  workflow.archiveExpired().then(
    (count) => count && log.info({ count }, "enquiries archived"),
    (err: Error) => log.warn({ err: err.message }, "archiving failed"),
  );
void archive();
const archiveTimer = setInterval(() => void archive(), 60_000);
/** Schedules the purge of what is past its retention period (any replica; one at a time). */
const retention = () =>
  sweep(pool, { serverName: config.serverName }).then(
    (r) => {
      countSweep(metrics, r);
      if (r.enquiries.length || r.intakes.length) {
        log.info({ enquiries: r.enquiries.length, intakes: r.intakes.length }, "retention sweep");
      }
    },
    (err: Error) => {
      countSweep(metrics, null);
      log.warn({ err: err.message }, "retention sweep failed");
    },
  );
const retentionTimer = config.retentionSweepMinutes
  ? setInterval(() => void retention(), config.retentionSweepMinutes * 60_000)
  : undefined;

async function shutdown(signal: string) {
  log.info({ signal }, "shutting down");
  steps.stop();
  control.stop();
  clearInterval(archiveTimer);
  clearInterval(pingTimer);
  clearInterval(retentionTimer);
  webhook?.stop();
  server.close();
  server.closeIdleConnections();
  await refusals.stop();
  await pool.end();
  process.exit(0);
}
process.once("SIGTERM", () => void shutdown("SIGTERM"));
process.once("SIGINT", () => void shutdown("SIGINT"));
