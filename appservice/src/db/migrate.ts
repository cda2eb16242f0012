/**
 * Forward-only migrations: `appservice/migrations/NNNNNN_name.sql`, applied in order, each in its
 * own transaction and recorded in `connecta_migrations`. An advisory lock lets several replicas
 * start at once; a database newer than this code is refused.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import { LOCK_SPACE } from "./codes.ts";
import { withClient } from "./pool.ts";

/** Folder of the SQL migrations. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));

interface Migration {
  id: number;
  name: string;
  sql: string;
}

function readMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((file, index) => {
      const match = /^(\d{6})_([a-z0-9_]+)\.sql$/.exec(file);
      if (!match) throw new Error(`migration file name ${file} is not NNNNNN_name.sql`);
      const id = Number(match[1]);
      if (id !== index + 1) throw new Error(`migration ${file} should be number ${index + 1}`);
      return { id, name: match[2] ?? "", sql: readFileSync(`${dir}/${file}`, "utf8") };
    });
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(pool: pg.Pool, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = readMigrations(dir);
  return withClient(pool, async (client) => {
    await client.query("SELECT pg_advisory_lock($1)", [LOCK_SPACE.MIGRATIONS]);
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS connecta_migrations (
           id integer PRIMARY KEY,
           name text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query<{ max: number | null }>("SELECT max(id) AS max FROM connecta_migrations");
      const current = rows[0]?.max ?? 0;
      if (current > migrations.length) {
        throw new Error(`the database is at migration ${current}, newer than this code (${migrations.length})`);
      }
      const applied: string[] = [];
      for (const m of migrations.filter((m) => m.id > current)) {
        await client.query("BEGIN");
        try {
          await client.query(m.sql);
          await client.query("INSERT INTO connecta_migrations (id, name) VALUES ($1, $2)", [m.id, m.name]);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK");
          throw new Error(`migration ${m.id} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
        }
        applied.push(m.name);
      }
      return applied;
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [LOCK_SPACE.MIGRATIONS]);
    }
  });
}
