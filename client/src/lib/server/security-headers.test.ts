import { describe, expect, it } from "vitest";
import { withConnectSources } from "./security-headers.ts";

const HOMESERVER = "http://127.0.0.1:8008";
const LIVEKIT = "wss://livekit.example.org";

describe("withConnectSources", () => {
  it("appends sources to an existing connect-src", () => {
    const csp = "default-src 'none'; script-src 'self' 'nonce-abc'; connect-src 'self'; frame-ancestors 'none'";
    expect(withConnectSources(csp, [HOMESERVER, LIVEKIT])).toBe(
      `default-src 'none'; script-src 'self' 'nonce-abc'; connect-src 'self' ${HOMESERVER} ${LIVEKIT}; frame-ancestors 'none'`,
    );
  });

  it("leaves every other directive untouched", () => {
    const csp = "default-src 'none'; connect-src 'self'; img-src 'self' data: blob:";
    const result = withConnectSources(csp, [HOMESERVER]);
    expect(result).toContain("default-src 'none'");
    expect(result).toContain("img-src 'self' data: blob:");
    expect(result).not.toContain(`img-src 'self' data: blob: ${HOMESERVER}`);
  });

  it("does not repeat a source that is already allowed", () => {
    const csp = `connect-src 'self' ${HOMESERVER}`;
    expect(withConnectSources(csp, [HOMESERVER, HOMESERVER])).toBe(csp);
  });

  it("replaces 'none' once a source is added", () => {
    expect(withConnectSources("connect-src 'none'", [HOMESERVER])).toBe(`connect-src ${HOMESERVER}`);
  });

  it("finds the directive regardless of case and extra whitespace", () => {
    expect(withConnectSources("  Connect-Src   'self' ;default-src 'none';", [HOMESERVER])).toBe(
      `Connect-Src 'self' ${HOMESERVER}; default-src 'none'`,
    );
  });

  it("adds connect-src based on default-src when it is missing", () => {
    expect(withConnectSources("default-src 'self'; frame-ancestors 'none'", [HOMESERVER])).toBe(
      `default-src 'self'; frame-ancestors 'none'; connect-src 'self' ${HOMESERVER}`,
    );
    expect(withConnectSources("default-src 'none'", [HOMESERVER])).toBe(
      `default-src 'none'; connect-src ${HOMESERVER}`,
    );
    expect(withConnectSources("base-uri 'none'", [HOMESERVER])).toBe(`base-uri 'none'; connect-src ${HOMESERVER}`);
  });

  it("returns the header unchanged when there is nothing to add", () => {
    const csp = "default-src 'none';connect-src 'self'";
    expect(withConnectSources(csp, [])).toBe(csp);
  });

  it("rejects sources that would break the header", () => {
    for (const bad of [
      "",
      "https://a.example.org; script-src *",
      "https://a.example.org https://b.example.org",
      "a,b",
    ]) {
      expect(() => withConnectSources("connect-src 'self'", [bad])).toThrow(/Invalid CSP source/);
    }
  });
});
