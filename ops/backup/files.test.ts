import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadBackupConfig } from "./config.ts";
import { archiveLabels, BackupRefused, extractFilesArchive, writeFilesArchive } from "./files.ts";

const root = mkdtempSync(join(tmpdir(), "connecta-files-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function keyPair(name: string): { identity: string; recipient: string } {
  const identity = join(root, `${name}.key`);
  execFileSync("age-keygen", ["-o", identity], { stdio: "ignore" });
  return { identity, recipient: /public key: (age1\w+)/.exec(readFileSync(identity, "utf8"))?.[1] ?? "" };
}

describe("the files archive", () => {
  const operator = keyPair("operator");
  const other = keyPair("other");
  const dataDir = join(root, "data");
  mkdirSync(join(dataDir, "secrets"), { recursive: true });
  mkdirSync(join(dataDir, "synapse", "media"), { recursive: true });
  mkdirSync(join(dataDir, "logs"), { recursive: true });
  const secret = "secret-value-that-must-not-show-1234567890";
  writeFileSync(join(dataDir, "secrets", "synapse.signing.key"), secret);
  writeFileSync(join(dataDir, "synapse", "media", "file"), "media bytes");
  writeFileSync(join(dataDir, "logs", "synapse.log"), "not backed up");
  const settings = loadBackupConfig(
    { dataDir },
    { CONNECTA_BACKUP_AGE_RECIPIENT: operator.recipient, CONNECTA_BACKUP_DIR: join(root, "backups") },
  );

  it("holds secrets and media, encrypted to the operator, and comes back whole with their key", () => {
    const file = writeFilesArchive(dataDir, settings, "20261202-010000F");
    expect(archiveLabels(settings)).toEqual(["20261202-010000F"]);
    expect(readFileSync(file).includes(secret)).toBe(false);
    const into = join(root, "restored");
    extractFilesArchive(file, operator.identity, into);
    expect(readFileSync(join(into, "secrets", "synapse.signing.key"), "utf8")).toBe(secret);
    expect(readFileSync(join(into, "synapse", "media", "file"), "utf8")).toBe("media bytes");
    expect(() => readFileSync(join(into, "logs", "synapse.log"))).toThrow();
  });

  it("is refused when one byte changed, naming the file and the checksum", () => {
    const file = writeFilesArchive(dataDir, settings, "20261202-020000F");
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x80;
    writeFileSync(file, bytes);
    expect(() => extractFilesArchive(file, operator.identity, join(root, "x"))).toThrow(BackupRefused);
    expect(() => extractFilesArchive(file, operator.identity, join(root, "x"))).toThrow(
      `${file} is damaged: its SHA-256`,
    );
  });

  it("is refused by a key it was not encrypted to, and leaves nothing behind", () => {
    const file = writeFilesArchive(dataDir, settings, "20261202-030000F");
    const into = join(root, "other");
    expect(() => extractFilesArchive(file, other.identity, into)).toThrow("was encrypted to another key");
    expect(() => readFileSync(join(into, "secrets", "synapse.signing.key"))).toThrow();
  });
});

describe("backup settings", () => {
  it("are off without a recipient and refuse a recipient that is not an age key", () => {
    expect(loadBackupConfig({ dataDir: "/srv/x/data" }, {})).toMatchObject({
      ageRecipient: null,
      backupDir: "/srv/x/data-backups",
      keepDays: 30,
    });
    expect(() => loadBackupConfig({ dataDir: "/d" }, { CONNECTA_BACKUP_AGE_RECIPIENT: "ssh-rsa AAA" })).toThrow(
      "CONNECTA_BACKUP_AGE_RECIPIENT",
    );
    expect(() => loadBackupConfig({ dataDir: "/d" }, { CONNECTA_BACKUP_KEEP_DAYS: "0" })).toThrow("KEEP_DAYS");
  });

  it("take a host's layout when pgBackRest's configuration is named, and refuse one given in part", () => {
    expect(loadBackupConfig({ dataDir: "/d" }, {}).host).toBeNull();
    const host = {
      CONNECTA_BACKUP_PGBACKREST_CONF: "/etc/connecta/pgbackrest.conf",
      CONNECTA_BACKUP_PG_USER: "connecta-postgres",
      CONNECTA_BACKUP_PG_DATA: "/var/lib/connecta/postgresql",
      CONNECTA_BACKUP_FILES: "/etc/connecta  /var/lib/connecta/synapse",
    };
    expect(loadBackupConfig({ dataDir: "/d" }, host).host).toEqual({
      pgbackrestConf: "/etc/connecta/pgbackrest.conf",
      pgUser: "connecta-postgres",
      pgData: "/var/lib/connecta/postgresql",
      files: ["/etc/connecta", "/var/lib/connecta/synapse"],
    });
    expect(() => loadBackupConfig({ dataDir: "/d" }, { ...host, CONNECTA_BACKUP_PG_USER: "" })).toThrow(
      "CONNECTA_BACKUP_PG_USER: not set",
    );
    expect(() => loadBackupConfig({ dataDir: "/d" }, { ...host, CONNECTA_BACKUP_FILES: "etc/connecta" })).toThrow(
      'expected an absolute path, got "etc/connecta"',
    );
  });
});
