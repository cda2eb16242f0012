/**
 * Schemas of the counsellor self API: a caller's own profile, their absence, and the colleagues
 * of an agency they can hand an enquiry over to.
 */
import { z } from "zod";
import { LANGUAGES } from "../domain.ts";

const ROLES = ["counsellor", "team_lead"] as const;

/** A counsellor's absence as they set it; `message` is shown to their advice seekers. */
export const Absence = z
  .object({
    active: z.boolean().describe("The counsellor is away; their seekers see the message"),
    message: z.string().nullable().describe("Shown to advice seekers while active; null when none is set"),
  })
  .meta({ id: "CounsellorAbsence" });

/** A counsellor's view of themselves. */
export const CounsellorProfile = z
  .object({
    user_id: z.string(),
    role: z.literal("counsellor"),
    display_name: z.string(),
    language: z.enum(LANGUAGES).describe("Language of the counsellor's user interface and control room"),
    must_change_password: z
      .boolean()
      .describe("The initial password from the operator has not been replaced yet: the client asks for a new one"),
    absence: Absence,
    agencies: z.array(
      z.object({
        agency_id: z.number().int(),
        name: z.string(),
        role: z.enum(ROLES).describe("The caller's role in this agency"),
      }),
    ),
  })
  .meta({ id: "CounsellorProfile" });

/** Anybody else: an advice seeker, known only by their Matrix user id. */
export const SeekerProfile = z
  .object({
    user_id: z.string(),
    role: z.literal("seeker"),
  })
  .meta({ id: "SeekerProfile" });

/** The answer of `GET /api/v1/me`. */
export const Me = z.discriminatedUnion("role", [CounsellorProfile, SeekerProfile]);

/** Characters other than line breaks and tabs that have no place in a message to a seeker. */
const NO_CONTROL_CHARACTERS = /^(?:[^\p{Cc}]|[\r\n\t])*$/u;

/** The body of `PUT /api/v1/me/absence`. */
export const AbsenceBody = z
  .strictObject({
    active: z.boolean(),
    message: z
      .string()
      .trim()
      .min(1, "must not be empty")
      .max(1000, "must be at most 1000 characters")
      .regex(NO_CONTROL_CHARACTERS, "must not contain control characters other than line breaks")
      .refine((s) => s.isWellFormed(), "must be valid Unicode text")
      .nullable()
      .optional()
      .describe(
        "Shown to the counsellor's advice seekers while absent; 1 to 1000 characters after trimming, " +
          "required when `active` is true. Left out or null stores no message.",
      ),
  })
  .refine((b) => !b.active || typeof b.message === "string", {
    message: "is required while absent",
    path: ["message"],
  });

/** A colleague in an agency: someone an enquiry can be handed over to. */
export const Colleague = z
  .object({
    user_id: z.string(),
    display_name: z.string(),
    role: z.enum(ROLES).describe("The colleague's role in this agency"),
    absent: z.boolean(),
  })
  .meta({ id: "Colleague" });

/** The path parameters of an agency's routes. */
export const AgencyParams = z.strictObject({
  agencyId: z
    .string()
    .regex(/^[1-9][0-9]{0,14}$/, "must be a positive number")
    .transform(Number),
});
