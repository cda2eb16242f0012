/**
 * What a restore needs beside the databases (PROMISES.md §4.4): the secrets folder (Synapse's
 * signing key, generated passwords and tokens, LiveKit's keys, pgBackRest's cipher passphrase),
 * Synapse's folder (media store, its rendered configuration) and the stack's `stack.json`.
 *
 * They go into one tar stream encrypted with age to the operator's public key (X25519 +
 * ChaCha20-Poly1305; the server never holds the private key) and a SHA-256 file beside it, so a
 * damaged file is named before anything is decrypted; age's own authentication refuses a file
 * changed anywhere, and one encrypted to another key.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import type { BackupConfig } from "./config.ts";

/** Entries of the data folder that the files archive holds (those that exist). */
export const FILE_ENTRIES = ["secrets", "synapse", "stack.json"] as const;

/** A backup that must not be used, with a message for the operator. */
export class BackupRefused extends Error {}

/** Folder of the encrypted files archives. */
export function filesDir(backup: BackupConfig): string {
  return join(backup.backupDir, "files");
}

const SUFFIX = ".tar.age";

/** Path of the files archive that goes with pgBackRest's backup `label`. */
export function filesArchive(backup: BackupConfig, label: string): string {
  return join(filesDir(backup), `${label}${SUFFIX}`);
}

/** Labels of the files archives present, oldest first (labels sort by time). */
export function archiveLabels(backup: BackupConfig): string[] {
  if (!existsSync(filesDir(backup))) return [];
  return readdirSync(filesDir(backup))
    .filter((name) => name.endsWith(SUFFIX))
    .map((name) => name.slice(0, -SUFFIX.length))
    .sort();
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Runs `script` in bash with pipefail; returns stderr, or throws with it. */
function pipeline(script: string, args: string[], env: NodeJS.ProcessEnv): { ok: boolean; stderr: string } {
  const res = spawnSync("bash", ["-c", `set -euo pipefail; ${script}`, "pipeline", ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, ...env },
  });
  if (res.error) throw res.error;
  return { ok: res.status === 0, stderr: res.stderr.trim() };
}

/** age's arguments for the configured recipient: a public key or a recipients file. */
function recipientArgs(recipient: string): string[] {
  return recipient.startsWith("age1") ? ["-r", recipient] : ["-R", recipient];
}

/**
 * Writes the files archive for `label` from `names` in `dataDir` (those that exist) and verifies what was written: the
 * checksum read back, and an age header. A file that fails is deleted and reported (thrown).
 */
export function writeFilesArchive(
  dataDir: string,
  backup: BackupConfig,
  label: string,
  names: readonly string[] = FILE_ENTRIES,
): string {
  if (!backup.ageRecipient) throw new BackupRefused("CONNECTA_BACKUP_AGE_RECIPIENT is not set: nothing to encrypt to");
  mkdirSync(filesDir(backup), { recursive: true, mode: 0o700 });
  const target = filesArchive(backup, label);
  const partial = `${target}.partial`;
  const entries = names.filter((e) => existsSync(join(dataDir, e)));
  const [flag, recipient] = recipientArgs(backup.ageRecipient);
  const written = pipeline(
    'tar -C "$1" -cf - "${@:5}" | age "$2" "$3" -o "$4"',
    [dataDir, flag ?? "", recipient ?? "", partial, ...entries],
    {},
  );
  if (!written.ok) {
    rmSync(partial, { force: true });
    throw new BackupRefused(`encrypting the files for backup ${label} failed: ${written.stderr}`);
  }
  chmodSync(partial, 0o600);
  const digest = sha256(partial);
  renameSync(partial, target);
  writeFileSync(`${target}.sha256`, `${digest}  ${basename(target)}\n`, { mode: 0o600 });
  try {
    verifyChecksum(target);
    if (!readFileSync(target).subarray(0, 21).equals(Buffer.from("age-encryption.org/v1"))) {
      throw new BackupRefused(`${target} is not an age file`);
    }
  } catch (err) {
    removeFilesArchive(backup, label);
    throw err;
  }
  return target;
}

/** Deletes the files archive of `label` and its checksum. */
export function removeFilesArchive(backup: BackupConfig, label: string): void {
  const target = filesArchive(backup, label);
  rmSync(target, { force: true });
  rmSync(`${target}.sha256`, { force: true });
}

/** Throws {@link BackupRefused} unless `file` matches its `.sha256` file. */
export function verifyChecksum(file: string): void {
  if (!existsSync(file)) throw new BackupRefused(`backup file ${file} does not exist`);
  const sumFile = `${file}.sha256`;
  if (!existsSync(sumFile)) throw new BackupRefused(`backup file ${file} has no checksum file ${sumFile}: refused`);
  const expected = readFileSync(sumFile, "utf8").trim().split(/\s+/)[0] ?? "";
  const actual = sha256(file);
  if (expected !== actual) {
    throw new BackupRefused(
      `backup file ${file} is damaged: its SHA-256 is ${actual}, but ${basename(sumFile)} says ${expected}. ` +
        "Restore refused; use another backup (--files) or a good copy of this one.",
    );
  }
}

/**
 * Checks `file` and decrypts it with the operator's identity into the empty folder `into`.
 * Throws {@link BackupRefused} with a message naming the problem: damaged, or encrypted to
 * another key than the identity's.
 */
export function extractFilesArchive(file: string, identity: string, into: string): void {
  verifyChecksum(file);
  if (!existsSync(identity) || !statSync(identity).isFile()) {
    throw new BackupRefused(`the age identity ${identity} (CONNECTA_BACKUP_AGE_IDENTITY) does not exist`);
  }
  mkdirSync(into, { recursive: true, mode: 0o700 });
  const res = pipeline('age -d -i "$1" "$2" | tar -C "$3" -xf -', [identity, file, into], {});
  if (res.ok) return;
  rmSync(into, { recursive: true, force: true });
  if (/no identity matched/i.test(res.stderr)) {
    throw new BackupRefused(
      `backup file ${file} was encrypted to another key: the identity ${identity} cannot decrypt it. ` +
        "Restore refused; use the private key that belongs to CONNECTA_BACKUP_AGE_RECIPIENT at backup time.",
    );
  }
  throw new BackupRefused(`backup file ${file} cannot be decrypted (damaged or not an age file): ${res.stderr}`);
}
