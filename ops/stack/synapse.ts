/**
 * Synapse: renders homeserver-config/ into `<data dir>/synapse/`, generates its signing key on
 * first start and runs it from the pinned venv.
 */
import { execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
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
  const extra = config.synapseExtraConfig ? ["-c", config.synapseExtraConfig] : [];
  const service = startService(
    "synapse",
    config.synapsePython,
    ["-m", "synapse.app.homeserver", "-c", homeserver, ...extra],
    join(config.dataDir, "logs", "synapse.log"),
    { cwd: join(config.dataDir, "synapse") },
  );
  const url = serviceUrl(config, config.synapsePort);
  await waitUntil(service, "its client API answers", () => answers200(`${url}/_matrix/client/versions`), 300_000);
  await makeBotAdmin(config, secrets);
  return service;
}

async function call(url: string, method: string, token: string | null, body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

/**
 * The operator's Synapse admin account `@operator:<server>`: created at first start through the
 * shared-secret endpoint; its access token is kept in `<data dir>/secrets/synapse.operator_token`.
 */
export async function operatorToken(config: StackConfig, secrets: Secrets): Promise<string> {
  const url = serviceUrl(config, config.synapsePort);
  const file = join(secrets.dir, "synapse.operator_token");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const register = `${url}/_synapse/admin/v1/register`;
  const { body: nonceBody } = await call(register, "GET", null);
  const password = randomBytes(24).toString("base64url");
  writeFileSync(join(secrets.dir, "synapse.operator_password"), password, { mode: 0o600 });
  const nonce = String(nonceBody.nonce);
  const mac = createHmac("sha1", secrets.registrationSharedSecret)
    .update(`${nonce}\0operator\0${password}\0admin`)
    .digest("hex");
  const res = await call(register, "POST", null, { nonce, username: "operator", password, admin: true, mac });
  if (res.status !== 200)
    throw new Error(`creating the operator account failed: ${res.status} ${JSON.stringify(res.body)}`);
  writeFileSync(file, String(res.body.access_token), { mode: 0o600 });
  return String(res.body.access_token);
}

/** Makes the application service's bot a server admin, so it can mint registration tokens. */
async function makeBotAdmin(config: StackConfig, secrets: Secrets): Promise<void> {
  const url = serviceUrl(config, config.synapsePort);
  const bot = encodeURIComponent(`@${BOT_LOCALPART}:${config.serverName}`);
  // The bot's account exists once the application service registers it (M_USER_IN_USE: it does).
  const registered = await call(`${url}/_matrix/client/v3/register`, "POST", secrets.asToken, {
    type: "m.login.application_service",
    username: BOT_LOCALPART,
    inhibit_login: true,
  });
  if (registered.status !== 200 && registered.body.errcode !== "M_USER_IN_USE") {
    throw new Error(`registering the bot failed: ${registered.status} ${JSON.stringify(registered.body)}`);
  }
  const res = await call(`${url}/_synapse/admin/v2/users/${bot}`, "PUT", await operatorToken(config, secrets), {
    admin: true,
  });
  if (res.status !== 200 && res.status !== 201) {
    throw new Error(`making the bot a server admin failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
}
