/**
 * Metrics counted without the database: API errors by errcode (the one error handler),
 * transaction lag, and the retention sweep's results.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import express from "express";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MatrixError, errorHandler } from "./http/errors.ts";
import { scraped } from "../test/scrape.ts";
import { createMetrics } from "./metrics.ts";
import { countSweep } from "./retention/sweeper.ts";
import { observeLag } from "./transactions/transactions.ts";

const metrics = createMetrics();

describe("API errors", () => {
  let base = "";
  let close = () => {};
  beforeAll(async () => {
    const app = express();
    app.get("/forbidden", () => {
      throw new MatrixError("M_FORBIDDEN", "no");
    });
    app.get("/unavailable", () => {
      throw new MatrixError("M_UNAVAILABLE", "later");
    });
    app.get("/bug", () => {
      throw new Error("a bug");
    });
    app.use(errorHandler(pino({ level: "silent" }), undefined, undefined, metrics.apiErrors));
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  it("are counted by errcode and status, unexpected ones as M_UNKNOWN 500", async () => {
    for (const path of ["/forbidden", "/forbidden", "/unavailable", "/bug"]) await fetch(`${base}${path}`);
    expect(
      await scraped(metrics.registry, "connecta_appservice_api_errors_total", {
        errcode: "M_FORBIDDEN",
        status: "403",
      }),
    ).toBe(2);
    expect(
      await scraped(metrics.registry, "connecta_appservice_api_errors_total", {
        errcode: "M_UNAVAILABLE",
        status: "503",
      }),
    ).toBe(1);
    expect(
      await scraped(metrics.registry, "connecta_appservice_api_errors_total", { errcode: "M_UNKNOWN", status: "500" }),
    ).toBe(1);
  });
});

describe("transaction lag", () => {
  it("is the time from each timeline event's origin_server_ts to its processing", async () => {
    const now = 1_700_000_000_000;
    observeLag(
      metrics,
      [
        { type: "m.room.message", origin_server_ts: now - 200 },
        { type: "m.room.message", origin_server_ts: now - 40_000 },
        // A clock ahead of ours counts as no lag; an event without a timestamp is left out.
        { type: "m.room.message", origin_server_ts: now + 5_000 },
        { type: "m.room.message" },
      ],
      now,
    );
    expect(await scraped(metrics.registry, "connecta_appservice_transaction_lag_seconds_count")).toBe(3);
    expect(await scraped(metrics.registry, "connecta_appservice_transaction_lag_seconds_sum")).toBeCloseTo(40.2);
    expect(await scraped(metrics.registry, "connecta_appservice_transaction_lag_seconds_bucket", { le: "0.25" })).toBe(
      2,
    );
    expect(await scraped(metrics.registry, "connecta_appservice_transaction_lag_seconds_bucket", { le: "30" })).toBe(2);
    expect(await scraped(metrics.registry, "connecta_appservice_transaction_lag_seconds_bucket", { le: "60" })).toBe(3);
  });
});

describe("the retention sweep's results", () => {
  it("count purges by reason and sweeps by outcome", async () => {
    const purge = (enquiry_id: number, reason: "archived" | "inactive") => ({
      enquiry_id,
      room_id: null,
      seeker_id: null,
      reason,
    });
    countSweep(metrics, {
      ran: true,
      enquiries: [purge(1, "archived"), purge(2, "archived"), purge(3, "inactive")],
      intakes: [{ intake_id: "x", user_id: "@x:test" }],
      expired_rows: 0,
    });
    countSweep(metrics, { ran: false, enquiries: [], intakes: [], expired_rows: 0 });
    countSweep(metrics, null);
    expect(await scraped(metrics.registry, "connecta_appservice_retention_purges_total", { reason: "archived" })).toBe(
      2,
    );
    expect(await scraped(metrics.registry, "connecta_appservice_retention_purges_total", { reason: "inactive" })).toBe(
      1,
    );
    expect(
      await scraped(metrics.registry, "connecta_appservice_retention_purges_total", { reason: "unfinished" }),
    ).toBe(0);
    expect(await scraped(metrics.registry, "connecta_appservice_retention_purges_total", { reason: "intake" })).toBe(1);
    expect(await scraped(metrics.registry, "connecta_appservice_retention_sweeps_total", { outcome: "ran" })).toBe(1);
    expect(await scraped(metrics.registry, "connecta_appservice_retention_sweeps_total", { outcome: "skipped" })).toBe(
      1,
    );
    expect(await scraped(metrics.registry, "connecta_appservice_retention_sweeps_total", { outcome: "failed" })).toBe(
      1,
    );
  });
});
