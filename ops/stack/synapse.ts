/**
 * Synapse: renders homeserver-config/ into `<data dir>/synapse/`, generates its signing key on
 * first start, runs it from the pinned venv with our module (homeserver-config/connecta_rules.py)
 * on its import path, and makes the first server admins without any HTTP secret.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { ROOT, type StackConfig } from "./config.ts";
import { livekitUrl } from "./livekit.ts";
import { adminConnection } from "./postgres.ts";
import { privateDir, type Secrets } from "./secrets.ts";
import { renderTemplate } from "./template.ts";
import { answers200, startService, stopService, waitUntil, type Service } from "./processes.ts";

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
  // Media, keys and the appservice's tokens: only we read this folder.
  const dir = privateDir(join(config.dataDir, "synapse"));
  mkdirSync(join(dir, "media"), { recursive: true });
  const read = (name: string) => readFileSync(join(ROOT, "homeserver-config", name), "utf8");
  const homeserver = join(dir, "homeserver.yaml");
  const serviceUsers = `@connecta-.*:${escapeRegex(config.serverName)}`.replace(/\\/g, "\\\\");
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
      SERVICE_USER_REGEX: serviceUsers,
      SIGNING_KEY_FILE: secrets.files.synapseSigningKey,
      MACAROON_FILE: secrets.files.synapseMacaroon,
      FORM_SECRET_FILE: secrets.files.synapseForm,
      PGPASS_FILE: secrets.files.pgpass,
      LIVEKIT_URL: livekitUrl(config).replace(/^http/, "ws"),
      // The web client forwards /api/v1/ to the application service; browsers reach it there.
      RTC_SERVICE_URL: `${serviceUrl(config, config.clientPort)}/api/v1/rtc`,
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
      USER_NAMESPACE_REGEX: serviceUsers,
    }),
    { mode: 0o600 },
  );
  return homeserver;
}

/** Synapse's environment: ours, plus homeserver-config/ on Python's import path (our module). */
function synapseEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PYTHONPATH: join(ROOT, "homeserver-config") };
}

/** Starts Synapse, waits until its client API answers and makes sure of its server admins. */
export async function startSynapse(config: StackConfig, secrets: Secrets): Promise<Service> {
  const homeserver = writeSynapseConfig(config, secrets);
  const signingKey = secrets.files.synapseSigningKey;
  if (!existsSync(signingKey)) {
    execFileSync(config.synapsePython, ["-m", "synapse.app.homeserver", "-c", homeserver, "--generate-keys"], {
      stdio: ["ignore", "ignore", "pipe"],
      env: synapseEnv(),
    });
  }
  // Synapse writes the key as the umask allows; an older data folder may hold a readable one.
  chmodSync(signingKey, 0o600);
  const extra = config.synapseExtraConfig ? ["-c", config.synapseExtraConfig] : [];
  const service = startService(
    "synapse",
    config.synapsePython,
    ["-m", "synapse.app.homeserver", "-c", homeserver, ...extra],
    join(config.dataDir, "logs", "synapse.log"),
    { cwd: join(config.dataDir, "synapse"), env: synapseEnv() },
  );
  const url = serviceUrl(config, config.synapsePort);
  try {
    await waitUntil(service, "its client API answers", () => answers200(`${url}/_matrix/client/versions`), 300_000);
    await makeBotAdmin(config, secrets);
    await operatorToken(config, secrets);
  } catch (err) {
    // Not yet one of the stack's services, which a failed start stops: stopped here, or it
    // would keep running (and answering on its port) after the start failed.
    await stopService(service);
    throw err;
  }
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
 * Makes the application service's bot a server admin (it mints registration tokens and creates
 * counsellors through Synapse's admin API). The bot registers through the application service
 * API (M_USER_IN_USE: it exists); the admin flag is set in Synapse's database, the way Synapse's
 * documentation gives for the first admin: no HTTP endpoint with a shared secret is needed, and
 * none is left open. Synapse caches the flag per user, so this runs before the bot's first
 * request that asks for it.
 */
async function makeBotAdmin(config: StackConfig, secrets: Secrets): Promise<void> {
  const url = serviceUrl(config, config.synapsePort);
  const registered = await call(`${url}/_matrix/client/v3/register`, "POST", secrets.asToken, {
    type: "m.login.application_service",
    username: BOT_LOCALPART,
    inhibit_login: true,
  });
  if (registered.status !== 200 && registered.body.errcode !== "M_USER_IN_USE") {
    throw new Error(`registering the bot failed: ${registered.status} ${JSON.stringify(registered.body)}`);
  }
  const db = new pg.Client(adminConnection(config, secrets, "synapse"));
  await db.connect();
  try {
    const res = await db.query("UPDATE users SET admin = 1 WHERE name = $1", [
      `@${BOT_LOCALPART}:${config.serverName}`,
    ]);
    if (res.rowCount !== 1) throw new Error("making the bot a server admin failed: Synapse does not know the bot");
  } finally {
    await db.end();
  }
}

/**
 * The operator's Synapse admin account `@operator:<server>`: created at first start by the bot
 * through the admin API, with a generated password (`<data dir>/secrets/synapse.operator_password`),
 * and logged in once; its access token is kept in `<data dir>/secrets/synapse.operator_token`
 * (operators and the test harness use it for Synapse's admin API).
 */
export async function operatorToken(config: StackConfig, secrets: Secrets): Promise<string> {
  const url = serviceUrl(config, config.synapsePort);
  const file = secrets.files.synapseOperatorToken;
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const userId = `@operator:${config.serverName}`;
  const passwordFile = secrets.files.synapseOperatorPassword;
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(24).toString("base64url"), { mode: 0o600 });
  const password = readFileSync(passwordFile, "utf8").trim();
  const created = await call(`${url}/_synapse/admin/v2/users/${encodeURIComponent(userId)}`, "PUT", secrets.asToken, {
    password,
    admin: true,
  });
  if (created.status !== 200 && created.status !== 201) {
    throw new Error(`creating the operator account failed: ${created.status} ${JSON.stringify(created.body)}`);
  }
  const login = await call(`${url}/_matrix/client/v3/login`, "POST", null, {
    type: "m.login.password",
    identifier: { type: "m.id.user", user: "operator" },
    password,
    initial_device_display_name: "Connecta operator (ops/stack)",
  });
  if (login.status !== 200)
    throw new Error(`logging in the operator failed: ${login.status} ${JSON.stringify(login.body)}`);
  writeFileSync(file, String(login.body.access_token), { mode: 0o600 });
  return String(login.body.access_token);
}
