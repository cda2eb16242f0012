/**
 * The whole local stack: PostgreSQL, Synapse, the application service and the web client, each a
 * child process on loopback, started in dependency order and stopped in reverse order.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, type StackConfig } from "./config.ts";
import { ensureSecrets, type Secrets } from "./secrets.ts";
import { startPostgres } from "./postgres.ts";
import { BOT_LOCALPART, serviceUrl, startSynapse } from "./synapse.ts";
import { answers200, freePort, startService, stopService, waitUntil, type Service } from "./processes.ts";

/** What a started stack tells its users (the CLI prints it, tests read it from stack.json). */
export interface StackInfo {
  dataDir: string;
  serverName: string;
  synapseUrl: string;
  synapseMetricsUrl: string;
  appserviceUrl: string;
  clientUrl: string;
  pgPort: number;
  bindAddress: string;
  botUserId: string;
}

/** A running stack. */
export interface Stack {
  info: StackInfo;
  config: StackConfig;
  secrets: Secrets;
  services: Service[];
  /** Resolves with the first service that ends on its own. */
  firstExit: Promise<Service>;
  /** Stops every service, last started first. */
  stop(): Promise<void>;
}

/** Environment of an application service process of this stack (also used by tests). */
export function appserviceEnv(config: StackConfig, secrets: Secrets, port = config.appservicePort): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    CONNECTA_AS_BIND_ADDRESS: config.bindAddress,
    CONNECTA_AS_PORT: String(port),
    CONNECTA_AS_DATABASE_URL: `postgres://connecta@${config.bindAddress}:${config.pgPort}/connecta`,
    PGPASSFILE: join(secrets.dir, "pgpass"),
    CONNECTA_HOMESERVER_URL: serviceUrl(config, config.synapsePort),
    CONNECTA_SERVER_NAME: config.serverName,
    CONNECTA_BOT_LOCALPART: BOT_LOCALPART,
    CONNECTA_AS_TOKEN_FILE: join(secrets.dir, "appservice.as_token"),
    CONNECTA_HS_TOKEN_FILE: join(secrets.dir, "appservice.hs_token"),
    CONNECTA_LOG_LEVEL: process.env.CONNECTA_LOG_LEVEL ?? "info",
  };
}

/** Starts the application service and waits until it is ready. */
export async function startAppservice(config: StackConfig, secrets: Secrets, port = config.appservicePort, name = "appservice") {
  const service = startService(
    name,
    process.execPath,
    [join(ROOT, "appservice", "src", "main.ts")],
    join(config.dataDir, "logs", `${name}.log`),
    { env: appserviceEnv(config, secrets, port), cwd: join(ROOT, "appservice") },
  );
  await waitUntil(service, "it is ready", () => answers200(`${serviceUrl(config, port)}/readyz`));
  return service;
}

async function startClient(config: StackConfig): Promise<Service> {
  const url = serviceUrl(config, config.clientPort);
  const service = startService(
    "client",
    process.execPath,
    [join(ROOT, "client", "server.js")],
    join(config.dataDir, "logs", "client.log"),
    {
      cwd: join(ROOT, "client"),
      env: {
        PATH: process.env.PATH,
        HOST: config.bindAddress,
        PORT: String(config.clientPort),
        ORIGIN: url,
        CONNECTA_HOMESERVER_URL: serviceUrl(config, config.synapsePort),
      },
    },
  );
  await waitUntil(service, "it serves the start page", () => answers200(`${url}/healthz`));
  return service;
}

/** Replaces every port of 0 by a free one. */
async function assignPorts(config: StackConfig): Promise<StackConfig> {
  const out = { ...config };
  for (const key of ["pgPort", "synapsePort", "synapseMetricsPort", "appservicePort", "clientPort"] as const) {
    if (out[key] === 0) out[key] = await freePort(config.bindAddress);
  }
  return out;
}

/**
 * Starts the stack. On failure everything already started is stopped again before the error
 * is thrown.
 */
export async function startStack(requested: StackConfig, onProgress: (step: string) => void = () => {}): Promise<Stack> {
  const config = await assignPorts(requested);
  for (const dir of ["logs", "run"]) mkdirSync(join(config.dataDir, dir), { recursive: true });
  const secrets = ensureSecrets(config.dataDir);
  const services: Service[] = [];
  const stop = async () => {
    for (const service of [...services].reverse()) {
      // PostgreSQL: SIGINT is its "fast shutdown"; the others treat SIGTERM as a clean stop.
      await stopService(service, service.name === "postgres" ? "SIGINT" : "SIGTERM");
    }
  };
  try {
    onProgress(`PostgreSQL on port ${config.pgPort}`);
    services.push(await startPostgres(config, secrets));
    onProgress(`Synapse on port ${config.synapsePort}`);
    services.push(await startSynapse(config, secrets));
    onProgress(`application service on port ${config.appservicePort}`);
    services.push(await startAppservice(config, secrets));
    onProgress(`web client on port ${config.clientPort}`);
    services.push(await startClient(config));
  } catch (err) {
    await stop();
    throw err;
  }
  const info: StackInfo = {
    dataDir: config.dataDir,
    serverName: config.serverName,
    synapseUrl: serviceUrl(config, config.synapsePort),
    synapseMetricsUrl: `${serviceUrl(config, config.synapseMetricsPort)}/_synapse/metrics`,
    appserviceUrl: serviceUrl(config, config.appservicePort),
    clientUrl: serviceUrl(config, config.clientPort),
    pgPort: config.pgPort,
    bindAddress: config.bindAddress,
    botUserId: `@${BOT_LOCALPART}:${config.serverName}`,
  };
  writeFileSync(join(config.dataDir, "stack.json"), JSON.stringify(info, null, 2));
  const firstExit = Promise.race(services.map((s) => s.exited.then(() => s)));
  return { info, config, secrets, services, firstExit, stop };
}
