/**
 * The monthly restore check on a host installed by ops/host/install-host.ts
 * (connecta-restore-check.service, with /etc/connecta/backup.env): pgBackRest's verify of the
 * whole repository, then the newest backup restored into a scratch folder (`<scratch>/data`)
 * with archiving off, so that the throwaway cluster's new timeline never reaches the real
 * repository; that cluster started on a socket in `<scratch>/run` only (no TCP), until recovery
 * has finished; both databases counted; the cluster stopped and the folder deleted.
 *
 * No age private key is needed: pgBackRest's configuration holds the repository's passphrase.
 * Everything touching the scratch folder runs as the cluster's user (root in the unit has no
 * CAP_DAC_OVERRIDE and cannot write into the backup folder, which is that user's), and so do the
 * queries, over the socket with the peer mapping of /etc/connecta/pg_ident.conf.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import type { StackConfig } from "../stack/config.ts";
import type { BackupConfig, HostLayout } from "./config.ts";
import { BackupRefused, filesArchive, verifyChecksum } from "./files.ts";
import { hostCluster, pgbackrest, type Cluster } from "./pgbackrest.ts";

/** The throwaway cluster's port: it names only the socket in `<scratch>/run` (no TCP). */
const PORT = "5434";

/** What a passed check found in the restored cluster. */
export interface HostCheckResult {
  label: string;
  users: number;
  enquiries: number;
  /** The throwaway cluster's archive_mode: `off`. */
  archiveMode: string;
}

/** Runs `program args` as the cluster's user; its standard output, or an error naming `what`. */
function asCluster(cluster: Cluster, what: string, program: string, args: string[]): string {
  const res = spawnSync(program, args, {
    ...(cluster.owner ? { uid: cluster.owner.uid, gid: cluster.owner.gid } : {}),
    cwd: "/",
    encoding: "utf8",
    env: { PATH: process.env.PATH },
  });
  if (res.error) throw new BackupRefused(`${what}: ${res.error.message}`);
  if (res.status !== 0) throw new BackupRefused(`${what} failed: ${(res.stderr || res.stdout).trim()}`);
  return res.stdout;
}

/** Restores the newest backup into `scratch`, looks into it, deletes it (see the file comment). */
export async function hostRestoreCheck(
  config: StackConfig,
  settings: BackupConfig,
  host: HostLayout,
  scratch: string,
): Promise<HostCheckResult> {
  const cluster = hostCluster(host);
  const data = join(scratch, "data");
  const run = join(scratch, "run");
  const psqlBin = join(config.pgBin, "psql");
  const sql = (database: string, query: string) =>
    asCluster(cluster, `query on the restored ${database} database`, psqlBin, [
      ...["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", run, "-p", PORT, "-U", "connecta_admin"],
      ...["-d", database, "-c", query],
    ]).trim();

  const out = pgbackrest(cluster, ["verify", "--output=text", "--verbose"]);
  if (!/^status: ok$/m.test(out)) {
    throw new BackupRefused(`pgBackRest's verify found damaged or missing files in the repository:\n${out.trim()}`);
  }
  const info = JSON.parse(pgbackrest(cluster, ["info", "--output=json"])) as { backup?: { label: string }[] }[];
  const label = info[0]?.backup?.at(-1)?.label;
  if (!label) throw new BackupRefused(`no backup in pgBackRest's repository (${host.pgbackrestConf})`);
  // Its files archive is there and whole (decrypting it needs the key that is not on the host).
  verifyChecksum(filesArchive(settings, label));

  asCluster(cluster, "removing an old scratch folder", "rm", ["-rf", "--", scratch]);
  let server: ChildProcess | undefined;
  let log = "";
  try {
    asCluster(cluster, "making the scratch folder", "mkdir", ["-m", "0700", "-p", data, run]);
    pgbackrest(cluster, [
      "restore",
      `--set=${label}`,
      `--pg1-path=${data}`,
      // Its timeline must never join the real one's in the repository.
      "--archive-mode=off",
    ]);
    server = spawn(
      join(config.pgBin, "postgres"),
      [
        // The host's settings (pg_hba.conf, pg_ident.conf beside them), but no TCP, its own
        // socket, no archiving, and no connections until recovery has finished.
        ...["-D", data, "-c", `config_file=${join(dirname(host.pgbackrestConf), "postgresql.conf")}`],
        ...["-c", "listen_addresses=", "-c", `port=${PORT}`, "-c", `unix_socket_directories=${run}`],
        ...["-c", "archive_mode=off", "-c", "hot_standby=off"],
      ],
      {
        ...(cluster.owner ? { uid: cluster.owner.uid, gid: cluster.owner.gid } : {}),
        cwd: "/",
        env: { PATH: process.env.PATH },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    server.stderr?.on("data", (chunk: Buffer) => (log = `${log}${chunk.toString()}`.slice(-4000)));
    const started = server;
    // Until the restored cluster has replayed the archived WAL and accepts connections.
    for (let i = 0; ; i += 1) {
      if (started.exitCode !== null) throw new BackupRefused(`the restored PostgreSQL stopped:\n${log.trim()}`);
      let why = "still in recovery";
      try {
        if (sql("postgres", "SELECT pg_is_in_recovery()") === "f") break;
      } catch (err) {
        why = (err as Error).message;
      }
      if (i > 3600) throw new BackupRefused(`recovery did not finish in 30 minutes: ${why}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const users = Number(sql("synapse", "SELECT count(*) FROM users"));
    const enquiries = Number(sql("connecta", "SELECT count(*) FROM enquiries"));
    if (!(users > 0)) throw new BackupRefused("the restored Synapse database has no users");
    const archiveMode = sql("postgres", "SHOW archive_mode");
    if (archiveMode !== "off")
      throw new BackupRefused(`the restored PostgreSQL archives (archive_mode=${archiveMode})`);
    return { label, users, enquiries, archiveMode };
  } finally {
    const s = server;
    if (s && s.exitCode === null) {
      await new Promise((r) => {
        s.once("exit", r);
        s.kill("SIGINT");
      });
    }
    asCluster(cluster, "deleting the scratch folder", "rm", ["-rf", "--", scratch]);
  }
}
