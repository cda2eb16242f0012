/**
 * The front door (ops/host/nginx-connecta.conf.template, docs/deploy.md): Debian's nginx,
 * rendered for the running test stack with a self-signed certificate, in front of the web client,
 * Synapse's client API and LiveKit. It serves what browsers need on one origin, refuses the
 * admin, metrics, federation and appservice paths with JSON, speaks only TLS 1.2 and 1.3 with
 * forward secrecy, limits uploads to Synapse's size and the intake, login and registration per
 * client address, and logs no addresses.
 *
 * nginx runs as a child of this test, with its configuration, logs and temp files in a temp
 * folder. The limits are rendered small for the test (1 request a minute, burst 3 for the intake,
 * 2 for login and registration), so a handful of requests reach them.
 */
import { execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { connect, type ConnectionOptions } from "node:tls";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { renderProxyConfig } from "../../ops/host/render-proxy.ts";
import { freePorts, startService, stopService, waitUntil, type Service } from "../../ops/stack/processes.ts";
import { livekitKeys } from "../../ops/stack/secrets.ts";

const stack = inject("stack");
/** The name the certificate is for; requests send it as SNI and Host. */
const NAME = "connecta.test";
const NGINX = "/usr/sbin/nginx";

let dir: string;
let certificate: string;
let httpsPort: number;
let httpPort: number;
let nginx: Service | undefined;

/** An answer as it came over the wire. */
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Sends `path` as written to the proxy over TLS, trusting only the test's certificate (for this
 * request alone), with the certificate's name as SNI and Host.
 */
function proxied(path: string, { method = "GET", headers = {}, body }: RequestOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: stack.bindAddress,
        port: httpsPort,
        servername: NAME,
        ca: certificate,
        agent: false,
        method,
        path,
        headers: { host: NAME, ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Opens a TLS connection with `options` and resolves with its protocol and cipher, or the error. */
function handshake(options: ConnectionOptions): Promise<{ protocol: string | null; cipher: string } | Error> {
  return new Promise((resolve) => {
    const socket = connect({ host: stack.bindAddress, port: httpsPort, ca: certificate, ...options }, () => {
      resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().name });
      socket.destroy();
    });
    socket.on("error", resolve);
  });
}

/** Expects `{errcode, error}` in JSON with this status. */
/**
 * A 429 of the door says when to try again: the slowest of this test's limits lets one request
 * through a minute (1r/m). The security headers its own add_header would drop are there.
 */
function expectTryAgainIn60(answer: Answer, what: string): void {
  expect(answer.headers["retry-after"], what).toBe("60");
  expect((JSON.parse(answer.text) as { retry_after_ms?: unknown }).retry_after_ms, what).toBe(60_000);
  expect(answer.headers["strict-transport-security"], what).toContain("max-age=63072000");
  expect(answer.headers["x-content-type-options"], what).toBe("nosniff");
}

function expectMatrixError(answer: Answer, status: number, errcode: string, what: string): void {
  expect({ status: answer.status, type: answer.headers["content-type"] }, what).toEqual({
    status,
    type: "application/json",
  });
  const body = JSON.parse(answer.text) as { errcode?: unknown; error?: unknown };
  expect(body.errcode, what).toBe(errcode);
  expect(typeof body.error, what).toBe("string");
}

/** A LiveKit access token signed with the stack's key (HS256 JWT, LiveKit's claims). */
function livekitToken(video: Record<string, unknown>, identity = "proxy-test"): string {
  const { livekitApiKey, livekitApiSecret } = livekitKeys(readFileSync(stack.secretFiles.livekitKeys, "utf8"));
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part({
    iss: livekitApiKey,
    sub: identity,
    nbf: now - 10,
    exp: now + 600,
    video,
  })}`;
  return `${unsigned}.${createHmac("sha256", livekitApiSecret).update(unsigned).digest("base64url")}`;
}

beforeAll(async () => {
  if (!existsSync(NGINX)) {
    // ops/connecta test installs it; a test run started otherwise installs it here if it can.
    if (userInfo().uid !== 0) {
      throw new Error("nginx is not installed: run the tests with 'ops/connecta test', which installs it");
    }
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "nginx"], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      stdio: "ignore",
    });
  }
  dir = mkdtempSync(join(tmpdir(), "connecta-proxy-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      // RSA, so that a cipher without forward secrecy (RSA key exchange) could be offered at all.
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      `/CN=${NAME}`,
      "-addext",
      `subjectAltName=DNS:${NAME}`,
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  certificate = readFileSync(join(dir, "cert.pem"), "utf8");
  [httpsPort = 0, httpPort = 0] = await freePorts(stack.bindAddress, 2);
  const hostPort = (url: string) => new URL(url).host;
  const site = renderProxyConfig({
    serverName: NAME,
    certificate: join(dir, "cert.pem"),
    certificateKey: join(dir, "key.pem"),
    httpsListen: `${stack.bindAddress}:${httpsPort}`,
    httpListen: `${stack.bindAddress}:${httpPort}`,
    clientUpstream: hostPort(stack.clientUrl),
    synapseUpstream: hostPort(stack.synapseUrl),
    livekitUpstream: hostPort(stack.livekitUrl),
    resolver: "127.0.0.1",
    logDir: dir,
    acmeWebroot: join(dir, "acme"),
    intakeLimit: { rate: "1r/m", burst: 3 },
    loginLimit: { rate: "1r/m", burst: 2 },
    registerLimit: { rate: "1r/m", burst: 2 },
  });
  writeFileSync(join(dir, "connecta.conf"), site);
  // The main context Debian's /etc/nginx/nginx.conf gives the site, with everything in `dir`.
  // As root, nginx's workers would switch to `nobody`, who may not enter the temp folder.
  writeFileSync(
    join(dir, "nginx.conf"),
    `${userInfo().uid === 0 ? "user root;\n" : ""}worker_processes 1;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 256; }
http {
  default_type application/octet-stream;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/connecta.conf;
}
`,
  );
  nginx = startService(
    "nginx",
    NGINX,
    ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", `daemon off; pid ${dir}/nginx.pid;`],
    join(dir, "nginx.out.log"),
  );
  await waitUntil(
    nginx,
    "it accepts TLS",
    async () => !((await handshake({ servername: NAME })) instanceof Error),
    30_000,
  );
});

afterAll(async () => {
  if (nginx) await stopService(nginx, "SIGTERM");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the front door serves one origin", () => {
  it("serves the web client's start page with HSTS", async () => {
    const page = await proxied("/");
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.headers["strict-transport-security"]).toBe("max-age=63072000; includeSubDomains");
    // The client's own security headers pass through.
    expect(page.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(page.headers.server).toBe("nginx");
  });

  it("serves Synapse's client API and the client's browser API", async () => {
    const versions = await proxied("/_matrix/client/versions");
    expect(versions.status).toBe(200);
    expect((JSON.parse(versions.text) as { versions: unknown[] }).versions.length).toBeGreaterThan(0);
    expect(versions.headers["strict-transport-security"]).toBeDefined();
    const topics = await proxied("/api/v1/topics");
    expect(topics.status).toBe(200);
  });

  it("passes LiveKit's signalling WebSocket through under /livekit", async () => {
    // LiveKit's own answer to a missing token, not the proxy's 404.
    const validate = await proxied("/livekit/rtc/validate");
    expect(validate.status).not.toBe(404);
    expect(validate.status).toBeLessThan(500);

    // A room made through LiveKit's server API on the host (auto_create is off), then a
    // WebSocket upgrade through the proxy with a token for it.
    const room = `proxy-${randomBytes(4).toString("hex")}`;
    const created = await fetch(`${stack.livekitUrl}/twirp/livekit.RoomService/CreateRoom`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${livekitToken({ roomCreate: true })}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ name: room, empty_timeout: 10 }),
    });
    expect(created.status).toBe(200);
    const token = livekitToken({ roomJoin: true, room, canPublish: false, canSubscribe: true });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest({
        host: stack.bindAddress,
        port: httpsPort,
        servername: NAME,
        ca: certificate,
        agent: false,
        path: `/livekit/rtc?access_token=${token}&protocol=15&auto_subscribe=1`,
        headers: {
          host: NAME,
          connection: "Upgrade",
          upgrade: "websocket",
          "sec-websocket-version": "13",
          "sec-websocket-key": randomBytes(16).toString("base64"),
        },
      });
      req.on("upgrade", (res, socket) => {
        socket.destroy();
        resolve(res.statusCode ?? 0);
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(101);
  });

  it("redirects plain HTTP to HTTPS", async () => {
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = httpRequest(
        { host: stack.bindAddress, port: httpPort, path: "/beratung?x=1", headers: { host: NAME } },
        (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: "" }));
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(answer.status).toBe(301);
    expect(answer.headers.location).toBe(`https://${NAME}/beratung?x=1`);
  });
});

describe("the front door refuses what is not for the public", () => {
  it.each([
    ["Synapse's admin API", "/_synapse/admin/v1/server_version"],
    ["Synapse's shared-secret registration nonce", "/_synapse/admin/v1/register"],
    ["Synapse's metrics", "/_synapse/metrics"],
    ["Synapse's own pages", "/_synapse/client/password_reset/email/submit_token"],
    ["federation", "/_matrix/federation/v1/version"],
    ["the server keys", "/_matrix/key/v2/server"],
    ["the appservice's transactions", "/_matrix/app/v1/transactions/1"],
    ["Synapse's static pages", "/_matrix/static/"],
    ["the appservice's admin API", "/api/v1/admin/topics"],
    ["the admin API percent-encoded", "/api/v1/%61dmin/topics"],
    ["the admin API in upper case", "/api/v1/ADMIN/topics"],
    ["metrics", "/metrics"],
    ["the client's health check", "/healthz"],
    ["readiness", "/readyz"],
    ["LiveKit's server API", "/livekit/twirp/livekit.RoomService/ListRooms"],
    ["LiveKit's root", "/livekit/"],
  ])("refuses %s with 404 in JSON", async (what, path) => {
    const answer = await proxied(path);
    expectMatrixError(answer, 404, "M_NOT_FOUND", `${what}: ${path}`);
    expect(answer.headers["strict-transport-security"], path).toBeDefined();
  });

  it("refuses a POST to the admin API and the transactions as well", async () => {
    for (const path of ["/api/v1/admin/agencies", "/_matrix/app/v1/transactions/2"]) {
      const answer = await proxied(path, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expectMatrixError(answer, 404, "M_NOT_FOUND", path);
    }
  });

  it("does not reach the application service on any path: its port is in no upstream", () => {
    const site = readFileSync(join(dir, "connecta.conf"), "utf8");
    expect(site).not.toContain(`:${new URL(stack.appserviceUrl).port}`);
  });
});

describe("TLS", () => {
  it("refuses TLS 1.1 even from a client that offers it", async () => {
    const result = await handshake({
      servername: NAME,
      minVersion: "TLSv1",
      maxVersion: "TLSv1.1",
      // Node's own default would refuse TLS 1.1 before the server could.
      ciphers: "DEFAULT@SECLEVEL=0",
    });
    expect(result).toBeInstanceOf(Error);
  });

  it("accepts TLS 1.2 with a forward-secret cipher only", async () => {
    const tls12 = await handshake({ servername: NAME, minVersion: "TLSv1.2", maxVersion: "TLSv1.2" });
    expect(tls12).not.toBeInstanceOf(Error);
    expect(tls12).toMatchObject({ protocol: "TLSv1.2", cipher: expect.stringMatching(/^ECDHE-/) as unknown });
    // RSA key exchange (no forward secrecy) is refused.
    const staticRsa = await handshake({
      servername: NAME,
      maxVersion: "TLSv1.2",
      ciphers: "AES128-GCM-SHA256:AES256-GCM-SHA384",
    });
    expect(staticRsa).toBeInstanceOf(Error);
  });

  it("accepts TLS 1.3", async () => {
    expect(await handshake({ servername: NAME, minVersion: "TLSv1.3" })).toMatchObject({ protocol: "TLSv1.3" });
  });

  it("refuses a handshake without the server's name (scanners of the address)", async () => {
    // No SNI: Node sends none for an IP address.
    expect(await handshake({ rejectUnauthorized: false })).toBeInstanceOf(Error);
  });
});

describe("limits", () => {
  it("refuses an upload over Synapse's 10 MiB with 413 in JSON before it is sent", async () => {
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: stack.bindAddress,
          port: httpsPort,
          servername: NAME,
          ca: certificate,
          agent: false,
          method: "POST",
          path: "/_matrix/media/v3/upload?filename=big.bin",
          headers: {
            host: NAME,
            "content-type": "application/octet-stream",
            "content-length": String(10 * 1024 * 1024 + 1),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() });
          });
        },
      );
      req.on("error", reject);
      // Only the headers: nginx answers from the declared length.
      req.flushHeaders();
    });
    expectMatrixError(answer, 413, "M_TOO_LARGE", "upload of 10 MiB + 1 byte");
  });

  it("answers repeated intakes from one address with 429 M_LIMIT_EXCEEDED after the burst", async () => {
    const post = (headers: Record<string, string> = {}) =>
      proxied("/api/v1/intake", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: "{}",
      });
    // 1 request plus a burst of 3 pass on (the appservice refuses the empty intake itself).
    for (let i = 0; i < 4; i++) {
      const answer = await post();
      expect(answer.status, `request ${i + 1}`).not.toBe(429);
      expect(answer.status, `request ${i + 1}`).toBe(400);
    }
    const fifth = await post();
    expectMatrixError(fifth, 429, "M_LIMIT_EXCEEDED", "the fifth intake");
    expectTryAgainIn60(fifth, "the fifth intake");
    // A forged X-Forwarded-For changes nothing: the proxy counts the connection's address.
    expectMatrixError(await post({ "x-forwarded-for": "203.0.113.7" }), 429, "M_LIMIT_EXCEEDED", "forged address");
    // Reading is not limited, and the appservice still answers others (here: the client directly).
    expect((await proxied("/api/v1/topics")).status).toBe(200);
    const direct = await fetch(`${stack.clientUrl}/api/v1/intake`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(direct.status).toBe(400);
    expect((await fetch(`${stack.appserviceUrl}/readyz`)).status).toBe(200);
  });

  it.each([
    ["login", "/_matrix/client/v3/login"],
    ["registration", "/_matrix/client/v3/register"],
  ])("limits %s per address at the door", async (what, path) => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const answer = await proxied(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      statuses.push(answer.status);
    }
    expect(statuses, what).not.toContain(429);
    const limited = await proxied(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expectMatrixError(limited, 429, "M_LIMIT_EXCEEDED", what);
    // The proxy's own answer (Synapse's says "Too Many Requests"), with when to try again.
    expect(limited.text).toContain("Too many requests; please wait");
    expectTryAgainIn60(limited, what);
    // GET (the login flows) is not counted.
    expect((await proxied(path.replace("register", "login"))).status).toBe(200);
  });
});

describe("logs", () => {
  it("writes an access log without client addresses, query strings or tokens", async () => {
    await proxied("/_matrix/client/versions?access_token=secret-token-in-query");
    // nginx writes a line when the answer is done; give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const log = readFileSync(join(dir, "connecta-access.log"), "utf8");
    expect(log).toMatch(/ GET \/_matrix 200 /);
    expect(log).toMatch(/ POST \/api\/v1\/intake 429 /);
    expect(log).not.toContain(stack.bindAddress);
    expect(log).not.toContain("secret-token-in-query");
    expect(log).not.toContain("access_token");
    // Refused requests over the limit leave no line with the address in the error log either.
    expect(readFileSync(join(dir, "connecta-error.log"), "utf8")).not.toContain("limiting requests");
  });
});
