/**
 * The audit webhook's body and delivery, against an HTTP server started here.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliver, loggableUrl, webhookBody } from "./webhook.ts";

const entry = {
  id: "42",
  at: "2026-12-01T22:18:18.123456Z",
  actor: "@ratsuchende-blau:example.org",
  action: "admin.password_reset",
  target: "@berater-anna:example.org",
  client_address: "198.51.100.7",
  class: "high",
  count: 1,
  hash: "a".repeat(64),
};

describe("the webhook body", () => {
  it("names the entry's id, time, action and class, and nobody", () => {
    const body = webhookBody(entry);
    expect(body).toEqual({
      source: "connecta",
      id: "42",
      time: "2026-12-01T22:18:18.123456Z",
      action: "admin.password_reset",
      class: "high",
    });
    const text = JSON.stringify(body);
    for (const personal of [entry.actor, entry.target, entry.client_address, "ratsuchende", "berater", "198.51"]) {
      expect(text).not.toContain(personal);
    }
  });
});

describe("a webhook URL in the log", () => {
  it("keeps only scheme, host and port", () => {
    expect(loggableUrl("https://user:pw@hooks.example.org:8443/services/T000/B000/XXXXSECRET?token=abc")).toBe(
      "https://hooks.example.org:8443",
    );
    expect(loggableUrl("no url")).toBe("(invalid URL)");
  });
});

describe("delivery", () => {
  let server: Server;
  let url: string;
  /** Statuses to answer, in order; then 200. */
  let answers: number[] = [];
  const received: { body: unknown; at: number }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let data = "";
      req.on("data", (chunk: Buffer) => (data += chunk.toString()));
      req.on("end", () => {
        received.push({ body: JSON.parse(data), at: Date.now() });
        res.writeHead(answers.shift() ?? 200).end();
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/secret-path`;
  });
  afterAll(() => {
    server.close();
  });

  it("posts the body once when the webhook answers 2xx", async () => {
    received.length = 0;
    answers = [204];
    expect(await deliver(url, webhookBody(entry), { firstDelayMs: 10 })).toEqual({
      ok: true,
      attempts: 1,
      lastError: "",
    });
    expect(received.map((r) => r.body)).toEqual([webhookBody(entry)]);
  });

  it("retries a failing webhook with growing waits until it answers", async () => {
    received.length = 0;
    answers = [500, 503];
    const result = await deliver(url, webhookBody(entry), { firstDelayMs: 40 });
    expect(result).toEqual({ ok: true, attempts: 3, lastError: "" });
    expect(received).toHaveLength(3);
    const [first, second, third] = received.map((r) => r.at) as [number, number, number];
    expect(second - first).toBeGreaterThanOrEqual(35);
    expect(third - second).toBeGreaterThanOrEqual(150); // four times the first wait
  });

  it("gives up after the last attempt and says why, without throwing", async () => {
    received.length = 0;
    answers = [500, 500, 500];
    expect(await deliver(url, webhookBody(entry), { attempts: 3, firstDelayMs: 5 })).toEqual({
      ok: false,
      attempts: 3,
      lastError: "HTTP 500",
    });
    expect(received).toHaveLength(3);
  });

  it("gives up on a webhook that is not there", async () => {
    const gone = createServer().listen(0, "127.0.0.1");
    await once(gone, "listening");
    const port = (gone.address() as AddressInfo).port;
    gone.close();
    await once(gone, "close");
    const result = await deliver(`http://127.0.0.1:${port}/hook`, webhookBody(entry), { attempts: 2, firstDelayMs: 5 });
    expect(result).toMatchObject({ ok: false, attempts: 2, lastError: "ECONNREFUSED" });
  });
});
