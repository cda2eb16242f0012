import { describe, expect, it } from "vitest";
import { isLanguage, negotiateLanguage } from "./negotiate.ts";

describe("negotiateLanguage", () => {
  it("defaults to German when the request says nothing", () => {
    expect(negotiateLanguage({})).toBe("de");
    expect(negotiateLanguage({ query: null, cookie: undefined, acceptLanguage: "" })).toBe("de");
  });

  it("takes a valid query parameter first", () => {
    expect(negotiateLanguage({ query: "en", cookie: "de", acceptLanguage: "de" })).toBe("en");
    expect(negotiateLanguage({ query: "de", cookie: "en", acceptLanguage: "en" })).toBe("de");
  });

  it("ignores an unsupported query parameter and falls back to the cookie", () => {
    expect(negotiateLanguage({ query: "fr", cookie: "en" })).toBe("en");
    expect(negotiateLanguage({ query: "EN", cookie: "de", acceptLanguage: "en" })).toBe("de");
    expect(negotiateLanguage({ query: "", cookie: "en" })).toBe("en");
  });

  it("takes a valid cookie before Accept-Language", () => {
    expect(negotiateLanguage({ cookie: "en", acceptLanguage: "de-DE" })).toBe("en");
    expect(negotiateLanguage({ cookie: "xx", acceptLanguage: "en-US" })).toBe("en");
  });

  it("picks the supported language with the highest weight", () => {
    expect(negotiateLanguage({ acceptLanguage: "en-US,en;q=0.9" })).toBe("en");
    expect(negotiateLanguage({ acceptLanguage: "en;q=0.5, de;q=0.8" })).toBe("de");
    expect(negotiateLanguage({ acceptLanguage: "fr-FR, fr;q=0.9, en;q=0.4" })).toBe("en");
    expect(negotiateLanguage({ acceptLanguage: "DE-at" })).toBe("de");
  });

  it("prefers the earlier range when weights are equal", () => {
    expect(negotiateLanguage({ acceptLanguage: "en, de" })).toBe("en");
    expect(negotiateLanguage({ acceptLanguage: "de, en" })).toBe("de");
  });

  it("falls back to German for unsupported, wildcard, zero-weight or malformed headers", () => {
    expect(negotiateLanguage({ acceptLanguage: "fr, es;q=0.5" })).toBe("de");
    expect(negotiateLanguage({ acceptLanguage: "*" })).toBe("de");
    expect(negotiateLanguage({ acceptLanguage: "en;q=0" })).toBe("de");
    expect(negotiateLanguage({ acceptLanguage: "en;q=abc" })).toBe("de");
    expect(negotiateLanguage({ acceptLanguage: "en;q=1.5" })).toBe("de");
    expect(negotiateLanguage({ acceptLanguage: ";;,," })).toBe("de");
  });
});

describe("isLanguage", () => {
  it("accepts exactly the supported codes", () => {
    expect(isLanguage("de")).toBe(true);
    expect(isLanguage("en")).toBe(true);
    expect(isLanguage("en-GB")).toBe(false);
    expect(isLanguage(null)).toBe(false);
    expect(isLanguage(undefined)).toBe(false);
  });
});
