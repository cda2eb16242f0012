// Production entry point: `node server.js` after `npm run build`.
//
// A custom adapter-node server, because adapter-node serves static files (/_app/...) before
// SvelteKit's `handle` hook runs: setting the security headers here covers every response,
// static files, 404s and /healthz included. SvelteKit's page CSP replaces the fallback CSP.
//
// Environment: HOST (default 127.0.0.1), PORT (default 3000), plus the variables read by
// src/lib/server/config.ts (CONNECTA_HOMESERVER_URL and CONNECTA_APPSERVICE_URL required,
// CONNECTA_LIVEKIT_URL optional).
import http from "node:http";
import process from "node:process";
import { FALLBACK_CSP, SECURITY_HEADERS, WORKER_PATH_PREFIX, workerCsp } from "./security-headers.js";

const host = process.env.HOST || "127.0.0.1";
const port = parsePort(process.env.PORT);

// Importing the handler starts SvelteKit, which validates the configuration and throws,
// naming the variable, if it is wrong. Nothing listens before that succeeded.
// (Imported through a URL so that type checking does not descend into the generated build.)
/** @type {{ handler: (req: http.IncomingMessage, res: http.ServerResponse, next: () => void) => void }} */
const { handler } = await import(new URL("./build/handler.js", import.meta.url).href); // eslint-disable-line @typescript-eslint/no-unsafe-assignment -- typed above

// The homeserver's URL was checked by SvelteKit's start above (src/lib/server/config.ts).
const WORKER_CSP = workerCsp([new URL(String(process.env.CONNECTA_HOMESERVER_URL)).origin]);

const server = http.createServer((req, res) => {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    res.setHeader(name, value);
  }
  // A worker's script brings the policy the worker runs under; everything else the fallback.
  const worker = req.url?.startsWith(WORKER_PATH_PREFIX) && /\.js(\?|$)/.test(req.url);
  res.setHeader("Content-Security-Policy", worker ? WORKER_CSP : FALLBACK_CSP);

  if (req.url === "/healthz" && (req.method === "GET" || req.method === "HEAD")) {
    const body = '{"status":"ok"}';
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(body),
      "Cache-Control": "no-store",
    });
    res.end(req.method === "GET" ? body : undefined);
    return;
  }

  const unservable = unservableRequest(req);
  if (unservable) {
    const [status, errcode, error] = unservable;
    res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store" });
    res.end(JSON.stringify({ errcode, error }));
    return;
  }

  if (reservedApiQuery(req.url)) {
    const body = JSON.stringify({ errcode: "M_INVALID_PARAM", error: "Query parameters x-sveltekit-… are reserved" });
    res.writeHead(400, { "Content-Type": "application/json", "Cache-Control": "no-store" });
    res.end(body);
    return;
  }

  handler(req, res, () => {
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
    res.end("Not Found");
  });
});

server.listen(port, host, () => {
  console.log(
    JSON.stringify({
      level: "info",
      msg: "connecta client listening",
      host,
      port,
    }),
  );
});

/**
 * Whether a request under /api/ carries a query parameter SvelteKit reserves (`x-sveltekit-…`).
 * SvelteKit refuses those in plain text before any of our code runs; under /api/ every answer
 * is JSON in the Matrix style (src/hooks.server.ts), so this one is made here.
 * @param {string | undefined} target - the request target, as adapter-node appends it to the origin
 * @returns {boolean}
 */
function reservedApiQuery(target) {
  let url;
  try {
    url = new URL(`http://localhost${target ?? ""}`);
  } catch {
    return false;
  }
  const api = url.pathname === "/api" || url.pathname.startsWith("/api/");
  return api && [...url.searchParams.keys()].some((key) => key.startsWith("x-sveltekit-"));
}

/**
 * Why a request cannot be served at all, as `[status, errcode, error]`, or null. SvelteKit
 * cannot make a request of an absolute target (`GET http://host/path`, what a proxy is sent)
 * or of a method fetch forbids (TRACE) and answers those with a plain-text 400;
 * we are no proxy, and every error of ours is JSON in the Matrix style
 * (tests/attack/forwarder.test.ts, A-FWD-02, A-FWD-09).
 * @param {http.IncomingMessage} req
 * @returns {[number, string, string] | null}
 */
function unservableRequest(req) {
  if (!req.url?.startsWith("/")) return [400, "M_INVALID_PARAM", "Only a path is served here, not an absolute URL"];
  if (req.method === "TRACE") {
    return [405, "M_UNRECOGNIZED", "This method is not supported here"];
  }
  return null;
}

/** @param {NodeJS.Signals} signal */
function shutdown(signal) {
  console.log(JSON.stringify({ level: "info", msg: "shutting down", signal }));
  server.close(() => process.exit(0));
  // Keep-alive connections without a request in flight would hold close() open.
  server.closeIdleConnections();
  // Requests still running get a few seconds to finish.
  setTimeout(() => server.closeAllConnections(), 5000).unref();
}
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);

/**
 * Reads PORT: a TCP port number, 3000 when unset.
 * @param {string | undefined} value
 * @returns {number}
 */
function parsePort(value) {
  if (value === undefined || value === "") return 3000;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new Error(`PORT must be a TCP port number (1-65535), got ${JSON.stringify(value)}`);
  }
  return port;
}
