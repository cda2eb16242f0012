/**
 * The express application of the application service, assembled from its features.
 */
import express from "express";
import type pg from "pg";
import type { Logger } from "pino";
import type { Config } from "./config/config.ts";
import { healthRoutes } from "./health/health.ts";
import { errorHandler, notFound } from "./http/errors.ts";
import type { Homeserver } from "./matrix/homeserver.ts";
import type { Metrics } from "./metrics.ts";
import { transactionRoutes, type EventHandler } from "./transactions/transactions.ts";

/** Everything the app needs from outside. */
export interface AppDeps {
  config: Config;
  pool: pg.Pool;
  homeserver: Homeserver;
  metrics: Metrics;
  log: Logger;
  handle: EventHandler;
}

/** Transactions carry at most 100 PDUs and 100 EDUs; Synapse's own event size limit is 64 KiB. */
const MAX_BODY = "20mb";

/** Builds the express app. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.use(express.json({ limit: MAX_BODY, strict: false }));
  app.use(healthRoutes(deps));
  app.get("/metrics", async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.use(transactionRoutes({ ...deps, hsToken: deps.config.hsToken }));
  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}
