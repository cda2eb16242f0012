/**
 * The whole local stack: PostgreSQL, Synapse, LiveKit, the application service and the web client, each a
 * child process on loopback, started in dependency order and stopped in reverse order. The order
 * and how each one starts and stops is the table {@link COMPONENTS}.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, type StackConfig } from "./config.ts";
import { ensureSecrets, privateDir, secretFiles, type SecretName, type Secrets } from "./secrets.ts";
import { livekitUrl, startLivekit } from "./livekit.ts";
import { clusterDir, startPostgres } from "./postgres.ts";
import { BOT_LOCALPART, serviceUrl, startSynapse } from "./synapse.ts";
import { answers200, freePorts, startService, stopService, waitUntil, type Service } from "./processes.ts";

/** What a started stack tells its users (the CLI prints it, tests read it from stack.json). */
export interface StackInfo {
  dataDir: string;
  /** PostgreSQL's files: inside dataDir unless the `postgres` user cannot reach it. */
  postgresDir: string;
  serverName: string;
  synapseUrl: string;
  synapseMetricsUrl: string;
  appserviceUrl: string;
  clientUrl: string;
  /** LiveKit's HTTP and WebSocket API (ws:// for clients). */
  livekitUrl: string;
  pgPort: number;
  bindAddress: string;
  botUserId: string;
  /** Paths of the stack's secret files (ops/stack/secrets.ts), for tests and benchmarks. */
  secretFiles: Record<SecretName, string>;
  /** CONNECTA_LOG_LEVEL of the stack's application service, for more of them started by tests. */
  logLevel: string;
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

/** Environment of an application service process of a stack (also used by tests). */
export function appserviceEnv(info: StackInfo, port: number): NodeJS.ProcessEnv {
  const secrets = info.secretFiles;
  return {
    PATH: process.env.PATH,
    CONNECTA_AS_BIND_ADDRESS: info.bindAddress,
    CONNECTA_AS_PORT: String(port),
    CONNECTA_AS_DATABASE_URL: `postgres://connecta@${info.bindAddress}:${info.pgPort}/connecta`,
    CONNECTA_AS_DATABASE_PASSWORD_FILE: secrets.pgAppservicePassword,
    CONNECTA_HOMESERVER_URL: info.synapseUrl,
    CONNECTA_SERVER_NAME: info.serverName,
    CONNECTA_BOT_LOCALPART: BOT_LOCALPART,
    CONNECTA_AS_TOKEN_FILE: secrets.asToken,
    CONNECTA_HS_TOKEN_FILE: secrets.hsToken,
    CONNECTA_OPERATOR_TOKEN_FILE: secrets.operatorToken,
    // The web client forwards the browser's API calls with X-Forwarded-For from this address.
    CONNECTA_TRUSTED_PROXIES: info.bindAddress,
    // Every client of a development or test stack (the test harness, browsers through the web
    // client) comes from this one address, as Synapse's login limit per address is raised for
    // the tests (tests/support/global-setup.ts): the per-address budgets of the authenticated
    // API are raised; those per account stay as shipped. tests/attack/flood.test.ts counts the
    // per-address ones on a replica with small budgets (A-FLOOD-03 to 06).
    CONNECTA_TOKEN_CHECKS_PER_ADDRESS: "1000000",
    CONNECTA_ENQUIRY_ACTIONS_PER_ADDRESS: "1000000",
    CONNECTA_LOG_LEVEL: info.logLevel,
    CONNECTA_LIVEKIT_URL: info.livekitUrl.replace(/^http/, "ws"),
    CONNECTA_LIVEKIT_API_URL: info.livekitUrl,
    CONNECTA_LIVEKIT_KEY_FILE: secrets.livekitKeys,
  };
}

/** Starts an application service process of a stack and waits until it is ready. */
export async function startAppservice(
  info: StackInfo,
  port: number,
  name = "appservice",
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<Service> {
  const service = startService(
    name,
    process.execPath,
    [join(ROOT, "appservice", "src", "main.ts")],
    join(info.dataDir, "logs", `${name}.log`),
    { env: { ...appserviceEnv(info, port), ...extraEnv }, cwd: join(ROOT, "appservice") },
  );
  const url = `http://${info.bindAddress}:${port}`;
  await waitUntil(service, "it is ready", () => answers200(`${url}/readyz`));
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
        CONNECTA_HOMESERVER_URL: serviceUrl(config, config.synapsePort),
        CONNECTA_APPSERVICE_URL: serviceUrl(config, config.appservicePort),
        // The pages' CSP lets the call screen connect to LiveKit's WebSocket (and nothing else of it).
        CONNECTA_LIVEKIT_URL: livekitUrl(config).replace(/^http/, "ws"),
        ...(config.idleLockMinutes ? { CONNECTA_IDLE_LOCK_MINUTES: config.idleLockMinutes } : {}),
        ...(config.siteFile ? { CONNECTA_SITE_FILE: config.siteFile } : {}),
      },
    },
  );
  await waitUntil(service, "it serves the start page", () => answers200(`${url}/healthz`));
  return service;
}

/** A component of the stack: one row of {@link COMPONENTS}. */
interface Component {
  /** What the progress line calls it, followed by " on port <port>". */
  label: string;
  port: (config: StackConfig) => number;
  /**
   * Starts the component's process and resolves once it is ready: its readiness check (a
   * `waitUntil` in its file) and any first-start setup that needs it running come before.
   */
  start: (config: StackConfig, secrets: Secrets) => Promise<Service>;
  /** How it stops cleanly. */
  stopSignal: NodeJS.Signals;
}

/**
 * The stack's components, in start order (each needs the ones above it); they stop in reverse
 * order. A new component is a file with its start function and one row here.
 */
const COMPONENTS: readonly Component[] = [
  // PostgreSQL: SIGINT is its "fast shutdown"; the others treat SIGTERM as a clean stop.
  { label: "PostgreSQL", port: (c) => c.pgPort, start: startPostgres, stopSignal: "SIGINT" },
  { label: "Synapse", port: (c) => c.synapsePort, start: startSynapse, stopSignal: "SIGTERM" },
  { label: "LiveKit", port: (c) => c.livekitPort, start: startLivekit, stopSignal: "SIGTERM" },
  {
    label: "application service",
    port: (c) => c.appservicePort,
    start: (c) => startAppservice(stackInfo(c), c.appservicePort),
    stopSignal: "SIGTERM",
  },
  { label: "web client", port: (c) => c.clientPort, start: startClient, stopSignal: "SIGTERM" },
];

/** The services of a stack by the names their processes have (processes.ts `Service.name`). */
export type ServiceName = "postgres" | "synapse" | "livekit" | "appservice" | "client";

function serviceIndex(stack: Stack, name: ServiceName): number {
  const i = stack.services.findIndex((s) => s.name === name);
  if (i < 0) throw new Error(`the stack has no service ${name}`);
  return i;
}

/**
 * Kills a service of a running stack with SIGKILL, its whole process group (PostgreSQL's
 * backends too), as a crash of its machine or container would; resolves when it is gone. For
 * fault injection (tests/e2e/faults-under-load.test.ts); {@link restartService} starts it again.
 */
export async function killService(stack: Stack, name: ServiceName): Promise<void> {
  const service = stack.services[serviceIndex(stack, name)];
  if (!service?.child.pid || service.child.exitCode !== null || service.child.signalCode !== null) return;
  try {
    process.kill(-service.child.pid, "SIGKILL");
  } catch {
    // The group is gone already.
  }
  await service.exited;
}

/**
 * Starts a service of the stack again, on the same ports and with the same data folder
 * (PostgreSQL's cluster, Synapse's signing key and media, the secrets), after it ended; resolves
 * when it is ready, as at the stack's start.
 */
export async function restartService(stack: Stack, name: ServiceName): Promise<void> {
  const i = serviceIndex(stack, name);
  const component = COMPONENTS[i];
  if (!component) throw new Error(`no component for ${name}`);
  stack.services[i] = await component.start(stack.config, stack.secrets);
}

/** Replaces every port of 0 by a free one. */
async function assignPorts(config: StackConfig): Promise<StackConfig> {
  const out = { ...config };
  const keys = (
    [
      "pgPort",
      "synapsePort",
      "synapseMetricsPort",
      "appservicePort",
      "clientPort",
      "livekitPort",
      "livekitTcpPort",
      "livekitUdpPort",
    ] as const
  ).filter((key) => out[key] === 0);
  const ports = await freePorts(config.bindAddress, keys.length);
  keys.forEach((key, i) => (out[key] = ports[i] ?? 0));
  return out;
}

/**
 * Starts the stack. On failure everything already started is stopped again before the error
 * is thrown.
 */
export async function startStack(
  requested: StackConfig,
  onProgress: (step: string) => void = () => {},
): Promise<Stack> {
  const config = await assignPorts(requested);
  // Logs pair pseudonyms with times, secrets are keys: nobody else on the machine may read them.
  // (When we run as root, PostgreSQL's `postgres` user may pass through the data folder; see
  // postgres.ts.)
  for (const dir of ["", "logs", "run"]) privateDir(join(config.dataDir, dir));
  const secrets = ensureSecrets(config.dataDir);
  const services: Service[] = [];
  const stop = async () => {
    for (const [i, service] of [...services.entries()].reverse()) {
      await stopService(service, COMPONENTS[i]?.stopSignal);
    }
  };
  try {
    for (const component of COMPONENTS) {
      onProgress(`${component.label} on port ${component.port(config)}`);
      services.push(await component.start(config, secrets));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const info = stackInfo(config);
  writeFileSync(join(config.dataDir, "stack.json"), JSON.stringify(info, null, 2));
  const firstExit = Promise.race(services.map((s) => s.exited.then(() => s)));
  return { info, config, secrets, services, firstExit, stop };
}

function stackInfo(config: StackConfig): StackInfo {
  return {
    dataDir: config.dataDir,
    postgresDir: clusterDir(config),
    serverName: config.serverName,
    synapseUrl: serviceUrl(config, config.synapsePort),
    synapseMetricsUrl: `${serviceUrl(config, config.synapseMetricsPort)}/_synapse/metrics`,
    appserviceUrl: serviceUrl(config, config.appservicePort),
    clientUrl: serviceUrl(config, config.clientPort),
    livekitUrl: livekitUrl(config),
    pgPort: config.pgPort,
    bindAddress: config.bindAddress,
    botUserId: `@${BOT_LOCALPART}:${config.serverName}`,
    secretFiles: secretFiles(config.dataDir),
    logLevel: config.logLevel,
  };
}
