import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asMatrixError, forwardApiRequest, isBrowserRoute, MAX_BODY_BYTES } from "./api-proxy.ts";

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
    expect(answer.headers.get("cache-control")).toBe("no-store");
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

  it("forwards nothing but the browsers' routes, however the path is spelled", async () => {
    for (const path of [
      "/api/v1/admin/agencies",
      "/api/v1/ADMIN/agencies",
      "/api/v1/me/../admin/agencies",
      "/api/v1/%2e%2e/v1/admin/agencies",
      "/api/v1/./admin/agencies",
      "/api/v1//admin/agencies",
      "/api/v1/admin%2fagencies",
      "/api/v1/%61dmin/agencies",
      "/api/v1/openapi.json",
      "/api/v1/me/",
    ]) {
      seen = undefined;
      const answer = await forwardApiRequest(new Request(`http://client.example.org${path}`), appservice, "192.0.2.5");
      expect(answer.status, path).toBe(404);
      expect(await answer.json(), path).toEqual({ errcode: "M_NOT_FOUND", error: "No such API route" });
      expect(seen, path).toBeUndefined();
    }
  });
});

describe("isBrowserRoute", () => {
  it("accepts the routes our pages call", () => {
    for (const path of [
      "/api/v1/topics",
      "/api/v1/intake",
      "/api/v1/intake/challenge",
      "/api/v1/intake/0b6f3c8e-4a1d-4c2b-9d8e-2f1a3b4c5d6e/complete",
      "/api/v1/queue",
      "/api/v1/enquiries",
      "/api/v1/enquiries/12/claim",
      "/api/v1/me",
      "/api/v1/me/absence",
      "/api/v1/agencies/3/counsellors",
      "/api/v1/rtc/get_token",
      "/api/v1/rtc/sfu/get",
    ]) {
      expect(isBrowserRoute(path), path).toBe(true);
    }
  });

  it("refuses other routes and every other spelling", () => {
    for (const path of [
      "/api/v1/admin/agencies",
      "/api/v1/Me",
      "/api/v1/me/",
      "/api/v1//me",
      "/api/v1/me%2fabsence",
      "/api/v1/me;x",
      "/api/v1/me/..",
      "/api/v1/control-room",
      "/api/v1/openapi.json",
      "/api/v2/topics",
      "/api/v1",
      "/metrics",
    ]) {
      expect(isBrowserRoute(path), path).toBe(false);
    }
  });
});

describe("asMatrixError", () => {
  it("keeps successes and Matrix-style errors, and turns any other error into one", async () => {
    const ok = new Response("{}", { status: 200 });
    expect(await asMatrixError(ok)).toBe(ok);
    const limited = await asMatrixError(
      new Response('{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":10}', {
        status: 429,
        headers: { "retry-after": "1" },
      }),
    );
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("1");
    expect(await limited.json()).toMatchObject({ errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 10 });
    const html = await asMatrixError(new Response("<h1>Not found</h1>", { status: 404 }));
    expect([html.status, await html.json()]).toEqual([404, { errcode: "M_NOT_FOUND", error: "No such API route" }]);
    const method = await asMatrixError(new Response("DELETE method not allowed", { status: 405 }));
    expect([method.status, ((await method.json()) as { errcode: unknown }).errcode]).toEqual([405, "M_UNRECOGNIZED"]);
    const crash = await asMatrixError(new Response('{"message":"Internal Error"}', { status: 500 }));
    expect([
      crash.status,
      ((await crash.json()) as { errcode: unknown }).errcode,
      crash.headers.get("cache-control"),
    ]).toEqual([500, "M_UNKNOWN", "no-store"]);
  });
});
