import { once } from "node:events";
import type { AddressInfo } from "node:net";
import express from "express";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { Api } from "./api.ts";
import { errorHandler } from "./errors.ts";

let base = "";
let close = () => {};

beforeAll(async () => {
  const api = new Api(() => Promise.resolve(null));
  const answer = z.object({ id: z.int(), name: z.string() });
  const route = (path: string, handler: () => Promise<unknown>) =>
    api.add({
      method: "get",
      path,
      summary: path,
      tag: "test",
      auth: "none",
      response: answer,
      errors: [],
      // The compiler refuses such handlers; this test shows what happens at run time when a
      // handler gets past it (a value cast from the database, say).
      handler: handler as () => Promise<z.input<typeof answer>>,
    });
  route("/right", () => Promise.resolve({ id: 1, name: "A" }));
  route("/more", () => Promise.resolve({ id: 1, name: "A", password_hash: "secret" }));
  route("/wrong", () => Promise.resolve({ id: "1", name: "A" }));
  const app = express();
  app.use(api.router);
  app.use(errorHandler(pino({ level: "silent" })));
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(() => close());

const get = async (path: string) => {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: (await res.json()) as unknown };
};

describe("answers checked against their schema", () => {
  it("sends an answer that matches", async () => {
    expect(await get("/right")).toEqual({ status: 200, body: { id: 1, name: "A" } });
  });

  it("leaves out what the schema does not name, so nothing undocumented leaves the service", async () => {
    expect(await get("/more")).toEqual({ status: 200, body: { id: 1, name: "A" } });
  });

  it("answers 500 instead of an answer that breaks the schema", async () => {
    expect(await get("/wrong")).toEqual({
      status: 500,
      body: { errcode: "M_UNKNOWN", error: "Internal error; it has been logged" },
    });
  });
});
