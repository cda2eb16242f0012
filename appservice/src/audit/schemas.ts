/**
 * The security event log's API shapes: what the operator routes take and answer.
 */
import { z } from "zod";
import { CLASSES } from "./actions.ts";

/** An entry as the operator API answers it. */
export const AuditEntryJson = z
  .object({
    id: z.string().describe("Position in the chain, 1, 2, 3, ... (a string: it may outgrow a JSON number)"),
    at: z.string().describe("When it was appended: ISO time with microseconds, UTC"),
    actor: z.string().describe("A Matrix user id, operator, system, or anonymous (nobody authenticated)"),
    action: z.string(),
    target: z.string().nullable().describe("The id the action was about; never content"),
    client_address: z.string().nullable().describe("Only for refused credentials"),
    class: z.enum(CLASSES),
    count: z.number().int().describe("Occurrences the entry stands for (refusals are collapsed per minute)"),
    hash: z.string().describe("SHA-256 over the previous entry's hash and this entry (hex)"),
  })
  .meta({ id: "AuditEntry" });

/** Query of the list route. */
export const ListQuery = z.strictObject({
  since: z.iso
    .datetime({ offset: true, message: "must be an ISO date and time, e.g. 2026-12-01T00:00:00Z" })
    // As UTC: PostgreSQL refuses offsets beyond ±15:59 and years outside 1 to 9999 with a 500.
    .transform((text, ctx) => {
      const at = new Date(text);
      const year = at.getUTCFullYear();
      if (Number.isNaN(at.getTime()) || year < 1 || year > 9999) {
        ctx.issues.push({ code: "custom", message: "must be a time between the years 1 and 9999", input: text });
        return z.NEVER;
      }
      return at.toISOString();
    })
    .optional()
    .describe("Only entries appended at or after this time"),
  class: z.enum(CLASSES).optional().describe("Only entries of this class or a more serious one"),
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,3}$/, "must be 1 to 1000")
    .transform(Number)
    .refine((n) => n <= 1000, "must be 1 to 1000")
    .optional()
    .describe("At most this many entries, newest first (default 100, at most 1000)"),
});

/** Answer of the verify route. */
export const VerifyAnswer = z
  .object({
    ok: z.boolean(),
    count: z.number().int().describe("Entries checked and found in order (before the problem, if any)"),
    head: z
      .object({ id: z.string(), hash: z.string() })
      .nullable()
      .describe("The newest entry: keep its id and hash to find entries cut off the end later"),
    problem: z
      .object({ id: z.string(), kind: z.enum(["changed", "removed", "moved"]), message: z.string() })
      .nullable()
      .describe("The first broken entry"),
  })
  .meta({ id: "AuditVerdict" });
