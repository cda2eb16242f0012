/**
 * The audit webhook's background rounds on a real PostgreSQL, against an HTTP server started
 * here: each high or critical entry is sent once, after its transaction committed, without
 * personal data; low and medium ones are not sent; a webhook that keeps failing is given up on,
 * counted in the metrics, and its URL's secret path stays out of the log.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabase } from "../../test/harness.ts";
import { withTransaction } from "../db/pool.ts";
import { createMetrics } from "../metrics.ts";
import { recordEvent } from "./audit.ts";
import { AuditWebhook } from "./webhook.ts";

let db: Awaited<ReturnType<typeof testDatabase>>;
let server: Server;
let url: string;
let failing = false;
const received: Record<string, unknown>[] = [];

beforeAll(async () => {
  db = await testDatabase();
  server = createServer((req, res) => {
    let data = "";
    req.on("data", (chunk: Buffer) => (data += chunk.toString()));
    req.on("end", () => {
      if (failing) return void res.writeHead(500).end();
      received.push(JSON.parse(data) as Record<string, unknown>);
      res.writeHead(200).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/SECRET-PATH?token=SECRET-QUERY`;
});
afterAll(async () => {
  server?.close();
  await db?.drop();
});

describe("the audit webhook", () => {
  it("is told each high and critical entry once, after its commit, and nothing personal", async () => {
    const metrics = createMetrics();
    const webhook = new AuditWebhook(db.pool, url, { metrics, log: pino({ level: "silent" }) }, { firstDelayMs: 5 });
    const target = "@berater-anna:test";
    await recordEvent(db.pool, { action: "admin.topic_created", actor: "operator", target: "t" });
    const reset = await recordEvent(db.pool, { action: "admin.password_reset", actor: "operator", target });
    // An action whose transaction is still open: its entry is not sent before the commit.
    let commit!: () => void;
    const open = withTransaction(db.pool, async (tx) => {
      await recordEvent(tx, { action: "admin.role_changed", actor: "operator", target });
      await new Promise<void>((resolve) => (commit = resolve));
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await webhook.round();
    expect(received).toEqual([
      { source: "connecta", id: reset.id, time: reset.at, action: "admin.password_reset", class: "high" },
    ]);
    commit();
    await open;
    await webhook.round();
    await webhook.round();
    expect(received.map((r) => r.action)).toEqual(["admin.password_reset", "admin.role_changed"]);
    expect(JSON.stringify(received)).not.toContain("berater");
    expect(JSON.stringify(received)).not.toContain("operator");
    expect((await metrics.auditWebhook.get()).values).toEqual([
      expect.objectContaining({ labels: { outcome: "delivered" }, value: 2 }),
    ]);
  });

  it("gives up on a failing webhook, counts it, and logs no secret of its URL", async () => {
    const metrics = createMetrics();
    const lines: string[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    const webhook = new AuditWebhook(db.pool, url, { metrics, log }, { attempts: 3, firstDelayMs: 5 });
    failing = true;
    try {
      await recordEvent(db.pool, { action: "privacy.export", actor: "operator", target: "@seeker:test" });
      await webhook.round();
    } finally {
      failing = false;
    }
    const counts = Object.fromEntries(
      (await metrics.auditWebhook.get()).values.map((v) => [String(v.labels.outcome), v.value]),
    );
    expect(counts).toEqual({ retried: 2, failed: 1 });
    expect(lines.join("")).toContain("audit webhook not delivered");
    expect(lines.join("")).toContain(new URL(url).origin);
    expect(lines.join("")).not.toContain("SECRET");
    // Given up means done: the next round does not send it again.
    await webhook.round();
    expect(received.map((r) => r.action)).not.toContain("privacy.export");
  });
});
