/**
 * connecta-postgresql.service's own commands, run outside systemd against what install-host
 * wrote into a temporary root: ExecStartPre (initdb on first start), ExecStart (postgres with
 * /etc/connecta/postgresql.conf), ExecStartPost (psql with postgresql-bootstrap.sql), twice.
 * Then Synapse and the application service log in with their generated passwords over loopback,
 * and the superuser cannot log in over TCP at all.
 *
 * What differs from the host, and only that: paths point into the temporary root, the port is a
 * free one, systemd's credentials folder is a copy of the secrets, and the process runs as
 * PostgreSQL's `postgres` user (as root) or as us, which pg_ident.conf gets one line for (on the
 * host the unit's user `connecta-postgres` is already in it).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncOptions } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts } from "../stack/processes.ts";
import { hostOptions } from "./host-test-options.ts";
import { HOST_PATHS, installHost } from "./install-host.ts";

const root = mkdtempSync(join(tmpdir(), "connecta-pg-host-"));
const at = (hostPath: string) => join(root, hostPath);
const asRoot = process.getuid?.() === 0;
/** As root, PostgreSQL runs as Debian's `postgres` user (it refuses root). */
const owner = asRoot ? lookup("postgres") : null;
const osUser = asRoot ? "postgres" : userInfo().username;
let port = 0;
let server: ChildProcess | undefined;

function lookup(name: string): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no '${name}' user to run PostgreSQL as (Debian's postgresql package makes it)`);
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/** The unit's command lines, by setting, with the host's paths moved into the temporary root. */
function unitCommands(): Record<"ExecStartPre" | "ExecStart" | "ExecStartPost", string> {
  const unit = readFileSync(at(`${HOST_PATHS.units}/connecta-postgresql.service`), "utf8");
  const get = (key: string) => {
    const match = new RegExp(`^${key}=(.+)$`, "m").exec(unit);
    if (!match?.[1]) throw new Error(`connecta-postgresql.service has no ${key}`);
    return relocate(match[1].replaceAll("%d", at("/run/credentials/connecta-postgresql.service")));
  };
  return { ExecStartPre: get("ExecStartPre"), ExecStart: get("ExecStart"), ExecStartPost: get("ExecStartPost") };
}

function relocate(text: string): string {
  return text
    .replaceAll("/var/lib/connecta/", `${at("/var/lib/connecta")}/`)
    .replaceAll("/etc/connecta/", `${at("/etc/connecta")}/`)
    .replaceAll("/run/connecta-postgresql", at("/run/connecta-postgresql"))
    .replaceAll("5433", String(port));
}

/** Splits a unit's command line the way systemd does for these (words, single quotes). */
function words(command: string): string[] {
  return [...command.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? "");
}

function run(command: string, options: SpawnSyncOptions = {}): { status: number | null; stderr: string } {
  const [program = "", ...args] = words(command);
  const result = spawnSync(program, args, {
    encoding: "utf8",
    ...(owner ?? {}),
    env: { PATH: process.env.PATH, CREDENTIALS_DIRECTORY: at("/run/credentials/connecta-postgresql.service") },
    ...options,
  });
  if (result.error) throw result.error;
  return { status: result.status, stderr: String(result.stderr) };
}

function give(path: string) {
  if (owner) chownSync(path, owner.uid, owner.gid);
}

async function ready(): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (run(`${hostOptions(root).pgBin}/pg_isready -q -h ${at("/run/connecta-postgresql")} -p ${port}`).status === 0)
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("PostgreSQL did not become ready");
}

async function start(): Promise<void> {
  const [program = "", ...args] = words(unitCommands().ExecStart);
  server = spawn(program, args, { ...(owner ?? {}), stdio: "ignore" });
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

const secret = (name: string) => readFileSync(at(`${HOST_PATHS.secrets}/${name}`), "utf8").trim();

beforeAll(async () => {
  port = (await freePorts("127.0.0.1", 1))[0] ?? 0;
  installHost(hostOptions(root));
  chmodSync(root, 0o755);
  // What systemd would do: the folders of StateDirectory= and RuntimeDirectory=, the credentials.
  for (const dir of ["/run", "/run/credentials"]) mkdirSync(at(dir), { mode: 0o755 });
  for (const dir of [
    "/var/lib/connecta/postgresql",
    "/run/connecta-postgresql",
    "/run/credentials/connecta-postgresql.service",
  ]) {
    mkdirSync(at(dir), { recursive: true, mode: 0o700 });
    give(at(dir));
  }
  for (const name of ["postgres.connecta_admin", "postgres.synapse", "postgres.connecta"]) {
    const copy = at(`/run/credentials/connecta-postgresql.service/${name}`);
    copyFileSync(at(`${HOST_PATHS.secrets}/${name}`), copy);
    give(copy);
  }
  // The temporary root's configuration, moved like the commands; our OS user may act as admin.
  const conf = at(`${HOST_PATHS.config}/postgresql.conf`);
  writeFileSync(conf, relocate(readFileSync(conf, "utf8")));
  writeFileSync(
    at(`${HOST_PATHS.config}/pg_ident.conf`),
    `${readFileSync(at(`${HOST_PATHS.config}/pg_ident.conf`), "utf8")}connecta_admin ${osUser} connecta_admin\n`,
  );
}, 60_000);

afterAll(async () => {
  await stop();
  rmSync(root, { recursive: true, force: true });
});

describe("connecta-postgresql.service's commands", () => {
  it("initialise the cluster once, start it, and make the roles and databases, twice over", async () => {
    const { ExecStartPre, ExecStartPost } = unitCommands();
    for (let round = 1; round <= 2; round++) {
      const pre = run(ExecStartPre);
      expect(pre.status, pre.stderr).toBe(0);
      await start();
      const post = run(ExecStartPost);
      expect(post.stderr).toBe("");
      expect(post.status).toBe(0);
      await stop();
    }
    await start();
  }, 120_000);

  it("let Synapse and the application service in with their passwords, into their databases", async () => {
    for (const [user, password] of [
      ["synapse", secret("postgres.synapse")],
      ["connecta", secret("postgres.connecta")],
    ]) {
      const client = new pg.Client({ host: "127.0.0.1", port, user, password, database: user });
      await client.connect();
      const { rows } = await client.query<{ owner: string; collate: string; encoding: string }>(
        `SELECT pg_get_userbyid(datdba) AS owner, datcollate AS collate, pg_encoding_to_char(encoding) AS encoding
         FROM pg_database WHERE datname = current_database()`,
      );
      await client.end();
      expect(rows).toEqual([{ owner: user, collate: "C", encoding: "UTF8" }]);
    }
  });

  it("refuse a wrong password, another's database and the superuser over TCP", async () => {
    const attempts = [
      { user: "synapse", password: "wrong", database: "synapse" },
      { user: "synapse", password: secret("postgres.synapse"), database: "connecta" },
      { user: "connecta_admin", password: secret("postgres.connecta_admin"), database: "postgres" },
    ];
    for (const attempt of attempts) {
      const client = new pg.Client({ host: "127.0.0.1", port, ...attempt });
      await expect(client.connect(), JSON.stringify(attempt.user)).rejects.toThrow(
        /password authentication failed|no pg_hba.conf entry/,
      );
      await client.end().catch(() => {});
    }
  });

  it("run without JIT, on loopback only", async () => {
    const client = new pg.Client({
      host: "127.0.0.1",
      port,
      user: "connecta",
      password: secret("postgres.connecta"),
      database: "connecta",
    });
    await client.connect();
    const settings = await client.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('jit', 'listen_addresses', 'password_encryption') ORDER BY name",
    );
    await client.end();
    expect(settings.rows).toEqual([
      { name: "jit", setting: "off" },
      { name: "listen_addresses", setting: "127.0.0.1" },
      { name: "password_encryption", setting: "scram-sha-256" },
    ]);
  });
});
