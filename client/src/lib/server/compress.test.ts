import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { acceptsGzip, compressHtml } from "./compress.ts";

const PAGE = `<!doctype html><html lang="de"><body>${"<p>Hallo, hier ist die Beratung.</p>".repeat(100)}</body></html>`;

function page(headers: Record<string, string> = {}): Response {
  return new Response(PAGE, {
    status: 200,
    headers: { "content-type": "text/html", "content-length": String(PAGE.length), etag: '"x"', ...headers },
  });
}

const request = (acceptEncoding?: string) =>
  new Request(
    "http://127.0.0.1/",
    acceptEncoding === undefined ? {} : { headers: { "accept-encoding": acceptEncoding } },
  );

describe("acceptsGzip", () => {
  it.each([
    ["gzip, deflate, br, zstd", true],
    ["br;q=1.0, gzip;q=0.8", true],
    ["GZIP", true],
    ["x-gzip", true],
    ["*", true],
    ["gzip;q=0", false],
    ["gzip;q=0, *", false],
    ["br, *;q=0", false],
    ["identity", false],
    ["", false],
    ["gzip;q=abc", false],
  ])("%j → %s", (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });

  it("is false without the header", () => {
    expect(acceptsGzip(null)).toBe(false);
  });
});

describe("compressHtml", () => {
  it("gzips a page for a browser that accepts it, keeping status and other headers", async () => {
    const response = compressHtml(request("gzip, br"), page({ "set-cookie": "lang=en; Path=/", vary: "Cookie" }));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-encoding")).toBe("gzip");
    expect(response.headers.get("content-length")).toBeNull();
    expect(response.headers.get("etag")).toBeNull();
    expect(response.headers.get("vary")).toBe("Cookie, Accept-Encoding");
    expect(response.headers.getSetCookie()).toEqual(["lang=en; Path=/"]);
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.length).toBeLessThan(PAGE.length / 5);
    expect(gunzipSync(body).toString()).toBe(PAGE);
  });

  it("sends the page as it is without gzip in Accept-Encoding, but says it varies", async () => {
    const response = compressHtml(request("br;q=1, gzip;q=0"), page());
    expect(response.headers.get("content-encoding")).toBeNull();
    expect(response.headers.get("etag")).toBe('"x"');
    expect(response.headers.get("vary")).toBe("Accept-Encoding");
    expect(await response.text()).toBe(PAGE);
    expect(compressHtml(request(), page()).headers.get("content-encoding")).toBeNull();
  });

  it("leaves other responses alone", async () => {
    const json = new Response('{"ok":true}', { headers: { "content-type": "application/json" } });
    expect(compressHtml(request("gzip"), json)).toBe(json);
    expect(json.headers.get("vary")).toBeNull();
    const encoded = page({ "content-encoding": "br" });
    expect(compressHtml(request("gzip"), encoded)).toBe(encoded);
    const empty = new Response(null, { status: 304, headers: { "content-type": "text/html" } });
    expect(compressHtml(request("gzip"), empty)).toBe(empty);
  });
});
