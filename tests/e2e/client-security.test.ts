import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOT } from "../../ops/stack/config.ts";
import { launchChromium } from "../support/browser.ts";

const stack = inject("stack");
const homeserverOrigin = new URL(stack.synapseUrl).origin;
/** LiveKit's WebSocket origin: the call screen connects to it (docs/calls.md). */
const livekitOrigin = new URL(stack.livekitUrl.replace(/^http/, "ws")).origin;
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** Headers every response of the client carries. */
function expectBaseHeaders(headers: Headers, what: string) {
  expect(headers.get("referrer-policy"), what).toBe("no-referrer");
  expect(headers.get("x-content-type-options"), what).toBe("nosniff");
  expect(headers.get("x-frame-options"), what).toBe("DENY");
  const permissions = headers.get("permissions-policy") ?? "";
  for (const feature of ["geolocation=()", "payment=()", "usb=()", "camera=(self)", "microphone=(self)"]) {
    expect(permissions, what).toContain(feature);
  }
  const csp = headers.get("content-security-policy") ?? "";
  expect(csp, what).toContain("frame-ancestors 'none'");
  expect(csp, what).toMatch(/default-src 'none'/);
}

function directive(csp: string, name: string): string[] {
  const found = csp
    .split(";")
    .map((d) => d.trim().split(/\s+/))
    .find(([n]) => n === name);
  return found?.slice(1) ?? [];
}

describe("the web client's security headers", () => {
  it("are on the start page, with a CSP that allows only our own origins and LiveKit's WebSocket", async () => {
    const res = await fetch(`${stack.clientUrl}/`);
    expect(res.status).toBe(200);
    expectBaseHeaders(res.headers, "start page");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(directive(csp, "connect-src").sort()).toEqual(["'self'", homeserverOrigin, livekitOrigin].sort());
    for (const name of ["script-src", "style-src", "img-src", "font-src", "media-src", "worker-src"]) {
      for (const source of directive(csp, name)) {
        // Only our own origin, hashes/nonces, and data:/blob: URLs the page makes itself.
        expect(source, `${name} ${source}`).toMatch(
          /^('self'|'wasm-unsafe-eval'|'(sha256|sha384|sha512|nonce)-[^']+'|data:|blob:)$/,
        );
      }
    }
    expect(directive(csp, "object-src")).toEqual(["'none'"]);
    expect(directive(csp, "base-uri")).toEqual(["'none'"]);
  });

  it("are on static assets, the English page and unknown paths", async () => {
    const html = await (await fetch(`${stack.clientUrl}/`)).text();
    const asset = /(\/_app\/immutable\/[^"']+\.js)/.exec(html)?.[1];
    expect(asset, "the start page links a script asset").toBeDefined();
    for (const path of [asset ?? "", "/?lang=en", "/no-such-page", "/healthz"]) {
      const res = await fetch(`${stack.clientUrl}${path}`);
      expectBaseHeaders(res.headers, path);
    }
    expect((await fetch(`${stack.clientUrl}/no-such-page`)).status).toBe(404);
  });

  it("give worker scripts the policy the worker runs under, and other assets the fallback", async () => {
    // The Matrix worker's script (the largest one): its CSP governs the worker, not the page's.
    const dir = join(ROOT, "client", "build", "client", "_app", "immutable", "workers");
    const scripts = readdirSync(dir).filter((name) => name.endsWith(".js"));
    expect(scripts.length, "worker scripts in the build").toBeGreaterThanOrEqual(2);
    for (const name of scripts) {
      const res = await fetch(`${stack.clientUrl}/_app/immutable/workers/${name}`);
      expect(res.status, name).toBe(200);
      expectBaseHeaders(res.headers, name);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(directive(csp, "script-src"), name).toEqual(["'self'", "'wasm-unsafe-eval'"]);
      expect(directive(csp, "connect-src").sort(), name).toEqual(["'self'", homeserverOrigin].sort());
    }
    const html = await (await fetch(`${stack.clientUrl}/`)).text();
    const asset = /(\/_app\/immutable\/[^"']+\.js)/.exec(html)?.[1] ?? "";
    const csp = (await fetch(`${stack.clientUrl}${asset}`)).headers.get("content-security-policy") ?? "";
    expect(directive(csp, "script-src")).toEqual([]);
    expect(directive(csp, "connect-src")).toEqual([]);
  });
});

describe("the start page in Chromium", () => {
  it("renders in German and requests nothing from any other origin", async () => {
    const context = await browser.newContext({ locale: "de-DE" });
    const page = await context.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    const response = await page.goto(`${stack.clientUrl}/`, { waitUntil: "networkidle" });
    expect(response?.status()).toBe(200);
    expect(await page.getAttribute("html", "lang")).toBe("de");
    expect(await page.locator("h1").count()).toBe(1);
    expect(requests.length).toBeGreaterThan(1);
    const origins = new Set(requests.map((url) => new URL(url).origin));
    expect([...origins]).toEqual([new URL(stack.clientUrl).origin]);
    // Hydration ran under the CSP without violations.
    expect(problems).toEqual([]);
    await context.close();
  });

  it("switches to English and keeps no outside requests", async () => {
    const context = await browser.newContext({ locale: "de-DE" });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    await page.goto(`${stack.clientUrl}/?lang=en`, { waitUntil: "networkidle" });
    expect(await page.getAttribute("html", "lang")).toBe("en");
    const english = await page.locator("h1").innerText();
    await page.goto(`${stack.clientUrl}/?lang=de`, { waitUntil: "networkidle" });
    expect(await page.locator("h1").innerText()).not.toBe(english);
    expect(new Set(requests.map((url) => new URL(url).origin))).toEqual(new Set([new URL(stack.clientUrl).origin]));
    await context.close();
  });
});
