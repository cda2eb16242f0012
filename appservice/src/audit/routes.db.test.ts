/**
 * The security event log through the real application: operator actions on the real routes
 * write their entries, refused tokens and refused callers are counted and collapsed, a flood of
 * bad tokens from many addresses adds a bounded number of entries, and the operator's list and
 * verify routes answer (a broken chain among them). The homeserver's OpenID check is a small
 * HTTP server started here; everything else is the real app on a real PostgreSQL.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { userId, workflowHarness } from "../../test/harness.ts";
import { createApp } from "../app.ts";
import type { Config } from "../config/config.ts";
import { createMetrics } from "../metrics.ts";
import { MAX_KEYS_PER_MINUTE, RefusalLog } from "./refusals.ts";

const OPERATOR_TOKEN = "o".repeat(43);

let h: Awaited<ReturnType<typeof workflowHarness>>;
let refusals: RefusalLog;
let server: Server;
let openid: Server;
let base: string;
/** A deactivated counsellor, whose OpenID token is "deactivated-token". */
const deactivated = userId("deactivated");

beforeAll(async () => {
  h = await workflowHarness();
  // Synapse's OpenID userinfo: one known token.
  openid = createServer((req, res) => {
    const token = new URL(req.url ?? "", "http://x").searchParams.get("access_token");
    if (token === "deactivated-token") res.writeHead(200).end(JSON.stringify({ sub: deactivated }));
    else res.writeHead(401).end(JSON.stringify({ errcode: "M_UNKNOWN_TOKEN" }));
  });
  openid.listen(0, "127.0.0.1");
  await once(openid, "listening");
  const log = pino({ level: "silent" });
  const config = {
    serverName: "test",
    homeserverUrl: `http://127.0.0.1:${(openid.address() as AddressInfo).port}`,
    operatorToken: OPERATOR_TOKEN,
    hsToken: "h".repeat(43),
    trustedProxies: [],
    reopenWindowDays: 30,
    // Token checks at the OpenID stand-in per address: small, so that a flood is refused (429).
    tokenChecksPerAddress: 4,
  } as unknown as Config;
  refusals = new RefusalLog(h.pool, log);
  const app = createApp({
    config,
    pool: h.pool,
    homeserver: h.hs,
    metrics: createMetrics(),
    log,
    steps: h.steps,
    workflow: h.workflow,
    handle: async () => {},
    refusals,
  });
  server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.close();
  openid?.close();
  await h?.drop();
});

async function call(method: string, path: string, body?: unknown, token: string | null = OPERATOR_TOKEN) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function lastEntries(n: number) {
  const { rows } = await h.pool.query<Record<string, unknown>>(
    "SELECT action, actor, target, client_address, class, count FROM audit_log ORDER BY id DESC LIMIT $1",
    [n],
  );
  return rows.reverse();
}

describe("operator actions", () => {
  it("write their entries through the real routes, in the action's transaction", async () => {
    expect((await call("POST", "/api/v1/admin/topics", { id: "audit-t", name_de: "A", name_en: "A" })).status).toBe(
      200,
    );
    expect((await call("PATCH", "/api/v1/admin/topics/audit-t", { name_en: "B" })).status).toBe(200);
    const agency = await call("POST", "/api/v1/admin/agencies", { name: "Audit agency", topics: ["audit-t"] });
    expect(agency.status).toBe(200);
    expect(
      (await call("PATCH", `/api/v1/admin/agencies/${String(agency.body.id)}`, { languages: ["de", "en"] })).status,
    ).toBe(200);
    expect((await call("DELETE", `/api/v1/admin/agencies/${String(agency.body.id)}`)).status).toBe(200);
    expect(await lastEntries(5)).toEqual([
      {
        action: "admin.topic_created",
        actor: "operator",
        target: "audit-t",
        client_address: null,
        class: "low",
        count: 1,
      },
      {
        action: "admin.topic_changed",
        actor: "operator",
        target: "audit-t",
        client_address: null,
        class: "low",
        count: 1,
      },
      ...["created", "changed", "deleted"].map((what) => ({
        action: `admin.agency_${what}`,
        actor: "operator",
        target: String(agency.body.id),
        client_address: null,
        class: "medium",
        count: 1,
      })),
    ]);
  });

  it("write nothing when refused", async () => {
    const { rows } = await h.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log");
    expect((await call("PATCH", "/api/v1/admin/topics/no-such-topic", { name_en: "B" })).status).toBe(404);
    expect((await call("POST", "/api/v1/admin/topics", { id: "audit-t", name_de: "A", name_en: "A" })).status).toBe(
      409,
    );
    const after = await h.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log");
    expect(after.rows[0]?.n).toBe(rows[0]?.n);
  });
});

describe("refused tokens and callers", () => {
  it("are counted per minute and written as one entry each, with the count", async () => {
    await refusals.flush(true);
    for (let i = 0; i < 5; i++) {
      expect((await call("GET", "/api/v1/admin/topics", undefined, "not-the-operator-token")).status).toBe(403);
    }
    for (let i = 0; i < 3; i++) {
      expect((await call("GET", "/api/v1/me", undefined, "unknown-openid-token")).status).toBe(401);
    }
    await h.pool.query("INSERT INTO counsellors (user_id, display_name, deactivated_at) VALUES ($1, 'D', now())", [
      deactivated,
    ]);
    for (let i = 0; i < 2; i++) {
      expect((await call("GET", "/api/v1/me", undefined, "deactivated-token")).status).toBe(403);
    }
    // A missing token is no refused token: nobody presented anything.
    expect((await call("GET", "/api/v1/me", undefined, null)).status).toBe(401);
    await refusals.flush(true);
    expect(await lastEntries(3)).toEqual([
      {
        action: "auth.operator_token_refused",
        actor: "anonymous",
        target: null,
        client_address: "127.0.0.1",
        class: "high",
        count: 5,
      },
      {
        action: "auth.token_refused",
        actor: "anonymous",
        target: null,
        client_address: "127.0.0.1",
        class: "low",
        count: 3,
      },
      {
        action: "auth.forbidden",
        actor: deactivated,
        target: "/api/v1/me",
        client_address: null,
        class: "medium",
        count: 2,
      },
    ]);
  });

  it("include a flood brake's refusals (429), counted per minute", async () => {
    await refusals.flush(true);
    let limited = 0;
    for (let i = 0; i < 8; i++) {
      const res = await call("GET", "/api/v1/me", undefined, `flooding-token-${i}`);
      expect([401, 429]).toContain(res.status);
      if (res.status === 429) limited++;
    }
    expect(limited).toBeGreaterThan(0);
    await refusals.flush(true);
    expect((await lastEntries(2)).find((e) => e.action === "auth.rate_limited")).toEqual({
      action: "auth.rate_limited",
      actor: "anonymous",
      target: "/api/v1/me",
      client_address: "127.0.0.1",
      class: "medium",
      count: limited,
    });
  });

  it("from a flood of many addresses add a bounded number of entries a minute", async () => {
    let now = Date.UTC(2026, 11, 1, 12, 0, 5);
    const flood = new RefusalLog(h.pool, pino({ level: "silent" }), () => now);
    const before = await h.pool.query<{ n: number }>("SELECT coalesce(max(id), 0)::int AS n FROM audit_log");
    const from = before.rows[0]?.n ?? 0;
    for (let i = 0; i < 20_000; i++) {
      flood.note({
        action: "auth.token_refused",
        actor: "anonymous",
        target: null,
        clientAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      });
    }
    now += 60_000; // the next minute: the first one is written
    flood.note({ action: "auth.token_refused", actor: "anonymous", target: null, clientAddress: "10.0.0.1" });
    await flood.flush();
    const { rows } = await h.pool.query<{ entries: number; refusals: number; without_address: number }>(
      `SELECT count(*)::int AS entries, sum(count)::int AS refusals,
              count(*) FILTER (WHERE client_address IS NULL)::int AS without_address
       FROM audit_log WHERE id > $1`,
      [from],
    );
    expect(rows[0]).toEqual({ entries: MAX_KEYS_PER_MINUTE + 1, refusals: 20_000, without_address: 1 });
    await flood.stop();
    const last = await h.pool.query("SELECT count, client_address FROM audit_log ORDER BY id DESC LIMIT 1");
    expect(last.rows[0]).toEqual({ count: 1, client_address: "10.0.0.1" });
  });
});

describe("the operator's audit routes", () => {
  it("list entries newest first, filtered by class and time", async () => {
    const all = await call("GET", "/api/v1/admin/audit?limit=1000");
    const entries = all.body.entries as { id: string; class: string; at: string }[];
    expect(entries.length).toBeGreaterThan(5);
    expect(Number(entries[0]?.id)).toBeGreaterThan(Number(entries[1]?.id));
    const high = await call("GET", "/api/v1/admin/audit?class=high");
    expect((high.body.entries as { class: string }[]).every((e) => ["high", "critical"].includes(e.class))).toBe(true);
    expect(high.body.entries).not.toHaveLength(0);
    const since = encodeURIComponent(entries[0]?.at ?? "");
    expect((await call("GET", `/api/v1/admin/audit?since=${since}`)).body.entries).toHaveLength(1);
    expect((await call("GET", "/api/v1/admin/audit?class=urgent")).body.errcode).toBe("M_INVALID_PARAM");
    expect((await call("GET", "/api/v1/admin/audit?since=yesterday")).body.errcode).toBe("M_INVALID_PARAM");
    // Offsets and years PostgreSQL would not take (found by tests/e2e/fuzz-api.test.ts).
    const farOffset = encodeURIComponent("7600-02-29T20:00:00-20:00");
    expect((await call("GET", `/api/v1/admin/audit?since=${farOffset}`)).body.entries).toEqual([]);
    const yearZero = await call("GET", `/api/v1/admin/audit?since=${encodeURIComponent("0000-01-01T00:00:00Z")}`);
    expect([yearZero.status, yearZero.body.errcode]).toEqual([400, "M_INVALID_PARAM"]);
    expect((await call("GET", "/api/v1/admin/audit?limit=0")).body.errcode).toBe("M_INVALID_PARAM");
  });

  it("verify the chain, and record a broken one as a critical event", async () => {
    const good = await call("GET", "/api/v1/admin/audit/verify");
    expect(good.body).toMatchObject({ ok: true, problem: null });
    const cluster = inject("cluster");
    const { rows } = await h.pool.query<{ name: string }>("SELECT current_database() AS name");
    const superuser = new pg.Client({
      host: cluster.host,
      port: cluster.port,
      user: "connecta_admin",
      password: cluster.adminPassword,
      database: rows[0]?.name,
    });
    await superuser.connect();
    try {
      await superuser.query("BEGIN");
      await superuser.query("SET LOCAL session_replication_role = replica");
      await superuser.query("UPDATE audit_log SET target = 'someone-else' WHERE id = 2");
      await superuser.query("COMMIT");
    } finally {
      await superuser.end();
    }
    const bad = await call("GET", "/api/v1/admin/audit/verify");
    expect(bad.body).toMatchObject({ ok: false, count: 1, head: null, problem: { id: "2", kind: "changed" } });
    expect(await lastEntries(1)).toEqual([
      {
        action: "audit.chain_broken",
        actor: "operator",
        target: "2",
        client_address: null,
        class: "critical",
        count: 1,
      },
    ]);
  });
});
