/**
 * Runs the pending steps of one enquiry (argument) in a process of its own, with an application
 * service's environment, until none is left: the crash tests arm a fault point
 * (CONNECTA_FAULT_KILL_AT, appservice/src/faults.ts) and watch this process die in a step.
 */
import pino from "pino";
import { loadConfig } from "../../appservice/src/config/config.ts";
import { createPool } from "../../appservice/src/db/pool.ts";
import { createHomeserver } from "../../appservice/src/matrix/homeserver.ts";
import { stepRunners } from "../../appservice/src/step-runners.ts";
import { StepWorker } from "../../appservice/src/steps/steps.ts";

const enquiryId = Number(process.argv[2]);
const config = loadConfig(process.env);
const pool = createPool(config.databaseUrl, config.databasePassword);
const homeserver = createHomeserver(
  config.homeserverUrl,
  config.asToken,
  `@${config.botLocalpart}:${config.serverName}`,
);
const worker = new StepWorker(
  pool,
  stepRunners(homeserver, config.serverName, config.livekit),
  pino({ level: "silent" }),
);
while (await worker.runOne(enquiryId)) {
  // next step
}
await pool.end();
