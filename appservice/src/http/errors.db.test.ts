// A request that finds every database connection taken for pg's whole wait (bench/load.ts: 200
// intakes at once, each holding one while Synapse answers) is told the service is busy (503 with
// when to try again), not that it broke (500); once a connection is free it works again.
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import express from "express";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabase } from "../../test/harness.ts";
import { errorHandler } from "./errors.ts";

let db: { pool: pg.Pool; drop(): Promise<void> };
let small: pg.Pool;
let base = "";
let close = () => {};

beforeAll(async () => {
  db = await testDatabase();
  // The same database, one connection, a short wait for it.
  // (pg keeps the password out of the options' enumerable fields.)
  const { password } = db.pool.options;
  small = new pg.Pool({ ...db.pool.options, password, max: 1, connectionTimeoutMillis: 200 });
  const app = express();
  app.get("/count", (_req, res, next) => {
    small
      .query<{ n: string }>("SELECT count(*) AS n FROM topics")
      .then(({ rows }) => res.json({ topics: Number(rows[0]?.n) }), next);
  });
  app.use(errorHandler(pino({ level: "silent" })));
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(async () => {
  close();
  await small.end();
  await db.drop();
});

describe("a request while every database connection is taken", () => {
  it("answers 503 M_UNAVAILABLE with Retry-After, and works again once one is free", async () => {
    const held = await small.connect();
    let busy: Response;
    try {
      busy = await fetch(`${base}/count`);
    } finally {
      held.release();
    }
    expect({
      status: busy.status,
      retryAfter: busy.headers.get("retry-after"),
      body: (await busy.json()) as unknown,
    }).toEqual({
      status: 503,
      retryAfter: "2",
      body: {
        errcode: "M_UNAVAILABLE",
        error: "The service is busy; please try again in a moment",
        retry_after_ms: 2000,
      },
    });
    const again = await fetch(`${base}/count`);
    expect(again.status).toBe(200);
  });
});
