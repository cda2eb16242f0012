/**
 * The stack's private PostgreSQL cluster in `<data dir>/postgres`, listening on loopback only,
 * with password (SCRAM) authentication. PostgreSQL refuses to run as root, so when we are root
 * the cluster belongs to the `postgres` system user that Debian's package creates.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import type { StackConfig } from "./config.ts";
import type { Secrets } from "./secrets.ts";
import { archiveSettings, ensureStanza } from "../backup/pgbackrest.ts";
import { startService, waitUntil, type Service } from "./processes.ts";

export interface Owner {
  uid: number;
  gid: number;
}

/** The user PostgreSQL runs as: ourselves, or `postgres` when we are root. */
export function clusterOwner(): Owner | null {
  if (process.getuid?.() !== 0) return null;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("running as root, but there is no 'postgres' system user to own the cluster");
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

function ownedDir(path: string, owner: Owner | null): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  if (owner) chownSync(path, owner.uid, owner.gid);
  return path;
}

/** Database roles and databases the stack needs (UTF8 with C collation, as Synapse requires). */
const DATABASES = [
  { name: "synapse", password: (s: Secrets) => s.pgSynapsePassword },
  { name: "connecta", password: (s: Secrets) => s.pgAppservicePassword },
];

/** Connection settings for the superuser, for ops and tests only. */
export function adminConnection(config: StackConfig, secrets: Secrets, database = "postgres"): pg.ClientConfig {
  return {
    host: config.bindAddress,
    port: config.pgPort,
    user: "connecta_admin",
    password: secrets.pgAdminPassword,
    database,
  };
}

/**
 * Folder of the cluster's files: `<data dir>/postgres`, or, when we are root and the `postgres`
 * user cannot pass through a parent of the data folder (a checkout under a private home, say),
 * a folder of its own under /var/lib/connecta-postgres/.
 */
export function clusterDir(config: StackConfig): string {
  const owner = clusterOwner();
  if (!owner) return join(config.dataDir, "postgres");
  // The `postgres` user must be able to pass through the data folder (not list it).
  chmodSync(config.dataDir, statSync(config.dataDir).mode | 0o011);
  const passable = spawnSync("test", ["-x", config.dataDir], { uid: owner.uid, gid: owner.gid }).status === 0;
  if (passable) return join(config.dataDir, "postgres");
  const id = createHash("sha256").update(config.dataDir).digest("hex").slice(0, 16);
  mkdirSync("/var/lib/connecta-postgres", { recursive: true, mode: 0o755 });
  return join("/var/lib/connecta-postgres", id);
}

/** Initialises the cluster on first start, starts it and creates missing roles and databases. */
export async function startPostgres(config: StackConfig, secrets: Secrets): Promise<Service> {
  const owner = clusterOwner();
  const home = ownedDir(clusterDir(config), owner);
  const dataDir = join(home, "data");
  const socketDir = ownedDir(join(home, "run"), owner);
  const asOwner = owner ? { uid: owner.uid, gid: owner.gid } : {};

  if (!existsSync(join(dataDir, "PG_VERSION"))) {
    ownedDir(dataDir, owner);
    const pwfile = join(socketDir, "initdb.pw");
    writeFileSync(pwfile, secrets.pgAdminPassword, { mode: 0o600 });
    if (owner) chownSync(pwfile, owner.uid, owner.gid);
    try {
      execFileSync(
        join(config.pgBin, "initdb"),
        [
          "-D",
          dataDir,
          "--username=connecta_admin",
          `--pwfile=${pwfile}`,
          "--auth=scram-sha-256",
          "--encoding=UTF8",
          "--locale=C",
          "--no-instructions",
        ],
        { ...asOwner, stdio: ["ignore", "ignore", "pipe"], cwd: socketDir },
      );
    } finally {
      rmSync(pwfile, { force: true });
    }
  }

  const service = startService(
    "postgres",
    join(config.pgBin, "postgres"),
    [
      "-D",
      dataDir,
      "-c",
      `listen_addresses=${config.bindAddress}`,
      "-c",
      `port=${config.pgPort}`,
      "-c",
      `unix_socket_directories=${socketDir}`,
      "-c",
      "max_connections=200",
      // Continuous WAL archiving through pgBackRest when backups are configured (ops/backup/).
      ...archiveSettings(config, secrets),
    ],
    join(config.dataDir, "logs", "postgres.log"),
    { ...asOwner, cwd: socketDir },
  );
  await waitUntil(service, "accepting connections", async () => {
    const client = new pg.Client(adminConnection(config, secrets));
    try {
      await client.connect();
      await client.query("SELECT 1");
      return true;
    } finally {
      await client.end().catch(() => {});
    }
  });

  const client = new pg.Client(adminConnection(config, secrets));
  await client.connect();
  try {
    for (const db of DATABASES) {
      // Passwords are generated hex strings, safe to inline (DDL takes no parameters).
      const password = db.password(secrets);
      if (!/^[0-9a-f]+$/.test(password)) throw new Error(`unexpected characters in the ${db.name} password`);
      const role = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [db.name]);
      await client.query(`${role.rowCount ? "ALTER" : "CREATE"} ROLE ${db.name} LOGIN PASSWORD '${password}'`);
      const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [db.name]);
      if (!exists.rowCount) {
        await client.query(
          `CREATE DATABASE ${db.name} OWNER ${db.name} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`,
        );
      }
    }
  } finally {
    await client.end();
  }
  ensureStanza(config, secrets);
  return service;
}
