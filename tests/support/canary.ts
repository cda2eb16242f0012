/**
 * Where plaintext could hide on the server side: every table of our two databases (as a plain
 * dump) and every file below the stack's folders (database files and write-ahead log, media
 * store, logs).
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { loadStackConfig } from "../../ops/stack/config.ts";
import type { StackInfo } from "../../ops/stack/stack.ts";
import { stackSecret } from "./matrix.ts";

/** Plain SQL dump of every table of `database`, as the PostgreSQL superuser. */
export async function dumpDatabase(stack: StackInfo, database: "synapse" | "connecta"): Promise<string> {
  const { stdout } = await promisify(execFile)(
    join(loadStackConfig().pgBin, "pg_dump"),
    ["-h", stack.bindAddress, "-p", String(stack.pgPort), "-U", "connecta_admin", "--no-owner", database],
    {
      env: { ...process.env, PGPASSWORD: stackSecret(stack, "pgAdminPassword") },
      maxBuffer: 1024 * 1024 * 1024,
    },
  );
  return stdout;
}

/** Files below the stack's data and database folders that contain `needle`. */
export function stackFilesContaining(stack: StackInfo, needle: string): string[] {
  const bytes = Buffer.from(needle);
  const found: string[] = [];
  for (const dir of new Set([stack.dataDir, stack.postgresDir])) {
    for (const entry of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
      const path = join(dir, entry);
      const stat = statSync(path, { throwIfNoEntry: false });
      if (stat?.isFile() && readFileSync(path).includes(bytes)) found.push(path);
    }
  }
  return found;
}

/** The needles found anywhere on the server side (dumps and files). */
export async function serverSideHits(stack: StackInfo, needles: string[]): Promise<string[]> {
  const dumps = await Promise.all([dumpDatabase(stack, "synapse"), dumpDatabase(stack, "connecta")]);
  return needles.filter((n) => dumps.some((d) => d.includes(n)) || stackFilesContaining(stack, n).length > 0);
}
