/**
 * The committed `appservice/schema.sql` is what the migrations make of an empty database, so a
 * reviewer reads the whole schema in one file and a migration cannot change it unnoticed.
 * `CONNECTA_UPDATE_SCHEMA=1` rewrites the file instead of comparing.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { migrate } from "../../appservice/src/db/migrate.ts";
import { loadStackConfig, ROOT } from "../../ops/stack/config.ts";
import { stackSecret } from "../support/matrix.ts";

const stack = inject("stack");
const SCHEMA = join(ROOT, "appservice", "schema.sql");

/** pg_dump's schema of `database`, without comments, settings, blank lines and its per-dump `\\restrict` key. */
async function schemaOf(database: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    join(loadStackConfig().pgBin, "pg_dump"),
    [
      "-h",
      stack.bindAddress,
      "-p",
      String(stack.pgPort),
      "-U",
      "connecta_admin",
      "--schema-only",
      "--no-owner",
      "--no-privileges",
      database,
    ],
    { env: { ...process.env, PGPASSWORD: stackSecret(stack, "pgAdminPassword") } },
  );
  return (
    stdout
      .split("\n")
      .filter(
        (line) =>
          line.trim() !== "" &&
          !line.startsWith("--") &&
          !/^(SET|SELECT pg_catalog\.set_config|\\restrict|\\unrestrict)\b/.test(line),
      )
      .join("\n") + "\n"
  );
}

describe("the database schema", () => {
  it("is what the migrations make of an empty database", async () => {
    const admin = {
      host: stack.bindAddress,
      port: stack.pgPort,
      user: "connecta_admin",
      password: stackSecret(stack, "pgAdminPassword"),
    };
    const name = `schema_check_${randomBytes(4).toString("hex")}`;
    const root = new pg.Client({ ...admin, database: "postgres" });
    await root.connect();
    await root.query(`CREATE DATABASE ${name} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
    try {
      const pool = new pg.Pool({ ...admin, database: name, max: 2 });
      try {
        const applied = await migrate(pool);
        expect(applied.length).toBeGreaterThan(0);
        // Migrating again applies nothing.
        expect(await migrate(pool)).toEqual([]);
      } finally {
        await pool.end();
      }
      const schema = await schemaOf(name);
      expect(schema).toContain("CREATE TABLE public.enquiries");
      if (loadStackConfig().updateSchema) writeFileSync(SCHEMA, schema);
      expect(schema, "appservice/schema.sql is stale: run the tests with CONNECTA_UPDATE_SCHEMA=1").toBe(
        readFileSync(SCHEMA, "utf8"),
      );
    } finally {
      await root.query(`DROP DATABASE IF EXISTS ${name}`);
      await root.end();
    }
  });
});
