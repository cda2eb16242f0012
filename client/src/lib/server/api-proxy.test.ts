import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forwardApiRequest, MAX_BODY_BYTES } from "./api-proxy.ts";

/** What the fake appservice received last. */
let seen: { url: string; method: string; headers: IncomingMessage["headers"]; body: string } | undefined;
let server: Server;
let appservice: URL;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      seen = {
        url: req.url ?? "",
        method: req.method ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      res.writeHead(429, { "content-type": "application/json", "retry-after": "7" });
      res.end('{"errcode":"M_LIMIT_EXCEEDED"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  appservice = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe("forwardApiRequest", () => {
  it("forwards body, Authorization and Content-Type, sets X-Forwarded-For and passes the answer on", async () => {
    const request = new Request("http://client.example.org/api/v1/intake?x=1", {
      method: "POST",
      headers: {
        authorization: "Bearer t",
        "content-type": "application/json",
        cookie: "lang=de",
        "x-forwarded-for": "10.0.0.1",
      },
      body: '{"a":1}',
    });
    const answer = await forwardApiRequest(request, appservice, "192.0.2.5");
    expect(seen).toMatchObject({ url: "/api/v1/intake?x=1", method: "POST", body: '{"a":1}' });
    expect(seen?.headers).toMatchObject({
      authorization: "Bearer t",
      "content-type": "application/json",
      "x-forwarded-for": "192.0.2.5",
    });
    expect(seen?.headers.cookie).toBeUndefined();
    expect(answer.status).toBe(429);
    expect(answer.headers.get("retry-after")).toBe("7");
    expect(await answer.json()).toEqual({ errcode: "M_LIMIT_EXCEEDED" });
  });

  it("refuses a body over the limit with 413, also without Content-Length", async () => {
    seen = undefined;
    const big = "x".repeat(MAX_BODY_BYTES + 1);
    const declared = await forwardApiRequest(
      new Request("http://client.example.org/api/v1/intake", { method: "POST", body: big }),
      appservice,
      "192.0.2.5",
    );
    expect(declared.status).toBe(413);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(new TextEncoder().encode(big.slice(0, 20_000)));
        controller.close();
      },
    });
    const chunked = await forwardApiRequest(
      new Request("http://client.example.org/api/v1/intake", {
        method: "POST",
        body: stream,
        duplex: "half",
      } as RequestInit),
      appservice,
      "192.0.2.5",
    );
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toMatchObject({ errcode: "M_TOO_LARGE" });
    expect(seen).toBeUndefined();
  });

  it("answers 503 M_UNAVAILABLE when the appservice cannot be reached", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const answer = await forwardApiRequest(
      new Request("http://client.example.org/api/v1/intake/challenge"),
      new URL(`http://127.0.0.1:${port}`),
      "192.0.2.5",
    );
    expect(answer.status).toBe(503);
    expect(await answer.json()).toMatchObject({ errcode: "M_UNAVAILABLE" });
  });
});
