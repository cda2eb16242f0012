/**
 * Request generators for fuzzing our API from its own OpenAPI description (appservice
 * `describeApi`): for each operation, path and query parameters and bodies that mostly follow
 * the schema, so that requests get past the first check and reach the handlers, and that are
 * often made hostile on purpose (wrong types, control characters, lone surrogates, huge or deep
 * values, `__proto__` keys, broken JSON, other content types). And Matrix events for the
 * transaction endpoint, well-formed or not. fast-check shrinks a failing request to a small one
 * and prints the seed and path that replay it.
 */
import fc from "fast-check";

/** The part of a JSON Schema (as zod writes it) the generators understand. */
export interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

/** One operation of the OpenAPI document. */
export interface Operation {
  method: string;
  /** With `{name}` placeholders. */
  path: string;
  /** `openid`, `operator` or null (no authentication). */
  security: string | null;
  pathParams: { name: string; schema: Schema }[];
  queryParams: { name: string; schema: Schema }[];
  body: Schema | null;
}

interface OpenApi {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, Schema> };
}
interface OpenApiOperation {
  security?: Record<string, unknown>[];
  parameters?: { name: string; in: string; schema: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

/** The operations of an OpenAPI document, in its order. */
export function operationsOf(doc: OpenApi): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = op.parameters ?? [];
      const security = op.security?.[0] ? (Object.keys(op.security[0])[0] ?? null) : null;
      ops.push({
        method: method.toUpperCase(),
        path,
        security,
        pathParams: params.filter((p) => p.in === "path").map((p) => ({ name: p.name, schema: p.schema })),
        queryParams: params.filter((p) => p.in === "query").map((p) => ({ name: p.name, schema: p.schema })),
        body: op.requestBody?.content?.["application/json"]?.schema ?? null,
      });
    }
  }
  return ops;
}

/** Strings that have broken parsers, databases and logs elsewhere. */
const NASTY_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\u001b[31mred",
  "\ud800",
  "x\udc00y",
  "\u202eevil",
  "\u200b",
  "\ufeff",
  "\u0085",
  "%00",
  "%2e%2e%2f",
  "../../etc/passwd",
  "'; DROP TABLE enquiries; --",
  "${7*7}{{7*7}}",
  "<script>alert(1)</script>",
  "@bot:localhost",
  "!room:localhost",
  "$event",
  "__proto__",
  "constructor",
  "NaN",
  "-1",
  "1e309",
  "9007199254740993",
  "\r\nX-Injected: 1",
  "a".repeat(70_000),
  "ä".repeat(2000),
];

/** JSON values a schema never asks for. */
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...NASTY_STRINGS),
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, [], {}),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.jsonValue({ maxDepth: 3 }),
  // Deep nesting.
  fc.integer({ min: 50, max: 600 }).map((depth) => nest(depth)),
  // Keys that pollute prototypes in careless code.
  fc.constantFrom({ __proto__: { admin: true } }, JSON.parse('{"__proto__": {"admin": true}}') as unknown, {
    constructor: { prototype: { admin: true } },
  }),
);

function nest(depth: number): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
}

function resolve(schema: Schema, doc: OpenApi): Schema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace("#/components/schemas/", "");
  return doc.components?.schemas?.[name] ?? {};
}

/**
 * Values that follow `schema` (as far as a generator can: patterns through regular
 * expressions, lengths and ranges), each of which is replaced by a hostile value now and then.
 */
export function valueOf(schema: Schema, doc: OpenApi, depth = 0): fc.Arbitrary<unknown> {
  const valid = validValueOf(resolve(schema, doc), doc, depth);
  return fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: nastyValue, weight: 1 });
}

function validValueOf(schema: Schema, doc: OpenApi, depth: number): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const choices = schema.anyOf ?? schema.oneOf ?? schema.allOf;
  if (choices) return fc.oneof(...choices.map((s) => valueOf(s, doc, depth + 1)));
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length > 1) return fc.oneof(...types.map((type) => validValueOf({ ...schema, type }, doc, depth)));
  switch (types[0]) {
    case "string":
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern), { maxLength: schema.maxLength ?? 100 });
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 60, 60) });
    case "integer":
      return fc.oneof(
        fc.integer({ min: Math.max(schema.minimum ?? -5, -5), max: Math.min(schema.maximum ?? 2000, 2000) }),
        fc.integer({ min: -10, max: 10 }),
      );
    case "number":
      return fc.double({ noNaN: true, min: -1e6, max: 1e6 });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return depth > 4 ? fc.constant([]) : fc.array(valueOf(schema.items ?? {}, doc, depth + 1), { maxLength: 5 });
    case "object": {
      const props = Object.entries(schema.properties ?? {});
      if (props.length === 0)
        return fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
      const required = new Set(schema.required ?? []);
      const record = fc.record(
        Object.fromEntries(props.map(([key, s]) => [key, depth > 4 ? fc.constant(null) : valueOf(s, doc, depth + 1)])),
        { requiredKeys: props.map(([key]) => key).filter((key) => required.has(key)) },
      );
      // Now and then a key nobody asked for.
      return fc
        .tuple(record, fc.option(fc.tuple(fc.constantFrom("extra", "__proto__", "admin"), nastyValue)))
        .map(([value, extra]) => (extra ? { ...value, [extra[0]]: extra[1] } : value));
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A generated request, before credentials are added. */
export interface FuzzRequest {
  operation: string;
  method: string;
  /** Path and query, encoded. */
  url: string;
  /** Which credentials to send: chosen by the test from what the operation asks for. */
  auth: "none" | "garbage" | "seeker" | "counsellor" | "operator";
  contentType: string | null;
  body: string | undefined;
}

/**
 * `text` percent-encoded as UTF-8; a lone surrogate, which encodeURIComponent refuses, as the
 * three bytes it would have in WTF-8 (invalid UTF-8, which the server must refuse).
 */
function percentEncoded(text: string): string {
  return Array.from(text, (char) => {
    const code = char.charCodeAt(0);
    if (char.length === 1 && code >= 0xd800 && code <= 0xdfff) {
      return [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((byte) => `%${byte.toString(16).toUpperCase()}`)
        .join("");
    }
    return encodeURIComponent(char);
  }).join("");
}

/** How a value is written into a path segment or query: mostly encoded, sometimes not. */
const pathText = (value: unknown): fc.Arbitrary<string> =>
  fc.constantFrom("encoded", "raw").map((how) => {
    const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "");
    if (how === "raw") return text.replace(/[#?\s]/g, "").slice(0, 500) || "x";
    return percentEncoded(text.slice(0, 500)) || "x";
  });

/** Requests for `op`: parameters and bodies from its schemas, often hostile. */
export function requestOf(op: Operation, doc: OpenApi): fc.Arbitrary<FuzzRequest> {
  const pathValues: fc.Arbitrary<string[]> = fc.tuple(
    ...op.pathParams.map((p) => valueOf(p.schema, doc).chain((value) => pathText(value))),
  );
  const query: fc.Arbitrary<(string | undefined)[]> = fc.tuple(
    ...op.queryParams.map((p) =>
      fc.option(
        valueOf(p.schema, doc).chain((value) => pathText(value)),
        { nil: undefined },
      ),
    ),
  );
  const body: fc.Arbitrary<{ contentType: string | null; body: string | undefined }> = fc.oneof(
    {
      weight: 6,
      arbitrary: (op.body ? valueOf(op.body, doc) : fc.constant({})).map((value) => ({
        contentType: "application/json",
        body: JSON.stringify(value) ?? "null",
      })),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        contentType: fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", null),
        body: fc.oneof(
          fc.constantFrom('{"a":', "{", "[", "nul", '{"a":1,"a":2}', "\ufeff{}", '"\\ud800"', "{}".padEnd(70_000, " ")),
          fc.string({ unit: "binary", maxLength: 200 }),
          fc.constant(undefined),
        ),
      }),
    },
  );
  const auths: FuzzRequest["auth"][] =
    op.security === "operator"
      ? ["none", "garbage", "seeker", "counsellor", "operator"]
      : op.security === "openid"
        ? ["none", "garbage", "seeker", "counsellor"]
        : ["none", "garbage", "seeker"];
  return fc
    .record({ pathValues, query, body, auth: fc.constantFrom(...auths), bodyless: fc.boolean() })
    .map(({ pathValues: values, query: q, body: b, auth, bodyless }) => {
      let path = op.path;
      op.pathParams.forEach((p, i) => (path = path.replace(`{${p.name}}`, values[i] ?? "x")));
      const search = op.queryParams.flatMap((p, i) => (q[i] === undefined ? [] : [`${p.name}=${q[i]}`])).join("&");
      // fetch sends no body with GET; DELETE without one now and then.
      const noBody = op.method === "GET" || (op.method === "DELETE" && bodyless);
      return {
        operation: `${op.method} ${op.path}`,
        method: op.method,
        url: search ? `${path}?${search}` : path,
        auth,
        contentType: noBody ? null : b.contentType,
        body: noBody ? undefined : b.body,
      };
    });
}

/** The users, rooms and event types that generated events are made of. */
export interface EventWorld {
  serverName: string;
  users: string[];
  rooms: string[];
}

const EVENT_TYPES = [
  "m.room.message",
  "m.room.encrypted",
  "m.room.member",
  "m.room.power_levels",
  "m.room.create",
  "m.room.name",
  "m.room.topic",
  "m.room.join_rules",
  "m.room.history_visibility",
  "m.room.encryption",
  "m.room.redaction",
  "m.reaction",
  "m.receipt",
  "m.typing",
  "m.presence",
  "org.matrix.msc3401.call.member",
  "de.connecta.enquiry",
];

/** Matrix events as Synapse might push them, and many as it never would. */
export function eventOf(world: EventWorld): fc.Arbitrary<unknown> {
  const id = (sigil: string) =>
    fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9]{1,20}$/).map((local) => `${sigil}${local}:${world.serverName}`),
      fc.constantFrom(...NASTY_STRINGS),
    );
  const user = fc.oneof(fc.constantFrom(...world.users), id("@"));
  const room = fc.oneof(fc.constantFrom(...world.rooms), id("!"));
  const content = fc.oneof(
    fc.record(
      {
        membership: fc.constantFrom("join", "leave", "invite", "ban", "knock", "", 7, null),
        msgtype: fc.constantFrom("m.text", "m.file", "m.notice", 3),
        body: fc.oneof(fc.string({ maxLength: 50 }), nastyValue),
        displayname: fc.oneof(fc.string({ maxLength: 30 }), nastyValue),
        algorithm: fc.constantFrom("m.megolm.v1.aes-sha2", "nonsense"),
        ciphertext: fc.string({ maxLength: 50 }),
        users: fc.dictionary(user, fc.oneof(fc.integer({ min: -100, max: 200 }), nastyValue), { maxKeys: 3 }),
        state: fc.constantFrom("active", "closed", "queued", 1),
      },
      { requiredKeys: [] },
    ),
    nastyValue,
  );
  const event = fc.record(
    {
      type: fc.oneof(fc.constantFrom(...EVENT_TYPES), nastyValue),
      event_id: fc.oneof(fc.stringMatching(/^\$[A-Za-z0-9]{5,30}$/), nastyValue),
      room_id: fc.oneof({ arbitrary: room, weight: 5 }, { arbitrary: nastyValue, weight: 1 }),
      sender: fc.oneof({ arbitrary: user, weight: 5 }, { arbitrary: nastyValue, weight: 1 }),
      state_key: fc.oneof(user, fc.constant(""), nastyValue),
      origin_server_ts: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), nastyValue),
      content,
      unsigned: fc.oneof(fc.record({ age: fc.integer() }), nastyValue),
    },
    { requiredKeys: [] },
  );
  return fc.oneof({ arbitrary: event, weight: 9 }, { arbitrary: nastyValue, weight: 1 });
}

/** Bodies of `PUT /_matrix/app/v1/transactions/{txnId}`: mostly a list of events. */
export function transactionOf(world: EventWorld): fc.Arbitrary<string> {
  const events = fc.array(eventOf(world), { maxLength: 8 });
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .record(
          {
            events,
            ephemeral: events,
            "de.sorunome.msc2409.ephemeral": events,
            "de.sorunome.msc2409.to_device": events,
          },
          { requiredKeys: ["events"] },
        )
        .map((body) => JSON.stringify(body)),
    },
    {
      weight: 1,
      arbitrary: fc.oneof(
        nastyValue.map((value) => JSON.stringify({ events: value }) ?? "{}"),
        fc.constantFrom("{", "[]", "null", '{"events": {}}', "\ufeff{}"),
      ),
    },
  );
}
