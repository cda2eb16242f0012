// The transaction endpoint across an outage of its database, made real: the pool reaches
// PostgreSQL through a TCP relay that this test cuts (refusing new connections, dropping open
// ones) and mends. Synapse loses track of a transaction that fails while its own database is down
// too (held.ts); the endpoint must neither fail it for a short outage nor let newer ones pass it.
import { once } from "node:events";
import net, { type AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import express from "express";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabase } from "../../test/harness.ts";
import { errorHandler } from "../http/errors.ts";
import { createMetrics } from "../metrics.ts";
import { transactionRoutes, type MatrixEvent } from "./transactions.ts";

let db: { pool: pg.Pool; drop(): Promise<void> };
let relayed: pg.Pool;
const relay = { down: false, sockets: new Set<net.Socket>(), server: net.createServer() };
const servers: net.Server[] = [relay.server];

function cut() {
  relay.down = true;
  for (const socket of relay.sockets) socket.destroy();
}
function mend() {
  relay.down = false;
}

beforeAll(async () => {
  db = await testDatabase();
  const { host, port, password } = db.pool.options;
  relay.server.on("connection", (client) => {
    if (relay.down) return void client.destroy();
    const upstream = net.connect(Number(port), String(host));
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      relay.sockets.add(a);
      a.pipe(b);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        relay.sockets.delete(a);
        b.destroy();
      });
    }
  });
  relay.server.listen(0, "127.0.0.1");
  await once(relay.server, "listening");
  const relayPort = (relay.server.address() as AddressInfo).port;
  relayed = new pg.Pool({ ...db.pool.options, password, host: "127.0.0.1", port: relayPort, max: 3 });
  // A connection the relay drops is an error on an idle client; the pool then discards it.
  relayed.on("error", () => {});
});
afterAll(async () => {
  for (const server of servers) server.close();
  for (const socket of relay.sockets) socket.destroy();
  await relayed?.end();
  await db.drop();
});

/** An endpoint on the relayed pool; each event's handler records the event id. */
async function endpoint(waits: { databaseWaitMs: number; owedRefusalMs: number }) {
  const app = express();
  app.use(express.json());
  app.use(
    transactionRoutes({
      pool: relayed,
      hsToken: "hs-token",
      metrics: createMetrics(),
      log: pino({ level: "silent" }),
      handle: async (event: MatrixEvent, client: pg.PoolClient) => {
        await client.query("INSERT INTO rate_limit_counters (bucket, window_start, hits) VALUES ($1, now(), 1)", [
          `held:${String(event.event_id)}`,
        ]);
      },
      ...waits,
    }),
  );
  app.use(errorHandler(pino({ level: "silent" })));
  const server = app.listen(0, "127.0.0.1");
  servers.push(server);
  await once(server, "listening");
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return async (txnId: string, eventId: string) => {
    const res = await fetch(`${base}/_matrix/app/v1/transactions/${txnId}`, {
      method: "PUT",
      headers: { authorization: "Bearer hs-token", "content-type": "application/json" },
      body: JSON.stringify({
        events: [{ type: "m.room.message", event_id: eventId, room_id: "!r:test", content: {} }],
      }),
    });
    return { status: res.status, body: (await res.json()) as unknown };
  };
}

/** How often each event was handled (read directly, not through the relay). */
async function handled(...eventIds: string[]): Promise<number[]> {
  const { rows } = await db.pool.query<{ bucket: string }>(
    "SELECT bucket FROM rate_limit_counters WHERE bucket = ANY($1)",
    [eventIds.map((id) => `held:${id}`)],
  );
  return eventIds.map((id) => rows.filter((r) => r.bucket === `held:${id}`).length);
}

const fresh = (name: string) => `${name}-${randomBytes(4).toString("hex")}`;

describe("the transaction endpoint across a database outage", () => {
  it("waits for a database that comes back and then processes the transaction once", async () => {
    const put = await endpoint({ databaseWaitMs: 20_000, owedRefusalMs: 60_000 });
    const [txn, event] = [fresh("wait"), fresh("$wait")];
    cut();
    const answer = put(txn, event);
    // The request is waiting: nothing is handled while the database cannot be reached.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await handled(event)).toEqual([0]);
    mend();
    expect(await answer).toEqual({ status: 200, body: {} });
    expect(await handled(event)).toEqual([1]);
  });

  it("after a transaction failed, refuses newer ones until that one is sent again", async () => {
    const put = await endpoint({ databaseWaitMs: 500, owedRefusalMs: 60_000 });
    const [failed, newer] = [fresh("failed"), fresh("newer")];
    const [failedEvent, newerEvent] = [fresh("$failed"), fresh("$newer")];
    cut();
    const failure = await put(failed, failedEvent);
    mend();
    expect(failure.status).toBeGreaterThanOrEqual(500);
    // The database answers again, but Synapse (had it lost track) would send the newer one:
    // refused, so that Synapse marks the service down and its recoverer sends the failed one.
    expect(await put(newer, newerEvent)).toEqual({
      status: 503,
      body: { errcode: "M_UNAVAILABLE", error: "An earlier transaction failed here; please send that one first" },
    });
    expect(await handled(failedEvent, newerEvent)).toEqual([0, 0]);
    expect(await put(failed, failedEvent)).toEqual({ status: 200, body: {} });
    expect(await put(newer, newerEvent)).toEqual({ status: 200, body: {} });
    expect(await handled(failedEvent, newerEvent)).toEqual([1, 1]);
  });

  it("lets newer transactions pass once the failed one has not come back for the refusal time", async () => {
    const put = await endpoint({ databaseWaitMs: 500, owedRefusalMs: 1_000 });
    const [failed, newer] = [fresh("lost"), fresh("after")];
    const newerEvent = fresh("$after");
    cut();
    expect((await put(failed, fresh("$lost"))).status).toBeGreaterThanOrEqual(500);
    mend();
    expect((await put(newer, newerEvent)).status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await put(newer, newerEvent)).toEqual({ status: 200, body: {} });
    expect(await handled(newerEvent)).toEqual([1]);
  });
});
