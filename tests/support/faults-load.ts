/**
 * The clients of tests/e2e/faults-under-load.test.ts: a seeker and counsellors that keep going
 * while services of the stack are killed under them, retrying the way a real client does. A
 * request whose answer never came is sent again unchanged (the same intake body, the same
 * registration session, the same Matrix transaction id), so that whatever the server did with
 * the first one, the retry must not do twice; that is what the test then checks.
 */
import { randomBytes } from "node:crypto";
import * as sdk from "matrix-js-sdk";
import type { Logger } from "matrix-js-sdk/lib/logger.js";
import type { StackInfo } from "../../ops/stack/stack.ts";
import { matrixRequest, type TestUser } from "./matrix.ts";
import { callIntakeApi, freshPseudonym, intakeBody, retriable, solveChallenge } from "./seeker.ts";
import { callApi, openIdToken } from "./workflow.ts";

/** A pseudo-random number generator in [0, 1) from a 32-bit seed (mulberry32): the same seed, the same numbers. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What the faults did to the load: attempts without an answer that were retried, messages resent,
 * syncs that failed or reconnected.
 */
export const faultStats = { retried: 0, resent: 0, syncErrors: 0 };

/** Gives up on a retried action after this long: the run fails instead of hanging. */
const GIVE_UP_MS = 300_000;

/**
 * Calls `attempt` until it returns a value other than undefined, pausing between tries; an
 * exception (no answer: the service is down) is a reason to try again too. Throws after
 * {@link GIVE_UP_MS} with the last reason.
 */
export async function retrying<T>(what: string, attempt: () => Promise<T | undefined>, pauseMs = 500): Promise<T> {
  const deadline = Date.now() + GIVE_UP_MS;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
      last = "not yet";
    } catch (err) {
      last = (err as Error).message;
      faultStats.retried++;
    }
    await sleep(pauseMs);
  }
  throw new Error(`gave up on ${what} after ${GIVE_UP_MS} ms: ${last}`);
}

/**
 * Calls our API as `user` until it answers something a client would not retry, and returns that
 * answer. An OpenID token Synapse could not confirm (M_UNKNOWN_TOKEN while its database was
 * down) is replaced by a fresh one, as the web client does.
 */
export async function apiAsUser(
  stack: StackInfo,
  user: TestUser,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  let token: string | null = null;
  return retrying(`${method} ${path}`, async () => {
    token ??= await openIdToken(stack, user);
    const res = await callApi(stack.appserviceUrl, method, path, token, body);
    if (res.status === 401) token = null;
    return res.status === 401 || retriable(res.status) ? undefined : res;
  });
}

/** The answer must be 200; returns its body. */
export function ok(res: { status: number; body: Record<string, unknown> }, what: string): Record<string, unknown> {
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** What the intake answered: the seeker's account and the enquiry the completion opened. */
export interface FaultSeeker extends TestUser {
  intakeId: string;
  enquiryId: number;
  roomId: string;
}

/**
 * The whole intake as the web client does it, each request retried until answered: the challenge,
 * the intake (the same body again, which the service answers with the same intake), the
 * registration at Synapse (in the same session; a registration whose answer was lost shows as
 * M_USER_IN_USE, and the seeker logs in with the password they chose) and the completion.
 */
export async function intakeUnderFaults(
  stack: StackInfo,
  options: { topic: string; postcode: string },
): Promise<FaultSeeker> {
  const challenge = await retrying("the challenge", async () => {
    const res = await callIntakeApi(stack, "GET", "/api/v1/intake/challenge");
    return res.status === 200 ? res.body : undefined;
  });
  const challengeId = String(challenge.challenge_id);
  const nonce = await solveChallenge(challengeId, Number(challenge.difficulty));
  const body = intakeBody({ challengeId, nonce }, { ...options, pseudonym: freshPseudonym("fault") });
  const intake = await retrying("the intake", async () => {
    const res = await callIntakeApi(stack, "POST", "/api/v1/intake", body);
    return retriable(res.status) ? undefined : ok(res, "intake");
  });
  const username = String(intake.username);
  const password = randomBytes(18).toString("base64url");
  const account = await registerUnderFaults(stack, username, password, String(intake.registration_token));
  const user: TestUser = { ...account, localpart: username, password };
  const intakeId = String(intake.intake_id);
  const done = ok(await apiAsUser(stack, user, "POST", `/api/v1/intake/${intakeId}/complete`, {}), "completion");
  return { ...user, intakeId, enquiryId: Number(done.enquiry_id), roomId: String(done.room_id) };
}

async function registerUnderFaults(stack: StackInfo, username: string, password: string, token: string) {
  let session: string | undefined;
  let completed: string[] = [];
  const res = await retrying("the registration", async () => {
    const auth = !session
      ? undefined
      : completed.includes("m.login.registration_token")
        ? { type: "m.login.dummy", session }
        : { type: "m.login.registration_token", token, session };
    const answer = await matrixRequest(stack, "POST", "/_matrix/client/v3/register", null, {
      username,
      password,
      initial_device_display_name: "Connecta fault test",
      ...(auth ? { auth } : {}),
    });
    if (answer.status === 401) {
      session = String(answer.body.session);
      completed = (answer.body.completed as string[] | undefined) ?? [];
      return undefined;
    }
    if (answer.status === 400 && answer.body.errcode === "M_USER_IN_USE") return { loggedIn: false };
    if (retriable(answer.status)) return undefined;
    return { loggedIn: true, body: ok(answer, "registration") };
  });
  const body =
    res.body ??
    (await retrying("the login after a lost registration answer", async () => {
      const login = await matrixRequest(stack, "POST", "/_matrix/client/v3/login", null, {
        type: "m.login.password",
        identifier: { type: "m.id.user", user: username },
        password,
      });
      return retriable(login.status) ? undefined : ok(login, "login");
    }));
  return {
    userId: String(body.user_id),
    accessToken: String(body.access_token),
    deviceId: String(body.device_id),
  };
}

/** The SDK's warnings and errors, with whose client they are (the test file's log keeps them). */
function clientLogger(userId: string): Logger {
  const logger: Logger = {
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: (...msg: unknown[]) => console.warn(userId, ...msg),
    error: (...msg: unknown[]) => console.error(userId, ...msg),
    getChild: () => logger,
  };
  return logger;
}

/**
 * A syncing matrix-js-sdk client with Rust crypto that keeps its unsent messages aside
 * (`pendingEventOrdering: "detached"`), where {@link sendUnderFaults} finds them to resend.
 */
export async function faultClient(stack: StackInfo, user: TestUser): Promise<sdk.MatrixClient> {
  const client = sdk.createClient({
    baseUrl: stack.synapseUrl,
    userId: user.userId,
    deviceId: user.deviceId,
    accessToken: user.accessToken,
    logger: clientLogger(user.userId),
  });
  await retrying("the crypto store", () => client.initRustCrypto({ useIndexedDB: false }).then(() => true));
  client.on(sdk.ClientEvent.Sync, (state) => {
    if (state === sdk.SyncState.Error || state === sdk.SyncState.Reconnecting) faultStats.syncErrors++;
  });
  await client.startClient({ initialSyncLimit: 20, pendingEventOrdering: sdk.PendingEventOrdering.Detached });
  await retrying(`${user.userId}'s first sync`, () =>
    Promise.resolve(
      client.getSyncState() === sdk.SyncState.Prepared || client.getSyncState() === sdk.SyncState.Syncing
        ? true
        : undefined,
    ),
  );
  return client;
}

/**
 * Joins `roomId` once `client` sees its invite, retried until the join and the room's encryption
 * have come down the sync.
 */
export async function joinUnderFaults(client: sdk.MatrixClient, roomId: string): Promise<void> {
  const me = client.getSafeUserId();
  await retrying(`${me} joins ${roomId}`, async () => {
    const room = client.getRoom(roomId);
    if (room?.getMyMembership() === sdk.KnownMembership.Join && room.hasEncryptionStateEvent()) return true;
    if (room?.getMyMembership() === sdk.KnownMembership.Invite) await client.joinRoom(roomId);
    return undefined;
  });
}

/**
 * Waits until `client` knows a device of each of `userIds`. matrix-js-sdk ignores a failed key
 * query (its outgoing-request loop logs and goes on) and then shares a message's room key only
 * with the devices it knows: sent a moment after a fault, a message would reach the server but
 * stay unreadable for a recipient whose devices it never learned. A client that means its message
 * to be read checks first (the web client does not yet, docs/threat-model.md).
 */
export async function knowsDevicesOf(client: sdk.MatrixClient, userIds: string[]): Promise<void> {
  const crypto = client.getCrypto();
  if (!crypto) throw new Error(`${client.getUserId()} has no crypto`);
  let tries = 0;
  await retrying(`${client.getUserId()} knows the devices of ${userIds.join(", ")}`, async () => {
    tries++;
    const devices = await crypto.getUserDeviceInfo(userIds, true);
    return userIds.every((u) => (devices.get(u)?.size ?? 0) > 0) ? true : undefined;
  });
  if (tries > 1)
    console.warn(`${client.getUserId()}: learned the devices of ${userIds.join(", ")} after ${tries} tries`);
}

/**
 * Sends the text `body` into `roomId` as a real client does: the SDK retries a failed send a few
 * times by itself; after that the message is "not sent" and is resent (the same event, the same
 * transaction id, as Element's "resend") until it is. Before, it makes sure it knows the devices
 * of `recipients` ({@link knowsDevicesOf}).
 */
export async function sendUnderFaults(
  client: sdk.MatrixClient,
  roomId: string,
  body: string,
  recipients: string[],
): Promise<void> {
  await knowsDevicesOf(client, recipients);
  const sent = client.sendTextMessage(roomId, body).then(
    () => true,
    () => false,
  );
  if (await sent) return;
  await retrying(
    `${client.getUserId()} resends ${body}`,
    async () => {
      const room = client.getRoom(roomId);
      const pending = room
        ?.getPendingEvents()
        .find((e) => e.getContent().body === body || e.getClearContent()?.body === body);
      if (!room) return undefined;
      // Gone from the pending list: the server's echo arrived.
      if (!pending) return true;
      if (pending.status !== sdk.EventStatus.NOT_SENT) return undefined;
      faultStats.resent++;
      await client.resendEvent(pending, room);
      return true;
    },
    1_000,
  );
}
