import { describe, expect, it } from "vitest";
import { parseAppserviceUrl, parseHomeserverUrl, parseLivekitUrl } from "./parse-env.ts";

describe("parseHomeserverUrl", () => {
  it("accepts http and https URLs", () => {
    expect(parseHomeserverUrl("http://127.0.0.1:8008").origin).toBe("http://127.0.0.1:8008");
    expect(parseHomeserverUrl(" https://matrix.connecta.test/ ").origin).toBe("https://matrix.connecta.test");
  });

  it("rejects a missing value, naming the variable", () => {
    expect(() => parseHomeserverUrl(undefined)).toThrow(/CONNECTA_HOMESERVER_URL is required/);
    expect(() => parseHomeserverUrl("  ")).toThrow(/CONNECTA_HOMESERVER_URL is required/);
  });

  it("rejects malformed values, naming the variable", () => {
    for (const value of [
      "matrix.connecta.test",
      "ftp://matrix.connecta.test",
      "wss://matrix.connecta.test",
      "https://user:secret@matrix.connecta.test",
      "https://matrix.connecta.test/?x=1",
      "https://matrix.connecta.test/#x",
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
    expect(parseLivekitUrl("wss://livekit.connecta.test")?.origin).toBe("wss://livekit.connecta.test");
    expect(parseLivekitUrl("ws://127.0.0.1:7880")?.origin).toBe("ws://127.0.0.1:7880");
  });

  it("rejects other protocols, naming the variable", () => {
    expect(() => parseLivekitUrl("https://livekit.connecta.test")).toThrow(/^CONNECTA_LIVEKIT_URL must/);
    expect(() => parseLivekitUrl("not a url")).toThrow(/^CONNECTA_LIVEKIT_URL must/);
  });
});
