/**
 * Pieces the operator routes share: input schemas, database and homeserver error mapping.
 */
import { z } from "zod";
import type { FeatureDeps } from "../deps.ts";
import { MatrixError } from "../http/errors.ts";
import { HomeserverError } from "../matrix/homeserver.ts";

/** OpenAPI tag of every operator route. */
export const TAG = "admin";

/** Path prefix of every operator route. */
export const PREFIX = "/api/v1/admin";

/**
 * No control characters, and no invisible formatting characters (zero-width spaces and joiners,
 * direction overrides, soft hyphens): in a name a seeker reads, these make "Bera\u200bterin" or
 * a reversed text pass for another name (tests/attack/operator.test.ts, A-OPS-04).
 */
const VISIBLE_TEXT = /^[^\p{Cc}\p{Cf}]*$/u;

/** A name shown to people: trimmed, 1..`max` characters, no control or invisible formatting characters. */
export function nameSchema(max: number) {
  return z
    .string()
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .regex(
      VISIBLE_TEXT,
      "must not contain control characters or invisible formatting characters (zero-width, direction marks)",
    );
}

/** A topic id: the slug used in URLs and by the intake. */
export const topicId = z
  .string()
  .regex(/^[a-z0-9-]{1,40}$/, "must be 1 to 40 characters a-z, 0-9 or -")
  .describe("Slug, 1 to 40 characters a-z, 0-9 or -");

/** A database id (bigint) in a JSON body. */
export const idNumber = z.number().int("must be a whole number").min(1, "must be positive").max(1e15, "is too large");

/** A database id in a path or query string. */
export const idString = z
  .string()
  .regex(/^[1-9][0-9]{0,14}$/, "must be a positive number")
  .transform(Number);

/** Lists without repeated items. */
export function unique<T extends z.ZodType>(item: T, max: number, what: string) {
  return z
    .array(item)
    .max(max, `must have at most ${max} ${what}`)
    .refine((list) => new Set(list.map((v) => JSON.stringify(v))).size === list.length, `must not repeat ${what}`);
}

/** An ISO timestamp or null, as we answer them. */
export function iso(value: Date | null): string | null {
  return value ? value.toISOString() : null;
}

/**
 * Calls Synapse as the bot. Errors Synapse answers with are passed to `onError`, which may
 * return a {@link MatrixError} for the caller; anything else becomes M_UNAVAILABLE (logged
 * without the request body, which may hold a password).
 */
export async function callHomeserver<T = Record<string, unknown>>(
  deps: Pick<FeatureDeps, "homeserver" | "log">,
  method: string,
  path: string,
  body: unknown,
  onError: (err: HomeserverError) => MatrixError | null = () => null,
): Promise<T> {
  try {
    return await deps.homeserver.request<T>(method, path, body);
  } catch (err) {
    if (err instanceof HomeserverError) {
      const mapped = onError(err);
      if (mapped) throw mapped;
    }
    deps.log.warn({ method, path, err: (err as Error).message }, "homeserver admin call failed");
    throw new MatrixError("M_UNAVAILABLE", "The homeserver did not complete the request; please try again");
  }
}
