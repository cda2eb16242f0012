import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { ANNOUNCER_STYLE_HASH, CSP_DIRECTIVES, PERMISSIONS_POLICY, workerCsp } from "../../../security-headers.js";

describe("CSP_DIRECTIVES", () => {
  it("allows the inline style of the installed SvelteKit route announcer", () => {
    // If SvelteKit changes the announcer, the hash in security-headers.js must follow.
    const kit = dirname(createRequire(import.meta.url).resolve("@sveltejs/kit/package.json"));
    const root = readFileSync(join(kit, "src/runtime/components/root.svelte"), "utf8");
    const style = /id="svelte-announcer"[^>]*?\sstyle="([^"]*)"/.exec(root)?.[1];
    expect(style).toBeDefined();
    const hash = `sha256-${createHash("sha256")
      .update(style ?? "")
      .digest("base64")}`;
    expect(ANNOUNCER_STYLE_HASH).toBe(hash);
  });

  it("allows no other origin and no inline code", () => {
    const sources = Object.values(CSP_DIRECTIVES).flat();
    expect(sources.filter((s) => /^[a-z-]+:\/\//.test(String(s)))).toEqual([]);
    expect(sources).not.toContain("unsafe-inline");
    expect(sources).not.toContain("unsafe-eval");
    expect(CSP_DIRECTIVES["frame-ancestors"]).toEqual(["none"]);
    expect(CSP_DIRECTIVES["default-src"]).toEqual(["none"]);
  });
});

describe("PERMISSIONS_POLICY", () => {
  it("allows only camera, microphone, screen sharing, full screen and autoplay, for self", () => {
    const allowed = PERMISSIONS_POLICY.split(", ").filter((entry) => !entry.endsWith("=()"));
    expect(allowed.sort()).toEqual(
      ["autoplay", "camera", "display-capture", "fullscreen", "microphone"].map((f) => `${f}=(self)`),
    );
    expect(PERMISSIONS_POLICY).toContain("geolocation=()");
  });
});

describe("workerCsp", () => {
  it("lets a worker load our scripts and WASM and talk to our origin and the homeserver only", () => {
    const csp = workerCsp(["http://127.0.0.1:8008"]);
    expect(csp.split("; ")).toEqual([
      "default-src 'none'",
      "script-src 'self' 'wasm-unsafe-eval'",
      "connect-src 'self' http://127.0.0.1:8008",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ]);
  });

  it("refuses anything that is not a bare origin", () => {
    for (const origin of [
      "*",
      "http://127.0.0.1:8008/path",
      "http://127.0.0.1:8008; script-src *",
      "'unsafe-eval'",
      "",
    ]) {
      expect(() => workerCsp([origin]), origin).toThrow(/Invalid origin/);
    }
  });
});
