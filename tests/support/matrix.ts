/**
 * Test helpers for Matrix: users created through Synapse's admin API with the operator's token
 * and headless matrix-js-sdk clients with Rust crypto (in-memory crypto store).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as sdk from "matrix-js-sdk";
import type { Logger } from "matrix-js-sdk/lib/logger.js";
import type { SecretName } from "../../ops/stack/secrets.ts";
import type { StackInfo } from "../../ops/stack/stack.ts";

/** matrix-js-sdk logs every sync step; tests only want its warnings and errors. */
const quietLogger: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (...msg: unknown[]) => console.warn(...msg),
  error: (...msg: unknown[]) => console.error(...msg),
  getChild: () => quietLogger,
};

/** A registered test user. */
export interface TestUser {
  userId: string;
  localpart: string;
  password: string;
  accessToken: string;
  deviceId: string;
}

/** Reads one of the stack's generated secrets, from the path the stack published. */
export function stackSecret(stack: Pick<StackInfo, "secretFiles">, name: SecretName): string {
  return readFileSync(stack.secretFiles[name], "utf8").trim();
}

/**
 * Creates the account `@localpart` (optionally a server admin) with Synapse's admin API, as the
 * operator does, and logs it in with its password (a fresh device). Waits and retries when
 * Synapse's login limit per address (rc_login, raised for the test stack) answers 429.
 */
export async function createUser(stack: StackInfo, localpart: string, admin = false): Promise<TestUser> {
  const userId = `@${localpart}:${stack.serverName}`;
  const password = randomBytes(16).toString("base64url");
  const operator = { accessToken: stackSecret(stack, "synapseOperatorToken") };
  const path = `/_synapse/admin/v2/users/${encodeURIComponent(userId)}`;
  const created = await matrixRequest(stack, "PUT", path, operator, { password, admin });
  if (created.status !== 201) {
    throw new Error(`creating ${userId} failed: ${created.status} ${JSON.stringify(created.body)}`);
  }
  for (;;) {
    const login = await matrixRequest(stack, "POST", "/_matrix/client/v3/login", null, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: localpart },
      password,
    });
    if (login.status === 429) {
      await new Promise((r) => setTimeout(r, Number(login.body.retry_after_ms ?? 1000) + 100));
      continue;
    }
    if (login.status !== 200) throw new Error(`logging in ${userId}: ${login.status} ${JSON.stringify(login.body)}`);
    return {
      userId,
      localpart,
      password,
      accessToken: String(login.body.access_token),
      deviceId: String(login.body.device_id),
    };
  }
}

/** Creates a fresh user `<prefix>-<random>` (optionally a server admin); see {@link createUser}. */
export async function registerUser(stack: StackInfo, prefix = "user", admin = false): Promise<TestUser> {
  return createUser(stack, `${prefix}-${randomBytes(4).toString("hex")}`, admin);
}

/** Calls the client-server API as `user` and returns status and JSON body. */
export async function matrixRequest(
  stack: StackInfo,
  method: string,
  path: string,
  user: Pick<TestUser, "accessToken"> | null,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (user) headers.authorization = `Bearer ${user.accessToken}`;
  const res = await fetch(`${stack.synapseUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { raw: text };
  }
  return { status: res.status, body: json };
}

/** Starts a syncing matrix-js-sdk client with Rust crypto for `user`. Stop it with `stopClient()`. */
export async function cryptoClient(stack: StackInfo, user: TestUser): Promise<sdk.MatrixClient> {
  const client = sdk.createClient({
    baseUrl: stack.synapseUrl,
    userId: user.userId,
    deviceId: user.deviceId,
    accessToken: user.accessToken,
    logger: quietLogger,
  });
  await client.initRustCrypto({ useIndexedDB: false });
  const prepared = new Promise<void>((resolve, reject) => {
    client.on(sdk.ClientEvent.Sync, (state) => {
      if (state === sdk.SyncState.Prepared || state === sdk.SyncState.Syncing) resolve();
      if (state === sdk.SyncState.Error) reject(new Error(`sync failed for ${user.userId}`));
    });
  });
  await client.startClient({ initialSyncLimit: 20 });
  await prepared;
  return client;
}

/** Resolves when `predicate` holds, polling every 100 ms; rejects after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  predicate: () => T | Promise<T>,
  timeoutMs = 30_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await predicate();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const why = last instanceof Error ? last.message : JSON.stringify(last);
  throw new Error(`timed out waiting for ${what}${last ? `: ${why}` : ""}`);
}

/** Users joined to or invited into `roomId`, sorted, as `viewer` sees them. */
export async function roomMembers(
  stack: StackInfo,
  roomId: string,
  viewer: Pick<TestUser, "accessToken">,
): Promise<string[]> {
  const res = await matrixRequest(
    stack,
    "GET",
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/members`,
    viewer,
  );
  if (res.status !== 200) throw new Error(`members of ${roomId}: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body.chunk as { state_key: string; content: { membership: string } }[])
    .filter((m) => ["join", "invite"].includes(m.content.membership))
    .map((m) => m.state_key)
    .sort();
}
