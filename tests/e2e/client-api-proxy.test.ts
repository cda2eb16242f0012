/**
 * The application service's API on the web client's origin (client/src/routes/api/v1/): the
 * browser needs no other origin, and the appservice's per-address rate limits see the browser's
 * address, which only the client (a trusted proxy) may forward. Only the routes browsers use are
 * forwarded; every error under /api/ is JSON in the Matrix style; nothing there is cached.
 */
import { request } from "node:http";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "../support/browser.ts";
import { stackSecret } from "../support/matrix.ts";
import { connectaDb } from "../support/workflow.ts";

const stack = inject("stack");
const clientOrigin = new URL(stack.clientUrl).origin;
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** An answer of the client as it came over the wire. */
interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * Sends `path` exactly as written (fetch would resolve dot segments and re-encode it first),
 * with `headers` and an optional body.
 */
function rawRequest(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<RawAnswer> {
  const url = new URL(stack.clientUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Expects a Matrix-style JSON error: `{errcode, error}` with this status, not to be cached. */
function expectMatrixError(answer: RawAnswer, status: number, errcode: string, what: string): void {
  expect({ status: answer.status, type: answer.headers["content-type"] }, what).toEqual({
    status,
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
    type: expect.stringContaining("application/json"),
  });
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  expect(Object.keys(body).sort(), what).toEqual(["errcode", "error"]);
  expect(body.errcode, what).toBe(errcode);
  expect(typeof body.error, what).toBe("string");
  expect(answer.headers["cache-control"], what).toBe("no-store");
}

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

describe("what the client forwards", () => {
  // Each with the operator's token: forwarded, the admin API would answer 200.
  const adminPaths = [
    "/api/v1/admin/agencies",
    "/api/v1/ADMIN/agencies",
    "/api/v1/Admin/agencies",
    "/api/v1/admin/agencies/",
    "/api/v1/./admin/agencies",
    "/api/v1/me/../admin/agencies",
    "/api/v1/admin/../admin/agencies",
    "/api/v1/%2e%2e/v1/admin/agencies",
    "/api/v1/%2E%2E/v1/admin/agencies",
    "/api/v1/me/%2e%2e/admin/agencies",
    "/api/v1//admin/agencies",
    "/api/v1/%2fadmin/agencies",
    "/api/v1/admin%2fagencies",
    "/api/v1/admin%2Fagencies",
    "/api/v1/%61dmin/agencies",
    "/api/v1/me%2f..%2fadmin/agencies",
    "/api/v1/me/..%5cadmin/agencies",
    "/api/v1/admin;/agencies",
    "/api/v1/admin/agencies?x=1",
  ];
  for (const path of adminPaths) {
    it(`refuses the admin API at ${path} with 404 M_NOT_FOUND`, async () => {
      const token = stackSecret(stack, "operatorToken");
      const answer = await rawRequest("GET", path, { authorization: `Bearer ${token}` });
      expectMatrixError(answer, 404, "M_NOT_FOUND", path);
    });
  }

  it("refuses the admin API's writes too", async () => {
    const token = stackSecret(stack, "operatorToken");
    const answer = await rawRequest(
      "POST",
      "/api/v1/admin/topics",
      { authorization: `Bearer ${token}`, "content-type": "application/json", origin: clientOrigin },
      JSON.stringify({ id: "nope", name_de: "Nein", name_en: "No" }),
    );
    expectMatrixError(answer, 404, "M_NOT_FOUND", "POST /api/v1/admin/topics");
    const db = await connectaDb(stack);
    try {
      expect((await db.query("SELECT 1 FROM topics WHERE id = 'nope'")).rowCount).toBe(0);
    } finally {
      await db.end();
    }
  });

  it("forwards no other route of the appservice that browsers do not use", async () => {
    for (const path of ["/api/v1/openapi.json", "/api/v1/control-room"]) {
      expectMatrixError(await rawRequest("GET", path), 404, "M_NOT_FOUND", path);
    }
    // The appservice's internal paths, reached by climbing out of /api/v1/.
    for (const path of [
      "/api/v1/../../metrics",
      "/api/v1/%2e%2e/%2e%2e/metrics",
      "/api/v1/..%2f..%2fmetrics",
      "/api/v1/%2e%2e%2f%2e%2e%2fhealthz",
      "/api/v1/..%2f..%2freadyz",
      "/api/v1/..%2f..%2f_matrix%2fapp%2fv1%2ftransactions%2f1",
      "/api/v1/../../_matrix/app/v1/transactions/1",
      "/api/v1/../../transactions/1",
    ]) {
      const answer = await rawRequest("GET", path);
      expect(answer.status, path).toBe(404);
      expect(answer.text, path).not.toMatch(/process_cpu|"status":"ok"|M_FORBIDDEN|M_MISSING_TOKEN/);
    }
  });

  it("still forwards the browsers' routes", async () => {
    expect((await rawRequest("GET", "/api/v1/topics")).status).toBe(200);
    expect((await rawRequest("GET", "/api/v1/intake/challenge")).status).toBe(200);
    // The appservice answers (it asks for a token): the request reached it.
    for (const path of ["/api/v1/me", "/api/v1/queue", "/api/v1/enquiries", "/api/v1/agencies/1/counsellors"]) {
      expectMatrixError(await rawRequest("GET", path), 401, "M_MISSING_TOKEN", path);
    }
  });
});

describe("errors under /api/", () => {
  it("refuse a cross-site POST in JSON, and a body-less POST without an Origin", async () => {
    const cases: [string, Record<string, string>, string | undefined][] = [
      ["body-less, from another site", { origin: "http://127.0.0.2:1" }, undefined],
      ["a form, from another site", { origin: "http://127.0.0.2:1", "content-type": "text/plain" }, "{}"],
      [
        "a urlencoded form, from another site",
        { origin: "http://127.0.0.2:1", "content-type": "application/x-www-form-urlencoded" },
        "a=1",
      ],
      ["body-less, without an Origin", {}, undefined],
    ];
    for (const [what, headers, body] of cases) {
      expectMatrixError(await rawRequest("POST", "/api/v1/enquiries/1/claim", headers, body), 403, "M_FORBIDDEN", what);
    }
    // A form posted to a page from another site stays refused as well (plain text there).
    const page = await rawRequest(
      "POST",
      "/anfrage",
      { origin: "http://127.0.0.2:1", "content-type": "text/plain" },
      "x",
    );
    expect(page.status).toBe(403);
  });

  it("answer unknown paths, methods and malformed requests in JSON with the right status", async () => {
    expectMatrixError(await rawRequest("GET", "/api"), 404, "M_NOT_FOUND", "/api");
    expectMatrixError(await rawRequest("GET", "/api/"), 404, "M_NOT_FOUND", "/api/");
    expectMatrixError(await rawRequest("GET", "/api/v2/topics"), 404, "M_NOT_FOUND", "/api/v2/topics");
    expectMatrixError(await rawRequest("GET", "/api/v1"), 404, "M_NOT_FOUND", "/api/v1");
    expectMatrixError(await rawRequest("GET", "/api/v1/no-such-route"), 404, "M_NOT_FOUND", "unknown route");
    expectMatrixError(await rawRequest("GET", "/api/v1/%E0%A4%A"), 404, "M_NOT_FOUND", "malformed");
    expectMatrixError(
      await rawRequest("DELETE", "/api/v1/me", { "content-type": "application/json" }),
      405,
      "M_UNRECOGNIZED",
      "DELETE",
    );
    expectMatrixError(
      await rawRequest(
        "PATCH",
        "/api/v1/me/absence",
        { "content-type": "application/json", origin: clientOrigin },
        "{}",
      ),
      405,
      "M_UNRECOGNIZED",
      "PATCH",
    );
    expectMatrixError(
      await rawRequest("GET", "/api/v1/topics?x-sveltekit-invalidated=1"),
      400,
      "M_INVALID_PARAM",
      "reserved query parameter",
    );
  });
});

describe("caching", () => {
  it("is forbidden for API answers and pages, as the browser sees them", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const pages: Record<string, string | undefined> = {};
    page.on("response", (response) => {
      const url = new URL(response.url());
      const documentOrData = response.request().resourceType() === "document" || url.pathname.endsWith("/__data.json");
      if (url.origin === clientOrigin && documentOrData) {
        pages[`${response.request().method()} ${url.pathname}`] = response.headers()["cache-control"];
      }
    });
    for (const path of ["/", "/anfrage", "/anmelden", "/schluessel", "/gespraech", "/beratung/anmelden"]) {
      await page.goto(`${stack.clientUrl}${path}`, { waitUntil: "load" });
    }
    // A client-side navigation loads the page's data as JSON.
    await page.goto(`${stack.clientUrl}/`, { waitUntil: "networkidle" });
    await page.locator('a[href="/anfrage"]').first().click();
    await page.waitForURL(/\/anfrage$/);
    await page.waitForLoadState("networkidle");
    const api = await page.evaluate(async () => {
      const answers: Record<string, string | null> = {};
      for (const path of ["/api/v1/topics", "/api/v1/me", "/api/v1/no-such-route", "/api/v1/admin/agencies"]) {
        answers[path] = (await fetch(path)).headers.get("cache-control");
      }
      return answers;
    });
    expect(api).toEqual({
      "/api/v1/topics": "no-store",
      "/api/v1/me": "no-store",
      "/api/v1/no-such-route": "no-store",
      "/api/v1/admin/agencies": "no-store",
    });
    expect(Object.keys(pages).some((key) => key.endsWith("/__data.json"))).toBe(true);
    for (const [request, cacheControl] of Object.entries(pages)) {
      // SvelteKit's own page data says "private, no-store".
      expect(cacheControl, request).toMatch(/^(private, )?no-store$/);
    }
    await context.close();
  });
});
