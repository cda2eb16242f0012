import { describe, expect, it } from "vitest";
import { isCrossSiteForm } from "./csrf.ts";

const self = "https://beratung.example.org";
const request = (method: string, headers: Record<string, string>) =>
  new Request(`${self}/api/v1/enquiries/1/claim`, { method, headers });

describe("isCrossSiteForm", () => {
  it("refuses what a foreign page's form can send, and body-less writes without our Origin", () => {
    for (const type of [
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "TEXT/PLAIN;charset=utf-8",
      "application/x-sveltekit-formdata",
    ]) {
      expect(isCrossSiteForm(request("POST", { "content-type": type, origin: "http://127.0.0.2:1" }), self), type).toBe(
        true,
      );
    }
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      expect(isCrossSiteForm(request(method, { origin: "http://127.0.0.2:1" }), self), method).toBe(true);
      expect(isCrossSiteForm(request(method, {}), self), `${method} without Origin`).toBe(true);
    }
    expect(isCrossSiteForm(request("POST", { "content-type": "text/plain" }), self)).toBe(true);
  });

  it("lets our own pages' requests, JSON and reads through", () => {
    expect(isCrossSiteForm(request("POST", { origin: self }), self)).toBe(false);
    expect(isCrossSiteForm(request("POST", { "content-type": "text/plain", origin: self }), self)).toBe(false);
    // A foreign page cannot send JSON without the browser asking us first (CORS), and we never agree.
    expect(isCrossSiteForm(request("POST", { "content-type": "application/json" }), self)).toBe(false);
    expect(isCrossSiteForm(request("GET", { origin: "http://127.0.0.2:1" }), self)).toBe(false);
  });
});
