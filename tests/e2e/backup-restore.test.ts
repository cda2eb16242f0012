/**
 * Backups and restores of a whole stack (PROMISES.md §3.2, §4.2, §4.4), on a stack of this file's
 * own (its own data, backup folder and ports; the shared e2e stack is not touched), with
 * pgBackRest and age as `ops/connecta backup|restore` run them:
 *
 * 1. The restore drill: agencies, conversations with messages and an attachment, a backup, more
 *    written after it (continuous WAL archiving), PostgreSQL killed and every data folder wiped;
 *    restored and started, the seeker logs in on a fresh browser context, unlocks with the
 *    passphrase and reads the whole history and the attachment; every enquiry is in the same
 *    state. Recovery time and point are printed (docs/benchmarks.md keeps them).
 * 2. Point-in-time recovery to a moment between two messages brings back the first, not the second.
 * 3. A backup file changed by one byte, or encrypted to another key, is refused at restore with a
 *    clear message; the backup folder holds none of a conversation's plaintext and none of the
 *    secrets in clear.
 */
import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStackConfig, ROOT } from "../../ops/stack/config.ts";
import { stablePortsEnv } from "../../ops/stack/processes.ts";
import type { StackInfo } from "../../ops/stack/stack.ts";
import { launchChromium } from "../support/browser.ts";
import {
  counsellorFirstLogin,
  messages,
  messageState,
  pagesText,
  recordUnreadable,
  seekerFirstBrowserLogin,
  seekerLogin,
  sendMessage,
  sendFile,
} from "../support/client-flows.ts";
import { freshStackEnv, launchStack, removeStackData } from "../support/global-setup.ts";
import { eventually, matrixRequest, stackSecret, type TestUser } from "../support/matrix.ts";
import { intakeSeeker, seedIntakeAgency, type Seeker } from "../support/seeker.ts";
import { connectaDb, stepsDone, unique } from "../support/workflow.ts";

const root = mkdtempSync(join(ROOT, ".data", "backup-"));
// PostgreSQL's user (when we are root) passes through to the backup repository below.
chmodSync(root, 0o711);
const dataDir = join(root, "data");
const backupDir = join(root, "backups");
let postgresDir = join(dataDir, "postgres");

/** An age key pair made with age-keygen; returns the public key. */
function ageKeyPair(file: string): string {
  execFileSync("age-keygen", ["-o", file], { stdio: "ignore" });
  return /public key: (age1\w+)/.exec(readFileSync(file, "utf8"))?.[1] ?? "";
}
const operatorKey = join(root, "operator.key");
const recipient = ageKeyPair(operatorKey);
const otherKey = join(root, "other.key");
const otherRecipient = ageKeyPair(otherKey);

let env: NodeJS.ProcessEnv;
let browser: Browser;
let running: ReturnType<typeof launchStack> | null = null;

beforeAll(async () => {
  // Fixed ports, as on a host: the restored stack answers where the old one did (below the
  // ephemeral range, so that no other process of the test run takes one meanwhile).
  const ports = await stablePortsEnv("127.0.0.1");
  env = {
    ...freshStackEnv(dataDir),
    ...ports,
    CONNECTA_BACKUP_DIR: backupDir,
    CONNECTA_BACKUP_AGE_RECIPIENT: recipient,
    CONNECTA_BACKUP_AGE_IDENTITY: operatorKey,
  };
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await stopRunning();
  if (!loadStackConfig().keepTestData) {
    removeStackData({ dataDir, postgresDir });
    removeStackData({ dataDir: root, postgresDir: join(root, "scratch", "postgres") });
  }
});

/** Starts this file's stack with `ops/connecta start`'s CLI. */
/**
 * Stops the running stack, and then any process of this test's data folder that outlived it: a
 * stack whose PostgreSQL was killed can take longer to stop than its launcher waits, and a
 * Synapse left behind would answer on the fixed ports in place of the next (restored) one.
 */
async function stopRunning(): Promise<void> {
  await running?.stop();
  running = null;
  try {
    execFileSync("pkill", ["-KILL", "-f", root]);
  } catch {
    // Exit status 1: nothing was left.
  }
}

async function startStack(): Promise<StackInfo> {
  running = launchStack(process.execPath, [join(ROOT, "ops", "stack", "cli.ts"), "start"], env);
  const info = await running.ready;
  postgresDir = info.postgresDir;
  return info;
}

/** Runs `ops/connecta <args>`; resolves with its exit code, output and `CONNECTA_BACKUP` line. */
function connecta(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string; result: Record<string, unknown> }>(
    (resolve) => {
      const child = spawn("bash", [join(ROOT, "ops", "connecta"), ...args], {
        env: { ...env, ...extraEnv },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.once("exit", (code) => {
        const line = stdout.split("\n").find((l) => l.startsWith("CONNECTA_BACKUP "));
        const result = line ? (JSON.parse(line.slice("CONNECTA_BACKUP ".length)) as Record<string, unknown>) : {};
        resolve({ code, stdout, stderr, result });
      });
    },
  );
}

/** `ops/connecta <args>` that must succeed. */
async function connectaOk(args: string[]): Promise<Record<string, unknown>> {
  const run = await connecta(args);
  if (run.code !== 0)
    throw new Error(`ops/connecta ${args.join(" ")} failed (${run.code}):\n${run.stdout}${run.stderr}`);
  return run.result;
}

/** One statement as the superuser on a database of the stack. */
async function sql<T extends pg.QueryResultRow>(
  stack: StackInfo,
  database: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const db = new pg.Client({
    host: stack.bindAddress,
    port: stack.pgPort,
    user: "connecta_admin",
    password: stackSecret(stack, "pgAdminPassword"),
    database,
  });
  await db.connect();
  try {
    return (await db.query<T>(text, values)).rows;
  } finally {
    await db.end();
  }
}

/** Every enquiry with its state and counsellor, and every agency, as the database has them. */
async function workflowState(stack: StackInfo): Promise<unknown> {
  const db = await connectaDb(stack);
  try {
    const enquiries = await db.query("SELECT id, state, counsellor_id, room_id FROM enquiries ORDER BY id");
    const agencies = await db.query("SELECT id, name FROM agencies ORDER BY id");
    return { enquiries: enquiries.rows, agencies: agencies.rows };
  } finally {
    await db.end();
  }
}

/**
 * Waits until PostgreSQL has archived the WAL segment written now. Without `switchNow` nothing
 * forces it: archive_timeout does, as it would in production.
 */
async function archivedUpToNow(stack: StackInfo, switchNow = false): Promise<void> {
  const [current] = await sql<{ wal: string }>(
    stack,
    "postgres",
    "SELECT pg_walfile_name(pg_current_wal_lsn()) AS wal",
  );
  const wal = String(current?.wal);
  if (switchNow) await sql(stack, "postgres", "SELECT pg_switch_wal()");
  await eventually(
    `WAL segment ${wal} archived`,
    async () => {
      await new Promise((r) => setTimeout(r, 500));
      const [row] = await sql<{ last: string | null }>(
        stack,
        "postgres",
        "SELECT last_archived_wal AS last FROM pg_stat_archiver",
      );
      // Segment names compare by position after the timeline (their first 8 digits).
      return row?.last != null && /^[0-9A-F]{24}$/.test(row.last) && row.last.slice(8) >= wal.slice(8);
    },
    180_000,
  );
}

/** Kills PostgreSQL as a lost disk would (no shutdown, no last archiving), then the stack stops. */
async function disaster(info: StackInfo): Promise<void> {
  const pid = Number(readFileSync(join(info.postgresDir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
  process.kill(pid, "SIGKILL");
  await stopRunning();
  removeStackData(info);
}

/** A 1×1 PDF, as a counsellor might send it. */
const PDF = Buffer.from(
  "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj " +
    "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
);

/** A new German browser context (a new device). */
async function newPage(who: string, unreadable: string[]): Promise<Page> {
  const context = await browser.newContext({ locale: "de-DE", acceptDownloads: true });
  await recordUnreadable(context, who, unreadable);
  return context.newPage();
}

/** What the drill leaves for the later tests. */
const drill = {
  canary: `canary-${unique()}-${unique()}`,
  agencyName: "",
  seeker: null as Seeker | null,
  secrets: [] as string[],
};

describe("backups and restores", () => {
  it("restore drill: wiped and restored, the stack starts and the seeker reads the whole history", async () => {
    const unreadable: string[] = [];
    try {
      await restoreDrill(unreadable);
    } catch (err) {
      throw new Error(`${String(err)}\n${await pagesText(browser)}\nunreadable: ${unreadable.join("\n")}`, {
        cause: err,
      });
    }
  }, 1_200_000);

  it("point-in-time recovery to a moment between two messages brings back the first, not the second", async () => {
    const stack = await startStack();
    // A restore begins a new timeline: a new full backup is the runbook's next step.
    await connectaOk(["backup"]);
    const seeker = drill.seeker as Seeker;
    const login = await matrixRequest(stack, "POST", "/_matrix/client/v3/login", null, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: seeker.localpart },
      password: seeker.password,
    });
    expect(login.status).toBe(200);
    const user = { accessToken: String(login.body.access_token) };
    const send = async (body: string) => {
      const res = await matrixRequest(
        stack,
        "PUT",
        `/_matrix/client/v3/rooms/${encodeURIComponent(seeker.roomId)}/send/m.room.message/${unique()}`,
        user,
        { msgtype: "m.text", body },
      );
      expect(res.status).toBe(200);
      return String(res.body.event_id);
    };
    const first = await send(`before the moment ${unique()}`);
    // The moment, by PostgreSQL's clock, after the first message was committed.
    const [now] = await sql<{ moment: string }>(
      stack,
      "postgres",
      "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS moment",
    );
    const moment = String(now?.moment);
    await new Promise((r) => setTimeout(r, 1500));
    const second = await send(`after the moment ${unique()}`);
    const event = (id: string) =>
      matrixRequest(
        stack,
        "GET",
        `/_matrix/client/v3/rooms/${encodeURIComponent(seeker.roomId)}/event/${encodeURIComponent(id)}`,
        user,
      );
    expect((await event(second)).status).toBe(200);
    // Both are archived before the disaster (a switch spares the test archive_timeout's wait).
    await archivedUpToNow(stack, true);
    await disaster(stack);

    const restored = await connectaOk(["restore", `--time=${moment}`]);
    expect(restored.target).toBe(moment);
    const again = await startStack();
    const relogin = await matrixRequest(again, "POST", "/_matrix/client/v3/login", null, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: seeker.localpart },
      password: seeker.password,
    });
    const token = { accessToken: String(relogin.body.access_token) };
    const eventAgain = (id: string) =>
      matrixRequest(
        again,
        "GET",
        `/_matrix/client/v3/rooms/${encodeURIComponent(seeker.roomId)}/event/${encodeURIComponent(id)}`,
        token,
      );
    // Right after a restore Synapse has answered 500 here once in a full run (its caches and
    // background updates settling on the restored database): asked again until it serves it.
    await expect.poll(async () => (await eventAgain(first)).status, { timeout: 60_000, interval: 2000 }).toBe(200);
    expect((await eventAgain(second)).status).toBe(404);
    // In the database too: the first event's row is there, the second's is not.
    const rows = await sql<{ event_id: string }>(
      again,
      "synapse",
      "SELECT event_id FROM events WHERE event_id = ANY($1)",
      [[first, second]],
    );
    expect(rows.map((r) => r.event_id)).toEqual([first]);
  }, 900_000);

  it("refuses a backup file changed by one byte or encrypted to another key; the restore check passes; backups hold no plaintext and no secret in clear", async () => {
    const files = join(backupDir, "files");
    const newest = readdirSync(files)
      .filter((n) => n.endsWith(".tar.age"))
      .sort()
      .at(-1) as string;
    const scratch = join(root, "scratch");
    const tampered = join(root, "tampered");
    mkdirSync(tampered, { recursive: true });

    // One byte changed.
    const changed = join(tampered, "changed.tar.age");
    const bytes = readFileSync(join(files, newest));
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] ?? 0) ^ 0x01;
    writeFileSync(changed, bytes);
    copyFileSync(join(files, `${newest}.sha256`), `${changed}.sha256`);
    const damaged = await connecta(["restore", "--files", changed], { CONNECTA_DATA_DIR: scratch });
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain(`backup file ${changed} is damaged: its SHA-256`);
    expect(damaged.stderr).toContain("Restore refused");
    expect(readdirSync(root).filter((n) => n.startsWith("scratch"))).toEqual([]);

    // The same files, encrypted to another key, with a checksum that fits.
    const foreign = join(tampered, "foreign.tar.age");
    const tar = execFileSync("age", ["-d", "-i", operatorKey, join(files, newest)], { maxBuffer: 1 << 30 });
    execFileSync("age", ["-r", otherRecipient, "-o", foreign], { input: tar });
    const sum = execFileSync("sha256sum", [foreign], { encoding: "utf8" }).split(" ")[0];
    writeFileSync(`${foreign}.sha256`, `${sum}  foreign.tar.age\n`);
    const otherKeyRun = await connecta(["restore", "--files", foreign], { CONNECTA_DATA_DIR: scratch });
    expect(otherKeyRun.code).toBe(1);
    expect(otherKeyRun.stderr).toContain(`backup file ${foreign} was encrypted to another key`);
    expect(readdirSync(root).filter((n) => n.startsWith("scratch"))).toEqual([]);
    // The key that fits opens it: the refusal was about the key.
    expect(execFileSync("age", ["-d", "-i", otherKey, foreign], { maxBuffer: 1 << 30 }).equals(tar)).toBe(true);

    // One byte changed in pgBackRest's repository: its verify finds it before anything is restored.
    const set = join(backupDir, "pgbackrest", "backup", "connecta", newest.replace(".tar.age", ""), "pg_data");
    const victim = join(set, "PG_VERSION.gz");
    const original = readFileSync(victim);
    const flipped = Buffer.from(original);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0x01;
    writeFileSync(victim, flipped);
    try {
      const repoRun = await connecta(["restore"], { CONNECTA_DATA_DIR: scratch });
      expect(repoRun.code).toBe(1);
      expect(repoRun.stderr).toContain("pgBackRest's verify found damaged or missing files in the repository");
      expect(repoRun.stderr).toMatch(/checksum invalid: 1/);
      expect(existsSync(join(scratch, "postgres", "data", "PG_VERSION"))).toBe(false);
    } finally {
      writeFileSync(victim, original);
      removeStackData({ dataDir: scratch, postgresDir: join(scratch, "postgres") });
    }

    // The monthly restore check on the untouched backups: a restore into a scratch folder, both
    // databases looked into, the folder deleted, the metric written.
    const check = await connectaOk(["restore-check", join(root, "check")]);
    expect(check).toMatchObject({ enquiries: 2 });
    expect(Number(check.users)).toBeGreaterThan(3);
    expect(existsSync(join(root, "check"))).toBe(false);
    expect(
      readFileSync(
        join(backupDir, "metrics", "connecta_backup_restore_check_last_success_timestamp_seconds.prom"),
        "utf8",
      ),
    ).toMatch(/^connecta_backup_restore_check_last_success_timestamp_seconds \d+$/m);

    // Nothing readable in the backup folder: not the conversation's canary, not a secret, not
    // even what the database keeps unencrypted (an agency's name); pgBackRest's files are all
    // enciphered (OpenSSL's "Salted__" format), the others are age files.
    const needles = [drill.canary, drill.agencyName, ...drill.secrets];
    expect(needles.every((n) => n.length >= 16)).toBe(true);
    const found: string[] = [];
    for (const entry of readdirSync(backupDir, { recursive: true, encoding: "utf8" })) {
      const path = join(backupDir, entry);
      if (!statSync(path).isFile() || entry.startsWith("metrics/")) continue;
      const content = readFileSync(path);
      for (const needle of needles) if (content.includes(needle)) found.push(`${entry}: ${needle.slice(0, 12)}…`);
      if (entry.startsWith("pgbackrest/")) {
        if (!content.subarray(0, 8).equals(Buffer.from("Salted__"))) found.push(`${entry}: not enciphered`);
      } else if (entry.endsWith(".tar.age") && !content.subarray(0, 21).equals(Buffer.from("age-encryption.org/v1"))) {
        found.push(`${entry}: not an age file`);
      }
    }
    expect(found).toEqual([]);
    // The search finds what is there: the agency's name is in the live cluster's files.
    const live = readdirSync(postgresDir, { recursive: true, encoding: "utf8" }).some((entry) => {
      const path = join(postgresDir, entry);
      return statSync(path, { throwIfNoEntry: false })?.isFile() && readFileSync(path).includes(drill.agencyName);
    });
    expect(live).toBe(true);
  }, 300_000);
});

async function restoreDrill(unreadable: string[]): Promise<void> {
  const stack = await startStack();
  const agency = await seedIntakeAgency(stack, 1);
  const counsellor = agency.counsellors[0] as TestUser;
  drill.agencyName = (
    await sql<{ name: string }>(stack, "connecta", "SELECT name FROM agencies WHERE id = $1", [agency.agencyId])
  )[0]?.name as string;

  // A conversation: the enquiry, taken; an answer with an attachment.
  const desk = await newPage("counsellor", unreadable);
  await counsellorFirstLogin(stack, desk, counsellor, "de");
  const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
  drill.seeker = seeker;
  expect((await matrixRequest(stack, "POST", "/_matrix/client/v3/logout", seeker, {})).status).toBe(200);
  const chat = await newPage("seeker", unreadable);
  const passphrase = await seekerFirstBrowserLogin(stack, chat, seeker);
  const enquiry = `Meine Anfrage ${drill.canary}`;
  await sendMessage(chat, enquiry);
  const item = desk.getByTestId("queue-item").filter({ hasText: drill.canary });
  await item.waitFor({ timeout: 60_000 });
  await item.getByRole("button").click();
  await desk.waitForURL(/\/beratung\/gespraech\/\d+$/);
  const answer = `Antwort der Beratung ${unique()}`;
  await sendMessage(desk, answer);
  await sendFile(desk, { name: "infoblatt.pdf", mimeType: "application/pdf", buffer: PDF });
  await expect.poll(async () => (await messages(chat)).join("\n"), { timeout: 60_000 }).toContain("infoblatt.pdf");
  // A second enquiry that waits in the queue: a different state to come back.
  await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
  const db = await connectaDb(stack);
  await eventually("every enquiry's steps done", async () => {
    const { rows } = await db.query<{ id: number }>("SELECT id FROM enquiries");
    for (const row of rows) if (!(await stepsDone(db, row.id))) return false;
    return rows.length >= 2;
  });
  await db.end();

  const backedUp = await connectaOk(["backup"]);
  expect(String(backedUp.label)).toMatch(/^\d{8}-\d{6}F$/);

  // The recovery point: from here on a marker row every second until the disaster; the newest
  // that comes back says how much was lost.
  await sql(stack, "postgres", "CREATE TABLE drill_marker (at timestamptz NOT NULL)");
  let marking = true;
  const markers = (async () => {
    while (marking) {
      await sql(stack, "postgres", "INSERT INTO drill_marker VALUES (clock_timestamp())");
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();

  // Written after the backup: only the archived WAL brings it back.
  const later = `Nach der Sicherung ${unique()}`;
  await sendMessage(chat, later);
  await expect.poll(() => messageState(chat, later), { timeout: 60_000 }).toMatch(/gesendet|gelesen/);
  const before = await workflowState(stack);
  drill.secrets = Object.entries(stack.secretFiles)
    .filter(([key]) => key !== "pgpass")
    .map(([, path]) => readFileSync(path, "utf8").trim());
  await archivedUpToNow(stack);
  // Work goes on for a while; then the disk is lost.
  await new Promise((r) => setTimeout(r, 20_000));
  marking = false;
  await markers;
  for (const context of browser.contexts()) await context.close();
  const disasterAt = Date.now();
  await disaster(stack);
  expect(readdirSync(root)).not.toContain("data");

  const restoreStarted = Date.now();
  const restored = await connectaOk(["restore"]);
  expect(Number(restored.oneTimeKeysDeleted)).toBeGreaterThan(0);
  const restoreSeconds = (Date.now() - restoreStarted) / 1000;
  const again = await startStack();
  const recoverySeconds = (Date.now() - restoreStarted) / 1000;
  const [marker] = await sql<{ newest: Date | null }>(again, "postgres", "SELECT max(at) AS newest FROM drill_marker");
  const recoveryPoint = marker?.newest ? (disasterAt - marker.newest.getTime()) / 1000 : Number.NaN;
  const [size] = await sql<{ mb: string }>(
    again,
    "postgres",
    "SELECT round(sum(pg_database_size(datname)) / 1048576.0, 1) AS mb FROM pg_database",
  );
  // Printed past the quiet logs (tests/support/quiet-logs.ts): docs/benchmarks.md records it.
  process.stdout.write(
    `restore drill: recovery time ${recoverySeconds.toFixed(1)} s (restore ${restoreSeconds.toFixed(1)} s, ` +
      `start ${(recoverySeconds - restoreSeconds).toFixed(1)} s); recovery point ${recoveryPoint.toFixed(1)} s ` +
      `(archive_timeout 60 s); full backup ${Number(backedUp.seconds).toFixed(1)} s; cluster ${size?.mb} MB\n`,
  );

  // The seeker on a fresh device: password, passphrase, the whole history and the attachment.
  const fresh = await newPage("seeker after the restore", unreadable);
  await seekerLogin(again, fresh, seeker, passphrase);
  await expect
    .poll(async () => (await messages(fresh)).join("\n"), { timeout: 90_000 })
    .toMatch(new RegExp(`${enquiry}[\\s\\S]*${answer}[\\s\\S]*infoblatt.pdf[\\s\\S]*${later}`));
  await fresh.getByRole("button", { name: /Datei öffnen/ }).click();
  const save = fresh.getByRole("link", { name: "infoblatt.pdf speichern" });
  const [download] = await Promise.all([fresh.waitForEvent("download"), save.click()]);
  expect(readFileSync(await download.path()).equals(PDF)).toBe(true);
  expect(unreadable).toEqual([]);

  // Every enquiry in the same state; the application service's steps run on.
  expect(await workflowState(again)).toEqual(before);
  expect((await fetch(`${again.appserviceUrl}/readyz`)).status).toBe(200);
  const dbAgain = await connectaDb(again);
  try {
    const { rows } = await dbAgain.query<{ id: number }>("SELECT id FROM enquiries");
    for (const row of rows) expect(await stepsDone(dbAgain, row.id)).toBe(true);
  } finally {
    await dbAgain.end();
  }
  for (const context of browser.contexts()) await context.close();
  await stopRunning();
  expect(again.dataDir).toBe(dataDir);
}
