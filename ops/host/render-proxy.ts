/**
 * Renders the front door's nginx configuration (ops/host/nginx-connecta.conf.template) for one
 * host. Used by tests/e2e/proxy.test.ts and, from the command line, by an operator (later by the
 * install command):
 *
 *   node ops/host/render-proxy.ts --server-name beratung.example.org \
 *     --certificate /etc/letsencrypt/live/beratung.example.org/fullchain.pem \
 *     --certificate-key /etc/letsencrypt/live/beratung.example.org/privkey.pem \
 *     > /etc/nginx/sites-available/connecta
 *
 * Every value is checked before it is written into the file: a value that could end an nginx
 * directive (`;`, `{`, quotes, whitespace) is refused, so nothing but the value lands there.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { renderTemplate } from "../stack/template.ts";

/** The template's path. */
export const PROXY_TEMPLATE = join(import.meta.dirname, "nginx-connecta.conf.template");

/** One rate limit: requests per second or minute, and how many more may come at once. */
export interface RateLimit {
  /** nginx rate, e.g. `30r/m` or `2r/s`. */
  rate: string;
  /** Requests above the rate answered at once before 429 (nginx `burst`, with `nodelay`). */
  burst: number;
}

/** What differs from one host to the next. */
export interface ProxyOptions {
  /** The public DNS name, e.g. `beratung.example.org`: the origin is `https://<serverName>`. */
  serverName: string;
  /** PEM certificate chain (leaf first) for `serverName`. */
  certificate: string;
  /** Its private key (PEM), readable by nginx's master process only. */
  certificateKey: string;
  /** Where nginx listens for HTTPS: `443`, `[::]:443`, `127.0.0.1:8443`. Default `443`. */
  httpsListen?: string;
  /** Where nginx listens for plain HTTP (ACME and the redirect). Default `80`. */
  httpListen?: string;
  /** The web client's server (`HOST:PORT` of client/server.js). Default `127.0.0.1:3000`. */
  clientUpstream?: string;
  /** Synapse's client listener. Default `127.0.0.1:8008`. */
  synapseUpstream?: string;
  /** LiveKit's HTTP and WebSocket port. Default `127.0.0.1:7880`. */
  livekitUpstream?: string;
  /** DNS resolver for OCSP stapling. Default: the first nameserver of /etc/resolv.conf. */
  resolver?: string;
  /** Folder of the access and error logs. Default `/var/log/nginx`. */
  logDir?: string;
  /** certbot's `--webroot` folder for HTTP-01 challenges. Default `/var/lib/connecta/acme`. */
  acmeWebroot?: string;
  /** POST /api/v1/intake and its completion, per client address. Default 30r/m, burst 30. */
  intakeLimit?: RateLimit;
  /** POST /_matrix/client/.../login per client address. Default 30r/m, burst 20. */
  loginLimit?: RateLimit;
  /** POST /_matrix/client/.../register per client address. Default 30r/m, burst 30. */
  registerLimit?: RateLimit;
}

/** The defaults of {@link ProxyOptions} for a production host. */
export const PROXY_DEFAULTS = {
  httpsListen: "443",
  httpListen: "80",
  clientUpstream: "127.0.0.1:3000",
  synapseUpstream: "127.0.0.1:8008",
  livekitUpstream: "127.0.0.1:7880",
  logDir: "/var/log/nginx",
  acmeWebroot: "/var/lib/connecta/acme",
  // A registration is three requests (user-interactive auth) and many seekers may share one
  // address (mobile carriers' NAT): generous at the door, Synapse's own limits are finer.
  intakeLimit: { rate: "30r/m", burst: 30 },
  loginLimit: { rate: "30r/m", burst: 20 },
  registerLimit: { rate: "30r/m", burst: 30 },
} as const satisfies Partial<ProxyOptions>;

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HOST_PORT = /^([a-z0-9.-]+|\[[0-9a-f:.]+\]):[0-9]{1,5}$/i;
const LISTEN = /^(([a-z0-9.-]+|\[[0-9a-f:.]+\]):)?[0-9]{1,5}$/i;
const ADDRESS = /^([0-9.]+|\[?[0-9a-f:.]+\]?)$/i;
const PATH = /^\/[A-Za-z0-9._/@+-]*$/;
const RATE = /^[1-9][0-9]*r\/[sm]$/;

function check(name: string, value: string, pattern: RegExp, expected: string): string {
  if (!pattern.test(value)) throw new Error(`${name}: expected ${expected}, got ${JSON.stringify(value)}`);
  return value;
}

function checkLimit(name: string, limit: RateLimit): RateLimit {
  check(`${name}.rate`, limit.rate, RATE, "a rate like 30r/m or 2r/s");
  if (!Number.isInteger(limit.burst) || limit.burst < 0) {
    throw new Error(`${name}.burst: expected a whole number of requests, got ${limit.burst}`);
  }
  return limit;
}

/** Seconds until a limit lets one more request through: 60/N for `Nr/m`, 1/N for `Nr/s` (at least 1). */
export function secondsPerRequest(limit: RateLimit): number {
  const per = limit.rate.endsWith("/m") ? 60 : 1;
  return Math.max(1, Math.ceil(per / Number.parseInt(limit.rate, 10)));
}

/** The first `nameserver` of a resolv.conf text, or `null` if there is none. */
export function firstNameserver(resolvConf: string): string | null {
  const match = /^\s*nameserver\s+(\S+)/m.exec(resolvConf);
  if (!match?.[1]) return null;
  // nginx wants IPv6 resolvers in brackets.
  return match[1].includes(":") ? `[${match[1]}]` : match[1];
}

function systemResolver(): string {
  let text = "";
  try {
    text = readFileSync("/etc/resolv.conf", "utf8");
  } catch {
    // No resolv.conf: fall through to loopback.
  }
  return firstNameserver(text) ?? "127.0.0.1";
}

/**
 * The nginx configuration (http context) for `options`.
 *
 * @throws Error naming the option, when a value is malformed
 */
export function renderProxyConfig(options: ProxyOptions, template = readFileSync(PROXY_TEMPLATE, "utf8")): string {
  const o = { ...PROXY_DEFAULTS, ...options };
  const intake = checkLimit("intakeLimit", o.intakeLimit);
  const login = checkLimit("loginLimit", o.loginLimit);
  const register = checkLimit("registerLimit", o.registerLimit);
  const retryAfter = Math.max(...[intake, login, register].map(secondsPerRequest));
  return renderTemplate(template, {
    SERVER_NAME: check("serverName", o.serverName, HOSTNAME, "a lower-case DNS name"),
    CERTIFICATE: check("certificate", o.certificate, PATH, "an absolute path"),
    CERTIFICATE_KEY: check("certificateKey", o.certificateKey, PATH, "an absolute path"),
    HTTPS_LISTEN: check("httpsListen", o.httpsListen, LISTEN, "PORT or ADDRESS:PORT"),
    HTTP_LISTEN: check("httpListen", o.httpListen, LISTEN, "PORT or ADDRESS:PORT"),
    CLIENT_UPSTREAM: check("clientUpstream", o.clientUpstream, HOST_PORT, "HOST:PORT"),
    SYNAPSE_UPSTREAM: check("synapseUpstream", o.synapseUpstream, HOST_PORT, "HOST:PORT"),
    LIVEKIT_UPSTREAM: check("livekitUpstream", o.livekitUpstream, HOST_PORT, "HOST:PORT"),
    RESOLVER: check("resolver", o.resolver ?? systemResolver(), ADDRESS, "an IP address"),
    LOG_DIR: check("logDir", o.logDir, PATH, "an absolute path"),
    ACME_WEBROOT: check("acmeWebroot", o.acmeWebroot, PATH, "an absolute path"),
    INTAKE_RATE: intake.rate,
    INTAKE_BURST: intake.burst,
    LOGIN_RATE: login.rate,
    LOGIN_BURST: login.burst,
    REGISTER_RATE: register.rate,
    REGISTER_BURST: register.burst,
    RETRY_AFTER_SECONDS: retryAfter,
    RETRY_AFTER_MS: retryAfter * 1000,
  });
}

/** Command line: options as `--kebab-case` flags, the configuration on standard output. */
function main(argv: string[]): void {
  const flags = [
    "server-name",
    "certificate",
    "certificate-key",
    "https-listen",
    "http-listen",
    "client-upstream",
    "synapse-upstream",
    "livekit-upstream",
    "resolver",
    "log-dir",
    "acme-webroot",
  ] as const;
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(flags.map((f) => [f, { type: "string" }])) as Record<
      (typeof flags)[number],
      { type: "string" }
    >,
  });
  const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const options: Record<string, string> = {};
  for (const flag of flags) {
    const value = values[flag];
    if (typeof value === "string") options[camel(flag)] = value;
  }
  for (const required of ["server-name", "certificate", "certificate-key"]) {
    if (!(camel(required) in options)) throw new Error(`--${required} is required`);
  }
  process.stdout.write(renderProxyConfig(options as unknown as ProxyOptions));
}

if (import.meta.main) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`render-proxy: ${(err as Error).message}`);
    process.exit(2);
  }
}
