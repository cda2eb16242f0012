import type { Request } from "express";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabase } from "../../test/harness.ts";
import { MatrixError } from "../http/errors.ts";
import { trustedProxies } from "../intake/client-address.ts";
import { routeBrake, tokenCheckBrake, type BrakeSettings } from "./brakes.ts";

let db: { pool: pg.Pool; drop(): Promise<void> };
beforeAll(async () => {
  db = await testDatabase();
});
afterAll(() => db.drop());

const settings: BrakeSettings = {
  windowSeconds: 3600,
  tokenChecksPerAddress: 3,
  enquiryActionsPerAccount: 2,
  enquiryActionsPerAddress: 3,
};
/** The web client's forwarder. */
const isTrustedProxy = trustedProxies(["10.0.0.1"]);

/** A request from TCP peer `peer`, with an `X-Forwarded-For` header when given. */
const request = (peer: string, forwardedFor?: string) =>
  ({
    socket: { remoteAddress: peer },
    get: (name: string) => (name.toLowerCase() === "x-forwarded-for" ? forwardedFor : undefined),
  }) as unknown as Request;

/** What `call` threw: the errcode of a MatrixError, or "ok". */
async function outcome(call: Promise<void>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (err) {
    if (err instanceof MatrixError) return err.errcode;
    throw err;
  }
}

describe("the brake on enquiry actions", () => {
  it("counts per account, from whatever address", async () => {
    const brake = routeBrake(db.pool, settings, isTrustedProxy);
    const results = [];
    for (const peer of ["192.0.2.1", "192.0.2.2", "192.0.2.3"]) {
      results.push(await outcome(brake("enquiry-action", request(peer), "@flooder:test")));
    }
    expect(results).toEqual(["ok", "ok", "M_LIMIT_EXCEEDED"]);
    // Another account is not braked by it.
    expect(await outcome(brake("enquiry-action", request("192.0.2.1"), "@colleague:test"))).toBe("ok");
  });

  it("counts per client address as the trusted proxy names it, across accounts", async () => {
    const brake = routeBrake(db.pool, settings, isTrustedProxy);
    const from = (user: string) => brake("enquiry-action", request("10.0.0.1", "198.51.100.7"), user);
    const results = [];
    for (const user of ["@a:test", "@b:test", "@c:test", "@d:test"]) results.push(await outcome(from(user)));
    expect(results).toEqual(["ok", "ok", "ok", "M_LIMIT_EXCEEDED"]);
    // The proxy's other clients have their own budget.
    expect(await outcome(brake("enquiry-action", request("10.0.0.1", "198.51.100.8"), "@e:test"))).toBe("ok");
  });
});

describe("the brake on token checks", () => {
  it("counts per client address; a header from a peer that is no trusted proxy names no other client", async () => {
    const brake = tokenCheckBrake(db.pool, settings, isTrustedProxy);
    const results = [];
    for (let i = 1; i <= 4; i++) results.push(await outcome(brake(request("192.0.2.9", `203.0.113.${i}`))));
    expect(results).toEqual(["ok", "ok", "ok", "M_LIMIT_EXCEEDED"]);
    expect(await outcome(brake(request("192.0.2.10")))).toBe("ok");
  });
});
