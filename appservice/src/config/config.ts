/**
 * The application service's configuration: read from the environment once at start-up and
 * validated. A missing or malformed value stops the process with one line naming the variable.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { parseAddressRange } from "../intake/client-address.ts";

/** Validated configuration of one application service process. */
export interface Config {
  /** CONNECTA_AS_BIND_ADDRESS: address to listen on (default 127.0.0.1). */
  bindAddress: string;
  /** CONNECTA_AS_PORT: port to listen on; Synapse pushes transactions here. */
  port: number;
  /** CONNECTA_AS_DATABASE_URL: PostgreSQL URL, without the password. */
  databaseUrl: string;
  /** CONNECTA_AS_DATABASE_PASSWORD_FILE: file holding the database password (optional). */
  databasePassword: string | null;
  /** CONNECTA_HOMESERVER_URL: base URL of Synapse's client API. */
  homeserverUrl: string;
  /** CONNECTA_SERVER_NAME: the Matrix server name. */
  serverName: string;
  /** CONNECTA_BOT_LOCALPART: local part of the bot user (sender_localpart of the registration). */
  botLocalpart: string;
  /** CONNECTA_AS_TOKEN_FILE: file holding the token we present to Synapse. */
  asToken: string;
  /** CONNECTA_HS_TOKEN_FILE: file holding the token Synapse presents to us. */
  hsToken: string;
  /** CONNECTA_OPERATOR_TOKEN_FILE: file holding the token operators use for the admin API. */
  operatorToken: string;
  /** CONNECTA_REOPEN_WINDOW_DAYS: how long after closing a seeker may reopen (default 14). */
  reopenWindowDays: number;
  /** CONNECTA_RETENTION_SWEEP_MINUTES: minutes between retention sweeps, 0 for none (default 60). */
  retentionSweepMinutes: number;
  /** CONNECTA_INTAKE_RATE_LIMIT_PER_ADDRESS: challenges and intakes per client address and window (default 100). */
  intakeRateLimitPerAddress: number;
  /** CONNECTA_INTAKE_POW_DIFFICULTY: proof-of-work difficulty of the intake in bits (default 18). */
  intakeDifficulty: number;
  /**
   * CONNECTA_TOKEN_CHECKS_PER_ADDRESS: OpenID token checks at Synapse one client address may
   * cause per 10 minutes (default 1000; auth/brakes.ts).
   */
  tokenChecksPerAddress: number;
  /** CONNECTA_ENQUIRY_ACTIONS_PER_ACCOUNT: claims, handovers, closes and reopens per account and 10 minutes (default 120). */
  enquiryActionsPerAccount: number;
  /** CONNECTA_ENQUIRY_ACTIONS_PER_ADDRESS: the same per client address and 10 minutes (default 1200). */
  enquiryActionsPerAddress: number;
  /**
   * CONNECTA_TRUSTED_PROXIES: comma-separated IP addresses or CIDR ranges (`10.0.0.0/8`,
   * `fd00::/8`) of reverse proxies whose `X-Forwarded-For` header names the client address
   * (default none: the TCP peer counts).
   */
  trustedProxies: string[];
  /**
   * CONNECTA_AUDIT_WEBHOOK_URL: where high and critical security events are posted (default none).
   * Its path may hold a secret; it is never logged.
   */
  auditWebhookUrl: string | null;
  /**
   * CONNECTA_LIVEKIT_URL, CONNECTA_LIVEKIT_API_URL, CONNECTA_LIVEKIT_KEY_FILE: the LiveKit server
   * of calls (docs/calls.md); null when calls are not set up. CONNECTA_CALLS_SEEKERS_START:
   * whether seekers may start a call, or only join one their counsellor started (default).
   */
  livekit: { url: string; apiUrl: string; apiKey: string; apiSecret: string; seekersStart: boolean } | null;
  /** CONNECTA_LOG_LEVEL: pino level (default info). */
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
}

/** A configuration problem; the message is the one line shown to the operator. */
export class ConfigError extends Error {}

const httpUrl = z
  .string()
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), "expected an http(s) URL")
  .transform((v) => v.replace(/\/+$/, ""));

/** A file path whose trimmed content of at least `minLength` characters is the value. */
const secretFile = (minLength: number) =>
  z
    .string()
    .min(1, "expected a file path")
    .transform((path, ctx) => {
      let token: string;
      try {
        token = readFileSync(path, "utf8").trim();
      } catch (err) {
        ctx.addIssue({
          code: "custom",
          message: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? "error"})`,
        });
        return z.NEVER;
      }
      if (token.length < minLength) {
        ctx.addIssue({ code: "custom", message: `${path} must hold at least ${minLength} characters` });
        return z.NEVER;
      }
      return token;
    });
const tokenFile = secretFile(32);

/** A budget of requests per window, 1..1000000, with its default. */
const perWindow = (fallback: number) =>
  z.coerce
    .number({ message: "expected a number" })
    .int("expected a whole number")
    .min(1, "expected 1..1000000")
    .max(1_000_000, "expected 1..1000000")
    .default(fallback);

/** Environment variable for each configuration key, in the order they are reported. */
const schema = z.object({
  CONNECTA_AS_BIND_ADDRESS: z
    .ipv4({ message: "expected an IPv4 address" })
    .or(z.ipv6())
    .default("127.0.0.1")
    .describe("Address to listen on."),
  CONNECTA_AS_PORT: z.coerce
    .number({ message: "expected a port number" })
    .int("expected a whole port number")
    .min(1, "expected a port number 1..65535")
    .max(65535, "expected a port number 1..65535")
    .describe("Port to listen on; Synapse pushes transactions here (the url of the registration)."),
  CONNECTA_AS_DATABASE_URL: z
    .string()
    .refine((v) => URL.canParse(v) && /^postgres(ql)?:$/.test(new URL(v).protocol), "expected a postgres:// URL")
    .describe("PostgreSQL URL, e.g. postgres://connecta@127.0.0.1:5432/connecta (no password in it)."),
  CONNECTA_AS_DATABASE_PASSWORD_FILE: secretFile(1).optional().describe("File holding the database password."),
  CONNECTA_HOMESERVER_URL: httpUrl.describe("Base URL of Synapse's client API."),
  CONNECTA_SERVER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/, "expected a Matrix server name")
    .describe("The Matrix server name (server_name in homeserver.yaml)."),
  CONNECTA_BOT_LOCALPART: z
    .string()
    .regex(/^[a-z0-9._=/-]+$/, "expected a Matrix user localpart")
    .describe("Local part of the bot user (sender_localpart of the registration)."),
  CONNECTA_AS_TOKEN_FILE: tokenFile.describe("File holding the as_token we present to Synapse."),
  CONNECTA_HS_TOKEN_FILE: tokenFile.describe("File holding the hs_token Synapse presents to us."),
  CONNECTA_OPERATOR_TOKEN_FILE: tokenFile.describe("File holding the token operators use for the admin API."),
  CONNECTA_REOPEN_WINDOW_DAYS: z.coerce
    .number({ message: "expected a number of days" })
    .int("expected a whole number of days")
    .min(0, "expected 0..365 days")
    .max(365, "expected 0..365 days")
    .default(14)
    .describe("Days after closing during which the seeker may reopen an enquiry."),
  CONNECTA_RETENTION_SWEEP_MINUTES: z.coerce
    .number({ message: "expected a number of minutes" })
    .int("expected a whole number of minutes")
    .min(0, "expected 0..1440 minutes")
    .max(1440, "expected 0..1440 minutes")
    .default(60)
    .describe(
      "Minutes between retention sweeps, which schedule the purge of what is past its retention period " +
        "(docs/privacy.md); 0 runs none (an operator sweeps by hand: npm run admin -- retention sweep).",
    ),
  CONNECTA_INTAKE_RATE_LIMIT_PER_ADDRESS: z.coerce
    .number({ message: "expected a number" })
    .int("expected a whole number")
    .min(1, "expected 1..1000000")
    .max(1_000_000, "expected 1..1000000")
    .default(100)
    .describe("Challenges and intakes per client address and window."),
  CONNECTA_INTAKE_POW_DIFFICULTY: z.coerce
    .number({ message: "expected a number of bits" })
    .int("expected a whole number of bits")
    .min(1, "expected 1..32 bits")
    .max(32, "expected 1..32 bits")
    .default(18)
    .describe("Proof-of-work difficulty of the intake in bits."),
  CONNECTA_TOKEN_CHECKS_PER_ADDRESS: perWindow(1000).describe(
    "OpenID tokens not seen in the last minute that one client address may have checked at Synapse per 10 minutes; " +
      "after it, new tokens from the address answer 429 without asking Synapse (tokens already checked keep working).",
  ),
  CONNECTA_ENQUIRY_ACTIONS_PER_ACCOUNT: perWindow(120).describe(
    "Claims, handovers, closes and reopens (refused ones too) one account may send per 10 minutes.",
  ),
  CONNECTA_ENQUIRY_ACTIONS_PER_ADDRESS: perWindow(1200).describe(
    "Claims, handovers, closes and reopens all accounts at one client address together may send per 10 minutes " +
      "(an agency's office shares one address).",
  ),
  CONNECTA_TRUSTED_PROXIES: z
    .string()
    .transform((v) =>
      v
        .split(",")
        .map((a) => a.trim())
        .filter((a) => a !== ""),
    )
    .refine(
      (list) => list.every((a) => parseAddressRange(a) !== null),
      "expected comma-separated IP addresses or ranges like 10.0.0.0/8 or fd00::/8 (prefix 1..32, IPv6 1..128)",
    )
    .default([])
    .describe(
      "Comma-separated IP addresses or CIDR ranges (10.0.0.0/8, fd00::/8) of reverse proxies whose X-Forwarded-For names the client.",
    ),
  CONNECTA_AUDIT_WEBHOOK_URL: httpUrl
    .optional()
    .describe(
      "URL that high and critical security events are posted to (id, time, action, class; no personal data). Default: none. Its path may hold a secret; it is never logged.",
    ),
  CONNECTA_LIVEKIT_URL: z
    .string()
    .refine((v) => URL.canParse(v) && /^wss?:$/.test(new URL(v).protocol), "expected a ws(s) URL")
    .transform((v) => v.replace(/\/+$/, ""))
    .optional()
    .describe("LiveKit's WebSocket URL as browsers reach it, for calls (docs/calls.md). Default: none, and no calls."),
  CONNECTA_LIVEKIT_API_URL: httpUrl
    .optional()
    .describe("LiveKit's HTTP URL as this service reaches it. Default: CONNECTA_LIVEKIT_URL with http(s)."),
  CONNECTA_LIVEKIT_KEY_FILE: z
    .string()
    .min(1, "expected a file path")
    .transform((path, ctx) => {
      let line: string;
      try {
        line = readFileSync(path, "utf8").trim();
      } catch (err) {
        ctx.addIssue({
          code: "custom",
          message: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? "error"})`,
        });
        return z.NEVER;
      }
      const match = /^([A-Za-z0-9_-]+): ?(\S{32,})$/.exec(line);
      if (!match) {
        ctx.addIssue({
          code: "custom",
          message: `${path} must hold one line "<key>: <secret>" (32 characters or more)`,
        });
        return z.NEVER;
      }
      return { key: match[1] ?? "", secret: match[2] ?? "" };
    })
    .optional()
    .describe("File holding LiveKit's API key and secret as one line \"<key>: <secret>\" (LiveKit's key_file)."),
  CONNECTA_CALLS_SEEKERS_START: z
    .enum(["true", "false"], { message: "expected true or false" })
    .default("false")
    .transform((v) => v === "true")
    .describe(
      "Whether seekers may start a call (true) or only join one their counsellor started (false). Default: false.",
    ),
  CONNECTA_LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info")
    .describe("Log level: fatal, error, warn, info, debug, trace or silent."),
});

/** The LiveKit settings, all or none. */
function livekitConfig(
  url: string | undefined,
  apiUrl: string | undefined,
  keys: { key: string; secret: string } | undefined,
  seekersStart: boolean,
): Config["livekit"] {
  if (!url) {
    if (keys || apiUrl) throw new ConfigError("CONNECTA_LIVEKIT_URL: missing (the other LiveKit settings need it)");
    return null;
  }
  if (!keys) throw new ConfigError("CONNECTA_LIVEKIT_KEY_FILE: missing (CONNECTA_LIVEKIT_URL needs it)");
  return { url, apiUrl: apiUrl ?? url.replace(/^ws/, "http"), apiKey: keys.key, apiSecret: keys.secret, seekersStart };
}

/** Reads and validates the configuration. Throws {@link ConfigError} naming the first bad key. */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  // Treat empty strings as missing, so `VAR=` gets the same message as an unset variable.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? "configuration");
    const message = env[key] === undefined || env[key] === "" ? "missing" : (issue?.message ?? "invalid");
    throw new ConfigError(`${key}: ${message}`);
  }
  const v = parsed.data;
  return {
    bindAddress: v.CONNECTA_AS_BIND_ADDRESS,
    port: v.CONNECTA_AS_PORT,
    databaseUrl: v.CONNECTA_AS_DATABASE_URL,
    databasePassword: v.CONNECTA_AS_DATABASE_PASSWORD_FILE ?? null,
    homeserverUrl: v.CONNECTA_HOMESERVER_URL,
    serverName: v.CONNECTA_SERVER_NAME,
    botLocalpart: v.CONNECTA_BOT_LOCALPART,
    asToken: v.CONNECTA_AS_TOKEN_FILE,
    hsToken: v.CONNECTA_HS_TOKEN_FILE,
    operatorToken: v.CONNECTA_OPERATOR_TOKEN_FILE,
    reopenWindowDays: v.CONNECTA_REOPEN_WINDOW_DAYS,
    retentionSweepMinutes: v.CONNECTA_RETENTION_SWEEP_MINUTES,
    intakeRateLimitPerAddress: v.CONNECTA_INTAKE_RATE_LIMIT_PER_ADDRESS,
    intakeDifficulty: v.CONNECTA_INTAKE_POW_DIFFICULTY,
    tokenChecksPerAddress: v.CONNECTA_TOKEN_CHECKS_PER_ADDRESS,
    enquiryActionsPerAccount: v.CONNECTA_ENQUIRY_ACTIONS_PER_ACCOUNT,
    enquiryActionsPerAddress: v.CONNECTA_ENQUIRY_ACTIONS_PER_ADDRESS,
    trustedProxies: v.CONNECTA_TRUSTED_PROXIES,
    auditWebhookUrl: v.CONNECTA_AUDIT_WEBHOOK_URL ?? null,
    livekit: livekitConfig(
      v.CONNECTA_LIVEKIT_URL,
      v.CONNECTA_LIVEKIT_API_URL,
      v.CONNECTA_LIVEKIT_KEY_FILE,
      v.CONNECTA_CALLS_SEEKERS_START,
    ),
    logLevel: v.CONNECTA_LOG_LEVEL,
  };
}

/**
 * The sample environment file (appservice/config.sample.env), generated from the schema: every
 * variable with its description; required ones uncommented, the others with their default.
 */
export function sampleEnv(): string {
  const lines = ["# Configuration of the Connecta application service (generated from config.ts; do not edit)."];
  for (const [key, field] of Object.entries(schema.shape) as [string, z.ZodType][]) {
    lines.push("", `# ${field.description ?? key}`);
    const fallback = field.safeParse(undefined);
    if (!fallback.success) lines.push(`${key}=`);
    else {
      const value = fallback.data;
      // The defaults are strings, numbers and lists (of strings); no default is "".
      const scalar = typeof value === "string" || typeof value === "number" || typeof value === "boolean";
      lines.push(`# ${key}=${Array.isArray(value) ? value.join(",") : scalar ? String(value) : ""}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
