/**
 * The load of bench/load.ts in a size that fits CI (issue 16, "Load"): 10 seeker–counsellor
 * pairs at once, each through the real intake, queue and claim, with Rust-crypto clients on both
 * sides exchanging 20 messages, one in flight per pair; beside them 3 pairs in plain encrypted
 * rooms made directly on Synapse (the benchmark's baseline), so that its code path is run too.
 * Nothing may be lost, duplicated or undecryptable, live or in the server's history afterwards.
 * No timing is asserted: the numbers are bench/load.ts's, in docs/benchmarks.md.
 */
import type * as sdk from "matrix-js-sdk";
import { afterAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { barePairs, connectaPairs, exchange, verifyHistory, type PairsSetup } from "../support/load.ts";

const stack = inject("stack");
const PAIRS = 10;
const MESSAGES = 20;
const clients: sdk.MatrixClient[] = [];

afterAll(() => clients.forEach((c) => c.stopClient()));

/** Exchanges the messages and checks them live and in the server's history. */
async function exchangesEverything(setup: PairsSetup) {
  const result = await exchange(setup.pairs, MESSAGES);
  expect(result.lost).toEqual([]);
  expect(result.duplicated).toEqual([]);
  expect(result.latencies).toHaveLength(setup.pairs.length * MESSAGES);
  const history = await verifyHistory(stack, setup.pairs);
  expect(history.undecryptable).toEqual([]);
  expect(history.duplicated).toEqual([]);
  expect(history.missing).toEqual([]);
  // Every message of the exchange and each pair's first one, once.
  expect(history.events).toBe(setup.pairs.length * (MESSAGES + 1));
}

describe("counselling under load", () => {
  it("carries 10 pairs' messages through intake, queue and claim: none lost, duplicated or undecryptable", async () => {
    const setup = await connectaPairs(stack, PAIRS, { parallel: 5, clients });
    expect(setup.pairs).toHaveLength(PAIRS);
    expect(setup.queued).toBe(PAIRS);
    expect(setup.claimed).toBe(PAIRS);
    expect(new Set(setup.pairs.map((p) => p.enquiryId)).size).toBe(PAIRS);
    await exchangesEverything(setup);
  }, 600_000);

  it("carries the same load in plain encrypted rooms without the workflow (the benchmark's baseline)", async () => {
    const setup = await barePairs(stack, 3, { parallel: 3, clients });
    expect(setup.pairs).toHaveLength(3);
    await exchangesEverything(setup);
  }, 300_000);
});
