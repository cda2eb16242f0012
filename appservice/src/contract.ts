/**
 * The API contract shared with the web client. `describeApi` produces the OpenAPI document of
 * every route without a database, homeserver or configuration; `clientTypes` turns it into the
 * TypeScript the client imports (client/src/lib/api/contract.gen.ts). contract.test.ts fails
 * when the committed file differs from what the routes say today, as config.test.ts does for
 * config.sample.env. Regenerate with `npm run api:contract`.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { format, resolveConfig } from "prettier";
import { addRoutes, API_INFO } from "./app.ts";
import { Api } from "./http/api.ts";

/** Where the client keeps its copy of the contract. */
export const CLIENT_TYPES_FILE = new URL("../../client/src/lib/api/contract.gen.ts", import.meta.url);

/**
 * Dependencies that can be passed around but not used: any property is another such value, and
 * calling one throws. Routes only use their dependencies when a request comes.
 */
function inert(path: string): never {
  const target = () => undefined;
  return new Proxy(target, {
    get: (_t, key) => (key === "then" ? undefined : inert(`${path}.${String(key)}`)),
    apply: () => {
      throw new Error(`${path}() called while only describing the API`);
    },
  }) as never;
}

/** The OpenAPI document of our API, as `/api/v1/openapi.json` serves it. */
export function describeApi(): Record<string, unknown> {
  const api = new Api(() => Promise.reject(new Error("only describing the API")));
  addRoutes(api, inert("deps"));
  return api.openapi(API_INFO);
}

/** A JSON Schema as zod writes it (the part of it that types can express). */
interface Schema {
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
  additionalProperties?: Schema | boolean;
  description?: string;
}

const SCALARS: Record<string, string> = {
  string: "string",
  number: "number",
  integer: "number",
  boolean: "boolean",
  null: "null",
};

/** A JSDoc comment for `text`, indented by `pad`; empty without text. */
function doc(text: string | undefined, pad: string): string {
  return text ? `${pad}/** ${text.replaceAll("*/", "* /").replace(/\s*\n\s*/g, " ")} */\n` : "";
}

/** The TypeScript type of `schema`, `depth` levels of indentation in. */
function typeOf(schema: Schema | boolean | undefined, depth: number): string {
  if (schema === undefined || schema === true) return "unknown";
  if (schema === false) return "never";
  if (schema.$ref) return `Schemas[${JSON.stringify(schema.$ref.replace("#/components/schemas/", ""))}]`;
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return union.map((s) => typeOf(s, depth)).join(" | ");
  if (schema.allOf) return schema.allOf.map((s) => typeOf(s, depth)).join(" & ");
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length === 0) return "unknown";
  return types
    .map((type) => {
      if (type === "array") return `(${typeOf(schema.items, depth)})[]`;
      if (type === "object") return objectType(schema, depth);
      const scalar = SCALARS[type];
      if (!scalar) throw new Error(`No TypeScript type for JSON Schema type ${type}`);
      return scalar;
    })
    .join(" | ");
}

function objectType(schema: Schema, depth: number): string {
  const pad = "  ".repeat(depth + 1);
  const required = new Set(schema.required ?? []);
  const lines = Object.entries(schema.properties ?? {}).map(
    ([name, field]) =>
      `${doc(field.description, pad)}${pad}${JSON.stringify(name)}${required.has(name) ? "" : "?"}: ${typeOf(field, depth + 1)};\n`,
  );
  const extra = schema.additionalProperties;
  if (extra !== undefined && extra !== false) lines.push(`${pad}[key: string]: ${typeOf(extra, depth + 1)};\n`);
  if (lines.length === 0) return "Record<string, never>";
  return `{\n${lines.join("")}${"  ".repeat(depth)}}`;
}

/** The parameters of `where` ("path" or "query") of an operation, as an object type. */
function parametersType(operation: Operation, where: "path" | "query", depth: number): string {
  const fields = (operation.parameters ?? []).filter((p) => p.in === where);
  return objectType(
    {
      properties: Object.fromEntries(fields.map((p) => [p.name, p.schema])),
      required: fields.filter((p) => p.required).map((p) => p.name),
    },
    depth,
  );
}

interface Operation {
  summary?: string;
  parameters?: { name: string; in: string; required: boolean; schema: Schema }[];
  requestBody?: { content: { "application/json": { schema: Schema } } };
  responses: Record<string, { content?: { "application/json": { schema: Schema } } }>;
}

/** The client's TypeScript for the OpenAPI document `api` (see the file's header), as Prettier writes it. */
export async function clientTypes(api: Record<string, unknown>): Promise<string> {
  const paths = api.paths as Record<string, Record<string, Operation>>;
  const schemas = (api.components as { schemas: Record<string, Schema> }).schemas;
  let out =
    "// Generated from the application service's routes by `npm run api:contract`\n" +
    "// (appservice/src/contract.ts). Do not edit: a test fails when this file and the routes differ.\n\n" +
    "/** The named schemas of the API. */\nexport interface Schemas {\n";
  for (const [name, schema] of Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))) {
    out += `${doc(schema.description, "  ")}  ${JSON.stringify(name)}: ${typeOf(schema, 1)};\n`;
  }
  out += "}\n\n/** Every operation, by method and path: its parameters, body and 200 answer. */\n";
  out += "export interface Operations {\n";
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const body = operation.requestBody?.content["application/json"].schema;
      const answer = operation.responses["200"]?.content?.["application/json"].schema;
      out +=
        `${doc(operation.summary, "  ")}  ${JSON.stringify(`${method.toUpperCase()} ${path}`)}: {\n` +
        `    params: ${parametersType(operation, "path", 2)};\n` +
        `    query: ${parametersType(operation, "query", 2)};\n` +
        `    body: ${body ? typeOf(body, 2) : "never"};\n` +
        `    response: ${typeOf(answer, 2)};\n  };\n`;
    }
  }
  const filepath = fileURLToPath(CLIENT_TYPES_FILE);
  return format(`${out}}\n`, { ...(await resolveConfig(filepath)), filepath });
}

if (import.meta.main) {
  writeFileSync(CLIENT_TYPES_FILE, await clientTypes(describeApi()));
}
