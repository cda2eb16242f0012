/**
 * Backups of a stack and restores from them (PROMISES.md §4.4; docs/runbooks/restore.md):
 *
 * - {@link backup}: a full pgBackRest backup of the running cluster, the files archive that goes
 *   with it (files.ts), both verified; pgBackRest expires what is older than the kept days and
 *   the files archives of expired backups go with them. A backup that fails verification is
 *   removed and reported (thrown), never kept as if it were good.
 * - {@link restore}: into an empty data folder, the files archive (checked, decrypted with the
 *   operator's age identity), then pgBackRest's restore of the cluster to the end of the archived
 *   WAL or to a moment (`--time`), replayed; then, as Synapse's backup documentation asks, its
 *   one-time keys are deleted before Synapse starts (a key handed out after the backup would be
 *   handed out twice). `ops/connecta start` then starts everything, the application service's
 *   durable steps resuming where the database says they are.
 * - {@link restoreCheck}: the monthly drill: a restore into a scratch folder and a look into both
 *   databases; on a host installed by install-host, host-restore-check.ts's.
 */
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import pg from "pg";
import type { StackConfig } from "../stack/config.ts";
import { clusterDir, clusterOwner } from "../stack/postgres.ts";
import { startService, stopService, waitUntil, type Service } from "../stack/processes.ts";
import { ensureSecrets, privateDir, secretFiles, type Secrets } from "../stack/secrets.ts";
import type { BackupConfig } from "./config.ts";
import {
  archiveLabels,
  BackupRefused,
  extractFilesArchive,
  filesArchive,
  FILE_ENTRIES,
  removeFilesArchive,
  writeFilesArchive,
} from "./files.ts";
import { hostRestoreCheck } from "./host-restore-check.ts";
import {
  archiveSettings,
  hostCluster,
  pgbackrest,
  stackCluster,
  writePgbackrestConf,
  type Cluster,
} from "./pgbackrest.ts";

/** What a backup made. */
export interface BackupResult {
  label: string;
  filesArchive: string;
  /** Full backups kept after expiry, oldest first. */
  kept: string[];
  seconds: number;
}

interface InfoBackup {
  label: string;
  timestamp: { start: number; stop: number };
}

/** pgBackRest's backups of the cluster, oldest first. */
function pgbackrestBackups(cluster: Cluster): InfoBackup[] {
  const info = JSON.parse(pgbackrest(cluster, ["info", "--output=json"])) as { backup?: InfoBackup[] }[];
  return info[0]?.backup ?? [];
}

/**
 * Throws {@link BackupRefused} unless pgBackRest's verify finds every file of the repository's
 * backup `label` (or all of them) and the archived WAL whole.
 */
function verifyRepository(cluster: Cluster, label?: string): void {
  const out = pgbackrest(cluster, ["verify", "--output=text", "--verbose", ...(label ? [`--set=${label}`] : [])]);
  if (!/^status: ok$/m.test(out)) {
    throw new BackupRefused(`pgBackRest's verify found damaged or missing files in the repository:\n${out.trim()}`);
  }
}

/** Writes the metric `name` = now for node_exporter's textfile collector (atomically). */
function writeMetric(backup: BackupConfig, name: string, help: string): void {
  const file = join(backup.metricsDir, `${name}.prom`);
  mkdirSync(backup.metricsDir, { recursive: true, mode: 0o755 });
  writeFileSync(
    `${file}.tmp`,
    `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${Math.floor(Date.now() / 1000)}\n`,
  );
  renameSync(`${file}.tmp`, file);
}

/** A full backup of the running stack (see the file comment). */
export function backup(config: StackConfig, settings: BackupConfig): BackupResult {
  if (!settings.ageRecipient) {
    throw new BackupRefused(
      settings.host
        ? "backups are off: CONNECTA_BACKUP_AGE_RECIPIENT is empty; set it to the operator's age public key " +
            "in /etc/connecta/backup.env (docs/runbooks/restore.md)"
        : "backups are off: set CONNECTA_BACKUP_AGE_RECIPIENT to the operator's age public key and restart the stack " +
            "(PostgreSQL archives its WAL from then on)",
    );
  }
  const started = Date.now();
  const cluster = settings.host
    ? hostCluster(settings.host)
    : stackCluster(config, readFileSync(secretFiles(config.dataDir).pgAdminPassword, "utf8").trim());
  // A host's stanza is made when its PostgreSQL starts; again here (idempotent) in case the
  // backup folder was not there then.
  if (settings.host) pgbackrest(cluster, ["stanza-create"]);
  // A host's retention is the setting's, over install-host's configuration (30 days).
  pgbackrest(cluster, [
    "backup",
    "--type=full",
    ...(settings.host ? [`--repo1-retention-full=${settings.keepDays}`] : []),
  ]);
  const label = pgbackrestBackups(cluster).at(-1)?.label;
  if (!label) throw new BackupRefused("pgBackRest reported no backup after backing up");
  try {
    verifyRepository(cluster, label);
  } catch (err) {
    // A backup that fails verification must not be taken for a good one: remove it, and say so.
    try {
      // Retention at its maximum for this run, as pgBackRest's help asks for an ad hoc expiry.
      pgbackrest(cluster, ["expire", `--set=${label}`, "--repo1-retention-full=9999999"]);
    } catch (expireErr) {
      throw new BackupRefused(
        `${(err as Error).message}\nbackup ${label} is damaged and could not be removed: ${(expireErr as Error).message}`,
      );
    }
    throw new BackupRefused(`${(err as Error).message}\nbackup ${label} was removed`);
  }
  // On a host the folders are absolute, kept in the archive relative to /.
  const archive = settings.host
    ? writeFilesArchive(
        "/",
        settings,
        label,
        settings.host.files.map((path) => relative("/", path)),
      )
    : writeFilesArchive(config.dataDir, settings, label);
  // Files archives go with pgBackRest's backups: those of expired backups go too.
  const kept = pgbackrestBackups(cluster).map((b) => b.label);
  for (const old of archiveLabels(settings)) if (!kept.includes(old)) removeFilesArchive(settings, old);
  writeMetric(settings, "connecta_backup_last_success_timestamp_seconds", "When the last backup succeeded.");
  return { label, filesArchive: archive, kept, seconds: (Date.now() - started) / 1000 };
}

/** What a restore is asked for. */
export interface RestoreOptions {
  /** Recover to this moment (PostgreSQL timestamp, e.g. `2026-12-02 01:30:00+00`); default: all WAL. */
  time?: string;
  /** The files archive to use; default: the newest. */
  files?: string;
  /** The restored cluster archives its new timeline to the repository (default true). */
  archive?: boolean;
}

/** What a restore did. */
export interface RestoreResult {
  filesArchive: string;
  target: string;
  /** Rows of Synapse's e2e_one_time_keys_json deleted before its first start. */
  oneTimeKeysDeleted: number;
  seconds: number;
}

/** True when `dir` holds no stack (absent, or empty). */
function emptyFolder(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

/** Restores the stack's data folder and cluster from the backups (see the file comment). */
export async function restore(
  config: StackConfig,
  settings: BackupConfig,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const started = Date.now();
  if (settings.host) {
    throw new BackupRefused(
      'on a host installed by install-host, restore by the steps of docs/runbooks/restore.md ("On a host")',
    );
  }
  if (!settings.ageIdentity) {
    throw new BackupRefused(
      "CONNECTA_BACKUP_AGE_IDENTITY is not set: the operator's age private key is needed to restore",
    );
  }
  if (!emptyFolder(config.dataDir)) {
    throw new BackupRefused(`the data folder ${config.dataDir} is not empty: stop the stack and move it away first`);
  }
  const label = archiveLabels(settings).at(-1);
  const archive = options.files ?? (label ? filesArchive(settings, label) : null);
  if (!archive) throw new BackupRefused(`no backup in ${settings.backupDir}`);

  // Files first: they hold the repository's cipher passphrase.
  const staging = `${config.dataDir}.restoring`;
  rmSync(staging, { recursive: true, force: true });
  extractFilesArchive(archive, settings.ageIdentity, staging);
  privateDir(config.dataDir);
  for (const entry of FILE_ENTRIES) {
    if (existsSync(join(staging, entry))) renameSync(join(staging, entry), join(config.dataDir, entry));
  }
  rmSync(staging, { recursive: true, force: true });
  for (const dir of ["logs", "run"]) privateDir(join(config.dataDir, dir));
  const secrets = ensureSecrets(config.dataDir);

  const home = clusterDir(config);
  if (!emptyFolder(join(home, "data"))) {
    throw new BackupRefused(`PostgreSQL's folder ${join(home, "data")} is not empty: move it away first`);
  }
  const owner = clusterOwner();
  for (const dir of [home, join(home, "data"), join(home, "run")]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (owner) chownSync(dir, owner.uid, owner.gid);
  }
  const port = config.pgPort || 5433;
  const local = { ...config, pgPort: port };
  writePgbackrestConf(local, settings, secrets.files.backupCipherPass);
  verifyRepository(stackCluster(local));
  const target = options.time ? ["--type=time", `--target=${options.time}`, "--target-action=promote"] : [];
  pgbackrest(stackCluster(local), ["restore", ...target]);

  const oneTimeKeysDeleted = await whileRecovered(local, secrets, options.archive ?? true, async (query) => {
    const keys = await query("synapse", "SELECT count(*) AS n FROM e2e_one_time_keys_json");
    await query("synapse", "TRUNCATE e2e_one_time_keys_json");
    return Number(keys.rows[0]?.n);
  });
  return {
    filesArchive: archive,
    target: options.time ?? "end of the archived WAL",
    oneTimeKeysDeleted,
    seconds: (Date.now() - started) / 1000,
  };
}

/** Runs one statement on a database of the restored cluster and returns its row count and rows. */
type Query = (database: string, sql: string) => Promise<pg.QueryResult<Record<string, unknown>>>;

/**
 * Starts the restored cluster on its socket only (archiving to the repository when `archive`),
 * waits until recovery has finished (the cluster accepts writes), runs `work` as the superuser
 * and stops the cluster.
 */
async function whileRecovered<T>(
  config: StackConfig,
  secrets: Secrets,
  archive: boolean,
  work: (query: Query) => Promise<T>,
): Promise<T> {
  const home = clusterDir(config);
  const owner = clusterOwner();
  const service: Service = startService(
    "postgres-restore",
    join(config.pgBin, "postgres"),
    [
      "-D",
      join(home, "data"),
      "-c",
      "listen_addresses=",
      "-c",
      `port=${config.pgPort}`,
      "-c",
      `unix_socket_directories=${join(home, "run")}`,
      // No connections until recovery has finished: then the stack's settings (max_connections)
      // need not be repeated here.
      "-c",
      "hot_standby=off",
      ...(archive ? archiveSettings(config, secrets) : []),
    ],
    join(config.dataDir, "logs", "postgres.log"),
    { ...(owner ? { uid: owner.uid, gid: owner.gid } : {}), cwd: join(home, "run") },
  );
  const query: Query = async (database, sql) => {
    const db = new pg.Client({
      host: join(home, "run"),
      port: config.pgPort,
      user: "connecta_admin",
      password: secrets.pgAdminPassword,
      database,
    });
    await db.connect();
    try {
      return await db.query<Record<string, unknown>>(sql);
    } finally {
      await db.end().catch(() => {});
    }
  };
  try {
    await waitUntil(
      service,
      "recovery has finished",
      async () => (await query("postgres", "SELECT pg_is_in_recovery() AS r")).rows[0]?.r === false,
      1_800_000,
    );
    return await work(query);
  } finally {
    await stopService(service, "SIGINT", 120_000);
  }
}

/**
 * The monthly restore check: restores the newest backup into `scratch` (a data folder of its
 * own, its cluster not archiving: its new timeline must not join the real one's in the
 * repository), and counts Synapse's users and the application service's enquiries there.
 * Deletes `scratch` afterwards.
 */
export async function restoreCheck(
  config: StackConfig,
  settings: BackupConfig,
  scratch: string,
): Promise<{ users: number; enquiries: number; seconds: number }> {
  const started = Date.now();
  if (settings.host) {
    const counts = await hostRestoreCheck(config, settings, settings.host, scratch).catch((err: unknown) => {
      throw new BackupRefused(`restore check failed: ${(err as Error).message}`);
    });
    writeMetric(
      settings,
      "connecta_backup_restore_check_last_success_timestamp_seconds",
      "When the last restore check succeeded.",
    );
    return { ...counts, seconds: (Date.now() - started) / 1000 };
  }
  const local: StackConfig = { ...config, dataDir: scratch, pgPort: config.pgPort || 5433 };
  rmSync(scratch, { recursive: true, force: true });
  try {
    await restore(local, settings, { archive: false });
    const counts = await whileRecovered(local, ensureSecrets(scratch), false, async (query) => ({
      users: Number((await query("synapse", "SELECT count(*) AS n FROM users")).rows[0]?.n),
      enquiries: Number((await query("connecta", "SELECT count(*) AS n FROM enquiries")).rows[0]?.n),
    }));
    if (!(counts.users > 0)) throw new BackupRefused("the restored Synapse database has no users");
    writeMetric(
      settings,
      "connecta_backup_restore_check_last_success_timestamp_seconds",
      "When the last restore check succeeded.",
    );
    return { ...counts, seconds: (Date.now() - started) / 1000 };
  } finally {
    if (existsSync(scratch)) rmSync(clusterDir(local), { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}
