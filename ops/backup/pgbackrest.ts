/**
 * pgBackRest (Debian's package) for the stack's PostgreSQL: continuous WAL archiving from
 * PostgreSQL's `archive_command`, full backups, retention and restores, into one repository per
 * stack that pgBackRest encrypts itself (`repo1-cipher-type=aes-256-cbc`, a generated passphrase in
 * the secrets folder). It runs as the user that owns the cluster, as pgBackRest requires.
 *
 * Its configuration file lives beside the cluster (only that user can read it: it holds the
 * cipher passphrase) and is written at every start, so it always names the current port. On a
 * host installed by ops/host/install-host.ts, install-host writes it (/etc/connecta/pgbackrest.conf,
 * from {@link pgbackrestConfText} too) and pgBackRest runs as that host's cluster user.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StackConfig } from "../stack/config.ts";
import { clusterDir, clusterOwner, type Owner } from "../stack/postgres.ts";
import type { Secrets } from "../stack/secrets.ts";
import { loadBackupConfig, type BackupConfig, type HostLayout } from "./config.ts";

/** pgBackRest's name for the stack's cluster. */
export const STANZA = "connecta";

/**
 * Seconds after which PostgreSQL archives a partly filled WAL segment: the worst-case recovery
 * point of a lost disk when little is written (PROMISES.md §4.4 promises at most 5 minutes).
 */
export const ARCHIVE_TIMEOUT_SECONDS = 60;

/** Path of pgBackRest's configuration file of the stack. */
export function pgbackrestConf(config: StackConfig): string {
  return join(clusterDir(config), "pgbackrest.conf");
}

/** pgBackRest's repository of the stack. */
export function repositoryDir(backup: BackupConfig): string {
  return join(backup.backupDir, "pgbackrest");
}

/** Owned by the cluster's user (when we are root), mode `mode`. */
function ownedByCluster(path: string, mode: number): void {
  const owner = clusterOwner();
  if (owner) chownSync(path, owner.uid, owner.gid);
  chmodSync(path, mode);
}

/** The repository's cipher passphrase from the secrets folder, created on first use. */
export function cipherPass(secretFile: string): string {
  if (!existsSync(secretFile))
    writeFileSync(secretFile, randomBytes(32).toString("base64url"), { mode: 0o600, flag: "wx" });
  return readFileSync(secretFile, "utf8").trim();
}

/** What a pgBackRest configuration names: the local stack's, or a host's (ops/host/install-host.ts). */
export interface PgbackrestSettings {
  repo: string;
  cipherPass: string;
  keepDays: number;
  lockDir: string;
  pgData: string;
  pgPort: number;
  pgSocketDir: string;
}

/** pgBackRest's configuration file: one encrypted repository, one stanza. */
export function pgbackrestConfText(s: PgbackrestSettings): string {
  return [
    "[global]",
    `repo1-path=${s.repo}`,
    "repo1-cipher-type=aes-256-cbc",
    `repo1-cipher-pass=${s.cipherPass}`,
    // Every full backup of the last keepDays days stays, with the WAL to replay it to any
    // moment since; pgBackRest expires older ones after each backup.
    "repo1-retention-full-type=time",
    `repo1-retention-full=${s.keepDays}`,
    "start-fast=y",
    "log-level-console=warn",
    "log-level-stderr=warn",
    "log-level-file=off",
    `lock-path=${s.lockDir}`,
    "",
    `[${STANZA}]`,
    `pg1-path=${s.pgData}`,
    `pg1-port=${s.pgPort}`,
    `pg1-socket-path=${s.pgSocketDir}`,
    "pg1-user=connecta_admin",
    "",
  ].join("\n");
}

/** PostgreSQL's archive_command: each finished WAL segment into the repository. */
export function archiveCommand(conf: string): string {
  return `pgbackrest --config='${conf}' --stanza=${STANZA} archive-push %p`;
}

/**
 * Writes pgBackRest's configuration for the stack and makes its repository folder. The backup
 * folder itself is passable (not listable) for the cluster's user, who owns the repository.
 */
export function writePgbackrestConf(config: StackConfig, backup: BackupConfig, passFile: string): string {
  const home = clusterDir(config);
  mkdirSync(backup.backupDir, { recursive: true, mode: 0o711 });
  chmodSync(backup.backupDir, 0o711);
  const repo = repositoryDir(backup);
  mkdirSync(repo, { recursive: true, mode: 0o700 });
  ownedByCluster(repo, 0o700);
  const owner = clusterOwner();
  const reachable = !owner || spawnSync("test", ["-w", repo], { uid: owner.uid, gid: owner.gid }).status === 0;
  if (!reachable) {
    throw new Error(
      `PostgreSQL's user cannot reach the backup repository ${repo}: make the folders above it passable ` +
        "(chmod o+x) or set CONNECTA_BACKUP_DIR to a folder it can reach",
    );
  }
  const lockDir = join(home, "run", "pgbackrest");
  mkdirSync(lockDir, { recursive: true, mode: 0o700 });
  ownedByCluster(lockDir, 0o700);
  const path = pgbackrestConf(config);
  writeFileSync(
    path,
    pgbackrestConfText({
      repo,
      cipherPass: cipherPass(passFile),
      keepDays: backup.keepDays,
      lockDir,
      pgData: join(home, "data"),
      pgPort: config.pgPort,
      pgSocketDir: join(home, "run"),
    }),
    { mode: 0o600 },
  );
  ownedByCluster(path, 0o600);
  return path;
}

/**
 * PostgreSQL settings (`-c` arguments) for continuous archiving through pgBackRest, and its
 * configuration written, when backups are configured; none otherwise.
 */
export function archiveSettings(config: StackConfig, secrets: Secrets): string[] {
  const backup = loadBackupConfig(config);
  if (!backup.ageRecipient) return [];
  const conf = writePgbackrestConf(config, backup, secrets.files.backupCipherPass);
  return [
    "-c",
    "archive_mode=on",
    "-c",
    `archive_command=${archiveCommand(conf)}`,
    "-c",
    `archive_timeout=${ARCHIVE_TIMEOUT_SECONDS}`,
  ];
}

/** A pgBackRest command failed; its message is pgBackRest's own. */
export class PgbackrestError extends Error {}

/** The cluster pgBackRest works on: its configuration, the OS user it runs as, the superuser's password. */
export interface Cluster {
  conf: string;
  /** Null: as ourselves (not root). */
  owner: Owner | null;
  /** Reaches libpq through PGPASSWORD; null on a host, where the socket's peer authentication lets the cluster's user in. */
  adminPassword: string | null;
}

/** The local stack's cluster (ops/stack/postgres.ts). */
export function stackCluster(config: StackConfig, adminPassword: string | null = null): Cluster {
  return { conf: pgbackrestConf(config), owner: clusterOwner(), adminPassword };
}

/** A host's cluster (ops/host/): install-host's configuration, run as the unit's user (when we are root). */
export function hostCluster(host: HostLayout): Cluster {
  return {
    conf: host.pgbackrestConf,
    owner: process.getuid?.() === 0 ? userIds(host.pgUser) : null,
    adminPassword: null,
  };
}

/** A user's ids from /etc/passwd. */
function userIds(name: string): Owner {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new PgbackrestError(`CONNECTA_BACKUP_PG_USER: there is no user '${name}'`);
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/** Runs `pgbackrest <args>` on `cluster` as the cluster's user and returns its output. */
export function pgbackrest(cluster: Cluster, args: string[]): string {
  const { owner, adminPassword } = cluster;
  const res = spawnSync("pgbackrest", [`--config=${cluster.conf}`, `--stanza=${STANZA}`, ...args], {
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    cwd: "/",
    encoding: "utf8",
    env: { PATH: process.env.PATH, ...(adminPassword ? { PGPASSWORD: adminPassword } : {}) },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.error)
    throw new PgbackrestError(`pgbackrest ${args[0]}: ${res.error.message} (is Debian's pgbackrest installed?)`);
  if (res.status !== 0) {
    throw new PgbackrestError(
      `pgbackrest ${args[0]} failed (exit ${res.status}): ${(res.stderr || res.stdout).trim()}`,
    );
  }
  return res.stdout;
}

/** Creates pgBackRest's stanza of a running cluster when backups are configured (idempotent). */
export function ensureStanza(config: StackConfig, secrets: Secrets): void {
  if (!loadBackupConfig(config).ageRecipient) return;
  pgbackrest(stackCluster(config, secrets.pgAdminPassword), ["stanza-create"]);
}
