/**
 * Matrix-shaped errors: every error response is `{"errcode": "...", "error": "..."}` with the
 * status that belongs to its code. `error` is written for the person or program that called us;
 * details for operators go to the log only.
 */
import type { ErrorRequestHandler, Request, RequestHandler } from "express";
import type { Logger } from "pino";
import type { Counter } from "prom-client";

/** Every error code this service sends, with the HTTP status it always goes with. */
export const ERROR_STATUS = {
  /** No credentials were supplied. */
  M_UNAUTHORIZED: 401,
  /** Credentials were supplied but are wrong, or the caller may not do this. */
  M_FORBIDDEN: 403,
  /** The body is not JSON. */
  M_NOT_JSON: 400,
  /** The body is JSON but not of the expected shape. */
  M_BAD_JSON: 400,
  /** A parameter is missing or has a wrong value. */
  M_INVALID_PARAM: 400,
  /** The body is larger than this endpoint accepts. */
  M_TOO_LARGE: 413,
  /** No such endpoint. */
  M_UNRECOGNIZED: 404,
  /** The method is not allowed on this endpoint. */
  M_UNRECOGNIZED_METHOD: 405,
  /** No access or OpenID token was given. */
  M_MISSING_TOKEN: 401,
  /** The access or OpenID token is unknown or expired. */
  M_UNKNOWN_TOKEN: 401,
  /** No such resource, or not visible to the caller. */
  M_NOT_FOUND: 404,
  /** Too many requests; `retry_after_ms` says when to try again. */
  M_LIMIT_EXCEEDED: 429,
  /** The pseudonym is taken or reserved. */
  M_USER_IN_USE: 400,
  /** The pseudonym breaks the rules (length, characters, looks like an e-mail or phone number). */
  M_INVALID_USERNAME: 400,
  /** The proof-of-work challenge is unknown, expired, used, or not solved. */
  CONNECTA_CHALLENGE_FAILED: 400,
  /** Another counsellor took the enquiry first. */
  CONNECTA_ALREADY_TAKEN: 409,
  /** The enquiry is not in a state that allows this action. */
  CONNECTA_WRONG_STATE: 409,
  /** The call has not started: the counsellor starts it (CONNECTA_CALLS_SEEKERS_START is off). */
  CONNECTA_NO_CALL: 409,
  /** A topic or agency with this id or name exists already, or another agency is the fallback. */
  CONNECTA_ALREADY_EXISTS: 409,
  /** Enquiries still need the agency or counsellor; the action would leave them without one. */
  CONNECTA_IN_USE: 409,
  /** A dependency (database, homeserver) is unavailable; retry later. */
  M_UNAVAILABLE: 503,
  /** A bug on our side. Never caused by input. */
  M_UNKNOWN: 500,
} as const;

/** One of our error codes. */
export type ErrCode = keyof typeof ERROR_STATUS;

/** Throw this from a handler to answer with a Matrix error. */
export class MatrixError extends Error {
  readonly errcode: ErrCode;
  /** Extra fields of the body, e.g. `retry_after_ms`. */
  readonly extra: Record<string, unknown>;
  constructor(errcode: ErrCode, error: string, extra: Record<string, unknown> = {}) {
    super(error);
    this.errcode = errcode;
    this.extra = extra;
  }
  get status(): number {
    return ERROR_STATUS[this.errcode];
  }
}

/** Answers every request no route took with M_UNRECOGNIZED. */
export const notFound: RequestHandler = (_req, res) => {
  res.status(404).json({ errcode: "M_UNRECOGNIZED", error: "Unrecognized request" });
};

/** Errors raised by express.json() for bad bodies, by their `type`. */
const BODY_ERRORS: Record<string, MatrixError> = {
  "entity.parse.failed": new MatrixError("M_NOT_JSON", "The request body is not valid JSON"),
  "entity.too.large": new MatrixError("M_TOO_LARGE", "The request body is too large"),
  "encoding.unsupported": new MatrixError("M_NOT_JSON", "The request body must be UTF-8 JSON"),
  "charset.unsupported": new MatrixError("M_NOT_JSON", "The request body must be UTF-8 JSON"),
  // Thrown by the API's body check (app.ts, utf8Only): another charset or bytes that are no UTF-8.
  "entity.verify.failed": new MatrixError("M_NOT_JSON", "The request body must be UTF-8 JSON"),
  "request.aborted": new MatrixError("M_BAD_JSON", "The request body was incomplete"),
};

/**
 * Every database connection of the process was taken for pg's whole wait (many intakes at once,
 * each waiting for Synapse: bench/load.ts found it): the service is busy, not broken, and the
 * request can simply be sent again.
 */
function busy(err: unknown): MatrixError | undefined {
  if (!(err instanceof Error) || err.message !== "timeout exceeded when trying to connect") return undefined;
  return new MatrixError("M_UNAVAILABLE", "The service is busy; please try again in a moment", {
    retry_after_ms: 2000,
  });
}

/**
 * The one error middleware: known errors become their Matrix error, anything else a 500.
 * `translate` turns a feature's own errors (the workflow's refusals) into Matrix errors;
 * `observe` sees every known error before it is answered (the security event log counts refused
 * tokens and callers there) and must not throw or wait. `errors`, when given, counts every error
 * answer by errcode and status (docs/monitoring.md).
 */
export function errorHandler(
  log: Logger,
  translate: (err: unknown) => MatrixError | null = () => null,
  observe: (err: MatrixError, req: Request) => void = () => {},
  errors: Counter<"errcode" | "status"> | null = null,
): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const bodyError =
      typeof err === "object" && err !== null && "type" in err ? BODY_ERRORS[String(err.type)] : undefined;
    // A path with broken percent-encoding makes express throw a URIError while matching.
    const uriError = err instanceof URIError ? new MatrixError("M_INVALID_PARAM", "Malformed URL encoding") : undefined;
    const known = err instanceof MatrixError ? err : (translate(err) ?? bodyError ?? uriError ?? busy(err));
    if (known) {
      log.info({ path: req.path, errcode: known.errcode }, "request refused");
      try {
        observe(known, req);
      } catch (observeErr) {
        log.warn({ err: (observeErr as Error).message }, "observing a refusal failed");
      }
      const retryMs = known.extra.retry_after_ms;
      if (typeof retryMs === "number") res.set("Retry-After", String(Math.ceil(retryMs / 1000)));
      errors?.inc({ errcode: known.errcode, status: String(known.status) });
      res.status(known.status).json({ errcode: known.errcode, error: known.message, ...known.extra });
      return;
    }
    log.error({ err, path: req.path }, "unexpected error");
    errors?.inc({ errcode: "M_UNKNOWN", status: "500" });
    if (res.headersSent) return;
    res.status(500).json({ errcode: "M_UNKNOWN", error: "Internal error; it has been logged" });
  };
}
