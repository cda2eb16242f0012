/**
 * Backups on a host installed by install-host (ops/backup/, docs/runbooks/restore.md), run the
 * way systemd would run them, outside systemd, against what install-host wrote into a temporary
 * root: connecta-postgresql.service's commands start PostgreSQL with /etc/connecta/postgresql.conf
 * (archiving WAL through pgBackRest) and make pgBackRest's stanza; connecta-backup.service's
 * ExecStart, with /etc/connecta/backup.env as its environment, refuses while the operator's age
 * key is not set, then takes an encrypted full backup that `pgbackrest verify` accepts and an
 * age-encrypted files archive. connecta-restore-check.service's ExecStart (backup.env too) then
 * restores that backup into a scratch folder beside the running cluster, with rows written after
 * the backup, and archives nothing from it. Then the cluster is restored into an empty data
 * folder from the repository, with a row written after the backup (it came from the archived
 * WAL). Last, the restore check fails, saying why, on a damaged repository.
 *
 * What differs from the host, and only that (as in postgresql.test.ts): paths point into the
 * temporary root, the port is a free one, systemd's credentials folder is a copy of the secrets,
 * and PostgreSQL and pgBackRest run as Debian's `postgres` user (install-host's
 * `connecta-postgres` exists only in the temporary root), which pg_ident.conf gets a line for.
 * Needs root (pgBackRest runs as the cluster's user, as on the host).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncOptions } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts } from "../stack/processes.ts";
import { hostOptions } from "./host-test-options.ts";
import { HOST_PATHS, installHost } from "./install-host.ts";

const root = mkdtempSync(join(tmpdir(), "connecta-backup-host-"));
const at = (hostPath: string) => join(root, hostPath);
const owner = lookup("postgres");
const pgData = at("/var/lib/connecta/postgresql");
let port = 0;
let server: ChildProcess | undefined;
let recipient = "";

function lookup(name: string): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no '${name}' user to run PostgreSQL as (Debian's postgresql package makes it)`);
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/** The host's paths moved into the temporary root (each once), the port to the free one. */
function relocate(text: string): string {
  return text
    .replace(
      /(^|[\s='"])(\/(?:var\/lib\/connecta-backups|var\/lib\/connecta|var\/lib\/prometheus|etc\/connecta|run\/connecta-postgresql))/gm,
      `$1${root}$2`,
    )
    .replaceAll("5433", String(port));
}

/** A unit's command lines for `key`, in order, moved into the temporary root. */
function unitCommands(unit: string, key: string): string[] {
  const text = readFileSync(at(`${HOST_PATHS.units}/${unit}`), "utf8");
  return [...text.matchAll(new RegExp(`^${key}=(.+)$`, "gm"))].map((m) =>
    relocate((m[1] ?? "").replaceAll("%d", at(`/run/credentials/${unit}`))),
  );
}

/** Splits a unit's command line the way systemd does for these (words, single quotes; `-` prefix dropped). */
function words(command: string): string[] {
  return [...command.replace(/^-/, "").matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? "");
}

function run(
  command: string,
  options: SpawnSyncOptions = {},
): { status: number | null; stdout: string; stderr: string } {
  const [program = "", ...args] = words(command);
  const result = spawnSync(program, args, {
    encoding: "utf8",
    ...owner,
    cwd: "/",
    env: { PATH: process.env.PATH, CREDENTIALS_DIRECTORY: at("/run/credentials/connecta-postgresql.service") },
    ...options,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** /etc/connecta/backup.env as systemd's EnvironmentFile= reads it (quotes removed). */
function backupEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(at(`${HOST_PATHS.config}/backup.env`), "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m?.[1]) env[m[1]] = (m[2] ?? "").replace(/^"(.*)"$/, "$1");
  }
  return env;
}

/** A backup unit's ExecStart, as root, with backup.env and what ops/connecta needs to find its tools. */
function runBackupUnit(unit = "connecta-backup.service") {
  const [command = ""] = unitCommands(unit, "ExecStart");
  return run(command, {
    uid: 0,
    gid: 0,
    env: {
      PATH: process.env.PATH,
      CONNECTA_TOOLS_DIR: process.env.CONNECTA_TOOLS_DIR,
      ...backupEnv(),
    },
  });
}

function pgbackrest(...args: string[]) {
  return run(`pgbackrest --config=${at("/etc/connecta/pgbackrest.conf")} --stanza=connecta ${args.join(" ")}`);
}

async function ready(): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (run(`${hostOptions(root).pgBin}/pg_isready -q -h ${at("/run/connecta-postgresql")} -p ${port}`).status === 0)
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("PostgreSQL did not become ready");
}

async function start(): Promise<void> {
  const [program = "", ...args] = words(unitCommands("connecta-postgresql.service", "ExecStart")[0] ?? "");
  server = spawn(program, args, { ...owner, stdio: "ignore" });
  await ready();
}

async function stop(): Promise<void> {
  const s = server;
  if (!s || s.exitCode !== null) return;
  await new Promise((r) => {
    s.once("exit", r);
    s.kill("SIGINT");
  });
}

/** The application service's database: as it, over loopback with its password, or as the superuser over the socket (as root). */
async function appDb<T>(work: (client: pg.Client) => Promise<T>, superuser = false): Promise<T> {
  const password = readFileSync(at(`${HOST_PATHS.secrets}/postgres.connecta`), "utf8").trim();
  const client = new pg.Client(
    superuser
      ? { host: at("/run/connecta-postgresql"), port, user: "connecta_admin", database: "connecta" }
      : { host: "127.0.0.1", port, user: "connecta", password, database: "connecta" },
  );
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Switches to the next WAL segment and waits until the one with what was written is in the repository. */
async function archiveNow(db: pg.Client): Promise<void> {
  const { rows } = await db.query<{ wal: string }>("SELECT pg_walfile_name(pg_switch_wal()) AS wal");
  const wal = rows[0]?.wal ?? "";
  for (let i = 0; ; i++) {
    const archived = await db.query<{ last: string | null }>("SELECT last_archived_wal AS last FROM pg_stat_archiver");
    if ((archived.rows[0]?.last ?? "") >= wal) return;
    if (i > 1200) throw new Error(`WAL ${wal} was not archived`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Gives `hostPath` to PostgreSQL's user, as install-host gives it to connecta-postgres. */
function give(hostPath: string, mode: number) {
  chownSync(at(hostPath), owner.uid, owner.gid);
  chmodSync(at(hostPath), mode);
}

beforeAll(async () => {
  if (process.getuid?.() !== 0)
    throw new Error("ops/host/backup.test.ts runs as root (pgBackRest runs as the cluster's user)");
  port = (await freePorts("127.0.0.1", 1))[0] ?? 0;
  installHost(hostOptions(root));
  chmodSync(root, 0o755);
  // What systemd would do: the folders of StateDirectory= and RuntimeDirectory=, the credentials.
  for (const dir of ["/run", "/run/credentials"]) mkdirSync(at(dir), { mode: 0o755 });
  for (const dir of ["/run/connecta-postgresql", "/run/credentials/connecta-postgresql.service"]) {
    mkdirSync(at(dir), { recursive: true });
    give(dir, 0o700);
  }
  for (const name of ["postgres.connecta_admin", "postgres.synapse", "postgres.connecta"]) {
    const copy = `/run/credentials/connecta-postgresql.service/${name}`;
    copyFileSync(at(`${HOST_PATHS.secrets}/${name}`), at(copy));
    give(copy, 0o600);
  }
  for (const dir of [
    "/var/lib/connecta/postgresql",
    ...["", "/pgbackrest", "/lock"].map((d) => `${HOST_PATHS.backups}${d}`),
  ])
    give(dir, 0o700);
  // The temporary root's configuration, moved like the commands; our OS user may act as admin.
  for (const name of ["postgresql.conf", "pgbackrest.conf", "backup.env"]) {
    const conf = at(`${HOST_PATHS.config}/${name}`);
    writeFileSync(conf, relocate(readFileSync(conf, "utf8")).replace("=connecta-postgres\n", "=postgres\n"));
  }
  chownSync(at(`${HOST_PATHS.config}/pgbackrest.conf`), 0, owner.gid);
  writeFileSync(
    at(`${HOST_PATHS.config}/pg_ident.conf`),
    `${readFileSync(at(`${HOST_PATHS.config}/pg_ident.conf`), "utf8")}connecta_admin postgres connecta_admin\n`,
  );
  // The operator's key pair; the private key stays outside what is backed up.
  const identity = join(root, "operator.key");
  spawnSync("age-keygen", ["-o", identity], { encoding: "utf8" });
  recipient = /^# public key: (age1\S+)$/m.exec(readFileSync(identity, "utf8"))?.[1] ?? "";
}, 60_000);

afterAll(async () => {
  await stop();
  rmSync(root, { recursive: true, force: true });
});

describe("backups on a host installed by install-host", () => {
  it("refuse, naming the setting, while the operator's age key is not set", () => {
    expect(backupEnv().CONNECTA_BACKUP_AGE_RECIPIENT).toBe("");
    const result = runBackupUnit();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("CONNECTA_BACKUP_AGE_RECIPIENT is empty");
    expect(result.stderr).toContain("/etc/connecta/backup.env");
  });

  it("start PostgreSQL archiving into pgBackRest's stanza", async () => {
    const [pre = ""] = unitCommands("connecta-postgresql.service", "ExecStartPre");
    expect(run(pre).status).toBe(0);
    await start();
    const [bootstrap = "", stanza = ""] = unitCommands("connecta-postgresql.service", "ExecStartPost");
    expect(run(bootstrap).status).toBe(0);
    const created = run(stanza);
    expect(created.status, created.stderr).toBe(0);
    await appDb(async (db) => {
      const { rows } = await db.query<{ name: string; setting: string }>(
        "SELECT name, setting FROM pg_settings WHERE name IN ('archive_mode', 'archive_timeout') ORDER BY name",
      );
      expect(rows).toEqual([
        { name: "archive_mode", setting: "on" },
        { name: "archive_timeout", setting: "60" },
      ]);
      await db.query("CREATE TABLE drill (note text)");
      await db.query("INSERT INTO drill VALUES ('before the backup')");
    });
  }, 120_000);

  it("take an encrypted full backup that pgBackRest's verify accepts, and an age-encrypted files archive", () => {
    const env = at(`${HOST_PATHS.config}/backup.env`);
    writeFileSync(
      env,
      readFileSync(env, "utf8").replace(
        /^CONNECTA_BACKUP_AGE_RECIPIENT=$/m,
        `CONNECTA_BACKUP_AGE_RECIPIENT=${recipient}`,
      ),
    );
    const result = runBackupUnit();
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(/^CONNECTA_BACKUP (.+)$/m.exec(result.stdout)?.[1] ?? "null") as {
      label: string;
      filesArchive: string;
    };
    expect(report.label).toMatch(/^\d{8}-\d{6}F$/);

    const verify = pgbackrest("verify", "--output=text", "--verbose");
    expect(verify.stdout).toMatch(/^status: ok$/m);
    const [info] = JSON.parse(pgbackrest("info", "--output=json").stdout) as {
      repo: { cipher: string }[];
      backup: { label: string; type: string }[];
    }[];
    expect(info?.repo[0]?.cipher).toBe("aes-256-cbc");
    expect(info?.backup.map((b) => [b.label, b.type])).toEqual([[report.label, "full"]]);
    // pgBackRest's own files in the repository are enciphered (OpenSSL's salted format).
    const manifest = at(`${HOST_PATHS.backups}/pgbackrest/backup/connecta/${report.label}/backup.manifest`);
    expect(readFileSync(manifest).subarray(0, 8).toString()).toBe("Salted__");

    // The files archive: age-encrypted, into root's folder, with the secrets and Synapse's folder.
    expect(report.filesArchive).toBe(at(`${HOST_PATHS.backups}/files/${report.label}.tar.age`));
    expect(readFileSync(report.filesArchive).subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    const listed = spawnSync(
      "bash",
      [
        "-c",
        'set -o pipefail; age -d -i "$1" "$2" | tar -tf -',
        "list",
        join(root, "operator.key"),
        report.filesArchive,
      ],
      { encoding: "utf8" },
    );
    expect(listed.status, listed.stderr).toBe(0);
    const inRoot = root.slice(1);
    expect(listed.stdout).toContain(`${inRoot}/etc/connecta/secrets/pgbackrest.cipher_pass`);
    expect(listed.stdout).toContain(`${inRoot}/etc/connecta/secrets/synapse.signing.key`);
    expect(listed.stdout).toContain(`${inRoot}/var/lib/connecta/synapse/`);
    expect(existsSync(at(`${HOST_PATHS.metrics}/connecta_backup_last_success_timestamp_seconds.prom`))).toBe(true);
  }, 300_000);

  it("pass the monthly restore check (connecta-restore-check.service), beside the running cluster", async () => {
    // Stand-ins for Synapse's users and the application service's enquiries (neither runs here),
    // written after the backup: the check sees them only from the archived WAL.
    await appDb(async (db) => {
      await db.query("CREATE TABLE enquiries (id int)");
      await db.query("INSERT INTO enquiries VALUES (1), (2), (3)");
    }, true);
    const synapse = new pg.Client({
      host: at("/run/connecta-postgresql"),
      port,
      user: "connecta_admin",
      database: "synapse",
    });
    await synapse.connect();
    try {
      await synapse.query("CREATE TABLE users (name text)");
      await synapse.query("INSERT INTO users VALUES ('@connecta-bot:example.org'), ('@ratsuchende:example.org')");
      await archiveNow(synapse);
    } finally {
      await synapse.end();
    }

    const result = runBackupUnit("connecta-restore-check.service");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("restore check passed");
    const report = JSON.parse(/^CONNECTA_BACKUP (.+)$/m.exec(result.stdout)?.[1] ?? "null") as {
      users: number;
      enquiries: number;
      archiveMode: string;
    };
    expect([report.users, report.enquiries, report.archiveMode]).toEqual([2, 3, "off"]);
    expect(existsSync(at(`${HOST_PATHS.backups}/restore-check`))).toBe(false);
    expect(
      existsSync(at(`${HOST_PATHS.metrics}/connecta_backup_restore_check_last_success_timestamp_seconds.prom`)),
    ).toBe(true);
    // The throwaway cluster archived nothing (no timeline 2, not even its history file), and
    // the real cluster still archives into the repository.
    const archived = readdirSync(at(`${HOST_PATHS.backups}/pgbackrest/archive/connecta`), { recursive: true }).map(
      (path) => basename(String(path)),
    );
    expect(archived.filter((name) => name.startsWith("00000002"))).toEqual([]);
    expect(archived.filter((name) => name.startsWith("00000001")).length).toBeGreaterThan(0);
    expect(pgbackrest("check").status).toBe(0);
  }, 300_000);

  it("restore the cluster into an empty data folder, to the end of the archived WAL", async () => {
    await appDb(async (db) => {
      await db.query("INSERT INTO drill VALUES ('after the backup')");
      // The segment with the row goes to the repository now rather than after archive_timeout.
      await archiveNow(db);
    }, true);
    await stop();
    renameSync(pgData, `${pgData}.lost`);
    mkdirSync(pgData, { mode: 0o700 });
    give("/var/lib/connecta/postgresql", 0o700);

    // As the runbook says: no connections until recovery has finished, so that the unit's
    // bootstrap (ExecStartPost, which writes) runs on a cluster that accepts writes.
    const restored = pgbackrest("restore", "--recovery-option=hot_standby=off");
    expect(restored.status, restored.stderr).toBe(0);
    await start();
    for (const post of unitCommands("connecta-postgresql.service", "ExecStartPost")) {
      const done = run(post);
      expect(done.status, `${post}: ${done.stderr}`).toBe(0);
    }
    const notes = await appDb(async (db) => {
      expect((await db.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r")).rows[0]?.r).toBe(false);
      return (await db.query<{ note: string }>("SELECT note FROM drill ORDER BY note")).rows.map((r) => r.note);
    });
    expect(notes).toEqual(["after the backup", "before the backup"]);
    // The restored cluster archives its new timeline into the same repository.
    expect(pgbackrest("check").status).toBe(0);
  }, 300_000);

  it("fail the restore check, saying why, when the repository is damaged", () => {
    const [info] = JSON.parse(pgbackrest("info", "--output=json").stdout) as { backup: { label: string }[] }[];
    const set = at(`${HOST_PATHS.backups}/pgbackrest/backup/connecta/${info?.backup[0]?.label}/pg_data/global`);
    const control = readdirSync(set).find((name) => name.startsWith("pg_control"));
    expect(control).toBeDefined();
    const file = join(set, control ?? "");
    writeFileSync(file, Buffer.alloc(readFileSync(file).length, 0x55));

    const result = runBackupUnit("connecta-restore-check.service");
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("restore check failed: pgBackRest's verify found damaged or missing files");
    expect(existsSync(at(`${HOST_PATHS.backups}/restore-check`))).toBe(false);
  }, 300_000);
});
