import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, inject, it } from "vitest";
import { freePort, stopService, type Service } from "../../ops/stack/processes.ts";
import { startAppservice } from "../../ops/stack/stack.ts";
import { eventually, matrixRequest, registerUser, stackSecret } from "../support/matrix.ts";

const stack = inject("stack");
const hsToken = stackSecret(stack, "appservice.hs_token");
const started: Service[] = [];
afterAll(async () => {
  await Promise.all(started.map((s) => stopService(s)));
});

async function extraAppservice(name: string): Promise<{ service: Service; url: string }> {
  const port = await freePort(stack.bindAddress);
  const service = await startAppservice(stack, port, name);
  started.push(service);
  return { service, url: `http://${stack.bindAddress}:${port}` };
}

function putTransaction(url: string, txnId: string, body: unknown, token: string | null = hsToken, raw?: string) {
  return fetch(`${url}/_matrix/app/v1/transactions/${encodeURIComponent(txnId)}`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: raw ?? JSON.stringify(body),
  });
}

async function processedEvents(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^connecta_appservice_events_processed_total\{kind="timeline"\} (\d+)$/m.exec(text);
  return match ? Number(match[1]) : 0;
}

function events(count: number) {
  return Array.from({ length: count }, (_, i) => ({
    type: "m.room.message",
    event_id: `$${randomBytes(8).toString("hex")}-${i}`,
    room_id: "!room:localhost",
    sender: "@someone:localhost",
    content: { msgtype: "m.text", body: "ciphertext stands here in real life" },
  }));
}

describe("the transaction endpoint", () => {
  it("refuses a missing or wrong hs_token with a Matrix error", async () => {
    const missing = await putTransaction(stack.appserviceUrl, "auth-1", { events: [] }, null);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ errcode: "M_UNAUTHORIZED" });
    const wrong = await putTransaction(stack.appserviceUrl, "auth-2", { events: [] }, "wrong-token");
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ errcode: "M_FORBIDDEN" });
    const legacyWrong = await fetch(`${stack.appserviceUrl}/_matrix/app/v1/transactions/auth-3?access_token=wrong`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(legacyWrong.status).toBe(403);
  });

  it("answers malformed bodies with 4xx Matrix errors", async () => {
    const cases: [string, string, number, string][] = [
      ["not json", "{events:", 400, "M_NOT_JSON"],
      ["array body", "[]", 400, "M_BAD_JSON"],
      ["events not a list", JSON.stringify({ events: "x" }), 400, "M_BAD_JSON"],
      ["event without type", JSON.stringify({ events: [{ content: {} }] }), 400, "M_BAD_JSON"],
      ["oversized body", JSON.stringify({ events: [], pad: "x".repeat(21 * 1024 * 1024) }), 413, "M_TOO_LARGE"],
    ];
    for (const [name, raw, status, errcode] of cases) {
      const res = await putTransaction(stack.appserviceUrl, `bad-${name}`, null, hsToken, raw);
      expect(res.status, name).toBe(status);
      expect(await res.json(), name).toMatchObject({ errcode });
    }
  });

  it("processes a replayed transaction once, also across a crash and restart", async () => {
    const first = await extraAppservice("appservice-replay-1");
    const txnId = `replay-${randomBytes(6).toString("hex")}`;
    const body = { events: events(3) };

    expect((await putTransaction(first.url, txnId, body)).status).toBe(200);
    expect(await processedEvents(first.url)).toBe(3);
    expect((await putTransaction(first.url, txnId, body)).status).toBe(200);
    expect(await processedEvents(first.url)).toBe(3);

    // A crash: no clean shutdown.
    await stopService(first.service, "SIGKILL");
    const second = await extraAppservice("appservice-replay-2");
    const replay = await putTransaction(second.url, txnId, body);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({});
    expect(await processedEvents(second.url)).toBe(0);

    expect((await putTransaction(second.url, `${txnId}-next`, { events: events(2) })).status).toBe(200);
    expect(await processedEvents(second.url)).toBe(2);
  });

  it("processes a transaction once when two replicas receive it at the same time", async () => {
    const [one, two] = await Promise.all([extraAppservice("appservice-race-1"), extraAppservice("appservice-race-2")]);
    const txnId = `race-${randomBytes(6).toString("hex")}`;
    const body = { events: events(1) };
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => putTransaction(i % 2 ? one.url : two.url, txnId, body)),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect((await processedEvents(one.url)) + (await processedEvents(two.url))).toBe(1);
  });

  it("receives events from Synapse through the registration", async () => {
    // A server admin: people create no rooms (homeserver-config/connecta_rules.py).
    const user = await registerUser(stack, "invites-bot", true);
    const before = await processedEvents(stack.appserviceUrl);
    const room = await matrixRequest(stack, "POST", "/_matrix/client/v3/createRoom", user, {
      invite: [stack.botUserId],
    });
    expect(room.status).toBe(200);
    await eventually(
      "the invite reaches the application service",
      async () => (await processedEvents(stack.appserviceUrl)) > before,
    );
  });
});
