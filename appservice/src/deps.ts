/**
 * What every feature may use, assembled once in main.ts. Kept out of app.ts (which imports the
 * features' routes) so that no feature imports the file that imports it.
 */
import type pg from "pg";
import type { Logger } from "pino";
import type { Config } from "./config/config.ts";
import type { Homeserver } from "./matrix/homeserver.ts";
import type { Metrics } from "./metrics.ts";
import type { StepWorker } from "./steps/steps.ts";

/** What every feature may use. */
export interface FeatureDeps {
  config: Config;
  pool: pg.Pool;
  homeserver: Homeserver;
  metrics: Metrics;
  log: Logger;
  steps: StepWorker;
}
