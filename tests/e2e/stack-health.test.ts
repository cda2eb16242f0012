import { describe, expect, inject, it } from "vitest";

const stack = inject("stack");

describe("the started stack", () => {
  it("serves Synapse's client API versions", async () => {
    const res = await fetch(`${stack.synapseUrl}/_matrix/client/versions`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { versions: string[] }).versions.length).toBeGreaterThan(0);
  });

  it("reports the application service ready, with database and homeserver reachable", async () => {
    const res = await fetch(`${stack.appserviceUrl}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("serves the client's start page", async () => {
    const res = await fetch(`${stack.clientUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
  });

  it("serves Prometheus metrics of Synapse and the application service", async () => {
    const synapse = await (await fetch(stack.synapseMetricsUrl)).text();
    expect(synapse).toContain("synapse_http_server_requests_received_total");
    const appservice = await (await fetch(`${stack.appserviceUrl}/metrics`)).text();
    expect(appservice).toContain("connecta_appservice_transactions_total");
  });
});
