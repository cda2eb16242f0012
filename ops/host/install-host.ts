/**
 * Provisions a Debian host for Connecta (`ops/connecta install-host`, docs/deploy.md): system
 * users (systemd-sysusers), configuration in /etc/connecta, secrets generated once in
 * /etc/connecta/secrets (root only, 0600; systemd hands each service the ones it needs as
 * credentials), data folders in /var/lib/connecta, and hardened systemd units
 * (ops/host/systemd/) for PostgreSQL, Synapse, LiveKit, the application service and the web
 * client. The code and the tools (Node.js, the Synapse venv, LiveKit, PostgreSQL) stay where
 * ops/connecta put them; the units name them by path.
 *
 * Idempotent: a second run writes nothing, changes no mode and never regenerates a secret; it
 * reports what it changed. `--root DIR` writes everything under DIR instead of / (tests, image
 * builds): nothing on the machine itself is touched, no service is started. As root, the users
 * are created in DIR's /etc/passwd and the data folders are given to them; otherwise the report
 * says which users it would create.
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../stack/config.ts";
import { livekitKeys, secretFiles, type SecretName } from "../stack/secrets.ts";
import { renderTemplate } from "../stack/template.ts";
import { ARCHIVE_TIMEOUT_SECONDS, archiveCommand, pgbackrestConfText } from "../backup/pgbackrest.ts";
import { renderProxyConfig } from "./render-proxy.ts";

/** What differs from one host to the next. */
export interface HostOptions {
  /** Where / is: `/` on the host, a folder for tests. */
  root: string;
  /** The public DNS name: the Matrix server name and the origin `https://<serverName>`. */
  serverName: string;
  /** The checkout the services run from (read-only for them). Default: this one. */
  appDir?: string;
  /** Node.js 24. Default: the one running this. */
  node?: string;
  /** Folder with PostgreSQL's `postgres`, `initdb` and `psql` (CONNECTA_PG_BIN). */
  pgBin: string;
  /** Python of the Synapse venv (CONNECTA_SYNAPSE_PYTHON). */
  synapsePython: string;
  /** The LiveKit server binary (CONNECTA_LIVEKIT_SERVER). */
  livekitServer: string;
  /** The host's public address, announced in LiveKit's ICE candidates. Default: its interfaces'. */
  publicIp?: string;
  /** Certificate chain and key for nginx; without them no nginx site is written. */
  certificate?: string;
  certificateKey?: string;
}

/** One file or folder install-host created or changed. */
export interface Change {
  path: string;
  what: "created" | "updated" | "mode" | "owner";
}

/** What a run did. */
export interface InstallReport {
  /** System users that did not exist in `<root>/etc/passwd` before (created, or to create). */
  newUsers: string[];
  /** Whether users were created and data folders given to them (only as root). */
  usersCreated: boolean;
  /** What the services will not find ({@link hiddenFromServices}); on `/` install-host refuses instead. */
  hidden: string[];
  changes: Change[];
}

/** The services' system users, one each; the unit of each names it. */
export const USERS = {
  postgres: "connecta-postgres",
  synapse: "connecta-synapse",
  livekit: "connecta-livekit",
  appservice: "connecta-appservice",
  client: "connecta-client",
} as const;

/** The unit files install-host writes, from ops/host/systemd/. */
export const UNITS = [
  "connecta-postgresql.service",
  "connecta-synapse.service",
  "connecta-livekit.service",
  "connecta-appservice.service",
  "connecta-client.service",
  "connecta.target",
] as const;

/** The backup units install-host writes too, from ops/backup/systemd/ (enabled by the operator). */
export const BACKUP_UNITS = [
  "connecta-backup.service",
  "connecta-backup.timer",
  "connecta-restore-check.service",
  "connecta-restore-check.timer",
] as const;

/** Fixed paths on the host (inside the root). */
export const HOST_PATHS = {
  config: "/etc/connecta",
  secrets: "/etc/connecta/secrets",
  data: "/var/lib/connecta",
  units: "/etc/systemd/system",
  sysusers: "/etc/sysusers.d/connecta.conf",
  nginxSite: "/etc/nginx/sites-available/connecta",
  /** pgBackRest's repository (`pgbackrest/`) and lock folder, and the age-encrypted files (`files/`). */
  backups: "/var/lib/connecta-backups",
  /** node_exporter's textfile folder (Debian's prometheus-node-exporter), for the backup metrics. */
  metrics: "/var/lib/prometheus/node-exporter",
} as const;

/** Ports on loopback (as the local stack's defaults; render-proxy.ts's upstreams match). */
const PORTS = {
  postgres: 5433,
  synapse: 8008,
  synapseMetrics: 9008,
  appservice: 9009,
  client: 3000,
  livekit: 7880,
  livekitTcp: 7881,
  livekitUdp: 7882,
} as const;

const BOT_LOCALPART = "connecta-bot";
const LIVEKIT_API_KEY = "connecta";
const HERE = import.meta.dirname;

/** Where systemd puts a unit's credentials (LoadCredential=). */
const credential = (unit: string, name: string) => `/run/credentials/${unit}/${name}`;

/** The secrets install-host generates (the operator's Synapse account is made later, by ops). */
const GENERATED = [
  "pgAdminPassword",
  "pgSynapsePassword",
  "pgAppservicePassword",
  "asToken",
  "hsToken",
  "operatorToken",
  "synapseSigningKey",
  "synapseMacaroon",
  "synapseForm",
  "livekitKeys",
  "backupCipherPass",
] as const satisfies readonly SecretName[];

const token = () => randomBytes(32).toString("base64url");
const hex = () => randomBytes(24).toString("hex");

/**
 * A Synapse signing key as `--generate-keys` writes it: `ed25519 a_<id> <seed, unpadded base64>`.
 */
export function synapseSigningKey(): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  const seed = Buffer.from(String(privateKey.export({ format: "jwk" }).d), "base64url");
  const id = `a_${randomBytes(3)
    .toString("base64url")
    .replace(/[^A-Za-z0-9]/g, "x")}`;
  return `ed25519 ${id} ${seed.toString("base64").replace(/=+$/, "")}\n`;
}

const MAKE: Record<(typeof GENERATED)[number], () => string> = {
  pgAdminPassword: hex,
  pgSynapsePassword: hex,
  pgAppservicePassword: hex,
  asToken: token,
  hsToken: token,
  operatorToken: token,
  synapseSigningKey,
  synapseMacaroon: token,
  synapseForm: token,
  livekitKeys: () => `${LIVEKIT_API_KEY}: ${token()}\n`,
  backupCipherPass: token,
};

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^(\d{1,3}\.){3}\d{1,3}$/;

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `/home`, `/root` and `/run/user` are hidden from every service (ProtectHome=yes). */
const HIDDEN = /^\/(home|root|run\/user)(\/|$)/;

function checkServedPath(name: string, path: string): string {
  if (!isAbsolute(path)) throw new Error(`${name}: expected an absolute path, got ${JSON.stringify(path)}`);
  if (HIDDEN.test(path)) {
    throw new Error(`${name}: ${path} is hidden from the services (ProtectHome=yes); put it under /opt or /srv`);
  }
  if (!existsSync(path)) throw new Error(`${name}: ${path} does not exist`);
  return path;
}

/**
 * What the services would not see although the paths given look fine: a program that resolves
 * (symbolic links) into /home or /root, or a Python venv made from a Python there (pyenv). One
 * line each; empty when all is well.
 */
export function hiddenFromServices(
  o: Pick<HostOptions, "pgBin" | "synapsePython" | "livekitServer"> & { appDir: string; node: string },
): string[] {
  const problems: string[] = [];
  const check = (name: string, path: string) => {
    const real = realpathSync(path);
    if (HIDDEN.test(real)) problems.push(`${name}: ${path} is ${real}, which ProtectHome=yes hides from the services`);
  };
  check("appDir", o.appDir);
  check("node", o.node);
  check("pgBin", join(o.pgBin, "postgres"));
  check("synapsePython", o.synapsePython);
  check("livekitServer", o.livekitServer);
  const venv = join(dirname(dirname(o.synapsePython)), "pyvenv.cfg");
  const home = existsSync(venv) ? /^home\s*=\s*(.+)$/m.exec(readFileSync(venv, "utf8"))?.[1]?.trim() : undefined;
  if (home && HIDDEN.test(home)) {
    problems.push(
      `synapsePython: its venv was made from the Python in ${home}, which ProtectHome=yes hides from the services`,
    );
  }
  return problems;
}

/** The users' `name → [uid, gid]` in `<root>/etc/passwd`. */
function passwd(root: string): Map<string, [number, number]> {
  const file = join(root, "etc/passwd");
  const users = new Map<string, [number, number]>();
  if (!existsSync(file)) return users;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name && uid && gid) users.set(name, [Number(uid), Number(gid)]);
  }
  return users;
}

/** Renders every configuration file: path on the host → content. Secrets are read, not made. */
function configFiles(
  o: Required<Omit<HostOptions, "publicIp" | "certificate" | "certificateKey">> & HostOptions,
  secret: (name: SecretName) => string,
) {
  const origin = `https://${o.serverName}`;
  const livekitWs = `wss://${o.serverName}/livekit`;
  const synapseUnit = "connecta-synapse.service";
  const asUnit = "connecta-appservice.service";
  const serviceUsers = `@connecta-.*:${escapeRegex(o.serverName)}`.replace(/\\/g, "\\\\");
  const read = (name: string) => readFileSync(join(o.appDir, "homeserver-config", name), "utf8");

  const homeserver = renderTemplate(read("homeserver.yaml"), {
    SERVER_NAME: o.serverName,
    SYNAPSE_PUBLIC_URL: `${origin}/`,
    DATA_DIR: HOST_PATHS.data,
    BIND_ADDRESS: "127.0.0.1",
    SYNAPSE_PORT: PORTS.synapse,
    SYNAPSE_METRICS_PORT: PORTS.synapseMetrics,
    PG_HOST: "127.0.0.1",
    PG_PORT: PORTS.postgres,
    SERVICE_USER_REGEX: serviceUsers,
    SIGNING_KEY_FILE: credential(synapseUnit, "synapse.signing.key"),
    MACAROON_FILE: credential(synapseUnit, "synapse.macaroon"),
    FORM_SECRET_FILE: credential(synapseUnit, "synapse.form"),
    PGPASS_FILE: credential(synapseUnit, "pgpass"),
    LIVEKIT_URL: livekitWs,
    RTC_SERVICE_URL: `${origin}/api/v1/rtc`,
  });
  // Behind nginx, which replaces X-Forwarded-For with the connection's address (docs/deploy.md).
  const forwarded = homeserver.split(/^( +)x_forwarded: false$/m);
  if (forwarded.length !== 3) throw new Error("homeserver.yaml: expected one `x_forwarded: false` to turn on");
  const hostOverrides = [
    "# Loaded after homeserver.yaml (ops/host/install-host.ts): where this host keeps what",
    "# homeserver.yaml puts into the local stack's data folder.",
    "pid_file: /run/connecta-synapse/synapse.pid",
    `log_config: ${HOST_PATHS.config}/synapse/log.yaml`,
    "# Holds the application service's tokens: a systemd credential (connecta-synapse.service).",
    "app_service_config_files:",
    `  - ${credential(synapseUnit, "appservice-registration.yaml")}`,
    "",
  ].join("\n");

  const livekit = {
    port: PORTS.livekit,
    bind_addresses: ["127.0.0.1"],
    key_file: "/run/credentials/connecta-livekit.service/livekit.keys",
    rtc: {
      tcp_port: PORTS.livekitTcp,
      udp_port: PORTS.livekitUdp,
      // No STUN lookup of our address at a third party: the operator names it, or LiveKit
      // announces its interfaces' addresses.
      use_external_ip: false,
      ...(o.publicIp ? { node_ip: o.publicIp } : {}),
    },
    room: { auto_create: false, empty_timeout: 60, departure_timeout: 10 },
    // `info`: LiveKit 1.13.5 writes join tokens at `debug`.
    logging: { level: "info", json: false },
    turn: { enabled: false },
  };

  const env = (lines: Record<string, string | number>) =>
    `${Object.entries(lines)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n")}\n`;
  const appserviceEnv = env({
    NODE_ENV: "production",
    CONNECTA_AS_BIND_ADDRESS: "127.0.0.1",
    CONNECTA_AS_PORT: PORTS.appservice,
    CONNECTA_AS_DATABASE_URL: `postgres://connecta@127.0.0.1:${PORTS.postgres}/connecta`,
    CONNECTA_AS_DATABASE_PASSWORD_FILE: credential(asUnit, "postgres.connecta"),
    CONNECTA_HOMESERVER_URL: `http://127.0.0.1:${PORTS.synapse}`,
    CONNECTA_SERVER_NAME: o.serverName,
    CONNECTA_BOT_LOCALPART: BOT_LOCALPART,
    CONNECTA_AS_TOKEN_FILE: credential(asUnit, "appservice.as_token"),
    CONNECTA_HS_TOKEN_FILE: credential(asUnit, "appservice.hs_token"),
    CONNECTA_OPERATOR_TOKEN_FILE: credential(asUnit, "operator.api_token"),
    // The web client on loopback forwards browsers' API calls; nginx never talks to us.
    CONNECTA_TRUSTED_PROXIES: "127.0.0.1",
    CONNECTA_LIVEKIT_URL: livekitWs,
    CONNECTA_LIVEKIT_API_URL: `http://127.0.0.1:${PORTS.livekit}`,
    CONNECTA_LIVEKIT_KEY_FILE: credential(asUnit, "livekit.keys"),
  });
  const clientEnv = env({
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: PORTS.client,
    ORIGIN: origin,
    // nginx sets X-Forwarded-For to the connection's address, the only entry (docs/deploy.md).
    ADDRESS_HEADER: "x-forwarded-for",
    XFF_DEPTH: 1,
    CONNECTA_HOMESERVER_URL: origin,
    CONNECTA_APPSERVICE_URL: `http://127.0.0.1:${PORTS.appservice}`,
    CONNECTA_LIVEKIT_URL: livekitWs,
  });

  const registration = renderTemplate(read("appservice-registration.yaml"), {
    APPSERVICE_URL: `http://127.0.0.1:${PORTS.appservice}`,
    AS_TOKEN: secret("asToken"),
    HS_TOKEN: secret("hsToken"),
    BOT_LOCALPART,
    USER_NAMESPACE_REGEX: serviceUsers,
  });
  const template = (name: string) => readFileSync(join(HERE, name), "utf8");

  return {
    config: {
      "postgresql.conf": renderTemplate(template("postgresql.conf"), {
        PG_PORT: PORTS.postgres,
        ARCHIVE_COMMAND: archiveCommand(`${HOST_PATHS.config}/pgbackrest.conf`).replaceAll("'", ""),
        ARCHIVE_TIMEOUT: ARCHIVE_TIMEOUT_SECONDS,
      }),
      "pg_hba.conf": template("pg_hba.conf"),
      "pg_ident.conf": template("pg_ident.conf"),
      "postgresql-bootstrap.sql": template("postgresql-bootstrap.sql"),
      "synapse/homeserver.yaml": `${forwarded[0]}${forwarded[1]}x_forwarded: true${forwarded[2]}`,
      "synapse/host.yaml": hostOverrides,
      "synapse/log.yaml": read("log.yaml"),
      "livekit.yaml": `${JSON.stringify(livekit, null, 2)}\n`,
      "appservice.env": appserviceEnv,
      "client.env": clientEnv,
    },
    /** Readable by PostgreSQL's user too (its archive_command): it holds the repository's passphrase. */
    pgbackrest: pgbackrestConfText({
      repo: `${HOST_PATHS.backups}/pgbackrest`,
      cipherPass: secret("backupCipherPass"),
      keepDays: 30,
      lockDir: `${HOST_PATHS.backups}/lock`,
      pgData: `${HOST_PATHS.data}/postgresql`,
      pgPort: PORTS.postgres,
      pgSocketDir: "/run/connecta-postgresql",
    }),
    secrets: {
      pgpass: `127.0.0.1:${PORTS.postgres}:synapse:synapse:${secret("pgSynapsePassword")}\n`,
      "appservice-registration.yaml": registration,
    },
  };
}

/** The unit files, rendered: name → content. */
export function renderUnits(o: {
  appDir: string;
  node: string;
  pgBin: string;
  synapsePython: string;
  livekitServer: string;
}) {
  const hardening = readFileSync(join(HERE, "systemd", "hardening.conf"), "utf8")
    .split("\n")
    .filter((line) => line.trim() && !line.startsWith("#"))
    .join("\n");
  const values: Record<string, string | number> = {
    APP_DIR: o.appDir,
    NODE: o.node,
    PG_BIN: o.pgBin,
    PG_PORT: PORTS.postgres,
    SYNAPSE_PORT: PORTS.synapse,
    SYNAPSE_PYTHON: o.synapsePython,
    LIVEKIT_SERVER: o.livekitServer,
    HARDENING: hardening,
  };
  return Object.fromEntries(
    UNITS.map((name) => {
      const text = readFileSync(join(HERE, "systemd", name), "utf8");
      // Each unit uses some of the values; renderTemplate refuses unused ones, so pass only those.
      const used = Object.fromEntries(Object.entries(values).filter(([key]) => text.includes(`{{${key}}}`)));
      return [name, renderTemplate(text, used)];
    }),
  ) as Record<(typeof UNITS)[number], string>;
}

/**
 * /etc/connecta/backup.env, the settings of connecta-backup.service: the host's layout for
 * ops/backup/config.ts, and the operator's age public key (`recipient`, empty until set: the
 * backup then refuses, saying so).
 */
export function backupEnv(pgBin: string, recipient: string): string {
  return [
    "# Settings of connecta-backup.service (ops/backup/config.ts, docs/runbooks/restore.md), written by",
    "# install-host. Set CONNECTA_BACKUP_AGE_RECIPIENT to your age public key (age1…); until then every",
    "# backup refuses. The private key never belongs on this host. install-host keeps the value.",
    `CONNECTA_BACKUP_AGE_RECIPIENT=${recipient}`,
    `CONNECTA_BACKUP_DIR=${HOST_PATHS.backups}`,
    `CONNECTA_BACKUP_METRICS_DIR=${HOST_PATHS.metrics}`,
    `CONNECTA_BACKUP_PGBACKREST_CONF=${HOST_PATHS.config}/pgbackrest.conf`,
    `CONNECTA_BACKUP_PG_USER=${USERS.postgres}`,
    `CONNECTA_BACKUP_PG_DATA=${HOST_PATHS.data}/postgresql`,
    "# Configuration with the secrets folder; Synapse's folder with its media store.",
    `CONNECTA_BACKUP_FILES="${HOST_PATHS.config} ${HOST_PATHS.data}/synapse"`,
    `CONNECTA_DATA_DIR=${HOST_PATHS.data}`,
    `CONNECTA_PG_BIN=${pgBin}`,
    "",
  ].join("\n");
}

/** The sysusers.d file: one system user and group per service, no login, no home. */
export function sysusersConf(): string {
  const line = (user: string, what: string) => `u ${user} - "Connecta ${what}" /nonexistent /usr/sbin/nologin`;
  return [
    "# Connecta's system users, one per service (ops/host/install-host.ts); `systemd-sysusers` creates them.",
    line(USERS.postgres, "PostgreSQL"),
    line(USERS.synapse, "Synapse"),
    line(USERS.livekit, "LiveKit"),
    line(USERS.appservice, "application service"),
    line(USERS.client, "web client"),
    "",
  ].join("\n");
}

/**
 * Provisions the host under `options.root`.
 *
 * @throws Error naming the option, when a value is malformed or a path missing
 */
export function installHost(options: HostOptions): InstallReport {
  const o = {
    appDir: ROOT,
    node: process.execPath,
    ...options,
  };
  const root = resolve(o.root);
  if (!HOSTNAME.test(o.serverName))
    throw new Error(`serverName: expected a lower-case DNS name, got ${JSON.stringify(o.serverName)}`);
  if (o.publicIp !== undefined && !IPV4.test(o.publicIp) && !o.publicIp.includes(":")) {
    throw new Error(`publicIp: expected an IP address, got ${JSON.stringify(o.publicIp)}`);
  }
  checkServedPath("appDir", o.appDir);
  checkServedPath("node", o.node);
  checkServedPath("pgBin", join(o.pgBin, "postgres"));
  checkServedPath("synapsePython", o.synapsePython);
  checkServedPath("livekitServer", o.livekitServer);
  if (!existsSync(join(o.appDir, "client", "build"))) {
    throw new Error(`appDir: ${o.appDir}/client/build is missing (ops/connecta setup builds it)`);
  }
  const hidden = hiddenFromServices(o);
  if (root === "/" && hidden.length) throw new Error(hidden.join("; "));

  const isRoot = process.getuid?.() === 0;
  const changes: Change[] = [];
  const at = (hostPath: string) => join(root, hostPath);

  /** Writes `content` when it differs, then makes the mode (and, as root, the owner) right. */
  const file = (hostPath: string, content: string, mode: number) => {
    const path = at(hostPath);
    const before = existsSync(path) ? readFileSync(path, "utf8") : null;
    if (before !== content) {
      writeFileSync(path, content, { mode });
      changes.push({ path: hostPath, what: before === null ? "created" : "updated" });
    }
    fixMode(hostPath, mode);
  };
  const fixMode = (hostPath: string, mode: number) => {
    const path = at(hostPath);
    if ((statSync(path).mode & 0o7777) !== mode) {
      chmodSync(path, mode);
      changes.push({ path: hostPath, what: "mode" });
    }
  };
  const dir = (hostPath: string, mode: number, owner?: [number, number]) => {
    const path = at(hostPath);
    if (!existsSync(path)) {
      mkdirSync(path, { recursive: true, mode });
      changes.push({ path: hostPath, what: "created" });
    }
    fixMode(hostPath, mode);
    if (owner && isRoot) {
      const s = statSync(path);
      if (s.uid !== owner[0] || s.gid !== owner[1]) {
        chownSync(path, owner[0], owner[1]);
        changes.push({ path: hostPath, what: "owner" });
      }
    }
  };

  // Users first: the data folders are theirs.
  const before = passwd(root);
  const newUsers = Object.values(USERS).filter((u) => !before.has(u));
  dir(dirname(HOST_PATHS.sysusers), 0o755);
  file(HOST_PATHS.sysusers, sysusersConf(), 0o644);
  if (isRoot && newUsers.length) {
    const args = root === "/" ? [] : [`--root=${root}`];
    execFileSync("systemd-sysusers", [...args, at(HOST_PATHS.sysusers)], { stdio: ["ignore", "ignore", "pipe"] });
  }
  const users = passwd(root);

  // Secrets: made once, never again; root only. systemd copies each to the services that need it.
  dir(HOST_PATHS.config, 0o755);
  dir(HOST_PATHS.secrets, 0o700);
  const files = secretFiles(HOST_PATHS.config);
  for (const name of GENERATED) {
    const path = at(files[name]);
    if (!existsSync(path)) {
      writeFileSync(path, MAKE[name](), { mode: 0o600, flag: "wx" });
      changes.push({ path: files[name], what: "created" });
    }
    fixMode(files[name], 0o600);
  }
  const secret = (name: SecretName) => readFileSync(at(files[name]), "utf8").trim();
  livekitKeys(secret("livekitKeys"));

  const rendered = configFiles(o, secret);
  dir(`${HOST_PATHS.config}/synapse`, 0o755);
  for (const [name, content] of Object.entries(rendered.config)) file(`${HOST_PATHS.config}/${name}`, content, 0o644);
  for (const [name, content] of Object.entries(rendered.secrets)) file(`${HOST_PATHS.secrets}/${name}`, content, 0o600);

  // Data: systemd's StateDirectory= makes the same folders; making them here lets an operator
  // restore a backup into them before the first start.
  dir(HOST_PATHS.data, 0o755);
  dir(`${HOST_PATHS.data}/postgresql`, 0o700, users.get(USERS.postgres));
  dir(`${HOST_PATHS.data}/synapse`, 0o700, users.get(USERS.synapse));

  // Backups (ops/backup/, docs/runbooks/restore.md): the repository is the cluster's user's, the
  // files archives root's; pgBackRest's configuration holds the repository's passphrase, so only
  // root and the cluster's user read it.
  const pgOwner = users.get(USERS.postgres);
  dir(HOST_PATHS.backups, 0o700, pgOwner);
  dir(`${HOST_PATHS.backups}/pgbackrest`, 0o700, pgOwner);
  dir(`${HOST_PATHS.backups}/lock`, 0o700, pgOwner);
  dir(`${HOST_PATHS.backups}/files`, 0o700);
  dir(HOST_PATHS.metrics, 0o755);
  file(`${HOST_PATHS.config}/pgbackrest.conf`, rendered.pgbackrest, 0o640);
  if (pgOwner && isRoot) {
    const path = at(`${HOST_PATHS.config}/pgbackrest.conf`);
    const s = statSync(path);
    if (s.uid !== 0 || s.gid !== pgOwner[1]) {
      chownSync(path, 0, pgOwner[1]);
      changes.push({ path: `${HOST_PATHS.config}/pgbackrest.conf`, what: "owner" });
    }
  }
  // The operator's age public key, once set, stays through later runs.
  const envPath = at(`${HOST_PATHS.config}/backup.env`);
  const recipient = existsSync(envPath)
    ? (/^CONNECTA_BACKUP_AGE_RECIPIENT=(.*)$/m.exec(readFileSync(envPath, "utf8"))?.[1] ?? "")
    : "";
  file(`${HOST_PATHS.config}/backup.env`, backupEnv(o.pgBin, recipient), 0o600);

  dir(HOST_PATHS.units, 0o755);
  for (const [name, content] of Object.entries(renderUnits(o))) file(`${HOST_PATHS.units}/${name}`, content, 0o644);
  for (const name of BACKUP_UNITS) {
    // The units name the checkout as /opt/connecta (docs/deploy.md); this host's may be elsewhere.
    const text = readFileSync(join(HERE, "..", "backup", "systemd", name), "utf8");
    file(`${HOST_PATHS.units}/${name}`, text.replaceAll("/opt/connecta/", `${o.appDir}/`), 0o644);
  }

  if (o.certificate && o.certificateKey) {
    dir(dirname(HOST_PATHS.nginxSite), 0o755);
    file(
      HOST_PATHS.nginxSite,
      renderProxyConfig({
        serverName: o.serverName,
        certificate: o.certificate,
        certificateKey: o.certificateKey,
        clientUpstream: `127.0.0.1:${PORTS.client}`,
        synapseUpstream: `127.0.0.1:${PORTS.synapse}`,
        livekitUpstream: `127.0.0.1:${PORTS.livekit}`,
      }),
      0o644,
    );
  }
  return { newUsers, usersCreated: isRoot, hidden, changes };
}

/** Command line: `--root DIR --server-name NAME [...]`, the report on standard output. */
function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      root: { type: "string", default: "/" },
      "server-name": { type: "string" },
      "app-dir": { type: "string" },
      node: { type: "string" },
      "pg-bin": { type: "string", default: process.env.CONNECTA_PG_BIN },
      "synapse-python": { type: "string", default: process.env.CONNECTA_SYNAPSE_PYTHON },
      "livekit-server": { type: "string", default: process.env.CONNECTA_LIVEKIT_SERVER },
      "public-ip": { type: "string" },
      certificate: { type: "string" },
      "certificate-key": { type: "string" },
    },
  });
  const need = (name: string, value: string | undefined) => {
    if (!value) throw new Error(`--${name} is required`);
    return resolve(value);
  };
  if (values.root === "/" && process.getuid?.() !== 0) throw new Error("run as root, or give --root DIR");
  const report = installHost({
    root: values.root,
    serverName: values["server-name"] ?? need("server-name", undefined),
    appDir: values["app-dir"] ? resolve(values["app-dir"]) : ROOT,
    node: values.node ? resolve(values.node) : process.execPath,
    pgBin: need("pg-bin", values["pg-bin"]),
    synapsePython: need("synapse-python", values["synapse-python"]),
    livekitServer: need("livekit-server", values["livekit-server"]),
    ...(values["public-ip"] ? { publicIp: values["public-ip"] } : {}),
    ...(values.certificate ? { certificate: values.certificate } : {}),
    ...(values["certificate-key"] ? { certificateKey: values["certificate-key"] } : {}),
  });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  for (const problem of report.hidden) console.error(`install-host: warning: ${problem}`);
  if (report.newUsers.length) {
    out(`${report.usersCreated ? "created users" : "users to create (as root)"}: ${report.newUsers.join(", ")}`);
  }
  for (const c of report.changes) out(`${c.what.padEnd(7)} ${c.path}`);
  if (!report.changes.length && !report.newUsers.length) out("nothing to change");
  if (values.root === "/" && existsSync("/run/systemd/system")) {
    if (report.changes.length) execFileSync("systemctl", ["daemon-reload"], { stdio: "inherit" });
    out('next: systemctl enable --now connecta.target (docs/deploy.md, "Installing a host")');
  }
}

if (import.meta.main) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`install-host: ${(err as Error).message}`);
    process.exit(2);
  }
}
