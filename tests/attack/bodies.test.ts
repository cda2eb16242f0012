/**
 * Attack suite: hostile request bodies and parameters, at the application service directly and
 * through the web client's forwarder: too large (also compressed or chunked), too deep, broken
 * encodings, byte order marks, numbers beyond any id, duplicate keys, prototype-polluting keys,
 * other content types. Each answers a 4xx Matrix error (never a 500), stores nothing, and the
 * service keeps answering. (Control characters and lone surrogates directly at the application
 * service: tests/e2e/api-input.test.ts.) Case ids (A-BODY-nn) are listed in docs/threat-model.md.
 */
import { gzipSync } from "node:zlib";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { TestUser } from "../support/matrix.ts";
import { connectaDb, createAgency, createCounsellor, createTopic, openIdToken } from "../support/workflow.ts";
import { expectRefusal, send, type Answer } from "./support.ts";

const stack = inject("stack");
const clientOrigin = new URL(stack.clientUrl).origin;
let db: pg.Client;
let counsellor: TestUser;
let token: string;

beforeAll(async () => {
  db = await connectaDb(stack);
  const topic = await createTopic(db);
  counsellor = await createCounsellor(stack, db, await createAgency(db, [topic]));
  token = await openIdToken(stack, counsellor);
});
afterAll(async () => {
  await db?.end();
});

/** PUT /api/v1/me/absence with a raw body, at `base` (the appservice, or the client's origin). */
function absence(base: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return send(
    base,
    "PUT",
    "/api/v1/me/absence",
    { "content-type": "application/json", authorization: `Bearer ${token}`, origin: clientOrigin, ...headers },
    body,
  );
}

/** The counsellor's stored absence. */
async function stored(): Promise<{ absent: boolean; absence_message: string | null }> {
  const { rows } = await db.query<{ absent: boolean; absence_message: string | null }>(
    "SELECT absent, absence_message FROM counsellors WHERE user_id = $1",
    [counsellor.userId],
  );
  return rows[0] as { absent: boolean; absence_message: string | null };
}

const bases = () =>
  [
    ["directly", stack.appserviceUrl],
    ["through the forwarder", stack.clientUrl],
  ] as const;

describe("hostile bodies", () => {
  it("A-BODY-01: a body over 64 KiB answers 413 M_TOO_LARGE, also chunked or gzip-compressed from a few bytes", async () => {
    const big = JSON.stringify({ active: true, message: "x".repeat(64 * 1024) });
    for (const [where, base] of bases()) {
      expectRefusal(await absence(base, big), 413, "M_TOO_LARGE", where);
      // Without a length: the forwarder counts what arrives.
      expectRefusal(
        await absence(base, big, { "transfer-encoding": "chunked" }),
        413,
        "M_TOO_LARGE",
        `${where}, chunked`,
      );
    }
    // 10 MB of JSON in 10 kB of gzip: inflated only up to the limit.
    const bomb = gzipSync(Buffer.from(`{"active": true, "message": "${"a".repeat(10_000_000)}"}`));
    expect(bomb.length).toBeLessThan(20_000);
    expectRefusal(await absence(stack.appserviceUrl, bomb, { "content-encoding": "gzip" }), 413, "M_TOO_LARGE", "gzip");
    // The forwarder passes no Content-Encoding on: the compressed bytes are no JSON there.
    expectRefusal(
      await absence(stack.clientUrl, bomb, { "content-encoding": "gzip" }),
      400,
      "M_NOT_JSON",
      "gzip, forwarded",
    );
    expect(await stored()).toEqual({ absent: false, absence_message: null });
  });

  it("A-BODY-02: nesting 30,000 deep answers 400, and the service keeps answering", async () => {
    const arrays = `${"[".repeat(30_000)}${"]".repeat(30_000)}`;
    const objects = `{"active": true, "message": ${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}}`;
    for (const [where, base] of bases()) {
      expectRefusal(await absence(base, arrays), 400, "M_BAD_JSON", `${where}, arrays`);
      expectRefusal(await absence(base, objects), 400, "M_BAD_JSON", `${where}, objects`);
    }
    expect((await send(stack.appserviceUrl, "GET", "/api/v1/topics")).status).toBe(200);
    expect(await stored()).toEqual({ absent: false, absence_message: null });
  });

  it("A-BODY-03: bytes that are no UTF-8 answer 400 M_NOT_JSON and are not stored as U+FFFD", async () => {
    const wrap = (bytes: number[]) =>
      Buffer.concat([Buffer.from('{"active": true, "message": "Bis '), Buffer.from(bytes), Buffer.from(' Montag"}')]);
    for (const [what, bytes] of [
      ["a lone 0xFF", [0xff]],
      ["an overlong slash", [0xc0, 0xaf]],
      ["an encoded surrogate (CESU-8)", [0xed, 0xa0, 0x80]],
      ["a cut-off sequence", [0xe2, 0x82]],
    ] as const) {
      for (const [where, base] of bases()) {
        expectRefusal(await absence(base, wrap([...bytes])), 400, "M_NOT_JSON", `${what} ${where}`);
      }
    }
    expect(await stored()).toEqual({ absent: false, absence_message: null });
  });

  it("A-BODY-04: a body in UTF-16 or another charset answers 400 M_NOT_JSON; a byte order mark is JSON's whitespace", async () => {
    const json = '{"active": true, "message": "BOM"}';
    for (const [where, base] of bases()) {
      const utf16 = Buffer.from(`\ufeff${json}`, "utf16le");
      expectRefusal(
        await absence(base, utf16, { "content-type": "application/json; charset=utf-16" }),
        400,
        "M_NOT_JSON",
        `${where} utf-16`,
      );
      expectRefusal(
        await absence(base, json, { "content-type": "application/json; charset=koi8-r" }),
        400,
        "M_NOT_JSON",
        `${where} koi8-r`,
      );
    }
    const bom = await absence(stack.clientUrl, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]));
    expect([bom.status, bom.body]).toEqual([200, { active: true, message: "BOM" }]);
    const off = await absence(stack.clientUrl, '{"active": false}');
    expect(off.status).toBe(200);
  });

  it("A-BODY-05: numbers beyond any id, in paths, queries and bodies, answer 400", async () => {
    for (const id of ["99999999999999999999", "1e400", "9007199254740993", "-1", "0", "1.5", "NaN", "Infinity"]) {
      const res = await send(
        stack.appserviceUrl,
        "POST",
        `/api/v1/enquiries/${id}/claim`,
        {
          "content-type": "application/json",
          authorization: `Bearer ${token}`,
        },
        "{}",
      );
      expectRefusal(res, 400, "M_INVALID_PARAM", id);
    }
    for (const query of ["limit=1e400", "limit=-0", "agency_id=1e400", "agency_id=99999999999999999999999"]) {
      const res = await send(stack.appserviceUrl, "GET", `/api/v1/queue?${query}`, {
        authorization: `Bearer ${token}`,
      });
      expectRefusal(res, 400, "M_INVALID_PARAM", query);
    }
    for (const body of ['{"active": 1e400}', '{"active": true, "message": 1e400}', '{"active": 1}']) {
      expectRefusal(await absence(stack.appserviceUrl, body), 400, "M_BAD_JSON", body);
    }
    expect(await stored()).toEqual({ absent: false, absence_message: null });
  });

  it("A-BODY-06: duplicate keys: the last one counts, the same directly and through the forwarder", async () => {
    for (const [where, base] of bases()) {
      const res = await absence(base, '{"active": false, "message": "erste", "active": true, "message": "zweite"}');
      expect([res.status, res.body], where).toEqual([200, { active: true, message: "zweite" }]);
      expect(await stored()).toEqual({ absent: true, absence_message: "zweite" });
      expect((await absence(base, '{"active": true, "active": false}')).status).toBe(200);
    }
  });

  it("A-BODY-07: prototype-polluting keys answer 400 M_BAD_JSON and pollute nothing", async () => {
    for (const body of [
      '{"active": true, "__proto__": {"message": "polluted"}}',
      '{"active": true, "constructor": {"prototype": {"message": "polluted"}}}',
      '{"__proto__": {"active": true}}',
    ]) {
      for (const [where, base] of bases()) {
        expectRefusal(await absence(base, body), 400, "M_BAD_JSON", `${where} ${body}`);
      }
    }
    const claim = await send(
      stack.appserviceUrl,
      "POST",
      "/api/v1/enquiries/1/claim",
      { "content-type": "application/json", authorization: `Bearer ${token}` },
      '{"__proto__": {"enquiryId": 2}}',
    );
    expectRefusal(claim, 400, "M_BAD_JSON", "claim");
    // Had a "message" been planted on the prototype of every object, an absence without one
    // would pass; it is refused as before.
    const res = await absence(stack.appserviceUrl, '{"active": true}');
    expect([res.status, res.body]).toEqual([
      400,
      { errcode: "M_BAD_JSON", error: "message: is required while absent" },
    ]);
    expect((await absence(stack.appserviceUrl, '{"active": false}')).status).toBe(200);
  });

  it("A-BODY-08: other content types answer 400 M_NOT_JSON directly; through the forwarder a form is a cross-site request", async () => {
    const json = '{"active": true, "message": "form"}';
    for (const type of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "application/xml",
      "multipart/form-data; boundary=x",
    ]) {
      expectRefusal(await absence(stack.appserviceUrl, json, { "content-type": type }), 400, "M_NOT_JSON", type);
    }
    // Through the forwarder a form type from another site never reaches the appservice.
    for (const type of ["text/plain", "TEXT/PLAIN; charset=utf-8", "multipart/form-data; boundary=x"]) {
      const res = await absence(stack.clientUrl, json, { "content-type": type, origin: "http://127.0.0.2:1" });
      expectRefusal(res, 403, "M_FORBIDDEN", `forwarded ${type}`);
    }
    expect(await stored()).toEqual({ absent: false, absence_message: null });
  });

  it("A-BODY-09: control characters and lone surrogates through the forwarder answer 400 M_BAD_JSON", async () => {
    for (const message of ["Bis Montag\\u0000", "\\ud800", "weg\\u001b[2J", "\\u009b"]) {
      const res = await absence(stack.clientUrl, `{"active": true, "message": "${message}"}`);
      expectRefusal(res, 400, "M_BAD_JSON", message);
    }
    expect(await stored()).toEqual({ absent: false, absence_message: null });
  });
});
