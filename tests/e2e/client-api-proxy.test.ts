/**
 * The application service's API on the web client's origin (client/src/routes/api/v1/): the
 * browser needs no other origin, and the appservice's per-address rate limits see the browser's
 * address, which only the client (a trusted proxy) may forward.
 */
import { request } from "node:http";
import { describe, expect, inject, it } from "vitest";
import { connectaDb } from "../support/workflow.ts";

const stack = inject("stack");

/** A GET from a chosen loopback source address (Linux routes all of 127/8 to loopback). */
function getFrom(url: string, localAddress: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Whether the appservice counted a challenge for `address` in the current window. */
async function counted(address: string): Promise<boolean> {
  const db = await connectaDb(stack);
  try {
    const { rowCount } = await db.query("SELECT 1 FROM rate_limit_counters WHERE bucket = $1", [
      `challenge:addr:${address}`,
    ]);
    return (rowCount ?? 0) > 0;
  } finally {
    await db.end();
  }
}

describe("the API through the client's origin", () => {
  it("hands out an intake challenge", async () => {
    const res = await fetch(`${stack.clientUrl}/api/v1/intake/challenge`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ algorithm: "sha256-leading-zero-bits" });
    expect(String(body.challenge_id)).toMatch(/^[A-Za-z0-9_-]{44}$/);
  });

  it("passes errors of the appservice on unchanged", async () => {
    const res = await fetch(`${stack.clientUrl}/api/v1/intake`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ password: "x" }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errcode: "M_BAD_JSON" });
  });

  it("refuses a body over 64 KiB with 413", async () => {
    const res = await fetch(`${stack.clientUrl}/api/v1/intake`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ pseudonym: "x".repeat(70 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ errcode: "M_TOO_LARGE" });
  });

  it.runIf(stack.bindAddress === "127.0.0.1")(
    "counts the browser's address, not the client's, and ignores a forged X-Forwarded-For",
    async () => {
      // Through the client: the appservice counts the browser's address, whatever it claims.
      expect(
        await getFrom(`${stack.clientUrl}/api/v1/intake/challenge`, "127.0.0.77", { "x-forwarded-for": "10.7.7.7" }),
      ).toBe(200);
      expect(await counted("127.0.0.77")).toBe(true);
      expect(await counted("10.7.7.7")).toBe(false);
      // Straight to the appservice from an address that is no trusted proxy: the header is ignored.
      expect(
        await getFrom(`${stack.appserviceUrl}/api/v1/intake/challenge`, "127.0.0.78", {
          "x-forwarded-for": "10.8.8.8",
        }),
      ).toBe(200);
      expect(await counted("127.0.0.78")).toBe(true);
      expect(await counted("10.8.8.8")).toBe(false);
    },
  );
});
