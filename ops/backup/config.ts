/**
 * Settings of backups (ops/backup/), beside the stack's own (ops/stack/config.ts). Like those,
 * every value comes from an environment variable. Backups are on when the operator's age public
 * key is configured: then PostgreSQL archives its write-ahead log continuously through pgBackRest
 * (ops/backup/pgbackrest.ts) and `ops/connecta backup` can run.
 */
import { dirname, isAbsolute, join, resolve } from "node:path";
import { StackConfigError, type StackConfig } from "../stack/config.ts";

/** The backup settings, after defaults and validation. */
export interface BackupConfig {
  /**
   * CONNECTA_BACKUP_AGE_RECIPIENT: the operator's age public key (`age1…`) or the path of an age
   * recipients file. Null: backups are off. Files outside pgBackRest are encrypted to it; only the
   * matching private key (kept by the operator, not on the server) can read them.
   */
  ageRecipient: string | null;
  /** CONNECTA_BACKUP_AGE_IDENTITY: path of the operator's age private key; only restores need it. */
  ageIdentity: string | null;
  /**
   * CONNECTA_BACKUP_DIR: where backups go (pgBackRest's repository in `pgbackrest/`, the encrypted
   * files in `files/`). Default: `<data dir>-backups`, beside the data folder, so that deleting
   * the data folder leaves them. In production, a mount of other disks or another machine.
   */
  backupDir: string;
  /** CONNECTA_BACKUP_KEEP_DAYS: full backups (and the WAL to replay them) kept this long (default 30). */
  keepDays: number;
  /**
   * CONNECTA_BACKUP_METRICS_DIR: where a successful backup writes
   * `connecta_backup_last_success_timestamp_seconds.prom` (and a restore check its own), for
   * node_exporter's textfile collector (default `<backup dir>/metrics`).
   */
  metricsDir: string;
  /**
   * Where the cluster and the files are on a host installed by ops/host/install-host.ts (its
   * /etc/connecta/backup.env sets these); null: the local stack's layout, found from the data folder.
   */
  host: HostLayout | null;
}

/** A host's layout (ops/host/): PostgreSQL under its own unit, user and configuration. */
export interface HostLayout {
  /** CONNECTA_BACKUP_PGBACKREST_CONF: pgBackRest's configuration (stanza, repository, cipher), install-host's. */
  pgbackrestConf: string;
  /** CONNECTA_BACKUP_PG_USER: the OS user that runs the cluster; pgBackRest runs as it. */
  pgUser: string;
  /** CONNECTA_BACKUP_PG_DATA: the cluster's data folder (a restore fills it; it must be empty then). */
  pgData: string;
  /**
   * CONNECTA_BACKUP_FILES: the absolute folders the files archive holds, separated by spaces:
   * configuration with the secrets folder, Synapse's folder with its media store.
   */
  files: string[];
}

/** Reads the backup settings for the stack `stack` from the environment. */
export function loadBackupConfig(stack: Pick<StackConfig, "dataDir">, env = process.env): BackupConfig {
  const backupDir = resolve(env.CONNECTA_BACKUP_DIR || join(dirname(stack.dataDir), `${stackName(stack)}-backups`));
  const keepDays = Number(env.CONNECTA_BACKUP_KEEP_DAYS || 30);
  if (!Number.isInteger(keepDays) || keepDays < 1 || keepDays > 3650) {
    throw new StackConfigError(
      `CONNECTA_BACKUP_KEEP_DAYS: expected whole days 1..3650, got "${env.CONNECTA_BACKUP_KEEP_DAYS}"`,
    );
  }
  const recipient = env.CONNECTA_BACKUP_AGE_RECIPIENT?.trim() || null;
  if (recipient && !recipient.startsWith("age1") && !recipient.startsWith("/")) {
    throw new StackConfigError(
      "CONNECTA_BACKUP_AGE_RECIPIENT: expected an age public key (age1…) or an absolute file path",
    );
  }
  return {
    ageRecipient: recipient,
    ageIdentity: env.CONNECTA_BACKUP_AGE_IDENTITY ? resolve(env.CONNECTA_BACKUP_AGE_IDENTITY) : null,
    backupDir,
    keepDays,
    metricsDir: resolve(env.CONNECTA_BACKUP_METRICS_DIR || join(backupDir, "metrics")),
    host: hostLayout(env),
  };
}

/** The host's layout when CONNECTA_BACKUP_PGBACKREST_CONF is set; then every part must be. */
function hostLayout(env: NodeJS.ProcessEnv): HostLayout | null {
  const conf = env.CONNECTA_BACKUP_PGBACKREST_CONF;
  if (!conf) return null;
  const need = (key: string) => {
    const value = env[key]?.trim();
    if (!value) throw new StackConfigError(`${key}: not set (needed with CONNECTA_BACKUP_PGBACKREST_CONF)`);
    return value;
  };
  const files = need("CONNECTA_BACKUP_FILES").split(/\s+/);
  for (const path of [conf, need("CONNECTA_BACKUP_PG_DATA"), ...files]) {
    if (!isAbsolute(path)) throw new StackConfigError(`backup settings: expected an absolute path, got "${path}"`);
  }
  return {
    pgbackrestConf: conf,
    pgUser: need("CONNECTA_BACKUP_PG_USER"),
    pgData: need("CONNECTA_BACKUP_PG_DATA"),
    files,
  };
}

function stackName(stack: Pick<StackConfig, "dataDir">): string {
  return stack.dataDir.split("/").filter(Boolean).at(-1) ?? "data";
}
