/**
 * Fuzzing the running application service from its own OpenAPI description (tests/support/
 * fuzz.ts): directly, through the web client's forwarder, and its transaction endpoint with
 * generated Matrix events. Over 10,000 requests per run, with a fixed seed and a random one
 * (both in the test names; `CONNECTA_FUZZ_SEED=<seed>` replays one, fast-check's message gives
 * the `path` of the smallest failing case). Whatever comes: no 5xx, every error a Matrix error,
 * nothing granted without credentials, every transaction Synapse could send accepted (else it
 * would send it again forever), no crash; afterwards other users' enquiries are as they were,
 * no step is stuck, and a fresh enquiry still reaches the queue.
 */
import { randomInt, randomUUID } from "node:crypto";
import fc from "fast-check";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { describeApi } from "../../appservice/src/contract.ts";
import { operationsOf, requestOf, transactionOf, type FuzzRequest, type Operation } from "../support/fuzz.ts";
import { eventually, registerUser, stackSecret } from "../support/matrix.ts";
import {
  callApi,
  connectaDb,
  enquiryState,
  openIdToken,
  openTestEnquiry,
  stepsDone,
  workflowScene,
} from "../support/workflow.ts";

const stack = inject("stack");
const FIXED_SEED = 20261202;
const seeds = process.env.CONNECTA_FUZZ_SEED
  ? [Number(process.env.CONNECTA_FUZZ_SEED)]
  : [FIXED_SEED, randomInt(1, 2 ** 31 - 1)];
/** Requests sent side by side in one property run. */
const BATCH = 10;
/** Per seed: batches directly, batches through the forwarder, transactions. */
const SIZES = { direct: 300, forwarder: 150, transactions: 600 };

const doc = describeApi() as unknown as Parameters<typeof operationsOf>[0];
const operations = operationsOf(doc);

/**
 * What the forwarder must not be made to send: the intake's per-address budget (the forwarder
 * sends every request as coming from 127.0.0.1, the same address as the other test files'
 * browser journeys, which the fuzz must not starve). Fuzzed directly, from made-up addresses.
 */
const PER_ADDRESS_BUDGET = new Set(["GET /api/v1/intake/challenge", "POST /api/v1/intake"]);

/** An address from the documentation ranges, so that each request has its own rate budget. */
const madeUpAddress = () =>
  randomInt(2) ? `198.51.100.${randomInt(1, 255)}` : `2001:db8::${randomInt(1, 65535).toString(16)}`;

let db: pg.Client;
let tokens: Record<"seeker" | "counsellor" | "operator", string>;
/** Other people's enquiries, which nothing the fuzz sends may change. */
let bystanders: { enquiryId: number; state: unknown }[];
let own: number[];
/** The fuzz's own people, senders of generated events. */
let people: string[];

beforeAll(async () => {
  db = await connectaDb(stack);
  // The fuzz's own people: a counsellor with an active enquiry, a waiting one, a colleague.
  const scene = await workflowScene(stack, db, { counsellors: 2 });
  const [counsellor] = scene.counsellors;
  if (!counsellor) throw new Error("no counsellor");
  const counsellorToken = await openIdToken(stack, counsellor);
  const claimed = await callApi(
    stack.appserviceUrl,
    "POST",
    `/api/v1/enquiries/${scene.enquiryId}/claim`,
    counsellorToken,
    {},
  );
  expect(claimed.status, JSON.stringify(claimed.body)).toBe(200);
  const waiting = await openTestEnquiry(db, await registerUser(stack, "seeker"), scene.agencyId, scene.topic);
  own = [scene.enquiryId, waiting.enquiryId];
  people = [scene.seeker.userId, ...scene.counsellors.map((c) => c.userId)];
  tokens = {
    seeker: await openIdToken(stack, scene.seeker),
    counsellor: counsellorToken,
    operator: stackSecret(stack, "operatorToken"),
  };
  // Bystanders in another agency: one taken, one waiting.
  const other = await workflowScene(stack, db, { counsellors: 1 });
  const otherCounsellor = other.counsellors[0];
  if (!otherCounsellor) throw new Error("no counsellor");
  const taken = await callApi(
    stack.appserviceUrl,
    "POST",
    `/api/v1/enquiries/${other.enquiryId}/claim`,
    await openIdToken(stack, otherCounsellor),
    {},
  );
  expect(taken.status).toBe(200);
  const otherWaiting = await workflowScene(stack, db, { counsellors: 1 });
  bystanders = await Promise.all(
    [other.enquiryId, otherWaiting.enquiryId].map(async (enquiryId) => ({
      enquiryId,
      state: await enquiryState(db, enquiryId),
    })),
  );
}, 300_000);

afterAll(async () => {
  await db?.end();
});

/** Sends `request` to `base` with the credentials it asks for. */
async function send(base: string, request: FuzzRequest, headers: Record<string, string>) {
  const token =
    request.auth === "none" ? null : request.auth === "garbage" ? "syt_not_a_token_0000" : tokens[request.auth];
  const res = await fetch(`${base}${request.url}`, {
    method: request.method,
    headers: {
      ...headers,
      ...(request.contentType ? { "content-type": request.contentType } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(request.body === undefined ? {} : { body: request.body }),
    redirect: "manual",
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let json: { errcode?: unknown; error?: unknown } | null;
  try {
    json = JSON.parse(text) as { errcode?: unknown; error?: unknown } | null;
  } catch {
    json = null;
  }
  return { status: res.status, json, text: text.slice(0, 300) };
}

/**
 * Answers by status class and route, so that a run shows it reached the handlers (positive
 * control: a fuzz whose every request is refused at the door proves little).
 */
const tally = new Map<string, number>();
const count = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);

/** What must hold for every answer, wherever the request went. */
function checkAnswer(
  request: FuzzRequest,
  op: Operation,
  answer: Awaited<ReturnType<typeof send>>,
  via: "direct" | "forwarder",
) {
  if (answer.status < 300) count(`${via} 2xx ${op.method} ${op.path}`);
  const where = `${via} ${request.method} ${request.url.slice(0, 200)} (${request.auth}): ${answer.status} ${answer.text}`;
  expect(answer.status, where).toBeLessThan(500);
  if (answer.status >= 400) {
    expect(typeof answer.json?.errcode, where).toBe("string");
    expect(typeof answer.json?.error, where).toBe("string");
  }
  const authorised =
    op.security === null ||
    (op.security === "operator"
      ? request.auth === "operator"
      : request.auth === "seeker" || request.auth === "counsellor");
  if (!authorised || (via === "forwarder" && op.path.startsWith("/api/v1/admin/"))) {
    expect(answer.status >= 200 && answer.status < 300, `granted: ${where}`).toBe(false);
  }
}

/** Requests for every operation; the operator token only reads (its writes change everybody's data). */
function requests(filter: (op: Operation) => boolean): fc.Arbitrary<{ op: Operation; request: FuzzRequest }> {
  return fc.oneof(
    ...operations.filter(filter).map((op) =>
      requestOf(op, doc).map((request) => ({
        op,
        request:
          request.auth === "operator" && request.method !== "GET" ? { ...request, auth: "garbage" as const } : request,
      })),
    ),
  );
}

/** How many operations answered 2xx at least once through `via`. */
const succeeded = (via: string) => [...tally.keys()].filter((key) => key.startsWith(`${via} 2xx `)).length;

/**
 * Runs `property` `numRuns` times from `seed`; on failure, throws the smallest failing case's
 * own message (which names the request and answer) with what replays it.
 */
async function check<T extends [unknown]>(property: fc.IAsyncProperty<T>, seed: number, numRuns: number) {
  const result = await fc.check(property, { seed, numRuns });
  if (!result.failed) return;
  const why = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
  throw new Error(
    `fuzz case failed; replay with CONNECTA_FUZZ_SEED=${seed} (fast-check path ${result.counterexamplePath}):\n${why.slice(0, 3000)}`,
  );
}

describe.each(seeds)("fuzzing with seed %i", (seed) => {
  it("the API answers every generated request without a 5xx and grants nothing without credentials", async () => {
    await check(
      fc.asyncProperty(
        fc.array(
          requests(() => true),
          { minLength: BATCH, maxLength: BATCH },
        ),
        async (batch) => {
          await Promise.all(
            batch.map(async ({ op, request }) =>
              checkAnswer(
                request,
                op,
                await send(stack.appserviceUrl, request, { "x-forwarded-for": madeUpAddress() }),
                "direct",
              ),
            ),
          );
        },
      ),
      seed,
      SIZES.direct,
    );
    expect(succeeded("direct"), "operations that answered 2xx").toBeGreaterThanOrEqual(10);
  }, 900_000);

  it("the forwarder answers every generated request without a 5xx and never forwards the operator API", async () => {
    await check(
      fc.asyncProperty(
        fc.array(
          // The web client's origin forwards /api/v1/ only; anything else there is one of its pages.
          requests((op) => op.path.startsWith("/api/v1/") && !PER_ADDRESS_BUDGET.has(`${op.method} ${op.path}`)),
          { minLength: BATCH, maxLength: BATCH },
        ),
        async (batch) => {
          await Promise.all(
            batch.map(async ({ op, request }) =>
              checkAnswer(request, op, await send(stack.clientUrl, request, { origin: stack.clientUrl }), "forwarder"),
            ),
          );
        },
      ),
      seed,
      SIZES.forwarder,
    );
    expect(succeeded("forwarder"), "operations that answered 2xx").toBeGreaterThanOrEqual(5);
  }, 900_000);

  it("the transaction endpoint takes every transaction Synapse could send and refuses the rest with 400", async () => {
    const rooms = (
      await db.query<{ room_id: string }>("SELECT room_id FROM enquiries WHERE id = ANY($1)", [own])
    ).rows.map((r) => r.room_id);
    const world = {
      serverName: stack.serverName,
      users: [...people, stack.botUserId, `@nobody:${stack.serverName}`],
      rooms,
    };
    const hsToken = stackSecret(stack, "hsToken");
    await check(
      fc.asyncProperty(transactionOf(world), async (body) => {
        const txnId = `fuzz-${randomUUID()}`;
        const put = () =>
          fetch(`${stack.appserviceUrl}/_matrix/app/v1/transactions/${txnId}`, {
            method: "PUT",
            headers: { "content-type": "application/json", authorization: `Bearer ${hsToken}` },
            body,
            signal: AbortSignal.timeout(60_000),
          });
        const res = await put();
        const text = (await res.text()).slice(0, 300);
        const where = `${body.slice(0, 300)} → ${res.status} ${text}`;
        expect([200, 400], where).toContain(res.status);
        if (wellFormed(body)) {
          expect(res.status, where).toBe(200);
          // Synapse sends a transaction again when it did not hear back: the same answer.
          expect((await put()).status, `again: ${where}`).toBe(200);
        }
      }),
      seed,
      SIZES.transactions,
    );
  }, 900_000);
});

/** Whether Synapse could send `body`: an object whose event lists are lists of objects. */
function wellFormed(body: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return false;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return false;
  const lists = Object.entries(parsed as Record<string, unknown>);
  if (!lists.some(([key]) => key === "events")) return false;
  return lists.every(
    ([, list]) => Array.isArray(list) && list.every((e) => typeof e === "object" && e !== null && !Array.isArray(e)),
  );
}

describe("after the fuzz", () => {
  it("the service runs, other people's enquiries are unchanged, no step is stuck and a new enquiry reaches the queue", async () => {
    expect((await fetch(`${stack.appserviceUrl}/readyz`)).status).toBe(200);
    for (const bystander of bystanders) {
      expect(await enquiryState(db, bystander.enquiryId), `enquiry ${bystander.enquiryId}`).toEqual(bystander.state);
    }
    for (const enquiryId of own) {
      await eventually(`the steps of enquiry ${enquiryId}`, () => stepsDone(db, enquiryId), 120_000);
    }
    const scene = await workflowScene(stack, db, { counsellors: 1 });
    const counsellor = scene.counsellors[0];
    if (!counsellor) throw new Error("no counsellor");
    const queue = await callApi(stack.appserviceUrl, "GET", "/api/v1/queue", await openIdToken(stack, counsellor));
    expect(queue.status).toBe(200);
    expect((queue.body.enquiries as { enquiry_id: number }[]).map((e) => e.enquiry_id)).toContain(scene.enquiryId);
  }, 300_000);
});
