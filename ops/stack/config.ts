/**
 * Configuration of the local stack (ops/connecta start, the test harness, the benchmarks).
 *
 * Every value comes from an environment variable with a default, so one stack runs with no
 * configuration at all and a second one (tests, benchmarks) can run beside it with its own data
 * folder and free ports. A port of 0 means "pick a free loopback port at start".
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root. */
export const ROOT = resolve(fileURLToPath(import.meta.url), "../../..");

/** The stack's settings, after defaults and validation. */
export interface StackConfig {
  /** CONNECTA_DATA_DIR: databases, secrets, logs, media (default `.data/` in the repository). */
  dataDir: string;
  /** CONNECTA_TOOLS_DIR: Node.js 24 and the Synapse venv fetched by ops/connecta (default `.tools/`). */
  toolsDir: string;
  /** CONNECTA_SERVER_NAME: Matrix server name, part of every user id (default `localhost`). */
  serverName: string;
  /** CONNECTA_BIND_ADDRESS: address every service listens on (default `127.0.0.1`). */
  bindAddress: string;
  /** CONNECTA_PG_PORT: PostgreSQL (default 5433, beside a system cluster on 5432). */
  pgPort: number;
  /** CONNECTA_SYNAPSE_PORT: Synapse client API (default 8008). */
  synapsePort: number;
  /** CONNECTA_SYNAPSE_METRICS_PORT: Synapse Prometheus metrics (default 9008). */
  synapseMetricsPort: number;
  /** CONNECTA_APPSERVICE_PORT: the application service (default 9009). */
  appservicePort: number;
  /** CONNECTA_CLIENT_PORT: the web client (default 3000). */
  clientPort: number;
  /** CONNECTA_LIVEKIT_PORT: LiveKit's HTTP and WebSocket API (default 7880). */
  livekitPort: number;
  /** CONNECTA_LIVEKIT_TCP_PORT: LiveKit's media over TCP (default 7881). */
  livekitTcpPort: number;
  /** CONNECTA_LIVEKIT_UDP_PORT: LiveKit's media over UDP, one port for all (default 7882). */
  livekitUdpPort: number;
  /** CONNECTA_LIVEKIT_SERVER: the LiveKit server binary (set by ops/connecta). */
  livekitServer: string | null;
  /**
   * CONNECTA_SYNAPSE_EXTRA_CONFIG: optional YAML file loaded after homeserver-config/, whose keys
   * override ours (e.g. rate limits of a benchmark stack). Null when unset.
   */
  synapseExtraConfig: string | null;
  /** CONNECTA_PG_BIN: folder with `postgres` and `initdb` (set by ops/connecta). */
  pgBin: string;
  /** CONNECTA_SYNAPSE_PYTHON: python of the Synapse venv (set by ops/connecta). */
  synapsePython: string;
  /** CONNECTA_LOG_LEVEL: the application service's log level (default `info`). */
  logLevel: string;
  /**
   * CONNECTA_IDLE_LOCK_MINUTES: minutes without input after which the web client locks; null
   * leaves the client's default (the client validates the value).
   */
  idleLockMinutes: string | null;
  /**
   * CONNECTA_SITE_FILE: the operator's Impressum, privacy notice and crisis lines for the web
   * client (ops/site.sample.json); null: the client shows placeholders.
   */
  siteFile: string | null;

  // Settings of the test harness and the benchmarks (tests/support, bench/).

  /** CONNECTA_CHROMIUM: the Chromium that tests and benchmarks drive (default Debian's). */
  chromium: string;
  /** CONNECTA_HELM: the Helm 3 binary that lints and renders ops/helm/connecta (set by ops/connecta). */
  helm: string | null;
  /** CONNECTA_KUBERNETES_VALIDATE: kubernetes-validate, which checks the rendered chart (set by ops/connecta). */
  kubernetesValidate: string | null;
  /** CONNECTA_GITLEAKS: gitleaks, the secret scan of the git history (ops/scan/; set by ops/connecta). */
  gitleaks: string | null;
  /** CONNECTA_GO_VULNDB: the Go vulnerability database's OSV folder (ops/scan/; set by ops/connecta). */
  goVulndb: string | null;
  /** CONNECTA_OSV_DIRS: more OSV advisory folders for the audit, colon-separated (npm, PyPI). */
  osvDirs: string[];
  /** CONNECTA_KEEP_TEST_DATA: keep a test run's data folder and logs (any non-empty value). */
  keepTestData: boolean;
  /** CONNECTA_UPDATE_SCHEMA: tests/e2e/schema.test.ts rewrites appservice's schema.sql. */
  updateSchema: boolean;
  /** CONNECTA_TEST_VERBOSE: tests print the Matrix SDK's and helpers' logs instead of a log file. */
  testVerbose: boolean;
  /** CONNECTA_BENCH_PAGES: bench/client-pages.ts measures only the pages whose name contains it. */
  benchPages: string | null;
  /** CONNECTA_LIGHTHOUSE_REPORTS: folder where bench/client-pages.ts keeps Lighthouse's reports. */
  lighthouseReports: string | null;
}

function port(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new StackConfigError(`${key}: expected a port number 0..65535, got "${raw}"`);
  }
  return value;
}

/** A bad stack setting; its message names the variable. */
export class StackConfigError extends Error {}

/** Reads the stack configuration from the environment. Throws {@link StackConfigError}. */
export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const toolsDir = resolve(env.CONNECTA_TOOLS_DIR || `${ROOT}/.tools`);
  const serverName = env.CONNECTA_SERVER_NAME || "localhost";
  if (!/^[a-z0-9.-]+(:[0-9]+)?$/.test(serverName)) {
    throw new StackConfigError(`CONNECTA_SERVER_NAME: expected a host name, got "${serverName}"`);
  }
  const pgBin = env.CONNECTA_PG_BIN;
  if (!pgBin) throw new StackConfigError("CONNECTA_PG_BIN: not set (run the stack through ops/connecta)");
  const synapsePython = env.CONNECTA_SYNAPSE_PYTHON;
  if (!synapsePython) {
    throw new StackConfigError("CONNECTA_SYNAPSE_PYTHON: not set (run the stack through ops/connecta)");
  }
  return {
    dataDir: resolve(env.CONNECTA_DATA_DIR || `${ROOT}/.data`),
    toolsDir,
    serverName,
    bindAddress: env.CONNECTA_BIND_ADDRESS || "127.0.0.1",
    pgPort: port(env, "CONNECTA_PG_PORT", 5433),
    synapsePort: port(env, "CONNECTA_SYNAPSE_PORT", 8008),
    synapseMetricsPort: port(env, "CONNECTA_SYNAPSE_METRICS_PORT", 9008),
    appservicePort: port(env, "CONNECTA_APPSERVICE_PORT", 9009),
    clientPort: port(env, "CONNECTA_CLIENT_PORT", 3000),
    livekitPort: port(env, "CONNECTA_LIVEKIT_PORT", 7880),
    livekitTcpPort: port(env, "CONNECTA_LIVEKIT_TCP_PORT", 7881),
    livekitUdpPort: port(env, "CONNECTA_LIVEKIT_UDP_PORT", 7882),
    livekitServer: env.CONNECTA_LIVEKIT_SERVER ? resolve(env.CONNECTA_LIVEKIT_SERVER) : null,
    synapseExtraConfig: env.CONNECTA_SYNAPSE_EXTRA_CONFIG ? resolve(env.CONNECTA_SYNAPSE_EXTRA_CONFIG) : null,
    pgBin,
    synapsePython,
    logLevel: env.CONNECTA_LOG_LEVEL || "info",
    idleLockMinutes: env.CONNECTA_IDLE_LOCK_MINUTES || null,
    siteFile: env.CONNECTA_SITE_FILE ? resolve(env.CONNECTA_SITE_FILE) : null,
    chromium: env.CONNECTA_CHROMIUM || "/usr/bin/chromium",
    helm: env.CONNECTA_HELM ? resolve(env.CONNECTA_HELM) : null,
    kubernetesValidate: env.CONNECTA_KUBERNETES_VALIDATE ? resolve(env.CONNECTA_KUBERNETES_VALIDATE) : null,
    gitleaks: env.CONNECTA_GITLEAKS ? resolve(env.CONNECTA_GITLEAKS) : null,
    goVulndb: env.CONNECTA_GO_VULNDB ? resolve(env.CONNECTA_GO_VULNDB) : null,
    osvDirs: (env.CONNECTA_OSV_DIRS ?? "")
      .split(":")
      .filter(Boolean)
      .map((dir) => resolve(dir)),
    keepTestData: Boolean(env.CONNECTA_KEEP_TEST_DATA),
    updateSchema: Boolean(env.CONNECTA_UPDATE_SCHEMA),
    testVerbose: Boolean(env.CONNECTA_TEST_VERBOSE),
    benchPages: env.CONNECTA_BENCH_PAGES || null,
    lighthouseReports: env.CONNECTA_LIGHTHOUSE_REPORTS || null,
  };
}
