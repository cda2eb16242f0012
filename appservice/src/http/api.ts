/**
 * Our HTTP API, described once: each route declares its input schemas (zod), its answer and
 * its errors. The same declaration validates requests, runs the handler and produces the
 * OpenAPI 3.1 document served at `/api/v1/openapi.json`, so the two cannot drift apart.
 */
import { Router, type Request, type RequestHandler, type Response } from "express";
import { z } from "zod";
import { ERROR_STATUS, MatrixError, type ErrCode } from "./errors.ts";
import { findBadText, type TextKind } from "./text.ts";

/**
 * Marks every answer under `/api` (errors included) as not to be stored by any cache: answers of
 * our API carry enquiries, pseudonyms, registration tokens and absence notices.
 */
export const noStore: RequestHandler = (_req, res, next) => {
  res.set("Cache-Control", "no-store");
  next();
};

/** Who may call a route: anyone, a Matrix user (OpenID token), or an operator (operator token). */
export type Auth = "none" | "user" | "operator";

/** What a handler gets: validated input and the caller. */
export interface Input<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  /** Matrix user id of the caller (routes with `auth: "user"`), else null. */
  userId: string | null;
  req: Request;
  res: Response;
}

/** One API route. */
export interface Route<B = unknown, Q = unknown, P = unknown, R extends z.ZodType = z.ZodType> {
  method: "get" | "post" | "put" | "patch" | "delete";
  /** OpenAPI path, e.g. `/api/v1/enquiries/{enquiryId}/claim`. */
  path: string;
  summary: string;
  tag: string;
  auth: Auth;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /**
   * Schema of the 200 answer. The compiler checks the handler's result against it, and every
   * answer is parsed with it before it is sent (fields it does not name are left out), so the
   * OpenAPI document and the client's types generated from it (contract.ts) stay true.
   */
  response: R;
  /** Errors this route may answer with besides validation and authentication errors. */
  errors: ErrCode[];
  /**
   * The brake whose per-account and per-address budget a request of this route spends, once
   * authenticated (auth/brakes.ts); none when absent.
   */
  brake?: BrakeName;
  handler: (input: Input<B, Q, P>) => Promise<z.input<R>>;
}

/** Authenticates a request for an `auth` level; returns the user id (or null for operators). */
export type Authenticator = (req: Request, auth: Exclude<Auth, "none">) => Promise<string | null>;

/** The brakes routes can name: `enquiry-action` for requests that change an enquiry. */
export type BrakeName = "enquiry-action";

/**
 * Counts an authenticated request of a braked route (auth/brakes.ts); throws M_LIMIT_EXCEEDED
 * when the caller's account or address has used its budget. `userId` is null for operators.
 */
export type Brake = (name: BrakeName, req: Request, userId: string | null) => Promise<void>;

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
  return `${where}${issue.message}`;
}

function parse<T>(schema: z.ZodType<T> | undefined, value: unknown, errcode: ErrCode): T {
  if (!schema) return undefined as T;
  const result = schema.safeParse(value);
  if (!result.success) throw new MatrixError(errcode, firstIssue(result.error));
  return result.data;
}

/**
 * Refuses a request whose `where` (body, path parameters, query) holds a string that is no text
 * of `kind` (see text.ts): control characters and lone surrogates never reach a handler or SQL.
 */
function refuseBadText(value: unknown, kind: TextKind, errcode: ErrCode, where: string): void {
  const bad = findBadText(value, kind);
  if (bad) throw new MatrixError(errcode, `${bad.path ? `${bad.path}: ` : `${where}: `}${bad.problem}`);
}

/** `value` with every `$ref` to `#/$defs/X` pointing to `#/components/schemas/X` instead. */
function componentRefs<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) =>
    key === "$ref" && typeof v === "string" ? v.replace(/^#\/\$defs\//, "#/components/schemas/") : v,
  ) as T;
}

/** The Matrix error body, as documented for every error answer. */
export const ErrorBody = z
  .object({
    errcode: z.string().describe("Machine-readable error code"),
    error: z.string().describe("Explanation for a person"),
    retry_after_ms: z.number().int().optional(),
  })
  .meta({ id: "Error" });

/** A collection of routes: an express router and an OpenAPI document. */
export class Api {
  readonly routes: Route<never, never, never, z.ZodType>[] = [];
  readonly router = Router();
  readonly #authenticate: Authenticator;
  readonly #brake: Brake;

  constructor(authenticate: Authenticator, brake: Brake = () => Promise.resolve()) {
    this.#authenticate = authenticate;
    this.#brake = brake;
  }

  /** Adds a route. */
  add<B, Q, P, R extends z.ZodType>(route: Route<B, Q, P, R>): void {
    this.routes.push(route as unknown as Route<never, never, never, z.ZodType>);
    const expressPath = route.path.replace(/\{(\w+)\}/g, ":$1");
    const handler: RequestHandler = async (req, res) => {
      // Before anything else, also before authentication (which may ask Synapse): path
      // parameters and query values are ids, the body may hold free text.
      refuseBadText(req.params, "id", "M_INVALID_PARAM", "path");
      refuseBadText(req.query, "id", "M_INVALID_PARAM", "query");
      refuseBadText(req.body, "text", "M_BAD_JSON", "body");
      const userId = route.auth === "none" ? null : await this.#authenticate(req, route.auth);
      if (route.brake) await this.#brake(route.brake, req, userId);
      const params = parse(route.params, req.params, "M_INVALID_PARAM");
      const query = parse(route.query, req.query, "M_INVALID_PARAM");
      if (route.body && (typeof req.body !== "object" || req.body === null)) {
        throw new MatrixError("M_NOT_JSON", "The request body must be a JSON object");
      }
      const body = parse(route.body, req.body, "M_BAD_JSON");
      const result = await route.handler({ body, query, params, userId, req, res });
      const answer = route.response.safeParse(result);
      if (!answer.success) {
        // Our bug, not the caller's: logged and answered 500 by the error handler.
        throw new Error(
          `The answer of ${route.method} ${route.path} does not match its schema: ${firstIssue(answer.error)}`,
        );
      }
      res.status(200).json(answer.data);
    };
    this.router[route.method](expressPath, handler);
  }

  /** The OpenAPI 3.1 document of every route added so far. */
  openapi(info: { title: string; version: string }): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    const schemas: Record<string, unknown> = {};
    // Named schemas (`.meta({ id })`) go to `components.schemas`, where `$ref`s of an OpenAPI
    // document point; zod puts them in each schema's own `$defs`.
    const json = (schema: z.ZodType, io: "input" | "output" = "input") => {
      const { $schema: _, $defs, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" });
      for (const [id, named] of Object.entries($defs ?? {})) {
        const converted = componentRefs(named);
        if (id in schemas && JSON.stringify(schemas[id]) !== JSON.stringify(converted)) {
          throw new Error(`Schema ${id} differs between its uses (as input and as output?)`);
        }
        schemas[id] = converted;
      }
      return componentRefs(rest);
    };
    for (const route of this.routes) {
      const parameters: unknown[] = [];
      for (const [where, schema] of [
        ["path", route.params],
        ["query", route.query],
      ] as const) {
        if (!(schema instanceof z.ZodObject)) continue;
        for (const [name, field] of Object.entries<z.ZodType>(schema.shape)) {
          parameters.push({
            name,
            in: where,
            required: where === "path" || !field.safeParse(undefined).success,
            schema: json(field),
          });
        }
      }
      const errors = new Set<ErrCode>([
        ...route.errors,
        "M_NOT_JSON",
        "M_BAD_JSON",
        "M_INVALID_PARAM",
        "M_LIMIT_EXCEEDED",
      ]);
      if (route.auth !== "none")
        for (const code of ["M_MISSING_TOKEN", "M_UNKNOWN_TOKEN", "M_FORBIDDEN"] as const) errors.add(code);
      const responses: Record<string, unknown> = {
        "200": {
          description: "Success",
          content: { "application/json": { schema: json(route.response, "output") } },
        },
      };
      for (const code of errors) {
        const status = String(ERROR_STATUS[code]);
        const existing = responses[status] as { description: string } | undefined;
        responses[status] = {
          description: existing ? `${existing.description}, ${code}` : code,
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        };
      }
      paths[route.path] ??= {};
      (paths[route.path] as Record<string, unknown>)[route.method] = {
        summary: route.summary,
        tags: [route.tag],
        ...(route.auth === "none"
          ? { security: [] }
          : { security: [{ [route.auth === "user" ? "openid" : "operator"]: [] }] }),
        ...(parameters.length ? { parameters } : {}),
        ...(route.body
          ? { requestBody: { required: true, content: { "application/json": { schema: json(route.body) } } } }
          : {}),
        responses,
      };
    }
    json(ErrorBody); // named "Error": lands in `schemas`
    return {
      openapi: "3.1.0",
      info,
      paths,
      components: {
        schemas,
        securitySchemes: {
          openid: {
            type: "http",
            scheme: "bearer",
            description: "A Matrix OpenID token from POST /_matrix/client/v3/user/{userId}/openid/request_token",
          },
          operator: { type: "http", scheme: "bearer", description: "The operator token of this installation" },
        },
      },
    };
  }
}
