/**
 * ops/host/synapse-bootstrap.py, which connecta-synapse.service runs after every start of
 * Synapse on a host, against the test stack's Synapse: it registers the registration's bot
 * through the application service API and makes it a server admin in Synapse's database; a
 * second run finds the bot registered and changes nothing else. It gets a copy of the stack's
 * registration with a bot name of its own (inside the application service's namespace), so the
 * stack's own bot is never touched.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const stack = inject("stack");
const SCRIPT = join(import.meta.dirname, "../../ops/host/synapse-bootstrap.py");
const python = process.env.CONNECTA_SYNAPSE_PYTHON ?? "";
const localpart = `connecta-bootstrap-${randomBytes(4).toString("hex")}`;
const userId = `@${localpart}:${stack.serverName}`;

let dir: string;
let registration: string;
let db: pg.Client;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "connecta-bootstrap-"));
  registration = join(dir, "registration.yaml");
  const original = readFileSync(join(stack.dataDir, "synapse", "appservice-registration.yaml"), "utf8");
  const renamed = original.replace(/^sender_localpart: .*$/m, `sender_localpart: "${localpart}"`);
  expect(renamed).not.toBe(original);
  writeFileSync(registration, renamed, { mode: 0o600 });
  db = new pg.Client({
    host: stack.bindAddress,
    port: stack.pgPort,
    user: "connecta_admin",
    password: readFileSync(stack.secretFiles.pgAdminPassword, "utf8").trim(),
    database: "synapse",
  });
  await db.connect();
});

afterAll(async () => {
  // No extra server admin stays behind in the stack.
  await db?.query("UPDATE users SET admin = 0, deactivated = 1 WHERE name = $1", [userId]);
  await db?.end();
  rmSync(dir, { recursive: true, force: true });
});

function bootstrap() {
  return spawnSync(
    python,
    [SCRIPT, join(stack.dataDir, "synapse", "homeserver.yaml"), registration, stack.synapseUrl],
    { encoding: "utf8" },
  );
}

describe("synapse-bootstrap.py", () => {
  it("registers the bot and makes it a server admin, and does so again without complaint", async () => {
    const before = await db.query("SELECT admin FROM users WHERE name = $1", [userId]);
    expect(before.rows).toEqual([]);
    for (let run = 1; run <= 2; run++) {
      const result = bootstrap();
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
      const after = await db.query<{ admin: number; appservice_id: string }>(
        "SELECT admin, appservice_id FROM users WHERE name = $1",
        [userId],
      );
      expect(after.rows).toEqual([{ admin: 1, appservice_id: "connecta" }]);
    }
  });

  it("fails, saying why, when the application service token is wrong", () => {
    writeFileSync(registration, readFileSync(registration, "utf8").replace(/^as_token: .*$/m, 'as_token: "wrong"'));
    const result = bootstrap();
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^synapse-bootstrap: registering the bot failed: 401 /);
  });
});
