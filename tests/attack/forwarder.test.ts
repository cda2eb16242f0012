/**
 * Attack suite: the web client's forwarder of the application service's API
 * (client/src/routes/api/v1/[...path]/+server.ts, client/src/lib/server/api-proxy.ts), the one
 * door of the public origin into the application service. An outsider tries to walk through it
 * to the operator's API or the service's internals (spellings of paths beyond those of
 * tests/e2e/client-api-proxy.test.ts, absolute request targets, header injection), to smuggle a
 * second request past it, or to use a visitor's browser against it (CSRF, CORS). Case ids
 * (A-FWD-nn) are listed in docs/threat-model.md.
 */
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stackSecret, type TestUser } from "../support/matrix.ts";
import { connectaDb, createAgency, createCounsellor, createTopic, openIdToken } from "../support/workflow.ts";
import { expectRefusal, rawExchange, send, statusLines, type Answer } from "./support.ts";

const stack = inject("stack");
const operator = stackSecret(stack, "operatorToken");
const client = new URL(stack.clientUrl);
const appservice = new URL(stack.appserviceUrl);
const host = `Host: ${client.host}\r\n`;
let db: pg.Client;
let counsellor: TestUser;
let token: string;

beforeAll(async () => {
  db = await connectaDb(stack);
  counsellor = await createCounsellor(stack, db, await createAgency(db, [await createTopic(db)]));
  token = await openIdToken(stack, counsellor);
});
afterAll(async () => {
  await db?.end();
});

/** The counsellor's stored absence. */
async function absent(): Promise<boolean> {
  const { rows } = await db.query<{ absent: boolean }>("SELECT absent FROM counsellors WHERE user_id = $1", [
    counsellor.userId,
  ]);
  return rows[0]?.absent ?? true;
}

/** The JSON bodies of a raw exchange's answers, in order. */
const jsonBodies = (raw: string) => [...raw.matchAll(/\{"errcode":"[A-Z_]+","error":"[^"]*"\}/g)].map((m) => m[0]);

describe("paths", () => {
  it("A-FWD-01: further spellings of the admin API answer 404 M_NOT_FOUND, with the operator's token", async () => {
    for (const path of [
      "/api/v1/%252e%252e/v1/admin/agencies",
      "/api/v1/me/%252e%252e/admin/agencies",
      "/api/v1/%c0%ae%c0%ae/v1/admin/agencies",
      "/api/v1/me/%ef%bc%8f..%ef%bc%8fadmin/agencies",
      "/api/v1/me\\..\\admin/agencies",
      "/api/v1/me/..;/admin/agencies",
      "/api/v1/admin%00/agencies",
      "/api/v1/admin%09/agencies",
      "/api/v1/%20admin/agencies",
      "/api/v1/me/%2e%2e%5cadmin%5cagencies",
      "/api/v1/ad%6din/agencies",
      "/api/v1/admin/agencies#/me",
    ]) {
      const answer = await send(stack.clientUrl, "GET", path, { authorization: `Bearer ${operator}` });
      expectRefusal(answer, 404, "M_NOT_FOUND", path);
    }
  });

  it("A-FWD-02: an absolute request target, as a proxy is sent, answers 400 M_INVALID_PARAM: no other host is asked", async () => {
    for (const target of [
      `http://${appservice.host}/api/v1/admin/agencies`,
      `http://${appservice.host}/metrics`,
      `http://${appservice.host}/_matrix/app/v1/transactions/1`,
      `http://${client.host}/api/v1/admin/agencies`,
      "http://203.0.113.9:8080/api/v1/topics",
    ]) {
      const answer = await send(stack.clientUrl, "GET", target, { authorization: `Bearer ${operator}` });
      expectRefusal(answer, 400, "M_INVALID_PARAM", target);
    }
    // The same path in origin form is served: the refusals above were the target's form.
    expect((await send(stack.clientUrl, "GET", "/api/v1/topics")).status).toBe(200);
  });

  it("A-FWD-03: line breaks in the query, or a bare CR in a header, inject no header", async () => {
    const injected = `/api/v1/me?x=%0d%0aAuthorization:%20Bearer%20${encodeURIComponent(token)}`;
    expectRefusal(await send(stack.clientUrl, "GET", injected), 400, "M_INVALID_PARAM", "encoded CR LF");
    // A header value with a bare CR (a header of its own to a lenient parser behind) is refused.
    const raw = await rawExchange(
      stack.clientUrl,
      `GET /api/v1/me HTTP/1.1\r\n${host}X-Note: a\rAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
    );
    expect(statusLines(raw)).toEqual([400]);
    expect(raw).not.toContain(counsellor.userId);
  });
});

describe("request smuggling", () => {
  const smuggled = `GET /api/v1/admin/agencies HTTP/1.1\r\n${host}Authorization: Bearer ${operator}\r\n\r\n`;

  it("A-FWD-04: Transfer-Encoding with Content-Length is refused with 400 and the hidden request never runs", async () => {
    for (const framing of [
      "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
      "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
      "Content-Length: 4\r\nTransfer-Encoding: chunked, identity\r\n",
    ]) {
      const raw = await rawExchange(
        stack.clientUrl,
        `POST /api/v1/topics HTTP/1.1\r\n${host}Content-Type: application/json\r\n${framing}\r\n0\r\n\r\n${smuggled}`,
      );
      expect(statusLines(raw), framing).toEqual([400]);
      expect(raw).not.toMatch(/"agencies"/);
    }
  });

  it("A-FWD-05: ambiguous framing (two lengths, spaced or doubled Transfer-Encoding) is refused with 400", async () => {
    for (const framing of [
      "Content-Length: 2\r\nContent-Length: 40\r\n",
      "Transfer-Encoding : chunked\r\n",
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
      "Transfer-Encoding:\tchunked\r\n Content-Length: 2\r\n",
      "Content-Length: +2\r\n",
    ]) {
      const raw = await rawExchange(
        stack.clientUrl,
        `POST /api/v1/topics HTTP/1.1\r\n${host}Content-Type: application/json\r\n${framing}\r\n{}\r\n\r\n${smuggled}`,
      );
      expect(statusLines(raw), framing).toEqual([400]);
      expect(raw).not.toMatch(/"agencies"/);
    }
  });

  it("A-FWD-06: a second request behind a body's declared end is a request of its own, refused on its own", async () => {
    const raw = await rawExchange(
      stack.clientUrl,
      `PUT /api/v1/me/absence HTTP/1.1\r\n${host}Content-Type: application/json\r\nOrigin: ${client.origin}\r\n` +
        `Authorization: Bearer ${token}\r\nContent-Length: 16\r\n\r\n{"active":false}` +
        `GET /api/v1/admin/agencies HTTP/1.1\r\n${host}Authorization: Bearer ${operator}\r\nConnection: close\r\n\r\n`,
      10_000,
    );
    expect(statusLines(raw)).toEqual([200, 404]);
    expect(jsonBodies(raw)).toEqual(['{"errcode":"M_NOT_FOUND","error":"No such API route"}']);
  });
});

describe("a visitor's browser", () => {
  /** PUT /api/v1/me/absence as a page of `origin` could send it, with the visitor's token. */
  const formPut = (headers: Record<string, string>, body = '{"active": true}'): Promise<Answer> =>
    send(stack.clientUrl, "PUT", "/api/v1/me/absence", { authorization: `Bearer ${token}`, ...headers }, body);

  it("A-FWD-07: form-typed writes from another site, a sandboxed frame or a sibling port answer 403 M_FORBIDDEN", async () => {
    for (const headers of [
      { origin: "null", "content-type": "text/plain" },
      { origin: `http://${client.hostname}:${Number(client.port) + 1}`, "content-type": "text/plain;charset=UTF-8" },
      { origin: "http://127.0.0.2:1", "content-type": "TEXT/PLAIN" },
      { origin: "http://127.0.0.2:1", "content-type": "multipart/form-data; boundary=b" },
      { origin: "http://127.0.0.2:1", "content-type": "application/x-sveltekit-formdata" },
      { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "cross-site" },
    ]) {
      expectRefusal(await formPut(headers), 403, "M_FORBIDDEN", JSON.stringify(headers));
    }
    expect(await absent()).toBe(false);
  });

  it("A-FWD-08: no answer invites another site to read it or to send JSON (no CORS)", async () => {
    const evil = "http://127.0.0.2:1";
    const preflight = await send(stack.clientUrl, "OPTIONS", "/api/v1/me/absence", {
      origin: evil,
      "access-control-request-method": "PUT",
      "access-control-request-headers": "authorization, content-type",
    });
    expect(preflight.status).toBeGreaterThanOrEqual(400);
    for (const answer of [
      preflight,
      await send(stack.clientUrl, "GET", "/api/v1/topics", { origin: evil }),
      await send(stack.clientUrl, "GET", "/api/v1/me", { origin: evil, authorization: `Bearer ${token}` }),
    ]) {
      const cors = Object.keys(answer.headers).filter((name) => name.startsWith("access-control-"));
      expect(cors).toEqual([]);
    }
  });

  it("A-FWD-09: methods the browsers' routes do not take answer in JSON and change nothing", async () => {
    for (const method of ["DELETE", "PATCH", "TRACE"]) {
      const answer = await send(
        stack.clientUrl,
        method,
        "/api/v1/me/absence",
        { authorization: `Bearer ${token}`, "content-type": "application/json", origin: client.origin },
        method === "TRACE" ? undefined : '{"active": true}',
      );
      expectRefusal(answer, 405, "M_UNRECOGNIZED", method);
    }
    expect(await absent()).toBe(false);
  });
});
