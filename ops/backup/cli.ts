/**
 * `node ops/backup/cli.ts <command>`, used through `ops/connecta backup|restore|restore-check`
 * (which installs pgBackRest and age first). Settings: the stack's (ops/stack/config.ts) and
 * the backups' (ops/backup/config.ts) environment variables; on a host installed by
 * ops/host/install-host.ts, those of /etc/connecta/backup.env (connecta-backup.service), which
 * name the host's layout (there, `backup` and `restore-check`: restores follow
 * docs/runbooks/restore.md).
 *
 *   backup                       full backup of the running stack, verified; old ones pruned
 *   restore [--time <moment>] [--files <file.tar.age>]
 *                                restore into an empty data folder (stack stopped); to the end
 *                                of the archived WAL, or to a moment (e.g. "2026-12-02 01:30:00+00")
 *   restore-check [<scratch>]    restore the newest backup into a scratch folder, look, delete it
 *
 * Each prints one machine-readable line `CONNECTA_BACKUP {json}` at the end (tests read it).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadStackConfig, StackConfigError } from "../stack/config.ts";
import { backup, restore, restoreCheck } from "./backup.ts";
import { loadBackupConfig } from "./config.ts";
import { BackupRefused } from "./files.ts";
import { PgbackrestError } from "./pgbackrest.ts";

const say = (line: string) => process.stdout.write(`connecta: ${line}\n`);
const report = (result: object) => process.stdout.write(`CONNECTA_BACKUP ${JSON.stringify(result)}\n`);

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  // Backups start no Synapse: its venv is not needed.
  const config = loadStackConfig({ CONNECTA_SYNAPSE_PYTHON: "(unused)", ...process.env });
  const settings = loadBackupConfig(config);
  if (command === "backup") {
    const result = backup(config, settings);
    say(`backup ${result.label} done in ${result.seconds.toFixed(1)} s; files in ${result.filesArchive}`);
    say(`full backups kept: ${result.kept.join(", ")}`);
    report(result);
    return 0;
  }
  if (command === "restore") {
    const { values } = parseArgs({ args: rest, options: { time: { type: "string" }, files: { type: "string" } } });
    const result = await restore(config, settings, values);
    say(`restored ${config.dataDir} to ${result.target} in ${result.seconds.toFixed(1)} s from ${result.filesArchive}`);
    say(`deleted ${result.oneTimeKeysDeleted} one-time keys from Synapse's e2e_one_time_keys_json before its start`);
    say("start the stack now (ops/connecta start), then take a new full backup (ops/connecta backup)");
    report(result);
    return 0;
  }
  if (command === "restore-check") {
    const scratch = rest[0] ?? join(settings.backupDir, "restore-check");
    const result = await restoreCheck(config, settings, scratch);
    say(
      `restore check passed in ${result.seconds.toFixed(1)} s: ${result.users} Synapse users, ${result.enquiries} enquiries`,
    );
    report(result);
    return 0;
  }
  process.stderr.write(
    "usage: node ops/backup/cli.ts backup | restore [--time <moment>] [--files <file>] | restore-check [<scratch>]\n",
  );
  return 2;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const known = err instanceof BackupRefused || err instanceof PgbackrestError || err instanceof StackConfigError;
    const message = err instanceof Error ? (known ? err.message : (err.stack ?? err.message)) : String(err);
    process.stderr.write(`connecta: error: ${message}\n`);
    process.exit(1);
  },
);
