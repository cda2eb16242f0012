/**
 * Helpers of the attack suite (docs/threat-model.md lists every case by its id): requests sent
 * exactly as an attacker writes them (raw paths, raw bytes, raw sockets), and the one assertion
 * every case ends with: the exact refusal, a Matrix error `{errcode, error}` with its status.
 */
import { connect } from "node:net";
import { request } from "node:http";
import { expect } from "vitest";
import type { StackInfo } from "../../ops/stack/stack.ts";
import { matrixRequest, type TestUser } from "../support/matrix.ts";

/** An answer as it came over the wire, with its body parsed as JSON where it is JSON. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: Record<string, unknown>;
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : { value };
  } catch {
    return { raw: text };
  }
}

/**
 * Sends `path` to `baseUrl` exactly as written (fetch would resolve dot segments and re-encode
 * it), with `headers` and an optional body (a string or raw bytes); from `localAddress` when
 * given (another loopback address, `127.x.y.z`: a client with an address of its own).
 */
export function send(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
  localAddress?: string,
): Promise<Answer> {
  const url = new URL(baseUrl);
  // Node sends a GET's or DELETE's body without a length unless told; say it, as browsers do.
  const length =
    body === undefined || "content-length" in headers || "transfer-encoding" in headers
      ? {}
      : { "content-length": String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers: { ...length, ...headers }, localAddress },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        const done = () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parseJson(text) });
        };
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", done);
        // A server that answers before reading a too large body may close the connection.
        res.on("aborted", done);
      },
    );
    // A reset after the answer began (the rest of a refused body unsent) is no failure.
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    req.end(body);
  });
}

/** A JSON request with an optional bearer token, sent as written. */
export function sendJson(
  baseUrl: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return send(
    baseUrl,
    method,
    path,
    {
      "content-type": "application/json",
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
    body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  );
}

/**
 * Writes `bytes` to a fresh TCP connection to `baseUrl`'s host and port and collects everything
 * that comes back until the server closes the connection or `idleMs` pass without a byte
 * (pipelined and smuggled requests: every answer the server gave is in the text).
 */
export function rawExchange(baseUrl: string, bytes: string | Buffer, idleMs = 1500): Promise<string> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    };
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, idleMs);
    };
    socket.on("connect", () => {
      socket.write(bytes);
      idle();
    });
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      idle();
    });
    socket.on("end", finish);
    socket.on("close", finish);
    socket.on("error", (err) => (chunks.length ? finish() : reject(err)));
  });
}

/** The status codes of every HTTP answer in a raw exchange, in order (an answer may follow a body directly). */
export function statusLines(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}

/**
 * The exact refusal: `status`, a JSON body of exactly `errcode` and a string `error` (plus
 * `retry_after_ms` on 429), and nothing cached.
 */
export function expectRefusal(answer: Answer, status: number, errcode: string, what = ""): void {
  expect({ status: answer.status, errcode: answer.body.errcode }, `${what} ${answer.text.slice(0, 300)}`).toEqual({
    status,
    errcode,
  });
  expect(typeof answer.body.error, what).toBe("string");
  expect(answer.headers["cache-control"], what).toBe("no-store");
}

/** A Matrix client-server API call at Synapse, shaped as an {@link Answer}'s status and body. */
export async function synapse(
  stack: StackInfo,
  method: string,
  path: string,
  user: Pick<TestUser, "accessToken"> | null,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return matrixRequest(stack, method, path, user, body);
}

/** `[status, errcode]` of a Synapse answer, for one-line exact refusals. */
export const refusalOf = (res: { status: number; body: Record<string, unknown> }): [number, unknown] => [
  res.status,
  res.body.errcode,
];

export const enc = encodeURIComponent;
