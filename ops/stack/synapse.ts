/**
 * Synapse: renders homeserver-config/ into `<data dir>/synapse/`, generates its signing key on
 * first start and runs it from the pinned venv.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, type StackConfig } from "./config.ts";
import type { Secrets } from "./secrets.ts";
import { renderTemplate } from "./template.ts";
import { answers200, startService, waitUntil, type Service } from "./processes.ts";

/** Local part of the application service's bot user. */
export const BOT_LOCALPART = "connecta-bot";

/** Base URL of a service on the stack's bind address. */
export function serviceUrl(config: StackConfig, port: number): string {
  return `http://${config.bindAddress}:${port}`;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Writes Synapse's configuration files and returns the path of homeserver.yaml. */
export function writeSynapseConfig(config: StackConfig, secrets: Secrets): string {
  const dir = join(config.dataDir, "synapse");
  mkdirSync(join(dir, "media"), { recursive: true });
  const read = (name: string) => readFileSync(join(ROOT, "homeserver-config", name), "utf8");
  const homeserver = join(dir, "homeserver.yaml");
  writeFileSync(
    homeserver,
    renderTemplate(read("homeserver.yaml"), {
      SERVER_NAME: config.serverName,
      SYNAPSE_PUBLIC_URL: `${serviceUrl(config, config.synapsePort)}/`,
      DATA_DIR: config.dataDir,
      BIND_ADDRESS: config.bindAddress,
      SYNAPSE_PORT: config.synapsePort,
      SYNAPSE_METRICS_PORT: config.synapseMetricsPort,
      PG_HOST: config.bindAddress,
      PG_PORT: config.pgPort,
    }),
  );
  copyFileSync(join(ROOT, "homeserver-config", "log.yaml"), join(dir, "log.yaml"));
  writeFileSync(
    join(dir, "appservice-registration.yaml"),
    renderTemplate(read("appservice-registration.yaml"), {
      APPSERVICE_URL: serviceUrl(config, config.appservicePort),
      AS_TOKEN: secrets.asToken,
      HS_TOKEN: secrets.hsToken,
      BOT_LOCALPART,
      USER_NAMESPACE_REGEX: `@connecta-.*:${escapeRegex(config.serverName)}`.replace(/\\/g, "\\\\"),
    }),
    { mode: 0o600 },
  );
  return homeserver;
}

/** Starts Synapse and waits until its client API answers. */
export async function startSynapse(config: StackConfig, secrets: Secrets): Promise<Service> {
  const homeserver = writeSynapseConfig(config, secrets);
  if (!existsSync(join(secrets.dir, "synapse.signing.key"))) {
    execFileSync(config.synapsePython, ["-m", "synapse.app.homeserver", "-c", homeserver, "--generate-keys"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
  }
  const service = startService(
    "synapse",
    config.synapsePython,
    ["-m", "synapse.app.homeserver", "-c", homeserver],
    join(config.dataDir, "logs", "synapse.log"),
    { cwd: join(config.dataDir, "synapse") },
  );
  const url = serviceUrl(config, config.synapsePort);
  await waitUntil(service, "its client API answers", () => answers200(`${url}/_matrix/client/versions`), 300_000);
  return service;
}
