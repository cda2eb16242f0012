/**
 * How the admin CLI reaches the admin API: where it is, the operator token, and one request
 * function that turns every failure into a one-line {@link CliError}.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (this file is appservice/src/cli/client.ts). */
const ROOT = resolve(fileURLToPath(import.meta.url), "../../../..");

/** A failure to report in one line; `exitCode` 2 means the command line was wrong. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** The stack's data folder: CONNECTA_DATA_DIR or `.data/` in the repository. */
function dataDir(env: NodeJS.ProcessEnv): string {
  return resolve(env.CONNECTA_DATA_DIR || join(ROOT, ".data"));
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  return e.cause?.code ?? e.cause?.message ?? e.code ?? e.message;
}

/** The API's base URL: `--url`, else CONNECTA_ADMIN_URL, else `appserviceUrl` in `<data dir>/stack.json`. */
export function resolveUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const given = flag ?? env.CONNECTA_ADMIN_URL;
  if (given) {
    if (!URL.canParse(given) || !/^https?:$/.test(new URL(given).protocol)) {
      throw new CliError(`--url: expected an http(s) URL, got "${given}"`, 2);
    }
    return given.replace(/\/+$/, "");
  }
  const file = join(dataDir(env), "stack.json");
  let url: unknown;
  try {
    url = (JSON.parse(readFileSync(file, "utf8")) as { appserviceUrl?: unknown }).appserviceUrl;
  } catch (err) {
    throw new CliError(`no --url or CONNECTA_ADMIN_URL given, and ${file} is not readable (${reason(err)})`, 2);
  }
  if (typeof url !== "string") throw new CliError(`${file} names no appserviceUrl; pass --url`, 2);
  return url.replace(/\/+$/, "");
}

/** The operator token: from `--token-file`, else `<data dir>/secrets/operator.api_token`. */
export function readToken(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const file = flag ?? join(dataDir(env), "secrets", "operator.api_token");
  let token: string;
  try {
    token = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new CliError(`cannot read the operator token file ${file} (${reason(err)}); pass --token-file`, 2);
  }
  if (!token) throw new CliError(`the operator token file ${file} is empty`, 2);
  return token;
}

/** Calls the admin API. */
export type Request = <T>(method: string, path: string, body?: unknown) => Promise<T>;

/** A request function for the API at `baseUrl` with the operator `token`. */
export function createRequest(baseUrl: string, token: string): Request {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(`${baseUrl}/api/v1/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new CliError(`cannot reach the application service at ${baseUrl} (${reason(err)})`);
    }
    const text = await res.text();
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new CliError(`the application service answered ${res.status} without JSON; is ${baseUrl} right?`);
    }
    if (!res.ok) {
      const errcode = typeof json.errcode === "string" ? json.errcode : "error";
      const message = typeof json.error === "string" ? json.error : text.slice(0, 200);
      throw new CliError(`${errcode}: ${message.replace(/\s+/g, " ")} (HTTP ${res.status})`);
    }
    return json as T;
  };
}
