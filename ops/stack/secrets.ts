/**
 * Secrets of the local stack, generated at first start into `<data dir>/secrets/` (mode 0700,
 * files 0600, git-ignored) and kept across restarts. Nothing here is ever committed or logged.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Creates `path` if needed and makes it readable by its owner only (0700), also when an older
 * version of the stack created it readable by everyone. Returns `path`.
 */
export function privateDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
  return path;
}

/** The stack's generated secrets. */
export interface Secrets {
  dir: string;
  /** Password of the PostgreSQL superuser `connecta_admin` (ops only). */
  pgAdminPassword: string;
  /** Password of the PostgreSQL role `synapse`. */
  pgSynapsePassword: string;
  /** Password of the PostgreSQL role `connecta` (application service). */
  pgAppservicePassword: string;
  /** Token the application service uses towards Synapse. */
  asToken: string;
  /** Token Synapse uses towards the application service. */
  hsToken: string;
  /** Token operators present to the application service's admin API. */
  operatorToken: string;
}

function secretFile(dir: string, name: string, make: () => string): string {
  const path = join(dir, name);
  if (!existsSync(path)) writeFileSync(path, make(), { mode: 0o600, flag: "wx" });
  return readFileSync(path, "utf8").trim();
}

const token = () => randomBytes(32).toString("base64url");
const hex = () => randomBytes(24).toString("hex");

/** Creates missing secrets and returns all of them. Idempotent. */
export function ensureSecrets(dataDir: string): Secrets {
  const dir = privateDir(join(dataDir, "secrets"));
  // Synapse reads these two through *_path settings; it only needs them to exist.
  secretFile(dir, "synapse.macaroon", token);
  secretFile(dir, "synapse.form", token);
  const secrets: Secrets = {
    dir,
    pgAdminPassword: secretFile(dir, "postgres.connecta_admin", hex),
    pgSynapsePassword: secretFile(dir, "postgres.synapse", hex),
    pgAppservicePassword: secretFile(dir, "postgres.connecta", hex),
    asToken: secretFile(dir, "appservice.as_token", token),
    hsToken: secretFile(dir, "appservice.hs_token", token),
    operatorToken: secretFile(dir, "operator.api_token", token),
  };
  // libpq password file for Synapse (psycopg2 `passfile`).
  writeFileSync(join(dir, "pgpass"), `*:*:synapse:synapse:${secrets.pgSynapsePassword}\n`, { mode: 0o600 });
  // Files of an older data folder, and those Synapse and ops write later (signing key, operator
  // token), are checked again at every start.
  for (const name of readdirSync(dir)) chmodSync(join(dir, name), 0o600);
  return secrets;
}
