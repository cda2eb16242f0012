import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadConfig, sampleEnv } from "./config.ts";

const dir = mkdtempSync(join(tmpdir(), "connecta-config-"));
const tokenFile = join(dir, "token");
writeFileSync(tokenFile, "t".repeat(43));
const livekitKeyFile = join(dir, "livekit.keys");
writeFileSync(livekitKeyFile, `connecta: ${"s".repeat(43)}\n`);
const shortTokenFile = join(dir, "short");
writeFileSync(shortTokenFile, "short");

const valid: NodeJS.ProcessEnv = {
  CONNECTA_AS_PORT: "9009",
  CONNECTA_AS_DATABASE_URL: "postgres://connecta@127.0.0.1:5433/connecta",
  CONNECTA_HOMESERVER_URL: "http://127.0.0.1:8008/",
  CONNECTA_SERVER_NAME: "localhost",
  CONNECTA_BOT_LOCALPART: "connecta-bot",
  CONNECTA_AS_TOKEN_FILE: tokenFile,
  CONNECTA_HS_TOKEN_FILE: tokenFile,
  CONNECTA_OPERATOR_TOKEN_FILE: tokenFile,
};

/** [what is wrong, environment change, expected message] */
const invalid: [string, NodeJS.ProcessEnv, string][] = [
  ["a missing port", { CONNECTA_AS_PORT: undefined }, "CONNECTA_AS_PORT: missing"],
  ["an empty port", { CONNECTA_AS_PORT: "" }, "CONNECTA_AS_PORT: missing"],
  ["a port that is no number", { CONNECTA_AS_PORT: "abc" }, "CONNECTA_AS_PORT: expected a port number"],
  ["a port out of range", { CONNECTA_AS_PORT: "70000" }, "CONNECTA_AS_PORT: expected a port number 1..65535"],
  ["a fractional port", { CONNECTA_AS_PORT: "80.5" }, "CONNECTA_AS_PORT: expected a whole port number"],
  [
    "a database URL of another kind",
    { CONNECTA_AS_DATABASE_URL: "mysql://x/y" },
    "CONNECTA_AS_DATABASE_URL: expected a postgres:// URL",
  ],
  [
    "a homeserver URL that is no URL",
    { CONNECTA_HOMESERVER_URL: "localhost:8008" },
    "CONNECTA_HOMESERVER_URL: expected an http(s) URL",
  ],
  [
    "a homeserver URL with another scheme",
    { CONNECTA_HOMESERVER_URL: "ftp://x" },
    "CONNECTA_HOMESERVER_URL: expected an http(s) URL",
  ],
  ["a missing server name", { CONNECTA_SERVER_NAME: undefined }, "CONNECTA_SERVER_NAME: missing"],
  [
    "a server name with a slash",
    { CONNECTA_SERVER_NAME: "a/b" },
    "CONNECTA_SERVER_NAME: expected a Matrix server name",
  ],
  [
    "a bot localpart with capitals",
    { CONNECTA_BOT_LOCALPART: "Bot" },
    "CONNECTA_BOT_LOCALPART: expected a Matrix user localpart",
  ],
  [
    "a token file that does not exist",
    { CONNECTA_HS_TOKEN_FILE: join(dir, "nope") },
    "CONNECTA_HS_TOKEN_FILE: cannot read",
  ],
  ["a token that is too short", { CONNECTA_AS_TOKEN_FILE: shortTokenFile }, "CONNECTA_AS_TOKEN_FILE: "],
  [
    "a missing operator token file",
    { CONNECTA_OPERATOR_TOKEN_FILE: undefined },
    "CONNECTA_OPERATOR_TOKEN_FILE: missing",
  ],
  [
    "a reopening window that is no number",
    { CONNECTA_REOPEN_WINDOW_DAYS: "soon" },
    "CONNECTA_REOPEN_WINDOW_DAYS: expected a number of days",
  ],
  [
    "a proof-of-work difficulty out of range",
    { CONNECTA_INTAKE_POW_DIFFICULTY: "64" },
    "CONNECTA_INTAKE_POW_DIFFICULTY: expected 1..32 bits",
  ],
  [
    "a trusted proxy that is no address",
    { CONNECTA_TRUSTED_PROXIES: "127.0.0.1, proxy.example" },
    "CONNECTA_TRUSTED_PROXIES: expected comma-separated IP addresses or ranges like 10.0.0.0/8",
  ],
  [
    "a trusted proxy range with a prefix too long for IPv4",
    { CONNECTA_TRUSTED_PROXIES: "10.0.0.0/33" },
    "CONNECTA_TRUSTED_PROXIES: expected comma-separated IP addresses or ranges",
  ],
  [
    "a trusted proxy range of everyone",
    { CONNECTA_TRUSTED_PROXIES: "::/0" },
    "CONNECTA_TRUSTED_PROXIES: expected comma-separated IP addresses or ranges",
  ],
  [
    "an audit webhook that is no http(s) URL",
    { CONNECTA_AUDIT_WEBHOOK_URL: "mailto:dpo@example.org" },
    "CONNECTA_AUDIT_WEBHOOK_URL: expected an http(s) URL",
  ],
  [
    "a LiveKit URL that is no WebSocket URL",
    { CONNECTA_LIVEKIT_URL: "http://127.0.0.1:7880", CONNECTA_LIVEKIT_KEY_FILE: livekitKeyFile },
    "CONNECTA_LIVEKIT_URL: expected a ws(s) URL",
  ],
  [
    "a LiveKit URL without its key file",
    { CONNECTA_LIVEKIT_URL: "ws://127.0.0.1:7880" },
    "CONNECTA_LIVEKIT_KEY_FILE: missing (CONNECTA_LIVEKIT_URL needs it)",
  ],
  [
    "a LiveKit key file without key",
    { CONNECTA_LIVEKIT_URL: "ws://127.0.0.1:7880", CONNECTA_LIVEKIT_KEY_FILE: tokenFile },
    "CONNECTA_LIVEKIT_KEY_FILE: ",
  ],
  [
    "a yes-or-no setting that is neither",
    { CONNECTA_CALLS_SEEKERS_START: "yes" },
    "CONNECTA_CALLS_SEEKERS_START: expected true or false",
  ],
  ["an unknown log level", { CONNECTA_LOG_LEVEL: "loud" }, "CONNECTA_LOG_LEVEL: "],
  ["a bind address that is no address", { CONNECTA_AS_BIND_ADDRESS: "everywhere" }, "CONNECTA_AS_BIND_ADDRESS: "],
];

describe("loadConfig", () => {
  it("reads a valid configuration and applies defaults", () => {
    const config = loadConfig(valid);
    expect(config).toMatchObject({
      port: 9009,
      bindAddress: "127.0.0.1",
      homeserverUrl: "http://127.0.0.1:8008",
      logLevel: "info",
      hsToken: "t".repeat(43),
      trustedProxies: [],
      auditWebhookUrl: null,
    });
  });

  it("reads the LiveKit settings, deriving the API URL, or none", () => {
    expect(loadConfig(valid).livekit).toBeNull();
    const config = loadConfig({
      ...valid,
      CONNECTA_LIVEKIT_URL: "wss://calls.example.org/",
      CONNECTA_LIVEKIT_KEY_FILE: livekitKeyFile,
    });
    expect(config.livekit).toEqual({
      url: "wss://calls.example.org",
      apiUrl: "https://calls.example.org",
      apiKey: "connecta",
      apiSecret: "s".repeat(43),
      seekersStart: false,
    });
    const seekersStart = {
      ...valid,
      CONNECTA_LIVEKIT_URL: "ws://127.0.0.1:7880",
      CONNECTA_LIVEKIT_KEY_FILE: livekitKeyFile,
    };
    expect(loadConfig({ ...seekersStart, CONNECTA_CALLS_SEEKERS_START: "true" }).livekit?.seekersStart).toBe(true);
  });

  it("reads the trusted proxies as a list of addresses and ranges", () => {
    const config = loadConfig({ ...valid, CONNECTA_TRUSTED_PROXIES: " 127.0.0.1,::1 ,, 10.0.0.0/8,fd00::/8" });
    expect(config.trustedProxies).toEqual(["127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8"]);
  });

  it.each(invalid)("names the key for %s", (_, change, message) => {
    expect(() => loadConfig({ ...valid, ...change })).toThrow(message);
  });
});

describe("the application service process", () => {
  const main = fileURLToPath(new URL("../main.ts", import.meta.url));

  // Each case starts a Node.js process that loads the whole service: give a busy machine time.
  it.each(invalid)(
    "exits non-zero with one line and no stack trace for %s",
    { timeout: 30_000 },
    (_, change, message) => {
      const env = { PATH: process.env.PATH, ...valid, ...change };
      const result = spawnSync(process.execPath, [main], { env, encoding: "utf8", timeout: 30_000 });
      expect(result.status).toBe(78);
      expect(result.stdout).toBe("");
      const lines = result.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`connecta-appservice: configuration error: ${message}`);
    },
  );
});

describe("the sample configuration", () => {
  it("is the one generated from the schema", () => {
    const committed = readFileSync(fileURLToPath(new URL("../../config.sample.env", import.meta.url)), "utf8");
    const regenerate =
      "regenerate: node -e 'import(\"./appservice/src/config/config.ts\").then((m) => process.stdout.write(m.sampleEnv()))' > appservice/config.sample.env";
    expect(committed, regenerate).toBe(sampleEnv());
  });
});
