import { describe, expect, it } from "vitest";
import { parseAppserviceUrl, parseHomeserverUrl, parseIdleLockMinutes, parseLivekitUrl } from "./parse-env.ts";

describe("parseHomeserverUrl", () => {
  it("accepts http and https URLs", () => {
    expect(parseHomeserverUrl("http://127.0.0.1:8008").origin).toBe("http://127.0.0.1:8008");
    expect(parseHomeserverUrl(" https://matrix.example.org/ ").origin).toBe("https://matrix.example.org");
  });

  it("rejects a missing value, naming the variable", () => {
    expect(() => parseHomeserverUrl(undefined)).toThrow(/CONNECTA_HOMESERVER_URL is required/);
    expect(() => parseHomeserverUrl("  ")).toThrow(/CONNECTA_HOMESERVER_URL is required/);
  });

  it("rejects malformed values, naming the variable", () => {
    for (const value of [
      "matrix.example.org",
      "ftp://matrix.example.org",
      "wss://matrix.example.org",
      "https://user:secret@matrix.example.org",
      "https://matrix.example.org/?x=1",
      "https://matrix.example.org/#x",
    ]) {
      expect(() => parseHomeserverUrl(value)).toThrow(/^CONNECTA_HOMESERVER_URL must/);
    }
  });
});

describe("parseAppserviceUrl", () => {
  it("accepts an http URL and names the variable when missing or malformed", () => {
    expect(parseAppserviceUrl("http://127.0.0.1:9009").origin).toBe("http://127.0.0.1:9009");
    expect(() => parseAppserviceUrl(undefined)).toThrow(/CONNECTA_APPSERVICE_URL is required/);
    expect(() => parseAppserviceUrl("ws://127.0.0.1:9009")).toThrow(/^CONNECTA_APPSERVICE_URL must/);
  });
});

describe("parseLivekitUrl", () => {
  it("is optional", () => {
    expect(parseLivekitUrl(undefined)).toBeUndefined();
    expect(parseLivekitUrl("")).toBeUndefined();
  });

  it("accepts ws and wss URLs", () => {
    expect(parseLivekitUrl("wss://livekit.example.org")?.origin).toBe("wss://livekit.example.org");
    expect(parseLivekitUrl("ws://127.0.0.1:7880")?.origin).toBe("ws://127.0.0.1:7880");
  });

  it("rejects other protocols, naming the variable", () => {
    expect(() => parseLivekitUrl("https://livekit.example.org")).toThrow(/^CONNECTA_LIVEKIT_URL must/);
    expect(() => parseLivekitUrl("not a url")).toThrow(/^CONNECTA_LIVEKIT_URL must/);
  });
});

describe("parseIdleLockMinutes", () => {
  it("is 15 minutes unless set", () => {
    expect(parseIdleLockMinutes(undefined)).toBe(15);
    expect(parseIdleLockMinutes(" ")).toBe(15);
    expect(parseIdleLockMinutes("5")).toBe(5);
    expect(parseIdleLockMinutes("1440")).toBe(1440);
  });

  it("rejects what is not a whole number of minutes from 1 to 1440, naming the variable", () => {
    for (const value of ["0", "-3", "1.5", "1441", "ten", "5m"]) {
      expect(() => parseIdleLockMinutes(value)).toThrow(/^CONNECTA_IDLE_LOCK_MINUTES must/);
    }
  });
});
