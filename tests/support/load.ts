/**
 * A scripted counselling load with real clients, shared by the load benchmark (bench/load.ts,
 * 200 pairs) and its reduced run in CI (tests/e2e/load.test.ts): seeker–counsellor pairs, each
 * side a matrix-js-sdk client with Rust crypto, exchanging messages, and a check that every
 * message arrived exactly once and was decrypted.
 *
 * Two ways to set the pairs up, so that a run can compare them on one stack:
 * - {@link connectaPairs}: as counselling does. Each pair gets its own topic and agency with one
 *   counsellor (so that no room invites a crowd); the seeker goes through the real intake (proof
 *   of work solved beforehand, then intake, registration at Synapse, completion with the room the
 *   step worker created), joins and writes the first enquiry; the counsellor sees it in the
 *   queue (API), joins and claims it (API).
 * - {@link barePairs}: the baseline without the application service's workflow. The seeker
 *   registers at Synapse with a token the operator minted; the bot creates an encrypted room
 *   inviting seeker and counsellor (only the bot may create rooms on our Synapse); both join and
 *   the seeker writes the first message.
 *
 * Then {@link exchange}: in every pair at once, seeker and counsellor take turns (one message in
 * flight per pair, as in a chat); a message's latency runs from the send until the other side's
 * client has decrypted it. {@link verifyHistory} afterwards reads each room's history from the
 * server and has both clients decrypt every message afresh.
 *
 * Seekers' requests to the application service carry X-Forwarded-For with an address of their
 * own (IPv6 documentation prefix, one /64 each), which the stack's appservice trusts from
 * 127.0.0.1, as it trusts its web client's: the intake's per-address limit counts each seeker on
 * their own, as it would on the internet. No traffic goes to these addresses.
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as sdk from "matrix-js-sdk";
import type { StackInfo } from "../../ops/stack/stack.ts";
import { joinInvitedRoom } from "./crypto-identity.ts";
import { cryptoClient, matrixRequest, registerUser, stackSecret, type TestUser } from "./matrix.ts";
import { freshPseudonym, intakeSeeker, registerWithToken, seedIntakeAgency, solvedChallenge } from "./seeker.ts";
import { callApi, openIdToken } from "./workflow.ts";

/** How long one step of one pair (a join, a queue entry, a message) may take under load. */
const STEP_TIMEOUT_MS = 180_000;

/** One seeker and one counsellor, each with a syncing Rust-crypto client, in one room. */
export interface Pair {
  index: number;
  seeker: TestUser;
  counsellor: TestUser;
  roomId: string;
  /** The enquiry (Connecta pairs), or null (bare pairs). */
  enquiryId: number | null;
  seekerClient: sdk.MatrixClient;
  counsellorClient: sdk.MatrixClient;
  /** Messages decrypted by each side, from the other side (see {@link inbox}). */
  inboxes: Map<sdk.MatrixClient, Inbox>;
}

/** What a setup of pairs reports besides the pairs. */
export interface PairsSetup {
  pairs: Pair[];
  /**
   * Wall-clock seconds of the phase that makes the rooms, all pairs at once: intake, registration
   * and completion with the room (Connecta), or token registration and room creation (bare).
   */
  roomSeconds: number;
  /** Enquiries seen in their counsellor's queue (Connecta; bare: 0). */
  queued: number;
  /** Claims answered 200 with the counsellor assigned (Connecta; bare: 0). */
  claimed: number;
  /** Intake and completion requests the appservice answered with a server error or 429 and the seeker retried. */
  retried: string[];
}

/** Runs `task` for 0..n-1, at most `parallel` at a time; resolves with the results in order. */
export async function pool<T>(n: number, parallel: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  return results;
}

/** A seeker's own client address: a /64 of the IPv6 documentation prefix per index. */
const seekerAddress = (i: number) => ({ "x-forwarded-for": `2001:db8:${(i + 1).toString(16)}::1` });

/**
 * Messages one client decrypted from others, by body: the event ids each body arrived with
 * (more than one is a duplicate), and the events whose decryption failed at least once (a key
 * that came late; the SDK retries when it arrives).
 */
export interface Inbox {
  bodies: Map<string, Set<string>>;
  failedOnce: Set<string>;
  /** Resolves when `body` has been decrypted; rejects after `timeoutMs`. */
  arrival(body: string, timeoutMs: number): Promise<number>;
}

/** Starts collecting what `client` decrypts from other senders. */
export function inbox(client: sdk.MatrixClient): Inbox {
  const bodies = new Map<string, Set<string>>();
  const failedOnce = new Set<string>();
  const waiters = new Map<string, (at: number) => void>();
  client.on(sdk.MatrixEventEvent.Decrypted, (event) => {
    if (event.getSender() === client.getUserId()) return;
    const id = event.getId() ?? "";
    if (event.isDecryptionFailure()) {
      failedOnce.add(id);
      return;
    }
    const body: unknown = event.getContent().body;
    if (typeof body !== "string") return;
    const ids = bodies.get(body) ?? new Set<string>();
    ids.add(id);
    bodies.set(body, ids);
    waiters.get(body)?.(performance.now());
  });
  return {
    bodies,
    failedOnce,
    arrival(body, timeoutMs) {
      if (bodies.has(body)) return Promise.resolve(performance.now());
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(body);
          reject(new Error(`not decrypted within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.set(body, (at) => {
          clearTimeout(timer);
          waiters.delete(body);
          resolve(at);
        });
      });
    },
  };
}

/**
 * How a setup runs: `parallel` pairs at a time (outside the timed phase), `progress` lines, and
 * `clients`, to which every client started is added at once, so that the caller can stop them
 * all however the run ends.
 */
export interface SetupOptions {
  parallel?: number;
  progress?: (what: string) => void;
  clients: sdk.MatrixClient[];
}

/** A client for `user` with its inbox, added to `clients`. */
async function loadClient(stack: StackInfo, user: TestUser, clients: sdk.MatrixClient[]) {
  const client = await cryptoClient(stack, user);
  clients.push(client);
  return { client, inbox: inbox(client) };
}

/** Resolves when `check` holds, asking every `everyMs`; rejects after `timeoutMs`. */
async function waitFor(what: string, check: () => Promise<boolean>, everyMs = 1000, timeoutMs = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The seeker's first message of a pair. */
const firstText = (i: number) => `load-${i}-first-${randomBytes(6).toString("hex")}`;

/**
 * `n` pairs set up as counselling does (module comment), `parallel` pairs at a time except in
 * the timed phase, where all intakes run at once. Failures of single pairs throw: a setup that
 * loses a pair is a failed run.
 */
export async function connectaPairs(stack: StackInfo, n: number, options: SetupOptions): Promise<PairsSetup> {
  const parallel = options.parallel ?? 20;
  const progress = options.progress ?? (() => undefined);
  const agencies = await pool(n, parallel, () => seedIntakeAgency(stack, 1));
  // Counsellors are online before their seekers write, so the first enquiry is encrypted for them.
  const counsellors = await pool(n, parallel, async (i) => {
    const user = agencies[i]?.counsellors[0];
    if (!user) throw new Error(`agency ${i} has no counsellor`);
    return { user, token: await openIdToken(stack, user), ...(await loadClient(stack, user, options.clients)) };
  });
  progress(`${n} counsellors online`);
  // The seekers' proof of work is done beforehand: it costs the seeker's device, not the server.
  const challenges = await pool(n, 4, (i) => solvedChallenge(stack, seekerAddress(i)));
  progress(`${n} challenges solved`);

  const retried: string[] = [];
  const start = performance.now();
  const seekers = await Promise.all(
    agencies.map(async (agency, i) => {
      // A seeker whose intake or completion request fails (no answer, a server error, 429) sends
      // it again, as a person would press the button again: the same intake with the same
      // answers and solved challenge, which the appservice accepts again (intakes.ts), or the
      // completion alone, as the web client does. Each retry is reported.
      const input = { topic: agency.topic, postcode: agency.postcode, pseudonym: freshPseudonym() };
      const via = {
        challenge: challenges[i] as { challengeId: string; nonce: string },
        headers: seekerAddress(i),
        onRetry: (message: string) => retried.push(message),
      };
      return intakeSeeker(stack, input, via);
    }),
  );
  const roomSeconds = (performance.now() - start) / 1000;
  progress(`${n} intakes in ${roomSeconds.toFixed(1)} s`);

  let queued = 0;
  let claimed = 0;
  const pairs = await pool(n, parallel, async (i) => {
    const seeker = seekers[i] as (typeof seekers)[number];
    const counsellor = counsellors[i] as (typeof counsellors)[number];
    const seekerSide = await loadClient(stack, seeker, options.clients);
    await joinInvitedRoom(seekerSide.client, seeker.roomId, STEP_TIMEOUT_MS);
    const first = firstText(i);
    await seekerSide.client.sendTextMessage(seeker.roomId, first);
    await waitFor(`enquiry ${seeker.enquiryId} in the queue`, async () => {
      const res = await callApi(stack.appserviceUrl, "GET", "/api/v1/queue", counsellor.token);
      return ((res.body.enquiries ?? []) as { enquiry_id: number }[]).some((e) => e.enquiry_id === seeker.enquiryId);
    });
    queued++;
    await joinInvitedRoom(counsellor.client, seeker.roomId, STEP_TIMEOUT_MS);
    const claim = await callApi(
      stack.appserviceUrl,
      "POST",
      `/api/v1/enquiries/${seeker.enquiryId}/claim`,
      counsellor.token,
      {},
    );
    if (claim.status !== 200 || claim.body.counsellor_id !== counsellor.user.userId) {
      throw new Error(`claim of enquiry ${seeker.enquiryId}: ${claim.status} ${JSON.stringify(claim.body)}`);
    }
    claimed++;
    // The counsellor reads the first enquiry: the pair is ready.
    await counsellor.inbox.arrival(first, STEP_TIMEOUT_MS);
    return {
      index: i,
      seeker,
      counsellor: counsellor.user,
      roomId: seeker.roomId,
      enquiryId: seeker.enquiryId,
      seekerClient: seekerSide.client,
      counsellorClient: counsellor.client,
      inboxes: new Map([
        [seekerSide.client, seekerSide.inbox],
        [counsellor.client, counsellor.inbox],
      ]),
    };
  });
  return { pairs, roomSeconds, queued, claimed, retried };
}

/** `n` pairs in plain encrypted rooms made directly on Synapse (module comment). */
export async function barePairs(stack: StackInfo, n: number, options: SetupOptions): Promise<PairsSetup> {
  const parallel = options.parallel ?? 20;
  const progress = options.progress ?? (() => undefined);
  const operator = { accessToken: stackSecret(stack, "synapseOperatorToken") };
  const bot = { accessToken: stackSecret(stack, "asToken") };
  const counsellors = await pool(n, parallel, async () => {
    const user = await registerUser(stack, "bare-counsellor");
    return { user, ...(await loadClient(stack, user, options.clients)) };
  });
  const tokens = await pool(n, parallel, async () => {
    const name = freshPseudonym("bare");
    // Synapse registers only the name inside a token (homeserver-config/connecta_rules.py).
    const minted = await matrixRequest(stack, "POST", "/_synapse/admin/v1/registration_tokens/new", operator, {
      token: `${name}~${randomBytes(12).toString("base64url")}`,
      uses_allowed: 1,
    });
    if (minted.status !== 200) throw new Error(`registration token: ${minted.status}`);
    return { name, token: String(minted.body.token) };
  });
  progress(`${n} counsellors online, ${n} registration tokens minted`);

  const start = performance.now();
  const made = await Promise.all(
    tokens.map(async ({ name, token }, i) => {
      const password = randomBytes(18).toString("base64url");
      const registered = await registerWithToken(stack, name, password, token);
      if (registered.status !== 200) throw new Error(`registration: ${registered.status}`);
      const seeker: TestUser = {
        userId: String(registered.body.user_id),
        localpart: name,
        password,
        accessToken: String(registered.body.access_token),
        deviceId: String(registered.body.device_id),
      };
      const room = await matrixRequest(stack, "POST", "/_matrix/client/v3/createRoom", bot, {
        preset: "private_chat",
        invite: [seeker.userId, counsellors[i]?.user.userId],
        initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
      });
      if (room.status !== 200) throw new Error(`room: ${room.status} ${JSON.stringify(room.body)}`);
      return { seeker, roomId: String(room.body.room_id) };
    }),
  );
  const roomSeconds = (performance.now() - start) / 1000;
  progress(`${n} registrations with rooms in ${roomSeconds.toFixed(1)} s`);

  const pairs = await pool(n, parallel, async (i) => {
    const { seeker, roomId } = made[i] as (typeof made)[number];
    const counsellor = counsellors[i] as (typeof counsellors)[number];
    const seekerSide = await loadClient(stack, seeker, options.clients);
    await joinInvitedRoom(seekerSide.client, roomId, STEP_TIMEOUT_MS);
    await joinInvitedRoom(counsellor.client, roomId, STEP_TIMEOUT_MS);
    const first = firstText(i);
    await seekerSide.client.sendTextMessage(roomId, first);
    await counsellor.inbox.arrival(first, STEP_TIMEOUT_MS);
    return {
      index: i,
      seeker,
      counsellor: counsellor.user,
      roomId,
      enquiryId: null,
      seekerClient: seekerSide.client,
      counsellorClient: counsellor.client,
      inboxes: new Map([
        [seekerSide.client, seekerSide.inbox],
        [counsellor.client, counsellor.inbox],
      ]),
    };
  });
  return { pairs, roomSeconds, queued: 0, claimed: 0, retried: [] };
}

/** What an exchange delivered. */
export interface ExchangeResult {
  /** Messages sent (all pairs). */
  sent: number;
  /** Send → decrypted at the other side, ms, one per delivered message. */
  latencies: number[];
  /** Wall-clock seconds of the whole exchange. */
  seconds: number;
  /** Bodies the other side had not decrypted within the step timeout. */
  lost: string[];
  /** Bodies the other side decrypted from more than one event. */
  duplicated: string[];
  /** Events the other side failed to decrypt at first and decrypted later (keys that came late). */
  lateKeys: number;
}

/**
 * In every pair at once, seeker and counsellor take turns for `messages` messages (the seeker
 * starts), one in flight per pair. A message not decrypted by the other side within the step
 * timeout counts as lost and the pair goes on.
 */
export async function exchange(pairs: Pair[], messages: number): Promise<ExchangeResult> {
  const latencies: number[] = [];
  const lost: string[] = [];
  const start = performance.now();
  await Promise.all(
    pairs.map(async (pair) => {
      for (let m = 0; m < messages; m++) {
        const [from, to] =
          m % 2 === 0 ? [pair.seekerClient, pair.counsellorClient] : [pair.counsellorClient, pair.seekerClient];
        const body = `load-${pair.index}-${m}-${randomUUID()}`;
        const receiver = pair.inboxes.get(to) as Inbox;
        const sent = performance.now();
        const arrived = receiver.arrival(body, STEP_TIMEOUT_MS);
        // Handled below; this keeps a timeout during a slow send from counting as unhandled.
        arrived.catch(() => undefined);
        try {
          await from.sendTextMessage(pair.roomId, body);
          latencies.push((await arrived) - sent);
        } catch (err) {
          lost.push(`${body}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const duplicated: string[] = [];
  let lateKeys = 0;
  for (const pair of pairs) {
    for (const box of pair.inboxes.values()) {
      for (const [body, ids] of box.bodies) if (ids.size > 1) duplicated.push(body);
      for (const ids of box.bodies.values()) for (const id of ids) if (box.failedOnce.has(id)) lateKeys++;
    }
  }
  return { sent: pairs.length * messages, latencies, seconds, lost, duplicated, lateKeys };
}

/** What the server's history of the pairs' rooms holds, as both clients of each pair decrypt it. */
export interface HistoryCheck {
  /** Message events in the rooms (all pairs). */
  events: number;
  /** Bodies that occur in more than one event of a room. */
  duplicated: string[];
  /** Events one of the pair's clients could not decrypt (`room event: client`). */
  undecryptable: string[];
  /** Bodies the pair sent or received during the exchange that the history lacks. */
  missing: string[];
}

/**
 * Reads each pair's room history from the server (`/messages` as the seeker) and has both
 * clients decrypt every encrypted event afresh; compares the bodies with what the exchange's
 * receivers decrypted live. `parallel` rooms at a time.
 */
export async function verifyHistory(stack: StackInfo, pairs: Pair[], parallel = 10): Promise<HistoryCheck> {
  const check: HistoryCheck = { events: 0, duplicated: [], undecryptable: [], missing: [] };
  await pool(pairs.length, parallel, async (i) => {
    const pair = pairs[i] as Pair;
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(pair.roomId)}/messages?dir=b&limit=1000`;
    const res = await matrixRequest(stack, "GET", path, pair.seeker);
    if (res.status !== 200) throw new Error(`/messages of ${pair.roomId}: ${res.status}`);
    const wire = ((res.body.chunk ?? []) as sdk.IEvent[]).filter((e) => e.type === "m.room.encrypted");
    const seen = new Set<string>();
    for (const raw of wire) {
      let body: string | null = null;
      for (const client of [pair.seekerClient, pair.counsellorClient]) {
        // A new MatrixEvent each time: the SDK never retries a cached decryption failure itself.
        const event = new sdk.MatrixEvent(raw);
        await client.decryptEventIfNeeded(event);
        const text: unknown = event.getContent().body;
        if (event.isDecryptionFailure() || typeof text !== "string") {
          check.undecryptable.push(`${pair.roomId} ${raw.event_id}: ${client.getUserId()}`);
        } else body = text;
      }
      if (body === null) continue;
      check.events++;
      if (seen.has(body)) check.duplicated.push(body);
      seen.add(body);
    }
    for (const box of pair.inboxes.values()) {
      for (const body of box.bodies.keys()) if (!seen.has(body)) check.missing.push(body);
    }
  });
  return check;
}
