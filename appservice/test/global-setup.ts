/**
 * Vitest global setup of the database tests (`*.db.test.ts`): a private PostgreSQL cluster,
 * started the way the stack starts its own (ops/stack/postgres.ts, in a fresh data folder on a
 * free loopback port), with the `connecta` database migrated once. Each test file then works on
 * a clone of it (harness.ts): cloning a migrated database takes some 50 ms, so the files run in
 * parallel and start fast, and none sees another's rows.
 *
 * Why a cluster of its own and not the end-to-end stack's: it starts in about 1.5 s, while the
 * stack (Synapse, the web client) needs some 30 s, so running one database test stays a matter
 * of seconds; in a full run (CI) the 1.5 s come on top of a run of minutes.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { migrate } from "../src/db/migrate.ts";
import { loadStackConfig, ROOT } from "../../ops/stack/config.ts";
import { adminConnection, clusterDir, startPostgres } from "../../ops/stack/postgres.ts";
import { freePort, stopService } from "../../ops/stack/processes.ts";
import { ensureSecrets } from "../../ops/stack/secrets.ts";

/** How the database tests reach their cluster. */
export interface TestCluster {
  host: string;
  port: number;
  /** The superuser `connecta_admin`, who clones and drops the test files' databases. */
  adminPassword: string;
  /** The application service's role `connecta`, owner of every test database. */
  appPassword: string;
  /** The migrated database every test file's database is cloned from. */
  template: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    cluster: TestCluster;
  }
}

export default async function setup(project: TestProject) {
  if (!process.env.CONNECTA_PG_BIN) {
    throw new Error("CONNECTA_PG_BIN is not set: run the tests with 'ops/connecta test', which installs and sets it");
  }
  const dataDir = join(
    ROOT,
    ".data",
    "test-runs",
    `db-${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}`,
  );
  mkdirSync(join(dataDir, "logs"), { recursive: true });
  // The stack's configuration, of which PostgreSQL uses the data folder, address and binaries.
  const stack = loadStackConfig({ ...process.env, CONNECTA_DATA_DIR: dataDir, CONNECTA_SYNAPSE_PYTHON: "(unused)" });
  const config = { ...stack, pgPort: await freePort(stack.bindAddress) };
  const secrets = ensureSecrets(dataDir);
  const postgres = await startPostgres(config, secrets);
  const teardown = async () => {
    const code = await stopService(postgres, "SIGINT");
    if (!stack.keepTestData) {
      rmSync(clusterDir(config), { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    }
    if (code !== 0)
      throw new Error(`the tests' PostgreSQL did not stop cleanly (exit ${code}); log in ${dataDir}/logs`);
  };
  try {
    const pool = new pg.Pool({
      ...adminConnection(config, secrets, "connecta"),
      user: "connecta",
      password: secrets.pgAppservicePassword,
    });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
  } catch (err) {
    await teardown();
    throw err;
  }
  project.provide("cluster", {
    host: config.bindAddress,
    port: config.pgPort,
    adminPassword: secrets.pgAdminPassword,
    appPassword: secrets.pgAppservicePassword,
    template: "connecta",
  });
  return teardown;
}
